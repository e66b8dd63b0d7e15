/**
 * `agora node start --role provider|validator|requester`: one role as a daemon against `--rpc`
 * (wallet, chain watcher, node:sqlite store and status API under `<home>/nodes/<name>/`, pino logs).
 * Provider: registers its data (`--data IMAGES,LABELS`) and a staked offer, watches the ComputeMarket
 * and joins matching jobs. Requester: closes its jobs once every round is committed. Validator:
 * checks every round of running jobs. Once a job runs, the roles meet on the job's libp2p network
 * (the requester listens on `--listen`, the others dial it with `--bootstrap`) and run the round
 * protocol across processes (src/node/{provider-job,coordinator,validator-job}.ts; docs/swarm.md).
 */
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { type Address, getAddress, type LocalAccount, parseEther } from 'viem';
import { computeMarketClient } from '../../chain/compute-market.ts';
import { AgoraError } from '../../errors.ts';
import { JobCoordinator } from '../../node/coordinator.ts';
import { JobWatcher } from '../../node/job-watcher.ts';
import { createLogger } from '../../node/logger.ts';
import { loadOrCreatePeerKey } from '../../node/peer-key.ts';
import { ProviderNode } from '../../node/provider.ts';
import { runProviderJob } from '../../node/provider-job.ts';
import { RoleNode } from '../../node/role-node.ts';
import { type Startable, startAll, stopAll } from '../../node/startable.ts';
import { contractsOf } from '../../node/swarm-job.ts';
import { modelSpecHash, TASKS, taskSpec } from '../../node/task.ts';
import { runValidatorJob } from '../../node/validator-job.ts';
import type { CliContext } from '../context.ts';
import { untilSignal } from './chain.ts';

type Ctx = (cmd: Command) => CliContext;
type NodeOpts = {
  role: string;
  listen?: string;
  bootstrap?: string;
  byzantine?: boolean;
  name?: string;
  data?: string;
  price: string;
  stake: string;
  pollMs: string;
  once?: boolean;
  faultDivergeRound?: string;
};

export function registerNodeCommands(program: Command, ctx: Ctx): void {
  const node = program.command('node').description('run an Agora node (provider, validator or requester)');
  node
    .command('start')
    .requiredOption('--role <role>', 'provider | validator | requester')
    .option('--name <name>', 'node name (its directory under <home>/nodes/); default: the role')
    .option('--data <IMAGES,LABELS>', 'provider: the IDX data shard to register and train on')
    .option('--price <agora>', 'provider: price per round', '1')
    .option('--stake <agora>', 'provider: stake with the offer', '100')
    .option('--poll-ms <ms>', 'chain poll interval', '1000')
    .option('--listen <multiaddr>', 'libp2p listen address for job networks', '/ip4/127.0.0.1/tcp/0')
    .option('--bootstrap <multiaddrs>', 'comma-separated multiaddrs to dial for job networks (the requester)')
    .option('--once', 'do one poll and exit (scripts, tests)')
    .addOption(new Option('--byzantine', 'fault injection: send sign-flipped pseudo-gradients').hideHelp())
    .addOption(
      new Option('--fault-diverge-round <round>', 'fault injection: a wrong model in round R').hideHelp(),
    )
    .description('start a node daemon; Ctrl-C stops it')
    .action(async (o: NodeOpts, cmd: Command) => {
      const c = ctx(cmd);
      if (!['provider', 'validator', 'requester'].includes(o.role)) {
        throw new AgoraError('BAD_OPTION', `unknown --role "${o.role}"`, {
          hint: 'use provider, validator or requester',
        });
      }
      const conn = await c.connect();
      const d = await c.deployment(conn, [
        'ComputeMarket',
        'TrainingLedger',
        'DataRegistry',
        'AgoraToken',
        'ProtocolParams',
      ]);
      const contracts = { ...contractsOf(d), params: d.contracts.ProtocolParams as Address };
      const account = (await c.signer(conn)) as LocalAccount;
      const name = o.name ?? o.role;
      const dir = join(c.home, 'nodes', name);
      const logger = createLogger({ name: `agora-${name}`, file: join(dir, 'node.log') });
      const market = computeMarketClient(conn, contracts.market);
      const known = new Set(TASKS.map((t) => modelSpecHash(taskSpec(t))));
      const peerKey = await loadOrCreatePeerKey(dir);
      const listen = [o.listen ?? '/ip4/127.0.0.1/tcp/0'];
      const bootstrap = (o.bootstrap ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      const net = { listen, privateKey: peerKey.key };
      const services: Startable[] = [];
      const stopping = new AbortController();
      /** Jobs this node is working on now (one runner per job). */
      const running = new Map<string, Promise<unknown>>();
      const runOnce = (jobId: bigint, what: string, fn: () => Promise<unknown>) => {
        const k = jobId.toString();
        if (running.has(k)) return;
        c.out.progress(`${name}: ${what} job ${jobId}`);
        running.set(
          k,
          fn()
            .catch((e: Error) => {
              logger.error({ jobId: k, err: e.message }, `${what} job failed`);
              c.out.progress(`${name}: job ${jobId} failed: ${e.message}`);
              running.delete(k); // retried at the next tick
            })
            .then(() => undefined),
        );
      };
      let onJob: (jobId: bigint) => Promise<void> = async () => {};
      let onTick: () => Promise<void> = async () => {};
      let store: ProviderNode['store'];
      let statusUrl: () => string | undefined;
      if (o.role === 'provider') {
        const p = new ProviderNode({
          name,
          dir,
          home: c.home,
          account,
          conn,
          contracts,
          logger,
          byzantine: o.byzantine === true,
          ...(o.faultDivergeRound !== undefined ? { divergeRound: Number(o.faultDivergeRound) } : {}),
        });
        services.push(p);
        store = p.store;
        statusUrl = () => p.statusUrl;
        const price = parseEther(o.price);
        onJob = async (jobId) => {
          const j = await market.getJob(jobId);
          const mine = BigInt(p.store.getJson<string>('datasetId') ?? '0');
          const ds = await market.datasetsOf(jobId);
          if (
            j.state !== 'Open' ||
            !known.has(j.modelSpecHash) ||
            j.pricePerRound < price ||
            !ds.includes(mine)
          )
            return;
          await p.joinJob(jobId);
          c.out.progress(`${name}: joined job ${jobId}`);
        };
        // a joined job that is running: train it (one job at a time: a provider sells its whole machine)
        onTick = async () => {
          if (running.size > 0) return;
          for (const row of p.store.listJobs()) {
            if (!['joined', 'training'].includes(row.state)) continue;
            const jobId = BigInt(row.jobId);
            const j = await market.getJob(jobId);
            if (j.state === 'Running') {
              runOnce(jobId, 'training', async () => {
                const r = await runProviderJob({
                  node: p,
                  conn,
                  contracts,
                  jobId,
                  logger,
                  bootstrap,
                  net,
                  onProgress: (m) => c.out.progress(m),
                  signal: stopping.signal,
                });
                if (!stopping.signal.aborted)
                  p.store.upsertJob(jobId, 'provider', 'done', { claimed: String(r.claimed ?? 0n) });
              });
              return;
            }
            if (j.state !== 'Open') p.store.upsertJob(jobId, 'provider', 'over', { state: j.state });
          }
        };
        await p.start();
        if (o.data) {
          const id = await p.registerData(o.data);
          c.out.progress(`${name}: dataset ${id}`);
        }
        await p.registerOffer(price, parseEther(o.stake));
        c.out.progress(`${name} ${account.address}: offer staked at ${o.price} AGORA/round`);
      } else {
        const r = new RoleNode({ name, role: o.role as 'validator' | 'requester', dir, account, conn });
        services.push(r);
        store = r.store;
        statusUrl = () => r.statusUrl;
        await r.start();
        if (o.role === 'requester') {
          // coordinate this requester's running jobs (one at a time: they share the --listen address)
          onTick = async () => {
            if (running.size > 0) return;
            for (const row of r.store.listJobs()) {
              if (!['open', 'running', 'closed'].includes(row.state)) continue;
              const jobId = BigInt(row.jobId);
              const j = await market.getJob(jobId);
              if (getAddress(j.requester) !== getAddress(account.address)) continue;
              if (j.state === 'Open') continue;
              runOnce(jobId, 'coordinating', async () => {
                const coord = new JobCoordinator({
                  conn,
                  contracts,
                  jobId,
                  account,
                  signer: r.signer,
                  store: r.store,
                  logger,
                  net,
                  onProgress: (m) => c.out.progress(m),
                });
                await coord.start();
                r.state = { jobId: jobId.toString(), coordinator: coord.multiaddrs() };
                try {
                  await coord.run();
                  // keep serving the reward split to claimants for a while
                  await new Promise((res) => setTimeout(res, 30_000).unref());
                } finally {
                  await coord.stop();
                }
              });
              return;
            }
          };
          c.out.progress(`${name}: coordinator address ${listen[0]}/p2p/${peerKey.peerId}`);
        } else {
          onJob = async (jobId) => {
            r.store.upsertJob(jobId, 'validator', 'watching');
            c.out.progress(`${name}: watching job ${jobId}`);
          };
          onTick = async () => {
            if (running.size > 0) return;
            for (const row of r.store.listJobs('watching')) {
              const jobId = BigInt(row.jobId);
              const j = await market.getJob(jobId);
              if (j.state === 'Open') continue;
              if (j.state !== 'Running') {
                r.store.upsertJob(jobId, 'validator', 'over', { state: j.state });
                continue;
              }
              runOnce(jobId, 'validating', async () => {
                const v = await runValidatorJob({
                  conn,
                  contracts,
                  jobId,
                  account,
                  signer: r.signer,
                  store: r.store,
                  logger,
                  bootstrap,
                  net: { listen: ['/ip4/127.0.0.1/tcp/0'] },
                  onProgress: (m) => c.out.progress(m),
                  signal: stopping.signal,
                });
                if (!stopping.signal.aborted)
                  r.store.upsertJob(jobId, 'validator', 'done', { checked: v.checked, reported: v.reported });
              });
              return;
            }
          };
        }
      }
      const watcher = new JobWatcher({
        conn,
        market: contracts.market,
        store: store,
        logger,
        pollMs: Number(o.pollMs),
        onJob,
        onTick,
      });
      await startAll([watcher]);
      services.push(watcher);
      c.out.result(
        { name, role: o.role, address: account.address, status: statusUrl() },
        () => `${name} (${o.role}) ${account.address} running; status API ${statusUrl()}/status`,
      );
      if (o.once) {
        await stopAll(services);
        return;
      }
      await untilSignal(async () => {
        c.out.progress(`stopping ${name}…`);
        stopping.abort();
        await stopAll(services);
      });
    });
}
