/**
 * Node daemons (src/node/daemon.ts) serve jobs one after another: once a job is done, the same
 * requester, validator and providers take the next one. Two things stopped that before: job runners
 * stayed busy for good after the first job, and a provider's stake stayed locked in the finished
 * job (now released after its challenge period). Real embedded chain, libp2p on 127.0.0.1, training.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { computeMarketClient } from '../../src/chain/compute-market.ts';
import { connectChain, walletClientFor } from '../../src/chain/connect.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { trainingLedgerClient } from '../../src/chain/training-ledger.ts';
import { NodeDaemon } from '../../src/node/daemon.ts';
import { createLogger } from '../../src/node/logger.ts';
import { contractsOf } from '../../src/node/node-contracts.ts';
import { postJob } from '../../src/node/post-job.ts';
import { planMnistShards, writeShardIdx } from '../../src/node/shard-data.ts';
import { NodeStore } from '../../src/node/store.ts';
import { mnistMlpPreset } from '../../src/task/presets.ts';
import { tempHome } from '../helpers/cli.ts';
import { type DaemonSwarm, startDaemonSwarm } from '../helpers/daemon-swarm.ts';
import { until } from '../helpers/until.ts';

describe('node daemons: jobs one after another', () => {
  let swarm: DaemonSwarm | undefined;
  afterAll(() => swarm?.stop());

  it('the same requester, validator and providers finish a second job after the first', async () => {
    // the requester serves the reward split for 5 s after a job (claimants fetch it), then takes the next
    swarm = await startDaemonSwarm({ validator: true, lingerMs: 5000 });
    const { conn, contracts, requester, validator, providers } = swarm;
    // asked for tcp/0, the requester fixes a free port at start: its coordinator address is dialable
    // before any job runs
    expect(requester.coordinatorAddress).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/[1-9]\d*\/p2p\/12D3/);
    const ledger = trainingLedgerClient(conn, contracts.ledger);
    const market = computeMarketClient(conn, contracts.market);
    const jobs: bigint[] = [];
    for (let j = 0; j < 2; j++) {
      const { jobId } = await postJob({
        conn,
        contracts,
        signer: walletClientFor(conn, devnetAccount(10)),
        store: requester.store,
        spec: mnistMlpPreset({ innerSteps: 5, rounds: 2 }),
        datasetIds: providers.map((p) => p.datasetId!),
        workers: 2,
        innerSteps: 5,
        rounds: 2,
        pricePerRound: 10n ** 18n,
      });
      jobs.push(jobId);
      await until(
        `job ${jobId} done and claimed`,
        async () => {
          const l = await ledger.getJobLedger(jobId);
          if (!l.closed || l.claimed !== l.funded) return undefined;
          // every daemon's runner has finished the job (it marks it done after its claim)
          const done = [requester, validator!, ...providers].every(
            (d) => d.store.getJob(jobId)?.state === 'done',
          );
          return done ? true : undefined;
        },
        180_000,
      );
    }
    for (const jobId of jobs) {
      const l = await ledger.getJobLedger(jobId);
      expect(l.roundsCommitted).toBe(2);
      expect(l.claimed).toBe(l.funded);
      for (const p of providers) expect(p.store.getJob(jobId)?.state).toBe('done');
      // job 1's stake was released after its challenge period, which is what let them join job 2
      if (jobId === jobs[0])
        for (const p of providers) expect((await market.seatOf(jobId, p.address)).released).toBe(true);
      expect(validator!.store.getJob(jobId)?.state).toBe('done');
    }
  }, 400_000);
});

describe('a provider daemon whose join transaction failed', () => {
  let chain: EmbeddedChain | undefined;
  let daemon: NodeDaemon | undefined;
  afterAll(async () => {
    await daemon?.stop();
    await chain?.stop();
  });

  it('tries the join again on its next tick (the job row stays `joining` otherwise)', async () => {
    chain = await startEmbeddedChain();
    const conn = await connectChain({ provider: chain.provider });
    const contracts = contractsOf(await deployProtocol(conn, devnetAccount(0)));
    const home = tempHome();
    const logger = createLogger({ name: 'test', level: 'warn', file: join(home, 'nodes.log') });
    const plan = planMnistShards(2, 5);
    const opts = {
      home,
      conn,
      contracts,
      logger,
      pollMs: 200,
      role: 'provider' as const,
      name: 'p1',
      account: devnetAccount(1),
      data: writeShardIdx(plan.pool, plan.shards[0], join(home, 'shard-1')),
      bootstrap: [],
    };
    // first start: registers the data set and stakes an offer
    const first = new NodeDaemon(opts);
    await first.start();
    const datasetId = first.datasetId!;
    await first.stop();
    const { jobId } = await postJob({
      conn,
      contracts,
      signer: walletClientFor(conn, devnetAccount(10)),
      store: new NodeStore(join(home, 'requester.db')),
      spec: mnistMlpPreset({ innerSteps: 5, rounds: 2 }),
      datasetIds: [datasetId],
      workers: 2,
      innerSteps: 5,
      rounds: 2,
      pricePerRound: 10n ** 18n,
    });
    // as if the daemon had seen the job and its joinJob transaction had failed: the row says
    // `joining`, and the watcher is past the job's JobCreated event
    const market = computeMarketClient(conn, contracts.market);
    const store = new NodeStore(join(home, 'nodes', 'p1', 'node.db'));
    const head = await conn.publicClient.getBlockNumber({ cacheTime: 0 });
    store.setJson('watcher.nextBlock', (head + 1n).toString());
    store.upsertJob(jobId, 'provider', 'joining');
    store.close();
    daemon = new NodeDaemon(opts);
    await daemon.start();
    await until(
      'the retried join',
      async () => (daemon!.store.getJob(jobId)?.state === 'joined' ? true : undefined),
      30_000,
    );
    expect((await market.seatOf(jobId, devnetAccount(1).address)).lockedStake).toBeGreaterThan(0n);
  }, 120_000);
});
