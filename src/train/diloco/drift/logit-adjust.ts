/**
 * Logit adjustment for label-skewed shards (balanced softmax, Ren et al. 2020; logit-adjusted loss,
 * Menon et al. 2021; used against label skew in federated learning by FedLC, Zhang et al. 2022,
 * and FedRS, Li & Zhan 2021). Worker w trains on the cross-entropy of z + τ·log π_w, where z are the
 * model's logits and π_w its local class frequencies (RuntimeLogitAdjustment.setLogitAdjustment);
 * evaluation and serving use raw z.
 *
 * Why it fights client drift: under label shift p_w(y|x) ∝ π_w(y)·p(x|y). A worker minimizing
 * plain cross-entropy pushes softmax(z) toward p_w(y|x), which differs per worker (absent classes
 * are driven toward −∞). With the adjusted loss (τ = 1) the optimum is softmax(z + log π_w) =
 * p_w(y|x), i.e. softmax(z) ∝ p(x|y): the same target on every worker, so the local models agree
 * more and their average is a better step. Absent classes get log ε: their logits are barely pushed
 * down locally (ε → 0 is FedRS's restricted softmax).
 *
 * Zero extra bytes and purely local: a worker needs only its own class counts. No round state.
 */
import { AgoraError } from '../../../errors.ts';
import { hasLogitAdjustment, type Runtime, type RuntimeCorrections } from '../../runtime.ts';
import type { DriftContext, DriftCorrection } from './types.ts';

export type LogitAdjustmentOptions = {
  /** Scale τ of the offsets τ·log π (default 1: balanced softmax). */
  tau?: number;
  /**
   * Smoothing: π_c = (1 − ε)·n_c/n + ε/C, so an absent class gets log(ε/C) instead of −∞
   * (default 1e-3).
   */
  eps?: number;
};

/**
 * The per-class logit offsets τ·log π (centered to mean 0; softmax is shift-invariant) for a shard
 * with class counts `counts` (counts[c] = samples of class c). This is what a node passes to
 * `Runtime.setLogitAdjustment` before its inner steps.
 */
export function logitAdjustmentOffsets(
  counts: ArrayLike<number>,
  opts: LogitAdjustmentOptions = {},
): Float32Array {
  const tau = opts.tau ?? 1;
  const eps = opts.eps ?? 1e-3;
  const C = counts.length;
  let n = 0;
  for (let c = 0; c < C; c++) {
    if (!(Number.isFinite(counts[c]) && counts[c] >= 0)) {
      throw new AgoraError('DRIFT_BAD_CONFIG', `Class count ${counts[c]} of class ${c} is not a count.`);
    }
    n += counts[c];
  }
  if (C < 2 || n === 0) {
    throw new AgoraError(
      'DRIFT_BAD_CONFIG',
      `Logit adjustment needs ≥ 2 classes and ≥ 1 sample (got ${C}, ${n}).`,
      {
        hint: 'pass the class counts of the worker’s own shard',
      },
    );
  }
  const logs = new Float64Array(C);
  let mean = 0;
  for (let c = 0; c < C; c++) {
    logs[c] = tau * Math.log((1 - eps) * (counts[c] / n) + eps / C);
    mean += logs[c] / C;
  }
  return Float32Array.from(logs, (v) => v - mean);
}

export class LogitAdjustment implements DriftCorrection {
  readonly name: string;
  readonly tau: number;
  readonly eps: number;
  #offsets: Float32Array[] = [];

  constructor(opts: LogitAdjustmentOptions = {}) {
    this.tau = opts.tau ?? 1;
    this.eps = opts.eps ?? 1e-3;
    if (!(Number.isFinite(this.tau) && this.tau > 0)) {
      throw new AgoraError('DRIFT_BAD_CONFIG', `Logit adjustment τ must be > 0, got ${this.tau}.`, {
        hint: 'τ = 1 is balanced softmax',
      });
    }
    if (!(this.eps > 0 && this.eps <= 1)) {
      throw new AgoraError('DRIFT_BAD_CONFIG', `Logit adjustment ε must be in (0, 1], got ${this.eps}.`, {
        hint: 'e.g. 1e-3',
      });
    }
    const params = [
      ...(this.tau === 1 ? [] : [`τ=${this.tau}`]),
      ...(this.eps === 1e-3 ? [] : [`ε=${this.eps}`]),
    ];
    this.name = `logit-adjust${params.length ? `(${params.join(',')})` : ''}`;
  }

  init(ctx: DriftContext): void {
    const counts = ctx.classCounts;
    if (!counts || counts.length !== ctx.workers) {
      throw new AgoraError('DRIFT_BAD_CONFIG', 'Logit adjustment needs every worker’s class counts.', {
        hint: 'use a classification data set (runDiloco derives the counts from the shards)',
      });
    }
    this.#offsets = counts.map((c) => logitAdjustmentOffsets(c, { tau: this.tau, eps: this.eps }));
  }

  /** The offsets worker w trains with (after init). */
  offsets(w: number): Float32Array {
    const o = this.#offsets[w];
    if (!o) throw new AgoraError('DRIFT_NOT_INITIALIZED', 'Logit adjustment used before init().');
    return o;
  }

  beforeInner(w: number, rt: Runtime & RuntimeCorrections): void {
    if (!hasLogitAdjustment(rt)) {
      throw new AgoraError('DRIFT_BAD_CONFIG', 'Logit adjustment needs a runtime with setLogitAdjustment.', {
        hint: 'use runtimes from createRuntime (src/train/onnx)',
      });
    }
    rt.setLogitAdjustment(this.offsets(w));
  }

  afterInner(): undefined {
    return undefined;
  }

  afterAggregate(): void {}
}
