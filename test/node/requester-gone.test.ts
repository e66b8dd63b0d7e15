/**
 * A requester that never comes back: the job ends by the market's rules. Node daemons in one
 * process (real embedded chain, libp2p on 127.0.0.1, training): the requester coordinates two
 * rounds and stops for good. Once the job's completion deadline has passed (the chain's clock moved
 * with evm_increaseTime) the providers' round loops close it (TrainingLedger.closeJob: the escrow
 * of the committed rounds to the ledger, the rest refunded to the requester), post the reward split
 * of the committed rounds themselves (co-signed by both), claim it, and get their stakes back after
 * the challenge window.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { computeMarketClient } from '../../src/chain/compute-market.ts';
import { walletClientFor } from '../../src/chain/connect.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { tokenClient } from '../../src/chain/token.ts';
import { trainingLedgerClient } from '../../src/chain/training-ledger.ts';
import { postJob } from '../../src/node/post-job.ts';
import { mnistMlpPreset } from '../../src/task/presets.ts';
import { type DaemonSwarm, startDaemonSwarm } from '../helpers/daemon-swarm.ts';
import { until } from '../helpers/until.ts';

describe('a job whose requester never returns', () => {
  let swarm: DaemonSwarm | undefined;
  afterAll(() => swarm?.stop());

  it('is closed after its deadline by the providers: committed rounds paid, the rest refunded, stakes released', async () => {
    swarm = await startDaemonSwarm({ validator: false });
    const { chain, conn, contracts, requester, providers } = swarm;
    const ledger = trainingLedgerClient(conn, contracts.ledger);
    const market = computeMarketClient(conn, contracts.market);
    const token = tokenClient(conn, contracts.token);
    const rounds = 6;
    const deadlineS = 3600;
    const { jobId, escrow } = await postJob({
      conn,
      contracts,
      signer: walletClientFor(conn, devnetAccount(10)),
      store: requester.store,
      spec: mnistMlpPreset({ innerSteps: 5, rounds }),
      datasetIds: providers.map((p) => p.datasetId!),
      workers: 2,
      innerSteps: 5,
      rounds,
      pricePerRound: 10n ** 18n,
      deadlineS,
    });
    await until(
      'two rounds committed',
      async () => ((await ledger.roundsCommitted(jobId)) >= 2 ? true : undefined),
      180_000,
    );
    // the requester goes away for good (mid-job), and the job's deadline passes
    await requester.stop();
    const committed = await ledger.roundsCommitted(jobId);
    expect(committed).toBeLessThan(rounds);
    const requesterBefore = await token.balanceOf(devnetAccount(10).address);
    const providerBefore = await Promise.all(providers.map((p) => token.balanceOf(p.address)));
    await chain.provider.request({ method: 'evm_increaseTime', params: [deadlineS + 60] });
    await chain.provider.request({ method: 'evm_mine', params: [] });

    // closed by a provider: Expired, the committed rounds' escrow to the ledger, the rest refunded
    await until(
      'the job closed',
      async () => ((await ledger.getJobLedger(jobId)).closed ? true : undefined),
      240_000,
    );
    const job = await market.getJob(jobId);
    expect(job.state).toBe('Expired');
    let l = await ledger.getJobLedger(jobId);
    expect(l.roundsCommitted).toBe(committed);
    expect(l.complete).toBe(false);
    expect(l.funded).toBe((escrow * BigInt(committed)) / BigInt(rounds));
    expect(await token.balanceOf(devnetAccount(10).address)).toBe(requesterBefore + escrow - l.funded);

    // the providers post the split of the committed rounds themselves and both claim
    await until(
      'both providers to claim',
      async () =>
        (await Promise.all(providers.map((p) => ledger.isClaimed(jobId, p.address)))).every(Boolean)
          ? true
          : undefined,
      240_000,
    );
    l = await ledger.getJobLedger(jobId);
    expect(l.rewardTotal).toBeGreaterThan(0n);
    expect(l.rewardTotal).toBeLessThanOrEqual(l.funded);
    expect(l.claimed).toBeGreaterThan(0n);
    for (const [i, p] of providers.entries())
      expect(await token.balanceOf(p.address)).toBeGreaterThan(providerBefore[i]);

    // after the challenge window each provider's daemon releases its stake
    await until(
      'the stakes released',
      async () =>
        (await Promise.all(providers.map((p) => market.seatOf(jobId, p.address)))).every((s) => s.released)
          ? true
          : undefined,
      120_000,
    );
  }, 600_000);
});
