/**
 * One role of `agora node start` as a `Startable` daemon: a wallet, a chain watcher, a node:sqlite
 * store and status API under `<home>/nodes/<name>/`, pino logs, and the role's job loop.
 *  - provider: registers its data (`data`) and a staked offer, joins matching jobs, trains a
 *    running job across processes (src/node/provider-job.ts) and claims;
 *  - requester: coordinates its running jobs (src/node/coordinator.ts): records, commits, close,
 *    reward root, slashing;
 *  - validator: checks every round of running jobs by proof (src/node/validator-job.ts) and claims.
 * `agora node start` runs one of them per process; `agora devnet` runs a whole swarm of them in one
 * process (src/node/devnet-job.ts). Either way the roles meet only through the chain and libp2p.
 */
import { join } from 'node:path';
import { type Address, getAddress, type LocalAccount } from 'viem';
import type { Job } from '../chain/compute-market.ts';
import { computeMarketClient } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { AgoraError } from '../errors.ts';
import { freePort } from '../net/free-port.ts';
import { boundsRefusal, type ProviderBounds, providerBounds } from '../task/bounds.ts';
import { taskOf } from '../task/registry.ts';
import type { DataSource } from '../task/task.ts';
import { JobCoordinator, type RoundCommitted } from './coordinator.ts';
import { jobSpecOf } from './job-spec.ts';
import type { JobContracts } from './job-sync.ts';
import { JobWatcher } from './job-watcher.ts';
import { createLogger, type Logger } from './logger.ts';
import { loadOrCreatePeerKey } from './peer-key.ts';
import { type Contracts, ProviderNode } from './provider.ts';
import { runProviderJob } from './provider-job.ts';
import { RoleNode } from './role-node.ts';
import { type Startable, stopAll } from './startable.ts';
import type { NodeStore } from './store.ts';
import { runValidatorJob } from './validator-job.ts';

export type NodeRole = 'provider' | 'validator' | 'requester';
export const NODE_ROLES: readonly NodeRole[] = ['provider', 'validator', 'requester'];

export type NodeDaemonOptions = {
  role: NodeRole;
  /** The node's name: its directory `<home>/nodes/<name>/`. */
  name: string;
  home: string;
  conn: ChainConnection;
  contracts: Contracts & JobContracts;
  account: LocalAccount;
  /** Default: pino to `<home>/nodes/<name>/node.log`. */
  logger?: Logger;
  /** libp2p listen addresses for job networks (default 127.0.0.1, a free port). */
  listen?: string[];
  /** Multiaddrs to dial for job networks (the requester's). */
  bootstrap?: string[];
  /** Chain poll interval (default 1000 ms). */
  pollMs?: number;
  /**
   * Provider: the data to register (once) and train on: an IDX shard `IMAGES,LABELS`, or a source
   * with its format (`csv`, `jsonl`, …) and label column.
   */
  data?: string | DataSource;
  /** Provider: what it accepts (max parameters, memory, seconds per round, task kinds). */
  bounds?: Partial<ProviderBounds>;
  /** Provider: the lowest price per round it accepts, and its offer's stake (wei). */
  price?: bigint;
  stake?: bigint;
  /** Provider fault injection (tests, `--byzantine N` demos): sign-flipped pseudo-gradients. */
  byzantine?: boolean;
  /** Provider fault injection: a wrong model in the first attempt of this round. */
  divergeRound?: number;
  /** Provider fault injection: relabelled (poisoned) LDA statistics in a job's last round. */
  poisonLda?: boolean;
  /** Provider fault injection: swarm statistics scaled by 1.5 (signed) before round 0. */
  lieAboutStats?: boolean;
  /**
   * Requester: how long at most to keep serving the reward split after a job is done, while
   * someone in it has not claimed (default 10 min).
   */
  lingerMs?: number;
  onProgress?: (message: string) => void;
  /** Requester: each round commit of the jobs it coordinates, once mined and persisted. */
  onRoundCommitted?: (c: RoundCommitted) => void;
};

export class NodeDaemon implements Startable {
  readonly name: string;
  readonly role: NodeRole;
  readonly #o: NodeDaemonOptions;
  readonly #logger: Logger;
  readonly #stopping = new AbortController();
  /** Jobs this node works on now (one runner per job). */
  readonly #running = new Map<string, Promise<void>>();
  #services: Startable[] = [];
  #provider?: ProviderNode;
  #role?: RoleNode;
  #peerId?: string;
  #datasetId?: bigint;
  #listenAddrs?: string[];

  constructor(o: NodeDaemonOptions) {
    if (!NODE_ROLES.includes(o.role)) {
      throw new AgoraError('BAD_OPTION', `unknown role "${o.role}"`, {
        hint: `use one of: ${NODE_ROLES.join(', ')}`,
      });
    }
    if (
      o.role !== 'provider' &&
      (o.data || o.byzantine || o.poisonLda || o.lieAboutStats || o.divergeRound !== undefined)
    ) {
      throw new AgoraError('BAD_OPTION', `data and fault injection are provider options, not ${o.role}'s`);
    }
    this.name = o.name;
    this.role = o.role;
    this.#o = o;
    this.#logger = o.logger ?? createLogger({ name: `agora-${o.name}`, file: join(this.dir, 'node.log') });
  }

  get dir(): string {
    return join(this.#o.home, 'nodes', this.name);
  }
  get address(): Address {
    return getAddress(this.#o.account.address);
  }
  get store(): NodeStore {
    const s = this.#provider?.store ?? this.#role?.store;
    if (!s) throw new AgoraError('NODE_NOT_STARTED', `${this.name} is not started`);
    return s;
  }
  get statusUrl(): string | undefined {
    return this.#provider?.statusUrl ?? this.#role?.statusUrl;
  }
  /** Provider: the dataset it registered (after start). */
  get datasetId(): bigint | undefined {
    return this.#datasetId;
  }
  /** Requester: the multiaddr providers and validators dial (`--bootstrap`) once a job runs. */
  get coordinatorAddress(): string | undefined {
    if (this.role !== 'requester' || !this.#peerId) return undefined;
    return `${this.#listen()[0]}/p2p/${this.#peerId}`;
  }
  /** Jobs whose runner is busy now. */
  get busy(): string[] {
    return [...this.#running.keys()];
  }

  #listen(): string[] {
    return this.#listenAddrs ?? (this.#o.listen?.length ? this.#o.listen : ['/ip4/127.0.0.1/tcp/0']);
  }

  #progress(m: string): void {
    this.#o.onProgress?.(m);
  }

  async start(): Promise<void> {
    const o = this.#o;
    const peerKey = await loadOrCreatePeerKey(this.dir);
    this.#peerId = peerKey.peerId;
    if (o.role === 'requester') {
      // the coordinator's address is handed out before a job runs: a random port (tcp/0) is fixed now
      const listen = [...this.#listen()];
      const m = /^\/ip4\/([^/]+)\/tcp\/0(\/.*)?$/.exec(listen[0]);
      if (m) listen[0] = `/ip4/${m[1]}/tcp/${await freePort(m[1])}${m[2] ?? ''}`;
      this.#listenAddrs = listen;
    }
    const net = { listen: this.#listen(), privateKey: peerKey.key };
    const bootstrap = o.bootstrap ?? [];
    const market = computeMarketClient(o.conn, o.contracts.market);
    const signal = this.#stopping.signal;
    let onJob: (jobId: bigint) => Promise<void> = async () => {};
    let onTick: () => Promise<void> = async () => {};
    let store: NodeStore;
    if (o.role === 'provider') {
      const p = new ProviderNode({
        name: this.name,
        dir: this.dir,
        home: o.home,
        account: o.account,
        conn: o.conn,
        contracts: o.contracts,
        logger: this.#logger,
        bounds: providerBounds(o.bounds),
        byzantine: o.byzantine === true,
        poisonLda: o.poisonLda === true,
        lieAboutStats: o.lieAboutStats === true,
        ...(o.divergeRound !== undefined ? { divergeRound: o.divergeRound } : {}),
      });
      this.#provider = p;
      this.#services.push(p);
      await p.start();
      store = p.store;
      const price = o.price ?? 10n ** 18n;
      if (o.data) this.#datasetId = await p.registerData(o.data);
      else {
        const id = p.store.getJson<string>('datasetId');
        if (id) this.#datasetId = BigInt(id);
      }
      await p.registerOffer(price, o.stake ?? 100n * 10n ** 18n);
      this.#progress(`${this.name} ${this.address}: dataset ${this.#datasetId ?? 'none'}, offer staked`);
      onJob = async (jobId) => {
        const j = await market.getJob(jobId);
        const mine = BigInt(p.store.getJson<string>('datasetId') ?? '0');
        const ds = await market.datasetsOf(jobId);
        if (j.state !== 'Open' || j.pricePerRound < price || !ds.includes(mine)) return;
        const refusal = await this.#refusal(p, j);
        if (refusal) {
          p.refuse(jobId, refusal);
          this.#logger.warn({ jobId: jobId.toString(), reason: refusal }, 'job refused');
          this.#progress(`${this.name}: refused job ${jobId}: ${refusal}`);
          return;
        }
        if ((await p.freeStake()) < j.stakePerWorker) {
          // stake still locked in a finished job: join once it is released (onTick)
          p.store.upsertJob(jobId, 'provider', 'awaiting-stake');
          this.#progress(`${this.name}: job ${jobId} waits for this provider's stake to be released`);
          return;
        }
        await p.joinJob(jobId);
        this.#progress(`${this.name}: joined job ${jobId}`);
      };
      // a joined job that is running: train it (one job at a time: a provider sells its whole machine)
      onTick = async () => {
        for (const jobId of await p.releaseEndedStakes())
          this.#progress(`${this.name}: stake of job ${jobId} released`);
        // jobs waiting for stake, and joins whose transaction failed (tried again: joinJob is idempotent)
        for (const row of [...p.store.listJobs('awaiting-stake'), ...p.store.listJobs('joining')]) {
          const jobId = BigInt(row.jobId);
          const j = await market.getJob(jobId);
          const seated = (await market.seatOf(jobId, p.address)).lockedStake > 0n;
          if (seated || (j.state === 'Open' && (await p.freeStake()) >= j.stakePerWorker)) {
            await p.joinJob(jobId);
            this.#progress(`${this.name}: joined job ${jobId}`);
          } else if (j.state !== 'Open') p.store.upsertJob(jobId, 'provider', 'over', { state: j.state });
        }
        if (this.#running.size > 0) return;
        for (const row of p.store.listJobs()) {
          if (!['joined', 'training'].includes(row.state)) continue;
          const jobId = BigInt(row.jobId);
          const j = await market.getJob(jobId);
          // Running: train (or resume); Completed/Expired while this provider was down: what it
          // earned is still to be claimed (runProviderJob goes straight to the reward split)
          if (j.state === 'Running' || j.state === 'Completed' || j.state === 'Expired') {
            this.#runOnce(jobId, 'training', async () => {
              const r = await runProviderJob({
                node: p,
                conn: o.conn,
                contracts: o.contracts,
                jobId,
                logger: this.#logger,
                bootstrap,
                net,
                onProgress: (m) => this.#progress(m),
                signal,
              });
              if (!signal.aborted)
                p.store.upsertJob(jobId, 'provider', 'done', { claimed: String(r.claimed ?? 0n) });
            });
            return;
          }
          if (j.state !== 'Open') p.store.upsertJob(jobId, 'provider', 'over', { state: j.state });
        }
      };
    } else {
      const r = new RoleNode({
        name: this.name,
        role: o.role,
        dir: this.dir,
        account: o.account,
        conn: o.conn,
      });
      this.#role = r;
      this.#services.push(r);
      await r.start();
      store = r.store;
      // what the coordinator and the validator job both take from this daemon
      const roleParts = {
        conn: o.conn,
        contracts: o.contracts,
        account: o.account,
        signer: r.signer,
        store: r.store,
        logger: this.#logger,
        onProgress: (m: string) => this.#progress(m),
      };
      if (o.role === 'requester') {
        // coordinate this requester's running jobs (one at a time: they share the listen address)
        onTick = async () => {
          if (this.#running.size > 0) return;
          // running jobs first; an Open one is coordinated too, so the coordinator listens before
          // the providers dial it (they do as soon as the job runs)
          // …and a finished one whose reward split it was still serving when it stopped (killed
          // right after posting the root): without it nobody can prove a leaf, so nobody claims
          const lingerMs = o.lingerMs ?? 600_000;
          const rows = r.store
            .listJobs()
            .filter(
              (x) =>
                ['open', 'running', 'closed'].includes(x.state) ||
                (x.state === 'done' && x.data.splitServed !== true && Date.now() - x.updatedAt < lingerMs),
            );
          const jobs = await Promise.all(
            rows.map(async (row) => ({
              jobId: BigInt(row.jobId),
              row,
              j: await market.getJob(BigInt(row.jobId)),
            })),
          );
          jobs.sort((a, b) => Number(a.j.state === 'Open') - Number(b.j.state === 'Open'));
          for (const { jobId, row, j } of jobs) {
            if (getAddress(j.requester) !== this.address) continue;
            if (j.state === 'Cancelled' || j.state === 'Unfilled') {
              r.store.upsertJob(jobId, 'requester', 'over', { state: j.state });
              continue;
            }
            if (j.state === 'Open' && j.joinDeadline < BigInt(Math.floor(Date.now() / 1000)) - 60n) continue;
            const finished = row.state === 'done';
            this.#runOnce(jobId, finished ? 'serving the reward split of' : 'coordinating', async () => {
              const coord = new JobCoordinator({
                ...roleParts,
                jobId,
                net,
                home: o.home,
                ...(o.onRoundCommitted ? { onRoundCommitted: o.onRoundCommitted } : {}),
              });
              await coord.start();
              r.state = { jobId: jobId.toString(), coordinator: coord.multiaddrs() };
              try {
                if (!finished) await coord.run();
                // keep serving the reward split until everyone in it has claimed (a validator that
                // is behind claims last), for at most `lingerMs` after the job was done
                const until = (r.store.getJob(jobId)?.updatedAt ?? Date.now()) + lingerMs;
                while (!signal.aborted && Date.now() < until) {
                  const left = await coord.unclaimed().catch(() => ['?']);
                  if (left.length === 0) break;
                  await new Promise<void>((res) => {
                    const t = setTimeout(res, 1000);
                    t.unref();
                    signal.addEventListener('abort', () => {
                      clearTimeout(t);
                      res();
                    });
                  });
                }
                if (!signal.aborted) {
                  const done = r.store.getJob(jobId);
                  if (done?.state === 'done')
                    r.store.upsertJob(jobId, 'requester', 'done', { ...done.data, splitServed: true });
                }
              } finally {
                await coord.stop();
              }
            });
            return;
          }
        };
      } else {
        onJob = async (jobId) => {
          r.store.upsertJob(jobId, 'validator', 'watching');
          this.#progress(`${this.name}: watching job ${jobId}`);
        };
        onTick = async () => {
          if (this.#running.size > 0) return;
          for (const row of r.store.listJobs('watching')) {
            const jobId = BigInt(row.jobId);
            const j = await market.getJob(jobId);
            if (j.state === 'Open') continue;
            // a job that ended while this validator was down, after it had started on it: its checks
            // resume (or stop at once when the split is posted) and it claims what it earned
            const resumed =
              (j.state === 'Completed' || j.state === 'Expired') &&
              r.store.getJson<boolean>(`validator:${jobId}:started`) === true;
            if (j.state !== 'Running' && !resumed) {
              r.store.upsertJob(jobId, 'validator', 'over', { state: j.state });
              continue;
            }
            this.#runOnce(jobId, 'validating', async () => {
              const v = await runValidatorJob({
                ...roleParts,
                jobId,
                bootstrap,
                net: { listen: ['/ip4/127.0.0.1/tcp/0'] },
                signal,
              });
              if (!signal.aborted)
                r.store.upsertJob(jobId, 'validator', 'done', { checked: v.checked, reported: v.reported });
            });
            return;
          }
        };
      }
    }
    const watcher = new JobWatcher({
      conn: o.conn,
      market: o.contracts.market,
      store,
      logger: this.#logger,
      pollMs: o.pollMs ?? 1000,
      onJob,
      onTick,
    });
    await watcher.start();
    this.#services.push(watcher);
  }

  /**
   * Why this provider does not take job `j` (undefined: it does): its spec cannot be read from the
   * chain or is invalid, it is over this provider's bounds, or this provider's data does not satisfy
   * its data schema.
   */
  async #refusal(p: ProviderNode, j: Job): Promise<string | undefined> {
    try {
      const spec = await jobSpecOf(this.#o.conn, this.#o.contracts.market, j, p.store);
      const over = boundsRefusal(spec, p.bounds);
      if (over) return over;
      const schema = p.dataSchema();
      if (!schema) return 'this provider has no registered data';
      const mismatch = taskOf(spec.kind).mismatch(spec, schema);
      return mismatch ? `its data schema does not fit this provider's data: ${mismatch}` : undefined;
    } catch (e) {
      return `its spec cannot be used: ${(e as Error).message}`;
    }
  }

  #runOnce(jobId: bigint, what: string, fn: () => Promise<void>): void {
    const k = jobId.toString();
    if (this.#running.has(k)) return;
    this.#progress(`${this.name}: ${what} job ${jobId}`);
    this.#running.set(
      k,
      fn()
        .then(() => {
          this.#running.delete(k);
        })
        .catch((e: Error) => {
          this.#logger.error({ jobId: k, err: e.message }, `${what} job failed`);
          this.#progress(`${this.name}: job ${jobId} failed: ${e.message}`);
          this.#running.delete(k); // retried at the next tick
        }),
    );
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    const errors = await stopAll(this.#services);
    this.#services = [];
    await Promise.allSettled(this.#running.values());
    if (errors.length) throw errors[0];
  }
}
