/**
 * A `Startable` chain watcher for the `agora node` daemon: polls the ComputeMarket for jobs (JobCreated
 * events from the last block seen, remembered in the node's store so a restart does not rescan) and
 * hands each new job id to the role's `onJob`, and calls `onTick` every poll (roles use it to act on
 * jobs they are in: join, close, claim).
 */
import { ComputeMarket } from '../../artifacts/index.ts';
import type { ChainConnection } from '../chain/connect.ts';
import type { Logger } from './logger.ts';
import type { Startable } from './startable.ts';
import type { NodeStore } from './store.ts';

export type JobWatcherOptions = {
  conn: ChainConnection;
  market: `0x${string}`;
  store: NodeStore;
  logger: Logger;
  pollMs?: number;
  onJob: (jobId: bigint) => Promise<void>;
  onTick?: () => Promise<void>;
};

export class JobWatcher implements Startable {
  readonly name = 'job-watcher';
  readonly #o: JobWatcherOptions;
  #timer?: NodeJS.Timeout;
  #running?: Promise<void>;
  #stopped = false;

  constructor(o: JobWatcherOptions) {
    this.#o = o;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await this.poll();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.poll()
        .catch((e) => this.#o.logger.warn({ err: (e as Error).message }, 'watcher poll failed'))
        .finally(() => this.#schedule());
    }, this.#o.pollMs ?? 1000);
  }

  /** One poll: new JobCreated events since the last seen block, then the role's tick. */
  async poll(): Promise<void> {
    const { conn, store } = this.#o;
    const head = await conn.publicClient.getBlockNumber();
    const from = BigInt(store.getJson<string>('watcher.nextBlock') ?? '0');
    if (from <= head) {
      const logs = await conn.publicClient.getContractEvents({
        address: this.#o.market,
        abi: ComputeMarket.abi,
        eventName: 'JobCreated',
        fromBlock: from,
        toBlock: head,
      });
      for (const l of logs) {
        const jobId = (l.args as { jobId?: bigint }).jobId;
        if (jobId !== undefined) await this.#o.onJob(jobId);
      }
      store.setJson('watcher.nextBlock', (head + 1n).toString());
    }
    await this.#o.onTick?.();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }
}
