/**
 * The requester and validator roles as `Startable` nodes: a wallet (signer), a NodeStore under
 * `<home>/nodes/<name>/` and a status API on 127.0.0.1. The requester creates jobs, submits round
 * commits and posts the reward root; the validator checks every round's signed records
 * (src/verify) and is paid from the validator pool. Both claim their rewards through `claimReward`.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Address, LocalAccount } from 'viem';
import { type ChainConnection, walletClientFor } from '../chain/connect.ts';
import type { Signer } from '../chain/tx.ts';
import type { Startable } from './startable.ts';
import { StatusApi } from './status-api.ts';
import { NodeStore } from './store.ts';

export class RoleNode implements Startable {
  readonly name: string;
  readonly role: 'requester' | 'validator';
  readonly store: NodeStore;
  readonly signer: Signer;
  readonly account: LocalAccount;
  readonly #api: StatusApi;
  state: Record<string, unknown> = {};

  constructor(o: {
    name: string;
    role: 'requester' | 'validator';
    dir: string;
    account: LocalAccount;
    conn: ChainConnection;
  }) {
    this.name = o.name;
    this.role = o.role;
    this.account = o.account;
    mkdirSync(o.dir, { recursive: true });
    this.store = new NodeStore(join(o.dir, 'node.db'));
    this.signer = walletClientFor(o.conn, o.account);
    this.#api = new StatusApi({
      status: () => ({ name: this.name, role: this.role, address: this.address, ...this.state }),
    });
  }

  get address(): Address {
    return this.account.address;
  }
  get statusUrl(): string | undefined {
    return this.#api.url;
  }

  async start(): Promise<void> {
    await this.#api.start();
  }

  async stop(): Promise<void> {
    await this.#api.stop();
    this.store.close();
  }
}
