/**
 * `agora node start --role provider|validator|requester`: one role as a daemon against `--rpc`
 * (wallet, chain watcher, node:sqlite store and status API under `<home>/nodes/<name>/`, pino logs).
 * Provider: registers its data (`--data IMAGES,LABELS`) and a staked offer, watches the ComputeMarket
 * and joins matching jobs. Requester: closes its jobs once every round is committed. Validator:
 * follows jobs. Cross-process rounds (records and co-signatures over libp2p) are not wired yet:
 * `agora devnet` runs the whole round protocol with every role in one process (docs/swarm.md).
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { getAddress, type LocalAccount, parseEther } from 'viem';
import { computeMarketClient } from '../../chain/compute-market.ts';
import { trainingLedgerClient } from '../../chain/training-ledger.ts';
import { AgoraError } from '../../errors.ts';
import { JobWatcher } from '../../node/job-watcher.ts';
import { createLogger } from '../../node/logger.ts';
import { ProviderNode } from '../../node/provider.ts';
import { RoleNode } from '../../node/role-node.ts';
import { type Startable, startAll, stopAll } from '../../node/startable.ts';
import { contractsOf } from '../../node/swarm-job.ts';
import { modelSpecHash, TASKS, taskSpec } from '../../node/task.ts';
import type { CliContext } from '../context.ts';
import { untilSignal } from './chain.ts';

type Ctx = (cmd: Command) => CliContext;
type NodeOpts = {
  role: string;
  name?: string;
  data?: string;
  price: string;
  stake: string;
  pollMs: string;
  once?: boolean;
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
    .option('--once', 'do one poll and exit (scripts, tests)')
    .description('start a node daemon; Ctrl-C stops it')
    .action(async (o: NodeOpts, cmd: Command) => {
      const c = ctx(cmd);
      if (!['provider', 'validator', 'requester'].includes(o.role)) {
        throw new AgoraError('BAD_OPTION', `unknown --role "${o.role}"`, {
          hint: 'use provider, validator or requester',
        });
      }
      const conn = await c.connect();
      const d = await c.deployment(conn, ['ComputeMarket', 'TrainingLedger', 'DataRegistry', 'AgoraToken']);
      const contracts = contractsOf(d);
      const account = (await c.signer(conn)) as LocalAccount;
      const name = o.name ?? o.role;
      const dir = join(c.home, 'nodes', name);
      const logger = createLogger({ name: `agora-${name}`, file: join(dir, 'node.log') });
      const market = computeMarketClient(conn, contracts.market);
      const ledger = trainingLedgerClient(conn, contracts.ledger);
      const known = new Set(TASKS.map((t) => modelSpecHash(taskSpec(t))));
      const services: Startable[] = [];
      let onJob: (jobId: bigint) => Promise<void> = async () => {};
      let onTick: () => Promise<void> = async () => {};
      let store: ProviderNode['store'];
      let statusUrl: () => string | undefined;
      if (o.role === 'provider') {
        const p = new ProviderNode({ name, dir, home: c.home, account, conn, contracts, logger });
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
          onTick = async () => {
            for (const row of r.store.listJobs('open')) {
              const jobId = BigInt(row.jobId);
              const j = await market.getJob(jobId);
              if (getAddress(j.requester) !== getAddress(account.address)) continue;
              const l = await ledger.getJobLedger(jobId);
              if (!l.closed && l.roundsCommitted === j.rounds) {
                await ledger.closeJob(r.signer, jobId);
                r.store.upsertJob(jobId, 'requester', 'closed');
                c.out.progress(`${name}: closed job ${jobId}`);
              }
            }
          };
        } else {
          onJob = async (jobId) => {
            r.store.upsertJob(jobId, 'validator', 'watching');
            c.out.progress(`${name}: watching job ${jobId}`);
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
        await stopAll(services);
      });
    });
}
