/**
 * FedProx (Li et al. 2020): each worker minimizes f_w(θ) + μ/2‖θ − θ_global‖² in its inner loop,
 * i.e. every inner gradient gets + μ(θ − θ_global) before clipping and AdamW
 * (RuntimeCorrections.setProximal). No extra bytes: the anchor is the global θ every worker holds.
 */
import { AgoraError } from '../../../errors.ts';
import type { Runtime, RuntimeCorrections } from '../../runtime.ts';
import type { DriftContext, DriftCorrection } from './types.ts';

export class FedProx implements DriftCorrection {
  readonly name: string;
  readonly mu: number;

  constructor(opts: { mu: number }) {
    if (!(Number.isFinite(opts.mu) && opts.mu > 0)) {
      throw new AgoraError('DRIFT_BAD_CONFIG', `FedProx mu must be > 0, got ${opts.mu}.`, {
        hint: 'try mu = 0.01 to 1',
      });
    }
    this.mu = opts.mu;
    this.name = `fedprox(mu=${opts.mu})`;
  }

  init(_ctx: DriftContext): void {}

  beforeInner(_w: number, rt: Runtime & RuntimeCorrections, theta: Float32Array): void {
    rt.setProximal(theta, this.mu);
  }

  afterInner(): undefined {
    return undefined;
  }

  afterAggregate(): void {}
}
