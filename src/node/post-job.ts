/**
 * A requester posts a training job: quote, token allowance for escrow + fee, `createJob` on the
 * ComputeMarket, and the job recorded in the requester node's store (its daemon coordinates the
 * job once providers have joined). What `agora job create` and `agora devnet` call.
 */
import type { Hex } from 'viem';
import { computeMarketClient } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { tokenClient } from '../chain/token.ts';
import type { Signer } from '../chain/tx.ts';
import { AgoraError } from '../errors.ts';
import { type JobSpec, modelSpecHash } from '../task/spec.ts';
import { publishSpec } from '../task/spec-source.ts';
import type { NodeContracts } from './node-contracts.ts';
import type { NodeStore } from './store.ts';

export type PostJobInput = {
  conn: ChainConnection;
  contracts: Pick<NodeContracts, 'market' | 'token'>;
  signer: Signer;
  /** The requester node's store: the job is recorded there as `open`. */
  store: NodeStore;
  /** The job spec (published on chain before the job; its hash is the job's modelSpecHash). */
  spec: JobSpec;
  datasetIds: readonly bigint[];
  workers: number;
  /** Default: the spec's; when given, must be the spec's. */
  innerSteps?: number;
  rounds?: number;
  /** Per round per worker, wei. */
  pricePerRound: bigint;
  /** Seconds providers have to join (default 600), to complete (default 7200), to challenge (default 10). */
  joinWindowS?: number;
  deadlineS?: number;
  challengeS?: number;
  onProgress?: (message: string) => void;
};

export type PostedJob = { jobId: bigint; escrow: bigint; fee: bigint; txHash: Hex };

export async function postJob(i: PostJobInput): Promise<PostedJob> {
  const innerSteps = i.innerSteps ?? i.spec.innerSteps;
  const rounds = i.rounds ?? i.spec.rounds;
  if (innerSteps !== i.spec.innerSteps || rounds !== i.spec.rounds) {
    throw new AgoraError(
      'BAD_OPTION',
      `the job's H=${innerSteps}, ${rounds} rounds differ from its spec's (H=${i.spec.innerSteps}, ${i.spec.rounds} rounds)`,
      { hint: 'set innerSteps and rounds in the spec (presets take --H and --rounds)' },
    );
  }
  for (const [name, v] of [
    ['workers', i.workers],
    ['H', innerSteps],
    ['rounds', rounds],
  ] as const) {
    if (!Number.isInteger(v) || v < 1)
      throw new AgoraError('BAD_OPTION', `${name} must be a positive integer, not ${v}`);
  }
  if (i.datasetIds.length === 0)
    throw new AgoraError('BAD_OPTION', 'a job needs at least one dataset', {
      hint: 'pass DataRegistry dataset ids with --datasets (`agora data add` prints them)',
    });
  const market = computeMarketClient(i.conn, i.contracts.market);
  const { escrow, fee } = await market.quote(i.pricePerRound, rounds, i.workers);
  i.onProgress?.(`publishing the job spec (${i.spec.name}, ${i.spec.kind}) on chain…`);
  await publishSpec(i.conn, i.contracts.market, i.signer, i.spec);
  i.onProgress?.(`approving ${escrow + fee} wei of AGORA (escrow ${escrow} + fee ${fee})…`);
  await tokenClient(i.conn, i.contracts.token).ensureAllowance(i.signer, market.address, escrow + fee);
  const now = (await i.conn.publicClient.getBlock()).timestamp;
  const { jobId, receipt } = await market.createJob(i.signer, {
    modelSpecHash: modelSpecHash(i.spec),
    datasetIds: [...i.datasetIds],
    workers: i.workers,
    innerSteps,
    rounds,
    pricePerRound: i.pricePerRound,
    joinDeadline: now + BigInt(i.joinWindowS ?? 600),
    completionDeadline: now + BigInt(i.deadlineS ?? 7200),
    challengePeriod: BigInt(i.challengeS ?? 10),
  });
  i.store.upsertJob(jobId, 'requester', 'open', {
    task: i.spec.name,
    kind: i.spec.kind,
    datasetIds: i.datasetIds.map(String),
    escrow: escrow.toString(),
    fee: fee.toString(),
  });
  return { jobId, escrow, fee, txHash: receipt.transactionHash };
}
