/**
 * A running job's spec as every node reads it: the document published on chain under the job's
 * `modelSpecHash` (src/task/spec-source.ts), checked against the job's on-chain DiLoCo size.
 */
import type { Address } from 'viem';
import type { Job } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { AgoraError } from '../errors.ts';
import type { JobSpec } from '../task/spec.ts';
import { fetchJobSpec, type SpecCache } from '../task/spec-source.ts';

export async function jobSpecOf(
  conn: ChainConnection,
  market: Address,
  job: Pick<Job, 'id' | 'modelSpecHash' | 'innerSteps' | 'rounds'>,
  cache?: SpecCache,
): Promise<JobSpec> {
  const spec = await fetchJobSpec(conn, market, job.modelSpecHash, cache);
  const problem = jobSpecMismatch(spec, job);
  if (problem) throw new AgoraError('SPEC_JOB_MISMATCH', `job ${job.id}: ${problem}`);
  return spec;
}

/** Why a spec does not describe the job on chain (undefined: it does). */
export function jobSpecMismatch(spec: JobSpec, job: Pick<Job, 'innerSteps' | 'rounds'>): string | undefined {
  if (spec.innerSteps !== job.innerSteps || spec.rounds !== job.rounds) {
    return `the job runs H=${job.innerSteps}, ${job.rounds} rounds, its spec says H=${spec.innerSteps}, ${spec.rounds} rounds`;
  }
  return undefined;
}
