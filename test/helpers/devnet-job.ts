/** A devnet job (src/node/devnet-job.ts) on its own embedded chain, and what a slashed provider shows. */
import { join } from 'node:path';
import type { Address } from 'viem';
import { expect } from 'vitest';
import { computeMarketClient } from '../../src/chain/compute-market.ts';
import { type ChainConnection, connectChain } from '../../src/chain/connect.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import type { Deployment } from '../../src/chain/deployments.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { trainingLedgerClient } from '../../src/chain/training-ledger.ts';
import { type DevnetJobOptions, type DevnetJobResult, runDevnetJob } from '../../src/node/devnet-job.ts';
import { fraudReports } from '../../src/node/job-chain.ts';
import { createLogger } from '../../src/node/logger.ts';
import { contractsOf } from '../../src/node/node-contracts.ts';
import { tempHome } from './cli.ts';

export type DevnetJobRun = {
  chain: EmbeddedChain;
  conn: ChainConnection;
  deployment: Deployment;
  home: string;
  res: DevnetJobResult;
};

/**
 * Runs a devnet job (4 providers unless `job` says otherwise) on a fresh embedded chain with the
 * protocol deployed; its log goes to HOME/devnet.log. The chain is stopped if the job fails.
 */
export async function devnetJobOnFreshChain(
  job: Omit<DevnetJobOptions, 'conn' | 'deployment' | 'home' | 'logger'>,
): Promise<DevnetJobRun> {
  const chain = await startEmbeddedChain();
  try {
    const conn = await connectChain({ provider: chain.provider });
    const deployment = await deployProtocol(conn, devnetAccount(0));
    const home = tempHome();
    const res = await runDevnetJob({
      conn,
      deployment,
      home,
      logger: createLogger({ name: 'test', level: 'warn', file: join(home, 'devnet.log') }),
      providers: 4,
      ...job,
    });
    return { chain, conn, deployment, home, res };
  } catch (e) {
    await chain.stop().catch(() => {});
    throw e;
  }
}

/**
 * `cheat` was reported (only it, for `round` only), slashed and paid nothing; providers 1–3 were
 * not slashed; every one of `rounds` rounds committed and everything funded was claimed.
 */
export async function expectSlashedAndUnpaid(
  { conn, deployment, res }: DevnetJobRun,
  cheat: Address,
  round: number,
  rounds: number,
): Promise<void> {
  const c = contractsOf(deployment);
  const market = computeMarketClient(conn, c.market);
  const jobId = BigInt(res.jobId);
  const reports = await fraudReports(conn, c.market, jobId);
  expect(reports.map((r) => [r.provider, r.round])).toEqual([[cheat, round]]);
  expect(res.slashed).toEqual([cheat]);
  expect((await market.seatOf(jobId, cheat)).slashed).toBe(true);
  for (const honest of [1, 2, 3].map((i) => devnetAccount(i).address)) {
    expect((await market.seatOf(jobId, honest)).slashed).toBe(false);
  }
  expect(res.rewards.filter((r) => r.address === cheat)).toEqual([]);
  const l = await trainingLedgerClient(conn, c.ledger).getJobLedger(jobId);
  expect(l.roundsCommitted).toBe(rounds);
  expect(l.claimed).toBe(l.funded);
}
