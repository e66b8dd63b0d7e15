/**
 * The swarm as separate processes: one chain (embedded, served over JSON-RPC), a requester, a
 * validator and three providers, each its own `agora node start` process. A job is created from a
 * fifth process; the providers join and train it over libp2p, the requester commits every round,
 * the validator checks them. One provider is killed with SIGKILL mid-job and restarted: the job goes
 * on without it, the restarted provider resumes from its store, resyncs to the committed model and
 * signs later rounds again. Two providers compute a wrong model in round 2 (fault injection), so no
 * two of three agree: the requester retries that round's all-reduce and it commits with all three,
 * each having signed one record for it. The validator checks every round by proof (link checks and
 * a random window replay) and reports nobody. At the end the reward root is posted and every party
 * claims.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import { TrainingLedger } from '../../artifacts/index.ts';
import { connectChain } from '../../src/chain/connect.ts';
import { readDeployment } from '../../src/chain/deployments.ts';
import { startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { trainingLedgerClient } from '../../src/chain/training-ledger.ts';
import { freePort } from '../../src/net/free-port.ts';
import { fraudReports } from '../../src/node/job-chain.ts';
import { NodeStore } from '../../src/node/store.ts';
import { runCli, tempHome } from '../helpers/cli.ts';
import { procGroup } from '../helpers/node-procs.ts';
import {
  createMnistJob,
  startMnistProviders,
  untilClaimed,
  untilCoordinatorAddress,
  untilOffers,
  untilRewardRoot,
} from '../helpers/swarm-procs.ts';
import { until } from '../helpers/until.ts';

describe('agora node start: a job across separate processes', () => {
  const group = procGroup();
  const { start } = group;
  let stopChain: (() => Promise<void>) | undefined;
  afterAll(async () => {
    group.killAll();
    await stopChain?.();
  });

  it('trains, survives kill -9 of a provider, resumes it, commits every round and pays everyone', async () => {
    onTestFailed(() => console.error(group.tails(60)));
    const home = tempHome();
    const chain = await startEmbeddedChain({ port: 0 });
    stopChain = () => chain.stop();
    const rpc = chain.url!;
    const deploy = await runCli(['--home', home, '--rpc', rpc, 'chain', 'deploy', '--json']);
    expect(deploy.code, deploy.stderr).toBe(0);
    const conn = await connectChain({ rpcUrl: rpc });
    const d = readDeployment(home, conn.chainId)!;
    const ledger = trainingLedgerClient(conn, d.contracts.TrainingLedger!);

    const port = await freePort();
    const common = ['--home', home, '--rpc', rpc];
    const requester = start('requester', [
      ...common,
      '--devnet-account',
      '10',
      'node',
      'start',
      '--role',
      'requester',
      '--listen',
      `/ip4/127.0.0.1/tcp/${port}`,
      '--poll-ms',
      '300',
    ]);
    const boot = await untilCoordinatorAddress(requester, 60_000);
    start('validator', [
      ...common,
      '--devnet-account',
      '19',
      'node',
      'start',
      '--role',
      'validator',
      '--bootstrap',
      boot,
      '--poll-ms',
      '300',
    ]);
    // p1 and p2 go wrong in round 2 (index 1): three different models, no quorum, a retry
    const { providers, args: providerArgs } = startMnistProviders(group, {
      home,
      common,
      boot,
      pollMs: 300,
      count: 3,
      extraArgs: (i) => (i < 2 ? ['--fault-diverge-round', '1'] : []),
    });
    const ids = await untilOffers(providers, 90_000);
    const rounds = 24;
    const jobId = await createMnistJob(common, ids, rounds);
    const status = await runCli([...common, 'job', 'status', jobId.toString(), '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      jobId: jobId.toString(),
      task: { task: 'mnist-mlp', drift: 'fixed-head', aggregator: 'mean' },
      rounds,
    });

    // kill -9 the third provider once a few rounds are committed
    await until(
      'round 3 committed',
      async () => ((await ledger.roundsCommitted(jobId)) >= 3 ? true : undefined),
      180_000,
    );
    providers[2].child.kill('SIGKILL');
    const killedAt = await ledger.roundsCommitted(jobId);
    // the others go on without it
    await until(
      'two more rounds without the killed provider',
      async () => ((await ledger.roundsCommitted(jobId)) >= killedAt + 2 ? true : undefined),
      120_000,
    );
    const restarted = start('p3-restarted', providerArgs(2));
    await until(
      'the restarted provider to rejoin',
      () => (/resynced to the committed model/.test(restarted.out) ? true : undefined),
      120_000,
    );

    // the job completes, the reward root is posted and everyone claims
    await untilRewardRoot(ledger, jobId, 240_000);
    await untilClaimed(ledger, jobId, [1, 2, 3, 19], 120_000);
    const l = await ledger.getJobLedger(jobId);
    expect(l.roundsCommitted).toBe(rounds);
    expect(l.closed).toBe(true);
    expect(l.claimed).toBe(l.rewardTotal);
    expect(l.rewardTotal).toBe(l.funded);

    // signers per round: 3 before the kill, 2 right after it, 3 again once the provider is back
    const logs = (await conn.publicClient.getContractEvents({
      address: d.contracts.TrainingLedger!,
      abi: TrainingLedger.abi,
      eventName: 'RoundCommitted',
      fromBlock: 0n,
    })) as unknown as { args: { round: bigint; signers: bigint } }[];
    const signers = logs.map((x) => Number(x.args.signers));
    // no round waited out the all-reduce deadline (20 s) for the dead or the rejoining provider
    const at: bigint[] = [];
    for (let r = 0; r < rounds; r++) at.push((await ledger.getRound(jobId, BigInt(r))).committedAt);
    const gaps = at.slice(1).map((t, i) => Number(t - at[i]));
    expect(Math.max(...gaps), `seconds between commits: ${gaps.join(',')}`).toBeLessThan(15);
    expect(signers).toHaveLength(rounds);
    expect(signers.slice(0, 3)).toEqual([3, 3, 3]);
    // round 2 was retried once, and committed with all three; nobody signed two records for it
    expect(requester.out).toMatch(/round 2 retried \(attempt 1\)/);
    expect(requester.out).not.toMatch(/round 2 retried \(attempt 2\)/);
    for (const name of ['p1', 'p2', 'p3']) {
      const s = new NodeStore(join(home, 'nodes', name, 'node.db'));
      try {
        expect(s.listSignatures(jobId, 1, 'round-record'), name).toHaveLength(1);
        expect(s.getRound(jobId, 1)?.data.attempt, name).toBe(1);
      } finally {
        s.close();
      }
    }
    expect(signers).toContain(2);
    expect(signers.at(-1)).toBe(3);

    // the validator checked the rounds by proof (link check of every worker it reached, one random
    // window replayed per round) and reported nobody: every provider here is honest, including the
    // restarted one (the statistical checks alone no longer report under label skew)
    expect(await fraudReports(conn, d.contracts.ComputeMarket!, jobId)).toEqual([]);
    const vstore = new NodeStore(join(home, 'nodes', 'validator', 'node.db'));
    try {
      type Check = { link: { status: string }; replays: { status: string }[] };
      const checks = Array.from({ length: rounds }, (_, r) => vstore.getRound(jobId, r))
        .filter((row) => row?.state === 'checked')
        .flatMap((row) => row!.data.checks as Check[]);
      const links = checks.map((c) => c.link.status);
      const replays = checks.flatMap((c) => c.replays.map((x) => x.status));
      expect(links.filter((x) => x === 'pass').length, links.join(',')).toBeGreaterThan(rounds);
      expect(links).not.toContain('fail');
      expect(replays.filter((x) => x === 'pass').length, replays.join(',')).toBeGreaterThan(rounds / 2);
      expect(replays).not.toContain('fail');
    } finally {
      vstore.close();
    }

    // the restarted provider resumed from its own store (same node directory, same job row)
    const store = new NodeStore(join(home, 'nodes', 'p3', 'node.db'));
    try {
      await until(
        'the restarted provider to finish',
        () => (store.getJob(jobId)?.state === 'done' ? true : undefined),
        30_000,
      );
      expect(store.listClaims('confirmed').map((c) => c.jobId)).toContain(jobId.toString());
      expect(store.latestCheckpoint(jobId)?.round).toBe(rounds - 1);
      expect(existsSync(store.latestCheckpoint(jobId)!.path)).toBe(true);
    } finally {
      store.close();
    }
  }, 600_000);
});
