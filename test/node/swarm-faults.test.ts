/**
 * Every role of a cross-process job survives kill -9 (issue 22): one job, separate `agora` processes
 * (the chain `agora chain start --state FILE`, a requester, a validator, three providers), and in
 * turn, mid-job:
 *   - the requester (the job's coordinator) is killed with SIGKILL mid-round and restarted with the
 *     same home: it resumes coordinating from its store (the round in flight, its collected records)
 *     and the chain;
 *   - the validator is killed with SIGKILL and restarted: it resumes its checks at the round after
 *     the last one it persisted, checks every round exactly once and reports nobody twice;
 *   - the chain process is killed with SIGKILL and restarted from its state file on the same port:
 *     every node rides over the outage and the job goes on.
 * Every round commits, the reward root is posted and every provider and the validator claims.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import { TrainingLedger } from '../../artifacts/index.ts';
import { connectChain } from '../../src/chain/connect.ts';
import { readDeployment } from '../../src/chain/deployments.ts';
import { trainingLedgerClient } from '../../src/chain/training-ledger.ts';
import { freePort } from '../../src/net/free-port.ts';
import { fraudReports } from '../../src/node/job-chain.ts';
import { NodeStore } from '../../src/node/store.ts';
import { tempHome } from '../helpers/cli.ts';
import { type Proc, procGroup } from '../helpers/node-procs.ts';
import {
  createMnistJob,
  startMnistProviders,
  untilClaimed,
  untilCoordinatorAddress,
  untilOffers,
  untilRewardRoot,
} from '../helpers/swarm-procs.ts';
import { until } from '../helpers/until.ts';

describe('kill -9 of the requester, the validator and the chain mid-job', () => {
  const group = procGroup();
  const { start } = group;
  afterAll(() => group.killAll());

  it('each resumes and the job completes: every round commits, every party claims', async () => {
    onTestFailed(() => console.error(group.tails(60)));
    const home = tempHome();
    const chainPort = await freePort();
    const rpc = `http://127.0.0.1:${chainPort}`;
    const stateFile = join(home, 'chain.jsonl');
    const chainArgs = ['--home', home, 'chain', 'start', '--port', String(chainPort), '--state', stateFile];
    const startChain = async (name: string): Promise<Proc> => {
      const p = start(name, [...chainArgs, '--deploy']);
      await until('the chain', () => (/Ctrl-C stops it/.test(p.out) ? true : undefined), 120_000);
      return p;
    };
    let chain = await startChain('chain');
    const conn = await connectChain({ rpcUrl: rpc });
    const d = readDeployment(home, conn.chainId)!;
    const ledger = trainingLedgerClient(conn, d.contracts.TrainingLedger!);
    const committed = async (jobId: bigint) => ledger.roundsCommitted(jobId).catch(() => -1);

    const port = await freePort();
    const common = ['--home', home, '--rpc', rpc];
    const requesterArgs = [
      ...common,
      ...['--devnet-account', '10', 'node', 'start', '--role', 'requester'],
      ...['--listen', `/ip4/127.0.0.1/tcp/${port}`, '--poll-ms', '300'],
    ];
    let requester = start('requester', requesterArgs);
    const boot = await untilCoordinatorAddress(requester, 90_000);
    const validatorArgs = [
      ...common,
      ...['--devnet-account', '19', 'node', 'start', '--role', 'validator', '--bootstrap', boot],
      ...['--poll-ms', '300'],
    ];
    let validator = start('validator', validatorArgs);
    const { providers } = startMnistProviders(group, { home, common, boot, pollMs: 300, count: 3 });
    const ids = await untilOffers(providers, 180_000);
    const rounds = 8;
    const jobId = await createMnistJob(common, ids, rounds, 120_000);
    const atLeast = (what: string, n: number, ms: number) =>
      until(what, async () => ((await committed(jobId)) >= n ? true : undefined), ms);

    // 1. the requester, mid-round (round 2 in flight), then restarted with the same home
    await atLeast('round 2 committed', 2, 240_000);
    requester.child.kill('SIGKILL');
    const requesterKilledAt = await committed(jobId);
    expect(requesterKilledAt).toBeLessThan(rounds);
    requester = start('requester-restarted', requesterArgs);
    await atLeast('a commit by the restarted requester', requesterKilledAt + 1, 180_000);

    // 2. the validator, then restarted
    validator.child.kill('SIGKILL');
    const validatorKilledAt = await committed(jobId);
    expect(validatorKilledAt).toBeLessThan(rounds);
    await atLeast('a commit without the validator', validatorKilledAt + 1, 120_000);

    // 3. the chain (SIGKILL), then restarted from its state file on the same port; the validator is
    // restarted once the chain is back (a node does not start without its chain)
    const chainKilledAt = await committed(jobId);
    expect(chainKilledAt).toBeLessThan(rounds);
    chain.child.kill('SIGKILL');
    const gone = chain.child;
    await until('the chain process to exit', () => (gone.signalCode !== null ? true : undefined), 10_000);
    chain = await startChain('chain-restarted');
    expect(chain.out).toMatch(/reloaded \d+ chain changes/);
    validator = start('validator-restarted', validatorArgs);
    await atLeast('a commit after the chain restart', chainKilledAt + 1, 240_000);

    // the job completes, the reward root is posted and everyone claims
    await untilRewardRoot(ledger, jobId, 420_000, { retryReadErrors: true });
    await untilClaimed(ledger, jobId, [1, 2, 3, 19], 240_000);
    const l = await ledger.getJobLedger(jobId);
    expect(l.roundsCommitted).toBe(rounds);
    expect(l.closed).toBe(true);
    expect(l.claimed).toBe(l.rewardTotal);
    expect(l.rewardTotal).toBe(l.funded);
    const logs = (await conn.publicClient.getContractEvents({
      address: d.contracts.TrainingLedger!,
      abi: TrainingLedger.abi,
      eventName: 'RoundCommitted',
      fromBlock: 0n,
    })) as unknown as { args: { jobId: bigint; round: bigint } }[];
    expect(logs.map((x) => Number(x.args.round))).toEqual(Array.from({ length: rounds }, (_, r) => r));

    // the restarted requester went on from its store: the rounds before the kill are there as
    // committed, and it served the reward split (the claims above recomputed it)
    const rstore = new NodeStore(join(home, 'nodes', 'requester', 'node.db'));
    try {
      for (let r = 0; r < rounds; r++)
        expect(rstore.getRound(jobId, r)?.state, `round ${r}`).toBe('committed');
    } finally {
      rstore.close();
    }
    // the validator checked every round once (its store has each as checked, its checks were
    // counted by the coordinator) and reported nobody
    expect(await fraudReports(conn, d.contracts.ComputeMarket!, jobId)).toEqual([]);
    const vstore = new NodeStore(join(home, 'nodes', 'validator', 'node.db'));
    try {
      for (let r = 0; r < rounds; r++) expect(vstore.getRound(jobId, r)?.state, `round ${r}`).toBe('checked');
      expect(vstore.getJson<number>(`validator:${jobId}:next`)).toBe(rounds);
    } finally {
      vstore.close();
    }
  }, 900_000);
});
