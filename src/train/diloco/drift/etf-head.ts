/**
 * Fixed classifier head with a designed geometry (a simplex equiangular tight frame, as in
 * neural-collapse theory, Papyan et al. 2020, and FedETF, Li et al. 2023): the output layer is set
 * once, before round 1, to C class vectors of equal norm `scale` whose pairwise cosines are all
 * −1/(C − 1) (the most separated C vectors there are), bias 0, and then kept fixed like `FixedHead`
 * (only the body trains; zero extra bytes).
 *
 * The vectors are derived from the run's seed alone (`etfHeadWeights`), so every worker and a
 * replaying validator compute the same head: M = √(C/(C−1))·U·(I − 11ᵀ/C), U a d×C matrix with
 * orthonormal columns from Gram–Schmidt on seeded Gaussian columns.
 *
 * Layout: an MLP's last weight is [d, C] (row-major, in × out) followed by its bias [C], at the end
 * of the flat parameter vector (src/train/models/mlp.ts).
 */
import { AgoraError } from '../../../errors.ts';
import { mixSeed } from '../../data/rng.ts';
import { Rng } from '../../models/prng.ts';
import type { Runtime, RuntimeCorrections } from '../../runtime.ts';
import { FixedHead } from './fixed-head.ts';
import type { DriftContext, DriftCorrection } from './types.ts';

/** The [d, C] row-major head weight: C simplex-ETF columns of norm `scale`, derived from `seed`. */
export function etfHeadWeights(features: number, classes: number, seed: number, scale = 1): Float32Array {
  const d = features;
  const C = classes;
  if (!(Number.isInteger(d) && Number.isInteger(C) && C >= 2 && d >= C)) {
    throw new AgoraError('DRIFT_BAD_CONFIG', `An ETF head needs 2 ≤ classes ≤ features (got ${C}, ${d}).`);
  }
  if (!(Number.isFinite(scale) && scale > 0)) {
    throw new AgoraError('DRIFT_BAD_CONFIG', `ETF head scale must be > 0, got ${scale}.`);
  }
  const rng = new Rng(mixSeed(seed, 0xe7f), 0);
  // Columns u_c (float64), orthonormalized by modified Gram–Schmidt.
  const u = Array.from({ length: C }, () => Float64Array.from({ length: d }, () => rng.normal()));
  for (let c = 0; c < C; c++) {
    for (let j = 0; j < c; j++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += u[c][i] * u[j][i];
      for (let i = 0; i < d; i++) u[c][i] -= dot * u[j][i];
    }
    let n = 0;
    for (let i = 0; i < d; i++) n += u[c][i] * u[c][i];
    n = Math.sqrt(n);
    for (let i = 0; i < d; i++) u[c][i] /= n;
  }
  const mean = new Float64Array(d);
  for (let c = 0; c < C; c++) for (let i = 0; i < d; i++) mean[i] += u[c][i] / C;
  const k = scale * Math.sqrt(C / (C - 1));
  const w = new Float32Array(d * C);
  for (let i = 0; i < d; i++) for (let c = 0; c < C; c++) w[i * C + c] = k * (u[c][i] - mean[i]);
  return w;
}

/**
 * Writes the ETF head into the flat parameter vector θ (last weight [features, classes], then the
 * bias, set to 0, at the end of θ). What a node does to its initial θ when it applies `EtfHead`.
 */
export function applyEtfHead(
  theta: Float32Array,
  opts: { features: number; classes: number; seed: number; scale?: number },
): void {
  const w = etfHeadWeights(opts.features, opts.classes, opts.seed, opts.scale);
  const from = theta.length - w.length - opts.classes;
  if (from < 0) {
    throw new AgoraError('DRIFT_BAD_CONFIG', `θ has ${theta.length} values, fewer than the head.`);
  }
  theta.set(w, from);
  theta.fill(0, from + w.length);
}

export type EtfHeadOptions = {
  /** Width of the layer before the head (an MLP's last hidden size). */
  features: number;
  /** Column norm of every class vector (default 1; PyTorch's init gives ≈ 0.58). */
  scale?: number;
};

export class EtfHead implements DriftCorrection {
  readonly name: string;
  readonly features: number;
  readonly scale: number;
  readonly #fixed = new FixedHead();
  #classes = 0;
  #seed = 0;

  constructor(opts: EtfHeadOptions) {
    this.features = opts.features;
    this.scale = opts.scale ?? 1;
    if (!(Number.isInteger(this.features) && this.features >= 2)) {
      throw new AgoraError(
        'DRIFT_BAD_CONFIG',
        `EtfHead features must be an integer ≥ 2, got ${this.features}.`,
      );
    }
    this.name = `etf-head${this.scale === 1 ? '' : `(scale=${this.scale})`}`;
  }

  init(ctx: DriftContext): void {
    const classes = ctx.classCounts?.[0]?.length;
    if (classes === undefined || ctx.seed === undefined) {
      throw new AgoraError('DRIFT_BAD_CONFIG', 'EtfHead needs the class counts and the seed.', {
        hint: 'use a classification data set with runDiloco',
      });
    }
    this.#classes = classes;
    this.#seed = ctx.seed;
  }

  initParams(theta: Float32Array): void {
    applyEtfHead(theta, {
      features: this.features,
      classes: this.#classes,
      seed: this.#seed,
      scale: this.scale,
    });
  }

  beforeInner(w: number, rt: Runtime & RuntimeCorrections): void {
    this.#fixed.beforeInner(w, rt);
  }

  afterInner(): undefined {
    return undefined;
  }

  afterAggregate(): void {}
}
