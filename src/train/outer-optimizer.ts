/**
 * The DiLoCo outer optimizer: SGD with (Nesterov) momentum applied to the outer gradient
 * Δ = mean_i(θ_global − θ_i) (the mean decoded pseudo-gradient).
 *
 *   b ← μ·b + Δ
 *   θ ← θ − η·(Δ + μ·b)   (Nesterov)      or   θ ← θ − η·b   (heavy ball)
 *
 * DiLoCo: η = 0.7, μ = 0.9, Nesterov. FedAvg: η = 1, μ = 0 (θ ← mean_i θ_i).
 * Arithmetic in float32 on the parameter vector; the momentum buffer is float32 too.
 */
import { AgoraError } from '../errors.ts';

export type OuterOptimizerConfig = {
  lr: number;
  momentum: number;
  nesterov: boolean;
};

export const DILOCO_OUTER: OuterOptimizerConfig = { lr: 0.7, momentum: 0.9, nesterov: true };
export const FEDAVG_OUTER: OuterOptimizerConfig = { lr: 1, momentum: 0, nesterov: false };

/** Serializable state: the config, the number of steps taken, and the momentum buffer. */
export type OuterOptimizerState = {
  config: OuterOptimizerConfig;
  step: number;
  /** Momentum buffer (absent before the first step or when momentum is 0). */
  momentum?: Float32Array;
};

export class OuterOptimizer {
  readonly config: OuterOptimizerConfig;
  #step = 0;
  #buf: Float32Array | undefined;

  constructor(config: OuterOptimizerConfig = DILOCO_OUTER) {
    if (!(config.lr > 0) || !(config.momentum >= 0 && config.momentum < 1)) {
      throw new AgoraError(
        'OUTER_BAD_CONFIG',
        `Outer optimizer needs lr > 0 and momentum in [0, 1); got lr ${config.lr}, momentum ${config.momentum}.`,
        { hint: 'DiLoCo uses lr 0.7, momentum 0.9 (Nesterov); FedAvg lr 1, momentum 0.' },
      );
    }
    this.config = { ...config };
  }

  get step(): number {
    return this.#step;
  }

  /** Updates `params` in place with outer gradient `delta` (same length). */
  apply(params: Float32Array, delta: Float32Array): void {
    if (params.length !== delta.length) {
      throw new AgoraError(
        'OUTER_LENGTH_MISMATCH',
        `Outer gradient has ${delta.length} elements, parameters have ${params.length}.`,
        { hint: 'All workers must train the same model.' },
      );
    }
    const { lr, momentum: mu, nesterov } = this.config;
    const n = params.length;
    if (mu === 0) {
      for (let i = 0; i < n; i++) params[i] -= lr * delta[i];
    } else {
      if (this.#buf === undefined) this.#buf = new Float32Array(n);
      else if (this.#buf.length !== n) {
        throw new AgoraError(
          'OUTER_LENGTH_MISMATCH',
          `Momentum buffer has ${this.#buf.length} elements, parameters ${n}.`,
        );
      }
      const b = this.#buf;
      if (nesterov) {
        for (let i = 0; i < n; i++) {
          const d = delta[i];
          const bi = mu * b[i] + d;
          b[i] = bi;
          params[i] -= lr * (d + mu * bi);
        }
      } else {
        for (let i = 0; i < n; i++) {
          const bi = mu * b[i] + delta[i];
          b[i] = bi;
          params[i] -= lr * bi;
        }
      }
    }
    this.#step++;
  }

  getState(): OuterOptimizerState {
    return {
      config: { ...this.config },
      step: this.#step,
      ...(this.#buf ? { momentum: this.#buf.slice() } : {}),
    };
  }

  static fromState(s: OuterOptimizerState): OuterOptimizer {
    const o = new OuterOptimizer(s.config);
    o.#step = s.step;
    o.#buf = s.momentum?.slice();
    return o;
  }
}

/**
 * The mean of several vectors (e.g. decoded pseudo-gradients), accumulated in float64 for accuracy
 * and returned as float32.
 */
export function meanOf(vectors: readonly Float32Array[]): Float32Array {
  if (vectors.length === 0) throw new AgoraError('OUTER_NO_INPUTS', 'Cannot average zero vectors.');
  const n = vectors[0].length;
  const acc = new Float64Array(n);
  for (const v of vectors) {
    if (v.length !== n) {
      throw new AgoraError(
        'OUTER_LENGTH_MISMATCH',
        `Vectors to average differ in length (${v.length} vs ${n}).`,
      );
    }
    for (let i = 0; i < n; i++) acc[i] += v[i];
  }
  const out = new Float32Array(n);
  const s = 1 / vectors.length;
  for (let i = 0; i < n; i++) out[i] = acc[i] * s;
  return out;
}
