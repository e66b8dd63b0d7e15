/**
 * A job that does not finish ends by the market's rules (contracts/ComputeMarket.sol `closeJob`,
 * TrainingLedger.sol `closeJob`): once its completion deadline has passed, anyone may close it; the
 * ledger then takes the escrow of the committed rounds (pro rata) for the reward split and the
 * market refunds the rest to the requester. Whoever of the job's nodes sees the deadline pass first
 * closes it: the requester's coordinator, each provider's round loop and each validator's check loop
 * ask at every turn (`closeIfExpired`); the others find it closed. Stakes are released after the
 * challenge window (`releaseEndedStakes`), and the reward root is posted by the requester, or
 * without it by the providers (`ProviderJobSession#settleWithoutCoordinator`).
 */
import { computeMarketClient, type Job } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { trainingLedgerClient } from '../chain/training-ledger.ts';
import { revertName, type Signer } from '../chain/tx.ts';
import type { JobContracts } from './job-sync.ts';
import type { Logger } from './logger.ts';

/**
 * Whether a job can be closed now (pure): 'complete' when every round is committed, 'expired' when
 * its completion deadline is behind `now` (chain seconds), else undefined (it is still running, or
 * not running at all).
 */
export function closableAs(
  job: Pick<Job, 'state' | 'rounds' | 'completionDeadline'>,
  roundsCommitted: number,
  now: bigint,
): 'complete' | 'expired' | undefined {
  if (job.state !== 'Running') return undefined;
  if (roundsCommitted >= job.rounds) return 'complete';
  return now > job.completionDeadline ? 'expired' : undefined;
}

/**
 * The time the next block will have at least: the head's, or the wall clock when it is later
 * (devnets mine on demand, so their head may lag behind).
 */
export async function chainNow(conn: ChainConnection): Promise<bigint> {
  const head = (await conn.publicClient.getBlock()).timestamp;
  const wall = BigInt(Math.floor(Date.now() / 1000));
  return head > wall ? head : wall;
}

/**
 * Closes job `jobId` if its completion deadline has passed with rounds still missing (TrainingLedger
 * `closeJob`: the committed rounds' escrow to the ledger, the rest refunded to the requester).
 * Returns true when the job is closed now (by this call or by someone who came first).
 */
export async function closeIfExpired(input: {
  conn: ChainConnection;
  contracts: Pick<JobContracts, 'market' | 'ledger'>;
  signer: Signer;
  jobId: bigint;
  logger: Logger;
  onProgress?: (message: string) => void;
  /** Also close a job whose rounds are all committed (its requester, who would, is gone). */
  complete?: boolean;
}): Promise<boolean> {
  const { conn, contracts, jobId } = input;
  const market = computeMarketClient(conn, contracts.market);
  const ledger = trainingLedgerClient(conn, contracts.ledger);
  const job = await market.getJob(jobId);
  const committed = await ledger.roundsCommitted(jobId);
  const closable = closableAs(job, committed, await chainNow(conn));
  if (closable !== 'expired' && !(closable === 'complete' && input.complete)) return false;
  try {
    await ledger.closeJob(input.signer, jobId);
  } catch (e) {
    // another node closed it first
    if (revertName(e) === 'ClosedState' || revertName(e) === 'WrongJobState') return true;
    throw e;
  }
  const l = await ledger.getJobLedger(jobId);
  if (closable === 'complete') {
    input.onProgress?.(`job ${jobId} closed (all ${committed} rounds committed; its requester is gone)`);
    return true;
  }
  input.logger.warn(
    { jobId: jobId.toString(), roundsCommitted: committed, rounds: job.rounds, funded: l.funded.toString() },
    'job closed after its completion deadline',
  );
  input.onProgress?.(
    `job ${jobId} closed after its completion deadline: ${committed}/${job.rounds} rounds paid (${l.funded} wei), the rest refunded to the requester`,
  );
  return true;
}
