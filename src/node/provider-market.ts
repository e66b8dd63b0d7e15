/**
 * A provider's side of the ComputeMarket (src/node/provider.ts delegates to it): its staked offer,
 * joining jobs (persisted before the transaction, idempotent), the stake it has free, and releasing
 * the stake of jobs it is done with.
 */
import type { Address } from 'viem';
import { computeMarketClient } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { tokenClient } from '../chain/token.ts';
import { revertName, type Signer } from '../chain/tx.ts';
import { hardwareDescriptorHash, probeHardware } from './hardware.ts';
import type { NodeStore } from './store.ts';

/** What the market steps need of a provider. */
export type ProviderMarket = {
  conn: ChainConnection;
  contracts: { token: Address; market: Address };
  signer: Signer;
  store: NodeStore;
  address: Address;
};

/** Stakes and registers an offer (hardware hash of this machine) unless already active. */
export async function registerOffer(m: ProviderMarket, pricePerRound: bigint, stake: bigint): Promise<void> {
  const market = computeMarketClient(m.conn, m.contracts.market);
  if ((await market.getProvider(m.address)).active) return;
  await tokenClient(m.conn, m.contracts.token).ensureAllowance(m.signer, market.address, stake * 10n);
  await market.registerProvider(m.signer, hardwareDescriptorHash(probeHardware()), pricePerRound, stake);
}

/**
 * Unlocks this provider's stake in the jobs it is done with (job rows `done` or `over`) once the
 * job is over on chain, its challenge period has passed and no fraud report against this provider
 * is pending, so the stake can back the next job. Marked in the job row (`stakeReleased`) after
 * the transaction. Returns the jobs released now; a job not yet releasable is tried again later.
 */
export async function releaseEndedStakes(m: ProviderMarket): Promise<bigint[]> {
  const market = computeMarketClient(m.conn, m.contracts.market);
  const released: bigint[] = [];
  const mark = (row: { jobId: string; state: string; data: Record<string, unknown> }) =>
    m.store.upsertJob(row.jobId, 'provider', row.state, { ...row.data, stakeReleased: true });
  for (const row of m.store.listJobs()) {
    if (!['done', 'over'].includes(row.state) || row.data.stakeReleased) continue;
    const jobId = BigInt(row.jobId);
    const seat = await market.seatOf(jobId, m.address);
    if (seat.index === 0 || seat.released || seat.lockedStake === 0n) {
      mark(row);
      continue;
    }
    if (seat.pendingReports > 0) continue;
    const job = await market.getJob(jobId);
    if (job.state === 'Open' || job.state === 'Running' || job.state === 'None') continue;
    if (job.state === 'Completed' || job.state === 'Expired') {
      // the next block's time is at least the wall clock (devnets mine on demand); a chain whose
      // clock was moved ahead (evm_increaseTime) is asked instead: the estimate runs at the next
      // block's time, and refuses with BadTiming while the challenge window is open
      const head = (await m.conn.publicClient.getBlock()).timestamp;
      const wall = BigInt(Math.floor(Date.now() / 1000));
      if (head <= wall && wall <= job.endedAt + job.challengePeriod) continue;
    }
    try {
      await market.releaseStake(m.signer, jobId, m.address);
    } catch (e) {
      if (revertName(e) === 'BadTiming') continue;
      throw e;
    }
    mark(row);
    released.push(jobId);
  }
  return released;
}

/** Stake this provider has free for a new job's seat. */
export async function freeStake(m: ProviderMarket): Promise<bigint> {
  const p = await computeMarketClient(m.conn, m.contracts.market).getProvider(m.address);
  return p.stake - p.locked;
}

/**
 * Joins an open job (persisted first, so a restart knows it is in). Idempotent: a job this
 * provider already has a seat in (a join whose transaction went through, though the node did not
 * see it) is only marked `joined`.
 */
export async function joinJob(m: ProviderMarket, jobId: bigint): Promise<void> {
  const market = computeMarketClient(m.conn, m.contracts.market);
  const job = await market.getJob(jobId);
  const seat = await market.seatOf(jobId, m.address);
  if (seat.lockedStake > 0n) {
    const row = m.store.getJob(jobId);
    if (!row || row.state === 'joining' || row.state === 'awaiting-stake')
      m.store.upsertJob(jobId, 'provider', 'joined');
    return;
  }
  await tokenClient(m.conn, m.contracts.token).ensureAllowance(m.signer, market.address, job.stakePerWorker);
  m.store.upsertJob(jobId, 'provider', 'joining');
  await market.joinJob(m.signer, jobId);
  m.store.upsertJob(jobId, 'provider', 'joined');
}
