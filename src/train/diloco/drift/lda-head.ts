/**
 * Post-training classifier calibration from class-conditional feature statistics (in the spirit of
 * CCVR, Luo et al. NeurIPS 2021, and the closed-form classifiers of Fed3R, Fanì et al. ICML 2024):
 * after the last DiLoCo round every worker holds the same global θ. Each worker runs the MLP body
 * (all layers but the last) over its own shard and computes the sufficient statistics of a
 * Gaussian class-conditional model with a shared covariance, in two small fp32 all-reduces (bytes
 * counted exactly by `AllReduceSim`): first its class counts n_c and per-class feature sums S_c,
 * which give every worker the global class means μ_c; then its within-class scatter around those
 * means, Σ_x (x − μ_y)(x − μ_y)ᵀ (upper triangle). Every worker then writes the same closed-form
 * linear discriminant (LDA) head:
 *
 *   μ_c = S_c / n_c,  Σ = Σ_x (x − μ_y)(x − μ_y)ᵀ / N + λ·(tr Σ / d)·I,
 *   w_c = Σ⁻¹ μ_c,    b_c = −½ μ_cᵀ Σ⁻¹ μ_c + log(n_c / N).
 *
 * Why it should help under label skew: with a fixed (ETF) head the global body is trained only to
 * map each worker's classes toward their fixed directions; where the averaged body maps the
 * classes is not where the fixed head expects them, yet the classes may still be linearly
 * separable. The LDA head is the Bayes classifier for Gaussian classes with a shared covariance,
 * fitted to the global body's features of all the training data, and needs no raw data to leave a
 * worker. It is not a per-round `DriftCorrection` hook (the interface sees neither the data nor the
 * final θ); it is one deterministic step after training, so a validator can replay it.
 *
 * Layout: an MLP's parameters are, per layer, weight [in, out] (row-major) then bias [out]
 * (src/train/models/mlp.ts); hidden activation ReLU.
 */
import { AgoraError } from '../../../errors.ts';
import { createCodec } from '../../codecs/index.ts';
import { AllReduceSim } from '../allreduce-sim.ts';

/** The penultimate features [n, sizes[L−1]] of an MLP (ReLU) for n inputs [n, sizes[0]]. */
export function mlpFeatures(
  theta: Float32Array,
  sizes: readonly number[],
  inputs: Float32Array,
): Float32Array {
  const L = sizes.length - 1;
  if (L < 2) throw new AgoraError('DRIFT_BAD_CONFIG', 'An LDA head needs an MLP with a hidden layer.');
  let expected = 0;
  for (let i = 0; i < L; i++) expected += sizes[i] * sizes[i + 1] + sizes[i + 1];
  if (theta.length !== expected) {
    throw new AgoraError('DRIFT_BAD_CONFIG', `θ has ${theta.length} values, the MLP ${expected}.`);
  }
  const n = inputs.length / sizes[0];
  if (!Number.isInteger(n)) throw new AgoraError('DRIFT_BAD_CONFIG', 'inputs are not [n, sizes[0]].');
  let h = inputs;
  let off = 0;
  for (let l = 0; l + 1 < L; l++) {
    const din = sizes[l];
    const dout = sizes[l + 1];
    const W = theta.subarray(off, off + din * dout);
    const b = theta.subarray(off + din * dout, off + din * dout + dout);
    off += din * dout + dout;
    const out = new Float32Array(n * dout);
    const acc = new Float64Array(dout);
    for (let s = 0; s < n; s++) {
      for (let j = 0; j < dout; j++) acc[j] = b[j];
      for (let i = 0; i < din; i++) {
        const x = h[s * din + i];
        if (x === 0) continue;
        const row = i * dout;
        for (let j = 0; j < dout; j++) acc[j] += x * W[row + j];
      }
      for (let j = 0; j < dout; j++) out[s * dout + j] = Math.max(acc[j], 0);
    }
    h = out;
  }
  return h;
}

/** Length of the class statistics: C counts, then C·d class sums. */
export function ldaClassStatsLength(features: number, classes: number): number {
  return classes + classes * features;
}

/** Length of a packed upper triangle of a d×d matrix (row by row). */
export function packedLength(features: number): number {
  return (features * (features + 1)) / 2;
}

function checkLabel(y: number, classes: number): void {
  if (!(Number.isInteger(y) && y >= 0 && y < classes)) {
    throw new AgoraError('DRIFT_BAD_CONFIG', `label ${y} is not in [0, ${classes}).`);
  }
}

/** One worker's class statistics [n_c (C) | S_c = Σ_{y=c} x (C·d)] (first all-reduce). */
export function ldaClassStats(
  features: Float32Array,
  labels: ArrayLike<number>,
  d: number,
  classes: number,
): Float32Array {
  const n = labels.length;
  if (features.length !== n * d) throw new AgoraError('DRIFT_BAD_CONFIG', 'features are not [n, d].');
  const out = new Float64Array(ldaClassStatsLength(d, classes));
  for (let s = 0; s < n; s++) {
    const y = labels[s];
    checkLabel(y, classes);
    out[y] += 1;
    const o = classes + y * d;
    for (let i = 0; i < d; i++) out[o + i] += features[s * d + i];
  }
  return Float32Array.from(out);
}

/** The class means μ_c = S_c / n_c from (summed or averaged) class statistics (0 for empty classes). */
export function ldaClassMeans(classStats: Float32Array, d: number, classes: number): Float64Array[] {
  if (classStats.length !== ldaClassStatsLength(d, classes)) {
    throw new AgoraError('DRIFT_BAD_CONFIG', 'bad LDA class statistics length.');
  }
  return Array.from({ length: classes }, (_, c) => {
    const m = new Float64Array(d);
    const n = classStats[c];
    if (n > 0) for (let i = 0; i < d; i++) m[i] = classStats[classes + c * d + i] / n;
    return m;
  });
}

/**
 * One worker's within-class scatter around the GLOBAL class means, Σ_x (x − μ_y)(x − μ_y)ᵀ, as a
 * packed upper triangle (second all-reduce). Centering before the fp32 all-reduce keeps the small
 * within-class eigenvalues: uncentered second moments lose them to rounding once the features
 * have collapsed toward their class means.
 */
export function ldaScatter(
  features: Float32Array,
  labels: ArrayLike<number>,
  means: readonly Float64Array[],
  d: number,
): Float32Array {
  const n = labels.length;
  if (features.length !== n * d) throw new AgoraError('DRIFT_BAD_CONFIG', 'features are not [n, d].');
  const xx = new Float64Array(packedLength(d));
  const v = new Float64Array(d);
  for (let s = 0; s < n; s++) {
    const y = labels[s];
    checkLabel(y, means.length);
    const m = means[y];
    for (let i = 0; i < d; i++) v[i] = features[s * d + i] - m[i];
    let k = 0;
    for (let i = 0; i < d; i++) {
      const vi = v[i];
      for (let j = i; j < d; j++) xx[k++] += vi * v[j];
    }
  }
  return Float32Array.from(xx);
}

/**
 * Default ridge λ (a fraction of the mean feature variance added to Σ's diagonal). With N ≫ d the
 * pooled covariance needs no statistical shrinkage, only a guard against dead ReLU units (λ = 0
 * was not positive definite). On the 784-512-512-10 MLP, accuracy was flat for λ from 1e-7 to
 * 1e-4 and fell by 1–3 points at 1e-3 to 1e-2 (docs/drift-correction.md, session 5).
 */
export const LDA_RIDGE = 1e-4;

/**
 * The LDA head { weight [d, C] row-major, bias [C] } from (summed or averaged, with the same scale)
 * class statistics and within-class scatter; Σ = scatter / N + λ·(tr/d)·I. Classes without samples
 * get weight 0 and bias −1e4. `scatterSamples`: the sample count (same scale) the scatter was summed
 * over, when it may differ from the class statistics' (default: the same).
 */
export function ldaHead(
  classStats: Float32Array,
  scatter: Float32Array,
  d: number,
  classes: number,
  ridge = LDA_RIDGE,
  scatterSamples?: number,
): { weight: Float32Array; bias: Float32Array } {
  const C = classes;
  if (scatter.length !== packedLength(d)) throw new AgoraError('DRIFT_BAD_CONFIG', 'bad LDA scatter length.');
  const mu = ldaClassMeans(classStats, d, C);
  const counts = Array.from(classStats.subarray(0, C), Number);
  const N = counts.reduce((a, b) => a + b, 0);
  if (!(N > 0)) throw new AgoraError('DRIFT_BAD_CONFIG', 'LDA statistics hold no samples.');
  const NS = scatterSamples ?? N;
  if (!(NS > 0)) throw new AgoraError('DRIFT_BAD_CONFIG', 'the LDA scatter holds no samples.');
  const S = new Float64Array(d * d);
  let k = 0;
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const v = scatter[k++] / NS;
      S[i * d + j] = v;
      S[j * d + i] = v;
    }
  }
  let tr = 0;
  for (let i = 0; i < d; i++) tr += S[i * d + i];
  const lam = ridge * Math.max(tr / d, 1e-12);
  for (let i = 0; i < d; i++) S[i * d + i] += lam;
  // Cholesky S = R Rᵀ (lower R, in place).
  for (let j = 0; j < d; j++) {
    let v = S[j * d + j];
    for (let p = 0; p < j; p++) v -= S[j * d + p] * S[j * d + p];
    if (!(v > 0)) throw new AgoraError('DRIFT_INTERNAL', 'LDA covariance is not positive definite.');
    const r = Math.sqrt(v);
    S[j * d + j] = r;
    for (let i = j + 1; i < d; i++) {
      let u = S[i * d + j];
      for (let p = 0; p < j; p++) u -= S[i * d + p] * S[j * d + p];
      S[i * d + j] = u / r;
    }
  }
  const solve = (b: Float64Array): Float64Array => {
    const y = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let v = b[i];
      for (let p = 0; p < i; p++) v -= S[i * d + p] * y[p];
      y[i] = v / S[i * d + i];
    }
    const x = new Float64Array(d);
    for (let i = d - 1; i >= 0; i--) {
      let v = y[i];
      for (let p = i + 1; p < d; p++) v -= S[p * d + i] * x[p];
      x[i] = v / S[i * d + i];
    }
    return x;
  };
  const weight = new Float32Array(d * C);
  const bias = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    if (counts[c] <= 0) {
      bias[c] = -1e4;
      continue;
    }
    const w = solve(mu[c]);
    let q = 0;
    for (let i = 0; i < d; i++) {
      weight[i * C + c] = w[i];
      q += w[i] * mu[c][i];
    }
    bias[c] = -0.5 * q + Math.log(counts[c] / N);
  }
  return { weight, bias };
}

export type LdaCalibration = {
  /** θ with the LDA head in place of the last layer. */
  theta: Float32Array;
  /** Bytes each worker sent in the two statistics all-reduces (fp32, headers included). */
  bytesSent: number[];
};

/**
 * The whole step for K workers: features of each worker's samples under θ; all-reduce 1 of the
 * class counts and sums (→ global class means); all-reduce 2 of the within-class scatter around
 * them (both fp32, exact bytes); the LDA head written into a copy of θ (bit-identical on every
 * worker, since all use the decoded means).
 */
export function calibrateLdaHead(
  theta: Float32Array,
  sizes: readonly number[],
  workers: readonly { inputs: Float32Array; labels: ArrayLike<number> }[],
  opts: { ridge?: number } = {},
): LdaCalibration {
  const L = sizes.length - 1;
  const d = sizes[L - 1];
  const C = sizes[L];
  const K = workers.length;
  const feats = workers.map((w) => mlpFeatures(theta, sizes, w.inputs));
  const fp32 = () => createCodec('fp32');
  // The all-reduce means carry a common factor 1/K, which cancels in ldaHead.
  const first = new AllReduceSim(K, fp32).run(feats.map((f, w) => ldaClassStats(f, workers[w].labels, d, C)));
  const means = ldaClassMeans(first.mean, d, C);
  const second = new AllReduceSim(K, fp32).run(
    feats.map((f, w) => ldaScatter(f, workers[w].labels, means, d)),
  );
  const { weight, bias } = ldaHead(first.mean, second.mean, d, C, opts.ridge);
  const out = theta.slice();
  const from = theta.length - weight.length - C;
  out.set(weight, from);
  out.set(bias, from + weight.length);
  return { theta: out, bytesSent: first.bytesSent.map((b, w) => b + second.bytesSent[w]) };
}
