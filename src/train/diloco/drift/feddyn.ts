/**
 * FedDyn-style dynamic regularization (Acar et al. ICLR 2021) on AdamW inner steps, with zero
 * extra bytes. Worker i minimizes f_i(θ) − ⟨g_i, θ⟩ + α/2‖θ − θ_global‖² in its inner loop:
 * every inner gradient becomes ∇f_i − g_i + α(θ − θ_global), applied before clipping and AdamW's
 * moments (RuntimeCorrections.setGradientCorrection(−g_i) and setProximal(θ_global, α)). After the
 * round, g_i ← g_i + α·Δ_i (Δ_i = θ_global − θ_i, the worker's own pseudo-gradient).
 *
 * Why: at a fixed point where the local model stays at θ_global, ∇f_i(θ_global) = g_i, so g_i
 * tracks the worker's own gradient there and −g_i removes the part that pulls it away from the
 * global optimum (Σ_i ∇f_i = 0). It is SCAFFOLD's correction, estimated from the worker's own
 * drift instead of sent variates. FedDyn's server term (θ ← mean θ_i − h/α) is left out: DiLoCo's
 * outer Nesterov step stays as it is.
 *
 * AdamW caveat (docs/drift-correction.md): Adam normalizes per coordinate, so a constant offset is
 * followed at ≈ lr per step once the data gradient is small; `clip` (default off) bounds |g_i| per
 * coordinate to limit that.
 */
import { AgoraError } from '../../../errors.ts';
import type { Runtime, RuntimeCorrections } from '../../runtime.ts';
import type { DriftContext, DriftCorrection } from './types.ts';

export type FedDynOptions = {
  /** α: the proximal weight and the gain of the g_i update (default 0.01). */
  alpha?: number;
  /** Bound |g_i| per coordinate (default: no bound). */
  clip?: number;
};

export class FedDyn implements DriftCorrection {
  readonly name: string;
  readonly alpha: number;
  readonly clip: number;
  /** The workers' linear terms g_i. */
  g: Float32Array[] = [];

  constructor(opts: FedDynOptions = {}) {
    this.alpha = opts.alpha ?? 0.01;
    this.clip = opts.clip ?? Number.POSITIVE_INFINITY;
    if (!(Number.isFinite(this.alpha) && this.alpha > 0)) {
      throw new AgoraError('DRIFT_BAD_CONFIG', `FedDyn alpha must be > 0, got ${this.alpha}.`, {
        hint: 'try alpha = 0.001 to 0.1',
      });
    }
    if (!(this.clip > 0))
      throw new AgoraError('DRIFT_BAD_CONFIG', `FedDyn clip must be > 0, got ${this.clip}.`);
    this.name = `feddyn(alpha=${this.alpha}${Number.isFinite(this.clip) ? `,clip=${this.clip}` : ''})`;
  }

  init(ctx: DriftContext): void {
    this.g = Array.from({ length: ctx.workers }, () => new Float32Array(ctx.paramCount));
  }

  beforeInner(w: number, rt: Runtime & RuntimeCorrections, theta: Float32Array, round: number): void {
    const g = this.g[w];
    if (!g) throw new AgoraError('DRIFT_NOT_INITIALIZED', 'FedDyn used before init().');
    rt.setGradientCorrection(round === 1 ? undefined : g.map((v) => -v));
    rt.setProximal(theta, this.alpha);
  }

  afterInner(
    w: number,
    _rt: Runtime & RuntimeCorrections,
    _theta: Float32Array,
    delta: Float32Array,
  ): undefined {
    const g = this.g[w];
    const a = this.alpha;
    const b = this.clip;
    for (let k = 0; k < g.length; k++) {
      const v = g[k] + a * delta[k];
      g[k] = Math.min(b, Math.max(v, -b));
    }
    return undefined;
  }

  afterAggregate(): void {}
}
