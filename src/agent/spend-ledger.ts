/**
 * What the agent has spent under its policy, in `<home>/agent/spends.json`: each spend is written
 * (status `pending`) before its transaction is sent, then marked `sent` or `failed`, so a crash never
 * forgets money that may have left. Pending and sent spends the policy confirmed (`--yes`) count
 * against its caps; spends the user confirmed are recorded but are the user's own decision.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Hex } from 'viem';

export type SpendRecord = {
  id: string;
  at: number;
  token: string;
  amount: string;
  to: string;
  tool: string;
  /** Who confirmed it: only the policy's own confirmations count against its caps. */
  by: 'user' | 'policy';
  status: 'pending' | 'sent' | 'failed';
  txHash?: Hex;
};

export class SpendLedger {
  readonly path: string;

  constructor(home: string) {
    this.path = join(home, 'agent', 'spends.json');
  }

  list(): SpendRecord[] {
    if (!existsSync(this.path)) return [];
    return (JSON.parse(readFileSync(this.path, 'utf8')) as { spends: SpendRecord[] }).spends;
  }

  #write(spends: SpendRecord[]): void {
    mkdirSync(join(this.path, '..'), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ spends }, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
  }

  /** Sum of the policy-confirmed pending + sent spends of `token` since `since`. */
  spentSince(token: string, since: number): bigint {
    let total = 0n;
    for (const s of this.list()) {
      if (
        s.status === 'failed' ||
        s.by !== 'policy' ||
        s.at < since ||
        s.token.toLowerCase() !== token.toLowerCase()
      )
        continue;
      total += BigInt(s.amount);
    }
    return total;
  }

  reserve(r: Omit<SpendRecord, 'id' | 'status'>): string {
    const id = `${r.at}-${Math.random().toString(36).slice(2, 10)}`;
    this.#write([...this.list(), { ...r, id, status: 'pending' }]);
    return id;
  }

  settle(id: string, status: 'sent' | 'failed', txHash?: Hex): void {
    this.#write(this.list().map((s) => (s.id === id ? { ...s, status, txHash: txHash ?? s.txHash } : s)));
  }
}
