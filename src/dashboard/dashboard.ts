/**
 * The live dashboard of a node (what `agora devnet` serves): the hub, the chain adapter, the
 * store adapter, and the node's status server with the dashboard's routes — one `Startable`.
 * `onDevnetEvent` and `jobResult` feed it what only the devnet job knows (the swarm's nodes, the
 * test accuracy of committed models, the centralized baseline, the reward roles).
 */
import { randomBytes } from 'node:crypto';
import type { LocalAccount } from 'viem';
import { agentEnv } from '../agent/session.ts';
import type { ChainConnection } from '../chain/connect.ts';
import type { Deployment } from '../chain/deployments.ts';
import type { DevnetEvent, DevnetJobResult } from '../node/devnet-job.ts';
import type { Logger } from '../node/logger.ts';
import { type Startable, startAll, stopAll } from '../node/startable.ts';
import { StatusApi } from '../node/status-api.ts';
import { ChainSource, emptyJob, emptyRound } from './chain-source.ts';
import { DashboardHub } from './hub.ts';
import { NodeSource } from './node-source.ts';
import { registerQueryRoutes } from './query-routes.ts';
import { registerDashboardRoutes } from './server.ts';
import type { Meta } from './types.ts';

export type DashboardOptions = {
  conn: ChainConnection;
  deployment: Deployment;
  home: string;
  /** Interface (default 127.0.0.1) and port (default 0: a free one). */
  host?: string;
  port?: number;
  /** Shown on the page. */
  rpcUrl?: string;
  logger?: Logger;
  /** Chain poll interval (default 100 ms). */
  chainPollMs?: number;
  /** Store poll interval (default 500 ms). */
  storePollMs?: number;
  /** Default: web/dist of this checkout. */
  distDir?: string;
  /** The node's wallet: the Data & models page's "query a model and pay" box pays from it. */
  account?: LocalAccount;
};

export class Dashboard implements Startable {
  readonly name = 'dashboard';
  readonly hub = new DashboardHub();
  readonly #o: DashboardOptions;
  readonly #chain: ChainSource;
  readonly #nodes: NodeSource;
  readonly #api: StatusApi;

  constructor(o: DashboardOptions) {
    this.#o = o;
    this.#nodes = new NodeSource({
      hub: this.hub,
      conn: o.conn,
      deployment: o.deployment,
      home: o.home,
      ...(o.logger ? { logger: o.logger } : {}),
      ...(o.storePollMs ? { pollMs: o.storePollMs } : {}),
    });
    this.#chain = new ChainSource({
      hub: this.hub,
      conn: o.conn,
      deployment: o.deployment,
      home: o.home,
      ...(o.logger ? { logger: o.logger } : {}),
      ...(o.chainPollMs ? { pollMs: o.chainPollMs } : {}),
      onRoundCommitted: () => this.#nodes.refresh(),
      onJobChanged: () => this.#nodes.refresh(),
    });
    this.#api = new StatusApi({
      ...(o.host ? { host: o.host } : {}),
      ...(o.port !== undefined ? { port: o.port } : {}),
      status: () => ({
        dashboard: true,
        version: this.hub.version,
        block: this.hub.get('meta', 'chain')?.block,
      }),
      routes: (app) => {
        // A fresh token per process: a page of another site cannot know it (query-routes.ts).
        const token = randomBytes(24).toString('hex');
        registerDashboardRoutes(app, {
          hub: this.hub,
          conn: o.conn,
          home: o.home,
          token,
          ...(o.deployment.contracts.DataRegistry ? { registry: o.deployment.contracts.DataRegistry } : {}),
          ...(o.distDir ? { distDir: o.distDir } : {}),
        });
        const account = o.account;
        registerQueryRoutes(app, {
          home: o.home,
          token,
          ...(o.host ? { host: o.host } : {}),
          env: account
            ? agentEnv({
                home: o.home,
                conn: o.conn,
                deployment: o.deployment,
                address: account.address,
                unlock: async () => account,
              })
            : undefined,
        });
      },
    });
  }

  /** http://127.0.0.1:PORT/ once started. */
  get url(): string | undefined {
    return this.#api.url ? `${this.#api.url}/` : undefined;
  }

  async start(): Promise<void> {
    this.hub.put('meta', 'chain', {
      chainId: this.#o.conn.chainId,
      rpcUrl: this.#o.rpcUrl ?? null,
      deployer: this.#o.deployment.deployer,
      block: 0,
      startedAt: Date.now(),
      phase: 'starting',
      message: null,
    });
    await startAll([this.#nodes, this.#chain, this.#api]);
  }

  async stop(): Promise<void> {
    const errors = await stopAll([this.#nodes, this.#chain, this.#api]);
    if (errors.length) throw errors[0];
  }

  /** What the devnet is doing, in words (shown at the top of every page). */
  phase(phase: string, message: string | null = null): void {
    this.hub.update('meta', 'chain', () => ({}) as Meta, { phase, message });
  }

  onDevnetEvent(e: DevnetEvent): void {
    const hub = this.hub;
    switch (e.kind) {
      case 'nodes':
        this.#nodes.setNodes(e.nodes);
        return;
      case 'posted':
        hub.update('jobs', e.jobId, () => emptyJob(e.jobId), { ddpBytesPerRound: e.ddpBytesPerRound });
        this.phase('training', `job ${e.jobId} posted`);
        return;
      case 'committed': {
        // pushed by the requester's coordinator in this process: no wait for the next chain poll
        const key = `${e.jobId}:${e.round}`;
        const cur = hub.get('rounds', key);
        if (!cur?.commit) {
          hub.update('rounds', key, () => emptyRound(e.jobId, e.round), {
            commit: {
              txHash: e.txHash,
              block: e.block,
              recordsRoot: e.recordsRoot,
              modelHash: e.modelHash,
              signers: [],
              at: Date.now(),
              seenAt: Date.now(),
            },
          });
          const job = hub.get('jobs', e.jobId);
          if (job && job.roundsCommitted < e.round + 1)
            hub.put('jobs', e.jobId, { ...job, roundsCommitted: e.round + 1 });
        }
        this.#nodes.refresh();
        return;
      }
      case 'round':
        if (e.testAccuracy !== undefined) {
          hub.update('rounds', `${e.jobId}:${e.round}`, () => emptyRound(e.jobId, e.round), {
            testAccuracy: e.testAccuracy,
          });
        }
        return;
      case 'stopped':
        this.#nodes.markStopped();
        this.phase('baseline', 'training the centralized baseline on the pooled data');
        return;
    }
  }

  /** The devnet job's summary: accuracy against the centralized baseline, bytes, reward roles. */
  jobResult(r: DevnetJobResult): void {
    // a regression job reports RMSE, not accuracy: its summary is not shown here yet
    if (r.testAccuracy === undefined || r.centralizedAccuracy === undefined) return;
    const hub = this.hub;
    hub.update('jobs', r.jobId, () => emptyJob(r.jobId), {
      result: {
        testAccuracy: r.testAccuracy,
        centralizedAccuracy: r.centralizedAccuracy,
        bytesPerWorker: r.bytesPerWorker,
        ddpBytesPerWorker: r.ddpBytesPerWorker,
        seconds: r.seconds,
      },
    });
    // one leaf per account: an account paid in several roles (a provider that also gave data) is one row
    const by = new Map<string, { roles: string[]; amount: bigint; claimed: boolean }>();
    for (const x of r.rewards) {
      const e = by.get(x.address) ?? { roles: [], amount: 0n, claimed: true };
      if (!e.roles.includes(x.role)) e.roles.push(x.role);
      e.amount += BigInt(x.amount);
      e.claimed &&= x.claimed;
      by.set(x.address, e);
    }
    for (const [account, e] of by) {
      const role = e.roles.sort().join('+');
      hub.update(
        'rewards',
        `${r.jobId}:${account}`,
        () => ({
          jobId: r.jobId,
          account,
          role,
          amount: e.amount.toString(),
          claimed: e.claimed,
          claimTx: null,
        }),
        { role, amount: e.amount.toString() },
      );
    }
    this.phase('serving', `job ${r.jobId} done; the chain keeps serving`);
  }
}
