/**
 * One Byzantine provider (sign-flipped pseudo-gradients) in a devnet job (the node daemons in one
 * process, src/node/devnet-job.ts): the validator's link check proves Δ ≠ θ_start − θ_final against
 * the provider's own signed trace, it files a fraud report, the provider is left out of the
 * following rounds, slashed after the challenge period and paid nothing, while the other providers
 * finish the job and the model still trains.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeMarketClient } from '../../src/chain/compute-market.ts';
import { connectChain } from '../../src/chain/connect.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import type { Deployment } from '../../src/chain/deployments.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { trainingLedgerClient } from '../../src/chain/training-ledger.ts';
import { type DevnetJobOptions, type DevnetJobResult, runDevnetJob } from '../../src/node/devnet-job.ts';
import { fraudReports } from '../../src/node/job-chain.ts';
import { createLogger } from '../../src/node/logger.ts';
import { contractsOf } from '../../src/node/node-contracts.ts';
import { tempHome } from '../helpers/cli.ts';

/** A devnet job (4 providers, H 25) on a fresh embedded chain with the protocol deployed. */
async function jobOnFreshChain(job: Pick<DevnetJobOptions, 'rounds' | 'byzantine' | 'poisonLda'>) {
  const chain = await startEmbeddedChain();
  const conn = await connectChain({ provider: chain.provider });
  const deployment = await deployProtocol(conn, devnetAccount(0));
  const home = tempHome();
  const res = await runDevnetJob({
    conn,
    deployment,
    home,
    logger: createLogger({ name: 'test', level: 'warn', file: join(home, 'devnet.log') }),
    providers: 4,
    H: 25,
    ...job,
  });
  return { chain, conn, deployment, res };
}

describe('devnet job with a Byzantine provider', () => {
  let chain: EmbeddedChain;
  let deployment: Deployment;
  let res: DevnetJobResult;
  let conn: Awaited<ReturnType<typeof connectChain>>;
  const byzantine = devnetAccount(4).address; // provider-4

  beforeAll(async () => {
    ({ chain, conn, deployment, res } = await jobOnFreshChain({ rounds: 12, byzantine: 1 }));
  }, 240_000);
  afterAll(async () => chain?.stop());

  it('is slashed on chain and unpaid; the honest providers finish and share the rewards', async () => {
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
  let chain: EmbeddedChain;
  let deployment: Deployment;
  let res: DevnetJobResult;
  let conn: Awaited<ReturnType<typeof connectChain>>;
  const poisoner = devnetAccount(4).address; // provider-4

  beforeAll(async () => {
    ({ chain, conn, deployment, res } = await jobOnFreshChain({ rounds: 4, poisonLda: 1 }));
  }, 240_000);
  afterAll(async () => chain?.stop());

  it('is reported for its LDA statistics of the last round, slashed and unpaid', async () => {
    const c = contractsOf(deployment);
    const market = computeMarketClient(conn, c.market);
    const jobId = BigInt(res.jobId);
    const reports = await fraudReports(conn, c.market, jobId);
    expect(reports.map((r) => [r.provider, r.round])).toEqual([[poisoner, 3]]);
    expect(res.slashed).toEqual([poisoner]);
    expect((await market.seatOf(jobId, poisoner)).slashed).toBe(true);
    for (const honest of [1, 2, 3].map((i) => devnetAccount(i).address)) {
      expect((await market.seatOf(jobId, honest)).slashed).toBe(false);
    }
    expect(res.rewards.filter((r) => r.address === poisoner)).toEqual([]);
    const l = await trainingLedgerClient(conn, c.ledger).getJobLedger(jobId);
    expect(l.roundsCommitted).toBe(4);
    expect(l.claimed).toBe(l.funded);
  });
});
