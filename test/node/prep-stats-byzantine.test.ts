/**
 * A provider that lies about its swarm statistics before round 0 (its counts, sums and squares
 * scaled by 1.5, signed) in a tabular devnet job (the node daemons in one process,
 * src/node/devnet-job.ts): the validator recomputes sampled chunks of its statistics from its
 * registered records (src/node/prep-checks.ts), files a fraud report for round 0, and the provider
 * is slashed and unpaid while the honest providers finish the job.
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
import { type DevnetJobResult, runDevnetJob } from '../../src/node/devnet-job.ts';
import { fraudReports } from '../../src/node/job-chain.ts';
import { createLogger } from '../../src/node/logger.ts';
import { contractsOf } from '../../src/node/node-contracts.ts';
import { tempHome } from '../helpers/cli.ts';

const CSV = join(import.meta.dirname, '../../examples/tabular/household-energy.csv');

describe('tabular devnet job with a provider that lies about its swarm statistics', () => {
  let chain: EmbeddedChain;
  let deployment: Deployment;
  let res: DevnetJobResult;
  let conn: Awaited<ReturnType<typeof connectChain>>;
  const liar = devnetAccount(4).address; // provider-4

  beforeAll(async () => {
    chain = await startEmbeddedChain();
    conn = await connectChain({ provider: chain.provider });
    deployment = await deployProtocol(conn, devnetAccount(0));
    const home = tempHome();
    res = await runDevnetJob({
      conn,
      deployment,
      home,
      logger: createLogger({ name: 'test', level: 'warn', file: join(home, 'devnet.log') }),
      providers: 4,
      task: 'tabular',
      data: CSV,
      label: 'kwh',
      shards: 'iid',
      H: 10,
      rounds: 3,
      lieAboutStats: 1,
    });
  }, 300_000);
  afterAll(async () => chain?.stop());

  it('is reported for round 0, slashed and unpaid; the others finish and the model still trains', async () => {
    const c = contractsOf(deployment);
    const market = computeMarketClient(conn, c.market);
    const jobId = BigInt(res.jobId);
    const reports = await fraudReports(conn, c.market, jobId);
    expect(reports.map((r) => [r.provider, r.round])).toEqual([[liar, 0]]);
    expect(res.slashed).toEqual([liar]);
    expect((await market.seatOf(jobId, liar)).slashed).toBe(true);
    for (const honest of [1, 2, 3].map((i) => devnetAccount(i).address)) {
      expect((await market.seatOf(jobId, honest)).slashed).toBe(false);
    }
    expect(res.rewards.filter((r) => r.address === liar)).toEqual([]);
    const l = await trainingLedgerClient(conn, c.ledger).getJobLedger(jobId);
    expect(l.roundsCommitted).toBe(3);
    expect(l.claimed).toBe(l.funded);
    expect(res.metric).toBe('rmse');
    expect(res.better).toBe('lower');
    expect(Number.isFinite(res.value)).toBe(true);
  });
});
