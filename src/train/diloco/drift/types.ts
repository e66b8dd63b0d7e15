/**
 * The one interface every drift correction of the DiLoCo loop implements (docs/drift-correction.md).
 * The loop (src/train/diloco/diloco.ts) calls, every round r (1-based):
 *   1. `beforeInner(w, rt, θ, r)` for each worker w, before its H inner steps: set the runtime's
 *      per-step corrections (RuntimeCorrections: gradient offset, proximal anchor, update offset);
 *   2. `afterInner(w, rt, θ, Δ_w, r)` after them: update worker-local state and return an optional
 *      extra vector that the worker sends through the same compressed all-reduce as Δ (its bytes
 *      are counted with the pseudo-gradients);
 *   3. `afterAggregate(meanΔ, meanExtra, r)` once every worker holds the all-reduced means (the
 *      decoded bytes, identical on every worker): update the shared ("server") state.
 * The outer optimizer is untouched. State is per worker + shared, so in a swarm each peer runs the
 * same object with only its own worker index.
 */
import { hasFreezing, hasLogitAdjustment, type Runtime, type RuntimeCorrections } from '../../runtime.ts';

export type DriftContext = {
  workers: number;
  paramCount: number;
  /** Inner steps per round (H) when every round has the same H. */
  innerSteps: number;
  /** The inner steps [fromStep, fromStep + steps) of a worker in round `round` (1-based). */
  roundSteps(round: number): { fromStep: number; steps: number };
  /** Σ of the scheduled inner lr over inner steps [fromStep, fromStep + steps) of a worker. */
  lrSum(fromStep: number, steps: number): number;
  /**
   * counts[w][c] = samples of class c in worker w's shard (classification data only). In a swarm a
   * peer knows only its own row; purely local corrections (logit adjustment) use only that row.
   */
  classCounts?: readonly (readonly number[])[];
  /** The run's seed (the one every worker and the validator derive the initial θ from). */
  seed?: number;
};

export interface DriftCorrection {
  readonly name: string;
  /** Called once at the start of a run (resets all state). */
  init(ctx: DriftContext): void;
  /**
   * Optional: called once after `init`, before round 1, with the initial global θ (the loop's own
   * vector), which it may change in place; e.g. a designed classifier head (etf-head.ts). It must be
   * a deterministic function of θ and the context, so every peer derives the same θ.
   */
  initParams?(theta: Float32Array): void;
  beforeInner(worker: number, rt: Runtime & RuntimeCorrections, theta: Float32Array, round: number): void;
  afterInner(
    worker: number,
    rt: Runtime & RuntimeCorrections,
    theta: Float32Array,
    delta: Float32Array,
    round: number,
  ): Float32Array | undefined;
  afterAggregate(meanDelta: Float32Array, meanExtra: Float32Array | undefined, round: number): void;
}

/** Turns every correction of a runtime off. */
export function clearCorrections(rt: Runtime & RuntimeCorrections): void {
  rt.setGradientCorrection(undefined);
  rt.setProximal(undefined);
  rt.setUpdateCorrection(undefined);
  rt.setGradientAccumulation(false);
  if (hasLogitAdjustment(rt)) rt.setLogitAdjustment(undefined);
  if (hasFreezing(rt)) rt.setFrozenParams(undefined);
}
