/**
 * What a provider accepts (pure): the largest model, memory and round time it will give a job, and
 * the task kinds it runs (`agora node start --max-params --max-memory-mb --max-round-seconds
 * --tasks`). A job spec is estimated (parameters exactly, memory and seconds per round from the
 * model's size and the provider's declared throughput) and refused with the reason when it is over.
 * Estimates are deliberately simple and conservative; docs/tasks.md gives the formulas.
 */
import { AgoraError } from '../errors.ts';
import type { ModelSpec } from '../train/models/spec.ts';
import { type JobSpec, parameterCount } from './spec.ts';

export type ProviderBounds = {
  /** Most model parameters (default 50M). */
  maxParams: number;
  /** Most memory the job's training may take, MiB (default 4096). */
  maxMemoryMb: number;
  /** Longest estimated round (H inner steps), seconds (default 600). */
  maxSecondsPerRound: number;
  /** Task kinds it runs (default: every kind this node knows). */
  kinds?: readonly string[];
  /** Sustained training throughput of this machine, FLOP/s, for the round-time estimate (default 2e9). */
  flops: number;
};

export const DEFAULT_BOUNDS: ProviderBounds = {
  maxParams: 50_000_000,
  maxMemoryMb: 4096,
  maxSecondsPerRound: 600,
  flops: 2e9,
};

export type JobEstimate = { params: number; memoryMb: number; secondsPerRound: number };

/** Activations one sample keeps for the backward pass (floats). */
function activationsPerSample(m: ModelSpec): number {
  if (m.kind === 'mlp') return m.sizes.reduce((a, b) => a + b, 0);
  if (m.kind === 'transformer')
    return m.context * (m.layers * (12 * m.dModel + m.dFF + 2 * m.heads * m.context) + m.vocabSize);
  return 0;
}

/** Forward + backward multiply-adds of one sample, as FLOPs (≈ 6 per parameter use). */
function flopsPerSample(m: ModelSpec, params: number): number {
  return m.kind === 'transformer' ? 6 * params * m.context : 6 * params;
}

/**
 * A job's size: its parameters, memory (θ, AdamW moments, gradients, outer state, Δ, checkpoints:
 * 12 copies of fp32 parameters; activations of one call's batches ×3; 64 MiB of runtime) and one
 * round's seconds at `flops`.
 */
export function estimateJob(spec: JobSpec, flops = DEFAULT_BOUNDS.flops): JobEstimate {
  const params = parameterCount(spec.model);
  const bytes =
    12 * 4 * params + 3 * 4 * spec.batchSize * 5 * activationsPerSample(spec.model) + 64 * 2 ** 20;
  const seconds = (spec.innerSteps * spec.batchSize * flopsPerSample(spec.model, params)) / flops;
  return { params, memoryMb: Math.ceil(bytes / 2 ** 20), secondsPerRound: seconds };
}

/** Why this provider refuses a job (undefined: within its bounds). */
export function boundsRefusal(spec: JobSpec, b: ProviderBounds): string | undefined {
  if (b.kinds && !b.kinds.includes(spec.kind))
    return `task kind ${spec.kind} is not one this provider runs (${b.kinds.join(', ')})`;
  const e = estimateJob(spec, b.flops);
  if (e.params > b.maxParams)
    return `the model has ${e.params} parameters, over this provider's ${b.maxParams}`;
  if (e.memoryMb > b.maxMemoryMb)
    return `the job needs about ${e.memoryMb} MiB, over this provider's ${b.maxMemoryMb} MiB`;
  if (e.secondsPerRound > b.maxSecondsPerRound)
    return `a round takes about ${Math.ceil(e.secondsPerRound)} s here, over this provider's ${b.maxSecondsPerRound} s`;
  return undefined;
}

/** Bounds from partial options, checked (positive numbers). */
export function providerBounds(o: Partial<ProviderBounds> = {}): ProviderBounds {
  const b = {
    ...DEFAULT_BOUNDS,
    ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
  };
  for (const k of ['maxParams', 'maxMemoryMb', 'maxSecondsPerRound', 'flops'] as const) {
    if (!(Number.isFinite(b[k]) && b[k] > 0)) {
      throw new AgoraError('BAD_OPTION', `provider bound ${k} must be a positive number, not ${b[k]}`);
    }
  }
  return b as ProviderBounds;
}
