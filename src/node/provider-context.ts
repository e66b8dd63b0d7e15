/**
 * A provider's state in the job it runs (what every step of its round reads and writes), and the
 * ids and protocols of the job's all-reduces.
 */
import type { Address, Hex } from 'viem';
import { AgoraError } from '../errors.ts';
import type { AllReduce } from '../net/allreduce.ts';
import type { AgoraHost } from '../net/host.ts';
import type { TaskSpec } from '../task/spec.ts';
import type { DataSource, PrepState } from '../task/task.ts';
import type { Dataset } from '../train/data/dataset.ts';
import type { BatchSampler } from '../train/data/sampler.ts';
import type { OuterOptimizer, OuterOptimizerState } from '../train/outer-optimizer.ts';
import type { Runtime } from '../train/runtime.ts';

export type ProviderAddress = Address;

/** A provider's signed commitment to its LDA statistics (`ldaStatsDigest`). */
export type LdaStatement = { hash: Hex; signature: Hex };
/** A provider's signed commitment to its swarm statistics before round 0 (`prepStatsDigest`). */
export type PrepStatement = { hash: Hex; signature: Hex };

export type JobContext = {
  jobId: bigint;
  spec: TaskSpec;
  H: number;
  rounds: number;
  datasetId: bigint;
  /** This provider's data as the task reads it, and where it is. */
  data: Dataset;
  source: DataSource;
  /** The task's swarm statistics (tabular standardization), once known; carried in checkpoints. */
  prep?: PrepState;
  runtime: Runtime;
  outer: OuterOptimizer;
  theta: Float32Array;
  sampler: BatchSampler;
  host: AgoraHost;
  allreduce: AllReduce;
  /** The fp32 mean all-reduce of the task's statistics before round 0 (tasks with a `preparation`). */
  prepAllreduce?: AllReduce;
  /** The fp32 mean all-reduce of the LDA statistics (jobs with `calibration: 'lda-head'`). */
  statsAllreduce?: AllReduce;
  /** Next round to run. */
  nextRound: number;
  /** θ and the outer state at the start of the last round trained (for a retried all-reduce). */
  start?: { round: number; theta: Float32Array; outer: OuterOptimizerState };
};

/** The libp2p protocol of the task's statistics all-reduce before round 0 (fp32, mean). */
export const PREP_STATS_PROTOCOL = '/agora/allreduce-prep/1';

/** The libp2p protocol of the LDA statistics all-reduce (fp32, mean), beside the Δ all-reduce's. */
export const LDA_STATS_PROTOCOL = '/agora/allreduce-lda/1';

/**
 * The all-reduce round id of a job round's attempt (a retried round runs a fresh all-reduce, and
 * ids must grow: see AllReduce.run).
 */
export function allReduceId(round: number, attempt: number): number {
  if (!Number.isInteger(attempt) || attempt < 0 || attempt >= MAX_ROUND_ATTEMPTS) {
    throw new AgoraError(
      'NODE_BAD_ATTEMPT',
      `round attempt ${attempt} is outside 0..${MAX_ROUND_ATTEMPTS - 1}`,
    );
  }
  return round * MAX_ROUND_ATTEMPTS + attempt;
}

/** How many times one round can be tried (attempt 0 and retries). */
export const MAX_ROUND_ATTEMPTS = 1000;
