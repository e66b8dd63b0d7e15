/**
 * SCAFFOLD control variates (Karimireddy et al. 2020) with AdamW inner steps, in two adaptations.
 *
 * Plain SCAFFOLD corrects SGD's gradient, g ← g − c_i + c, with the option-II variate update
 * c_i⁺ = c_i − c + (θ − θ_i)/(H·η), which for SGD equals the mean raw gradient along the worker's
 * trajectory; c⁺ = c + mean_i(c_i⁺ − c_i).
 *
 * `space: 'gradient'` (default): exactly that, before clipping and AdamW's moments
 * (RuntimeCorrections.setGradientCorrection(β(c − c_i))). With AdamW, (θ − θ_i)/(H·η) is not in
 * gradient units, so c_i⁺ is measured directly: the runtime sums the raw mini-batch gradients of
 * the round (setGradientAccumulation) and c_i⁺ = that sum / H. The variate deltas Δc_i = c_i⁺ − c_i
 * go through the compressed all-reduce (the extra payload; bytes counted): `mode` must be
 * 'explicit'.
 *
 * `space: 'update'`: the correction lives in AdamW's update space, where the pseudo-gradient does:
 *   θ ← θ − lr_t·(d_t + β(c − c_i))   (RuntimeCorrections.setUpdateCorrection),
 *   c_i⁺ = Δ_i/S_r − β(c − c_i), S_r = Σ_t lr_t over the round (the lr-weighted mean uncorrected
 *   AdamW direction; with β = 1 exactly option II with H·η → S_r).
 * There `mode: 'implicit'` sends nothing: with every worker in every round,
 * c⁺ = mean_i c_i⁺ = meanΔ/S_r, and meanΔ is what the pseudo-gradient all-reduce already delivered
 * (decoded, identical on every worker). 'explicit' sends Δc_i instead (bytes counted).
 * `strength` β scales the applied correction.
 */
import { AgoraError } from '../../../errors.ts';
import type { Runtime, RuntimeCorrections } from '../../runtime.ts';
import type { DriftContext, DriftCorrection } from './types.ts';

export type ScaffoldOptions = {
  space?: 'gradient' | 'update';
  mode?: 'explicit' | 'implicit';
  strength?: number;
  /**
   * Gradient space: estimate c_i from the raw gradients of only the first `variateSteps` inner steps
   * of each round (≈ SCAFFOLD option I: the local gradient near θ_global) instead of the whole
   * round's trajectory (option II). Default: the whole round.
   */
  variateSteps?: number;
  /**
   * Gradient space: measure and send the variates only in rounds 1, 1 + n, 1 + 2n, … (default 1:
   * every round). In the other rounds the correction c − c_i of the last exchange stays in force,
   * no gradients are summed and nothing extra is sent, which divides the variate bytes by about n.
   */
  every?: number;
};

export class Scaffold implements DriftCorrection {
  readonly name: string;
  readonly space: 'gradient' | 'update';
  readonly mode: 'explicit' | 'implicit';
  readonly strength: number;
  readonly variateSteps: number | undefined;
  readonly every: number;
  #ctx: DriftContext | undefined;
  /** Server variate c (shared by all workers). */
  c = new Float32Array(0);
  /** Client variates c_i. */
  ci: Float32Array[] = [];

  constructor(opts: ScaffoldOptions = {}) {
    this.space = opts.space ?? 'gradient';
    this.mode = opts.mode ?? (this.space === 'gradient' ? 'explicit' : 'implicit');
    this.strength = opts.strength ?? 1;
    this.variateSteps = opts.variateSteps;
    this.every = opts.every ?? 1;
    if (!(Number.isInteger(this.every) && this.every >= 1)) {
      throw new AgoraError(
        'DRIFT_BAD_CONFIG',
        `SCAFFOLD every must be a positive integer, got ${this.every}.`,
      );
    }
    if (this.every > 1 && this.space !== 'gradient') {
      throw new AgoraError('DRIFT_BAD_CONFIG', 'SCAFFOLD every > 1 needs space gradient.', {
        hint: 'update-space variates are implicit (free); send them every round',
      });
    }
    if (!(this.strength > 0 && this.strength <= 2)) {
      throw new AgoraError('DRIFT_BAD_CONFIG', `SCAFFOLD strength must be in (0, 2], got ${this.strength}.`);
    }
    if (this.space === 'gradient' && this.mode === 'implicit') {
      throw new AgoraError(
        'DRIFT_BAD_CONFIG',
        'Gradient-space SCAFFOLD variates must be sent (mode explicit).',
        {
          hint: "use space 'update' for zero-extra-byte (implicit) variates",
        },
      );
    }
    const tag = this.space === 'gradient' ? 'grad' : `upd${this.mode === 'explicit' ? '-explicit' : ''}`;
    const params = [
      ...(this.strength === 1 ? [] : [`β=${this.strength}`]),
      ...(this.variateSteps === undefined ? [] : [`first ${this.variateSteps}`]),
      ...(this.every === 1 ? [] : [`every ${this.every}`]),
    ];
    this.name = `scaffold-${tag}${params.length ? `(${params.join(',')})` : ''}`;
  }

  init(ctx: DriftContext): void {
    this.#ctx = ctx;
    this.c = new Float32Array(ctx.paramCount);
    this.ci = Array.from({ length: ctx.workers }, () => new Float32Array(ctx.paramCount));
  }

  #lrSum(round: number): number {
    const ctx = this.#ctx;
    if (!ctx) throw new AgoraError('DRIFT_NOT_INITIALIZED', 'SCAFFOLD used before init().');
    const { fromStep, steps } = ctx.roundSteps(round);
    const s = ctx.lrSum(fromStep, steps);
    if (!(s > 0)) throw new AgoraError('DRIFT_BAD_CONFIG', `Sum of inner lr over a round is ${s}.`);
    return s;
  }

  /** True if the variates are measured and sent in round `round` (1-based). */
  exchanges(round: number): boolean {
    return (round - 1) % this.every === 0;
  }

  beforeInner(w: number, rt: Runtime & RuntimeCorrections, _theta: Float32Array, round: number): void {
    const c = this.c;
    const ci = this.ci[w];
    const u = new Float32Array(c.length);
    for (let k = 0; k < u.length; k++) u[k] = this.strength * (c[k] - ci[k]);
    if (this.space === 'gradient') {
      rt.setGradientCorrection(u);
      rt.setGradientAccumulation(this.exchanges(round), this.variateSteps);
    } else {
      rt.setUpdateCorrection(u);
    }
  }

  afterInner(
    w: number,
    rt: Runtime & RuntimeCorrections,
    _theta: Float32Array,
    delta: Float32Array,
    round: number,
  ): Float32Array | undefined {
    if (this.space === 'gradient') {
      if (!this.exchanges(round)) return undefined;
      const { sum, steps } = rt.takeGradientSum();
      if (steps === 0) throw new AgoraError('DRIFT_INTERNAL', 'No inner steps were accumulated.');
      const ci = this.ci[w];
      const dci = new Float32Array(ci.length);
      for (let k = 0; k < ci.length; k++) {
        const next = sum[k] / steps;
        dci[k] = next - ci[k];
        ci[k] = next;
      }
      return dci;
    }
    const inv = 1 / this.#lrSum(round);
    const c = this.c;
    const ci = this.ci[w];
    const dci = new Float32Array(ci.length);
    // The applied correction was β(c − c_i), so the uncorrected mean direction (option II's
    // c_i⁺) is Δ_i/S − β(c − c_i); with β = 1 this is exactly c_i − c + Δ_i/S.
    for (let k = 0; k < ci.length; k++) {
      const next = delta[k] * inv - this.strength * (c[k] - ci[k]);
      dci[k] = next - ci[k];
      ci[k] = next;
    }
    return this.mode === 'explicit' ? dci : undefined;
  }

  afterAggregate(meanDelta: Float32Array, meanExtra: Float32Array | undefined, round: number): void {
    const c = this.c;
    if (this.mode === 'explicit') {
      if (this.space === 'gradient' && !this.exchanges(round)) return;
      if (!meanExtra) throw new AgoraError('DRIFT_INTERNAL', 'explicit SCAFFOLD got no variate mean.');
      for (let k = 0; k < c.length; k++) c[k] += meanExtra[k];
    } else {
      // c⁺ = mean_i c_i⁺ = mean_i(Δ_i/S − β(c − c_i)) = meanΔ/S − β(c − mean c_i), and mean c_i = c.
      const inv = 1 / this.#lrSum(round);
      for (let k = 0; k < c.length; k++) c[k] = meanDelta[k] * inv;
    }
  }
}
