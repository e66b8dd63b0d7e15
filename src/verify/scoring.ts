/**
 * Loss-reduction scoring: what each worker's pseudo-gradient is worth, measured on held-out batches
 * through the Runtime's `evaluate`. Pseudo-gradients follow the DiLoCo convention Δ_i = θ − θ_i
 * (src/train/diloco), so the worker's own model is θ − Δ_i:
 *
 *   L₀ = L(θ_global),  L_i = L(θ_global − Δ_i),  reduction_i = L₀ − L_i
 *   weight_i = 0 if flagged Byzantine or reduction_i ≤ 0, else reduction_i / Σ_j reduction_j
 *
 * The weights (summing to 1 when any is positive) feed the reward split's provider scores
 * (src/market/rewards.ts) — summed over a job's rounds. The runtime's parameters are overwritten; its
 * optimizer state is not touched.
 */
import { AgoraError } from '../errors.ts';
import type { Runtime, TensorBatch } from '../train/runtime.ts';

export type WorkerScore = {
  worker: string;
  /** L(θ − Δ_i) on the held-out batches. */
  loss: number;
  accuracy?: number;
  /** L(θ) − L(θ − Δ_i). */
  reduction: number;
  byzantine: boolean;
  /** Normalized contribution weight in [0, 1]. */
  weight: number;
};

export type ScoreResult = { baseLoss: number; baseAccuracy?: number; scores: WorkerScore[] };

export async function scoreByLossReduction(opts: {
  runtime: Runtime;
  theta: Float32Array;
  contributions: readonly { worker: string; delta: Float32Array }[];
  heldOut: readonly TensorBatch[];
  /** Workers flagged by the contribution or replay checks: scored 0 (still evaluated, for the report). */
  byzantine?: ReadonlySet<string>;
}): Promise<ScoreResult> {
  const { runtime, theta, heldOut } = opts;
  if (heldOut.length === 0) {
    throw new AgoraError('SCORE_NO_DATA', 'loss-reduction scoring needs at least one held-out batch', {
      hint: 'use the job’s holdout split (src/train/data/sharding.ts) for evaluation batches',
    });
  }
  if (theta.length !== runtime.paramCount) {
    throw new AgoraError('SCORE_SHAPE', `θ has ${theta.length} values, the model has ${runtime.paramCount}`);
  }
  runtime.setParams(theta);
  const base = await runtime.evaluate(heldOut);
  const local = new Float32Array(theta.length);
  const raw: WorkerScore[] = [];
  for (const c of opts.contributions) {
    if (c.delta.length !== theta.length) {
      throw new AgoraError(
        'SCORE_SHAPE',
        `Δ of ${c.worker} has ${c.delta.length} values, expected ${theta.length}`,
      );
    }
    for (let i = 0; i < theta.length; i++) local[i] = theta[i] - c.delta[i];
    runtime.setParams(local);
    const ev = await runtime.evaluate(heldOut);
    const reduction = base.loss - ev.loss;
    raw.push({
      worker: c.worker,
      loss: ev.loss,
      ...(ev.accuracy === undefined ? {} : { accuracy: ev.accuracy }),
      reduction: Number.isFinite(reduction) ? reduction : Number.NEGATIVE_INFINITY,
      byzantine: opts.byzantine?.has(c.worker) ?? false,
      weight: 0,
    });
  }
  const positive = (s: WorkerScore) => (!s.byzantine && s.reduction > 0 ? s.reduction : 0);
  const sum = raw.reduce((a, s) => a + positive(s), 0);
  for (const s of raw) s.weight = sum > 0 ? positive(s) / sum : 0;
  return {
    baseLoss: base.loss,
    ...(base.accuracy === undefined ? {} : { baseAccuracy: base.accuracy }),
    scores: raw,
  };
}
