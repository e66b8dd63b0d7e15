/**
 * What the chain says about a running job, as the separate processes of a job need it (adapter over
 * viem reads and event logs): who may talk on the job's network, which providers were reported as of
 * a given round's commit, and which validators are approved. The chain is the one source of truth
 * every process reads the same way, so decisions taken from it (all-reduce members, resync target,
 * reward inputs) agree without any extra messages.
 */
import { type Address, getAddress, type Hex } from 'viem';
import { ComputeMarket, ProtocolParams, TrainingLedger } from '../../artifacts/index.ts';
import { computeMarketClient } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { trainingLedgerClient } from '../chain/training-ledger.ts';
import { AgoraError } from '../errors.ts';

export type JobChainAddresses = { market: Address; ledger: Address; params: Address };

type Log = { args: Record<string, unknown>; blockNumber: bigint | null };

async function events(
  conn: ChainConnection,
  address: Address,
  abi: readonly unknown[],
  eventName: string,
  args: Record<string, unknown> | undefined,
  toBlock?: bigint,
): Promise<Log[]> {
  return (await conn.publicClient.getContractEvents({
    address,
    abi,
    eventName,
    ...(args ? { args } : {}),
    fromBlock: 0n,
    ...(toBlock !== undefined ? { toBlock } : {}),
  } as Parameters<typeof conn.publicClient.getContractEvents>[0])) as unknown as Log[];
}

/** The approved validators now (ProtocolParams `ValidatorSet` events, last one per account wins). */
export async function approvedValidators(conn: ChainConnection, params: Address): Promise<Address[]> {
  const state = new Map<string, boolean>();
  for (const l of await events(conn, params, ProtocolParams.abi, 'ValidatorSet', undefined)) {
    state.set(getAddress(l.args.validator as string), l.args.approved as boolean);
  }
  return [...state].filter(([, ok]) => ok).map(([a]) => a as Address);
}

/** The accounts that take part in a job's network: its providers, its requester, approved validators. */
export type JobPeers = { providers: Address[]; requester: Address; validators: Address[]; all: Address[] };

export async function jobPeers(
  conn: ChainConnection,
  c: JobChainAddresses,
  jobId: bigint,
): Promise<JobPeers> {
  const market = computeMarketClient(conn, c.market);
  const job = await market.getJob(jobId);
  const providers = (await market.participants(jobId)).map((a) => getAddress(a));
  const validators = await approvedValidators(conn, c.params);
  const requester = getAddress(job.requester);
  const all = [...new Set([...providers, requester, ...validators])] as Address[];
  return { providers, requester, validators, all };
}

/** Block in which round `round` of `jobId` was committed (undefined if it is not yet). */
export async function commitBlock(
  conn: ChainConnection,
  ledger: Address,
  jobId: bigint,
  round: number,
): Promise<bigint | undefined> {
  const logs = await events(conn, ledger, TrainingLedger.abi, 'RoundCommitted', {
    jobId,
    round: BigInt(round),
  });
  return logs[0]?.blockNumber ?? undefined;
}

/**
 * Providers of `jobId` with a fraud report filed in a block ≤ `block` (lower-case addresses).
 * Round r's members are the providers not reported as of the block of round r−1's commit, so every
 * process derives the same set whatever the moment it asks.
 */
export async function reportedAsOf(
  conn: ChainConnection,
  market: Address,
  jobId: bigint,
  block?: bigint,
): Promise<Set<string>> {
  const logs = await events(conn, market, ComputeMarket.abi, 'FraudReported', { jobId }, block);
  return new Set(logs.map((l) => (l.args.provider as string).toLowerCase()));
}

/** Fraud reports filed on `jobId`: report id and accused provider. */
export async function fraudReports(
  conn: ChainConnection,
  market: Address,
  jobId: bigint,
): Promise<{ reportId: bigint; provider: Address; round: number }[]> {
  const logs = await events(conn, market, ComputeMarket.abi, 'FraudReported', { jobId });
  return logs.map((l) => ({
    reportId: l.args.reportId as bigint,
    provider: getAddress(l.args.provider as string),
    round: Number(l.args.round as bigint),
  }));
}

/** The members of round `round`: the job's providers minus those reported as of round−1's commit. */
export async function roundMembers(
  conn: ChainConnection,
  c: JobChainAddresses,
  jobId: bigint,
  round: number,
  providers: readonly Address[],
): Promise<Address[]> {
  if (round === 0) return [...providers];
  const block = await commitBlock(conn, c.ledger, jobId, round - 1);
  if (block === undefined) {
    throw new AgoraError('NODE_ROUND_ORDER', `round ${round - 1} of job ${jobId} is not committed yet`, {
      hint: 'wait for the previous round to be committed before starting the next',
    });
  }
  const reported = await reportedAsOf(conn, c.market, jobId, block);
  return providers.filter((p) => !reported.has(p.toLowerCase()));
}

/** Hex model hash of a committed round (throws if not committed). */
export async function committedModelHash(
  conn: ChainConnection,
  ledger: Address,
  jobId: bigint,
  round: number,
): Promise<Hex> {
  const r = await trainingLedgerClient(conn, ledger).getRound(jobId, BigInt(round));
  if (!r.modelHash || /^0x0+$/.test(r.modelHash)) {
    throw new AgoraError('NODE_ROUND_ORDER', `round ${round} of job ${jobId} is not committed`);
  }
  return r.modelHash;
}
