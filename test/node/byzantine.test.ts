/**
 * One Byzantine provider (sign-flipped pseudo-gradients) in a devnet job (the node daemons in one
 * process, src/node/devnet-job.ts): the validator's link check proves Δ ≠ θ_start − θ_final against
 * the provider's own signed trace, it files a fraud report, the provider is left out of the
 * following rounds, slashed after the challenge period and paid nothing, while the other providers
 * finish the job and the model still trains.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeMarketClient } from '../../src/chain/compute-market.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { trainingLedgerClient } from '../../src/chain/training-ledger.ts';
import { fraudReports } from '../../src/node/job-chain.ts';
import { contractsOf } from '../../src/node/node-contracts.ts';
import { type DevnetJobRun, devnetJobOnFreshChain, expectSlashedAndUnpaid } from '../helpers/devnet-job.ts';

describe('devnet job with a Byzantine provider', () => {
  let run: DevnetJobRun;
  const byzantine = devnetAccount(4).address; // provider-4

  beforeAll(async () => {
    run = await devnetJobOnFreshChain({ H: 25, rounds: 12, byzantine: 1 });
  }, 240_000);
  afterAll(async () => run?.chain.stop());

  it('is slashed on chain and unpaid; the honest providers finish and share the rewards', async () => {
    const { conn, deployment, res } = run;
    const c = contractsOf(deployment);
    const market = computeMarketClient(conn, c.market);
    const ledger = trainingLedgerClient(conn, c.ledger);
    const jobId = BigInt(res.jobId);
    expect(res.slashed).toEqual([byzantine]);
    const reports = await fraudReports(conn, c.market, jobId);
    expect(reports.map((r) => r.provider)).toEqual([byzantine]);
    expect(reports[0].round).toBeLessThan(3); // caught at once, not after a statistical streak
    expect((await market.seatOf(jobId, byzantine)).slashed).toBe(true);
    for (const honest of [1, 2, 3].map((i) => devnetAccount(i).address)) {
      expect((await market.seatOf(jobId, honest)).slashed).toBe(false);
      expect(
        res.rewards.some((r) => r.address === honest && r.role === 'provider' && BigInt(r.amount) > 0n),
      ).toBe(true);
    }
    expect(res.rewards.filter((r) => r.address === byzantine)).toEqual([]);
    const l = await ledger.getJobLedger(jobId);
    expect(l.roundsCommitted).toBe(12);
    expect(res.rewards.reduce((s, r) => s + BigInt(r.amount), 0n)).toBe(l.funded);
    expect(l.claimed).toBe(l.funded);
    // the model still trains (it loses the digits only the Byzantine provider held)
    expect(res.testAccuracy).toBeGreaterThan(0.5);
  });
});

/**
 * A provider that trains honestly but poisons the LDA head of the last round (its class statistics
 * computed with shifted labels, and signed): the validator recomputes them from the provider's
 * last-round samples under the committed model, reports it with the signed statistics as evidence,
 * and it is slashed and unpaid.
 */
describe('devnet job with a provider that poisons the LDA head', () => {
  let run: DevnetJobRun;
  const poisoner = devnetAccount(4).address; // provider-4

  beforeAll(async () => {
    run = await devnetJobOnFreshChain({ H: 25, rounds: 4, poisonLda: 1 });
  }, 240_000);
  afterAll(async () => run?.chain.stop());

  it('is reported for its LDA statistics of the last round, slashed and unpaid', async () => {
    await expectSlashedAndUnpaid(run, poisoner, 3, 4);
  });
});
