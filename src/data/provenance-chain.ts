/**
 * The chain side of model provenance (adapter): finds the job that produced a model hash and reads
 * its rounds, participants and datasets from the TrainingLedger, ComputeMarket and DataRegistry.
 */
import type { Address, Hex } from 'viem';
import { TrainingLedger } from '../../artifacts/index.ts';
import { computeMarketClient } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { dataRegistryClient } from '../chain/data-registry.ts';
import { trainingLedgerClient } from '../chain/training-ledger.ts';
import { AgoraError } from '../errors.ts';
import { summarizeDataset } from './dataset-summary.ts';
import type { ChainFacts } from './provenance.ts';

export type ProtocolAddresses = { TrainingLedger: Address; ComputeMarket: Address; DataRegistry: Address };

/**
 * The job whose final model (JobClosed) or a committed round's model (RoundCommitted) is `modelHash`,
 * searched in the ledger's events; undefined when none.
 */
export async function findJobByModelHash(
  conn: ChainConnection,
  ledger: Address,
  modelHash: Hex,
  fromBlock = 0n,
): Promise<{ jobId: bigint; round?: number } | undefined> {
  const h = modelHash.toLowerCase();
  type Ev = { args: { jobId?: bigint; round?: bigint; finalModelHash?: Hex; modelHash?: Hex } };
  const read = (eventName: string) =>
    conn.publicClient.getContractEvents({
      address: ledger,
      abi: TrainingLedger.abi,
      eventName,
      fromBlock,
    } as Parameters<typeof conn.publicClient.getContractEvents>[0]) as unknown as Promise<Ev[]>;
  const closed = (await read('JobClosed')).filter((e) => e.args.finalModelHash?.toLowerCase() === h);
  if (closed.length > 0) return { jobId: closed[closed.length - 1].args.jobId! };
  const rounds = (await read('RoundCommitted')).filter((e) => e.args.modelHash?.toLowerCase() === h);
  if (rounds.length > 0) {
    const e = rounds[rounds.length - 1];
    return { jobId: e.args.jobId!, round: Number(e.args.round) };
  }
  return undefined;
}

/** Everything the chain records about job `jobId` that provenance needs. */
export async function readChainFacts(
  conn: ChainConnection,
  contracts: ProtocolAddresses,
  jobId: bigint,
): Promise<ChainFacts> {
  const ledger = trainingLedgerClient(conn, contracts.TrainingLedger);
  const market = computeMarketClient(conn, contracts.ComputeMarket);
  const registry = dataRegistryClient(conn, contracts.DataRegistry);
  const job = await market.getJob(jobId).catch((e) => {
    throw new AgoraError('JOB_UNKNOWN', `job ${jobId} does not exist on chain ${conn.chainId}`, { cause: e });
  });
  if (job.state === 'None')
    throw new AgoraError('JOB_UNKNOWN', `job ${jobId} does not exist on chain ${conn.chainId}`);
  const l = await ledger.getJobLedger(jobId);
  const rounds: ChainFacts['rounds'] = [];
  for (let r = 0; r < l.roundsCommitted; r++) {
    const x = await ledger.getRound(jobId, BigInt(r));
    rounds.push({
      round: r,
      recordsRoot: x.recordsRoot,
      modelHash: x.modelHash,
      committedAt: Number(x.committedAt),
    });
  }
  const participants = await market.participants(jobId);
  const ids = await market.datasetsOf(jobId);
  const datasets: ChainFacts['datasets'] = [];
  for (const id of ids) {
    const d = await registry.getDataset(id);
    datasets.push(summarizeDataset(id, d));
  }
  return {
    chainId: conn.chainId,
    trainingLedger: contracts.TrainingLedger,
    jobId: jobId.toString(),
    job: {
      requester: job.requester,
      state: job.state,
      workers: job.workers,
      rounds: job.rounds,
      modelSpecHash: job.modelSpecHash,
    },
    ledger: { roundsCommitted: l.roundsCommitted, closed: l.closed, finalModelHash: l.finalModelHash },
    rounds,
    participants,
    datasets,
  };
}
