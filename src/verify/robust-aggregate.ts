/**
 * Byzantine-robust per-shard aggregators (pure), drop-in `Aggregator`s for the all-reduce
 * (src/net/aggregate.ts). Every holder sees the contributions in the same canonical order, and every
 * loop here is order-deterministic, so all holders compute bit-identical results.
 *
 * - `trimmedMeanAggregator(β)`: per coordinate, drop the ⌊βn⌋ smallest and ⌊βn⌋ largest values, average
 *   the rest (Yin et al. 2018). Tolerates up to ⌊βn⌋ Byzantine contributions per coordinate.
 * - `medianAggregator`: per-coordinate median (the trimmed mean with the maximal trim).
 * - `centeredClipAggregator({ tau, iterations })`: Karimireddy, He & Jaggi 2021 ("Learning from History
 *   for Byzantine Robust Optimization"): start at v₀ = coordinate-wise median, then iterate
 *   v ← v + (1/n) Σ_i clip_τ(x_i − v), with clip_τ(z) = z · min(1, τ/‖z‖₂). A Byzantine contribution can
 *   move v by at most τ/n per iteration, whatever its size. Default τ: the median of ‖x_i − v₀‖ (so about
 *   half the contributions, the honest bulk, are not clipped at all), recomputed every iteration.
 *
 * Accumulation is in float64; outputs are float32.
 */

import { AgoraError } from '../errors.ts';
import type { Aggregator, Contribution } from '../net/aggregate.ts';

function checkShapes(contributions: readonly Contribution[]): number {
  if (contributions.length === 0) {
    throw new AgoraError('AGG_EMPTY', 'cannot aggregate zero contributions', {
      hint: 'the contributor set of a shard must not be empty',
    });
  }
  const n = contributions[0].vector.length;
  for (const c of contributions) {
    if (c.vector.length !== n) {
      throw new AgoraError(
        'AGG_SHAPE',
        `contribution from ${c.peer} has ${c.vector.length} elements, expected ${n}`,
        { hint: 'all contributions to one shard must have the shard length' },
      );
    }
  }
  return n;
}

/** Sorts a[0..len) ascending in place (insertion sort: n is the worker count, small). */
function sortSmall(a: Float64Array, len: number): void {
  for (let i = 1; i < len; i++) {
    const x = a[i];
    let j = i - 1;
    while (j >= 0 && a[j] > x) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = x;
  }
}

/** Number of values trimmed from each end for n contributions and fraction β. */
export function trimCount(n: number, beta: number): number {
  return Math.min(Math.floor(beta * n), Math.floor((n - 1) / 2));
}

/** Coordinate-wise trimmed mean over raw vectors (NaN counts as +∞ so it is trimmed first). */
export function trimmedMean(vectors: readonly Float32Array[], beta: number): Float32Array {
  if (!(beta >= 0 && beta < 0.5)) {
    throw new AgoraError('AGG_BAD_OPTION', `trim fraction β must be in [0, 0.5), got ${beta}`, {
      hint: 'β = 0.2 tolerates 20% Byzantine contributions per coordinate',
    });
  }
  const k = vectors.length;
  const n = vectors[0].length;
  const t = trimCount(k, beta);
  const keep = k - 2 * t;
  const col = new Float64Array(k);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const x = vectors[j][i];
      col[j] = Number.isNaN(x) ? Number.POSITIVE_INFINITY : x;
    }
    sortSmall(col, k);
    let s = 0;
    for (let j = t; j < t + keep; j++) s += col[j];
    out[i] = s / keep;
  }
  return out;
}

/** Coordinate-wise median (mean of the two middle values for even n). */
export function coordinateMedian(vectors: readonly Float32Array[]): Float32Array {
  const k = vectors.length;
  const n = vectors[0].length;
  const col = new Float64Array(k);
  const out = new Float32Array(n);
  const lo = (k - 1) >> 1;
  const hi = k >> 1;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const x = vectors[j][i];
      col[j] = Number.isNaN(x) ? Number.POSITIVE_INFINITY : x;
    }
    sortSmall(col, k);
    out[i] = (col[lo] + col[hi]) / 2;
  }
  return out;
}

export function trimmedMeanAggregator(beta = 0.2): Aggregator {
  return (contributions) => {
    checkShapes(contributions);
    return trimmedMean(
      contributions.map((c) => c.vector),
      beta,
    );
  };
}

export const medianAggregator: Aggregator = (contributions) => {
  checkShapes(contributions);
  return coordinateMedian(contributions.map((c) => c.vector));
};

export type CenteredClipOptions = {
  /** Clipping radius τ (L2 over the shard). Default: median distance to the current center, per iteration. */
  tau?: number;
  /** Iterations L (default 3; the paper uses 1–3 with a momentum start). */
  iterations?: number;
};

/** Centered clipping over raw vectors (see module docs). Non-finite entries make a contribution count as zero distance-clipped noise: they are replaced by the center. */
export function centeredClip(vectors: readonly Float32Array[], opts: CenteredClipOptions = {}): Float32Array {
  const iterations = opts.iterations ?? 3;
  if (!(Number.isInteger(iterations) && iterations >= 1)) {
    throw new AgoraError('AGG_BAD_OPTION', `iterations must be a positive integer, got ${iterations}`);
  }
  if (opts.tau !== undefined && !(opts.tau > 0)) {
    throw new AgoraError('AGG_BAD_OPTION', `τ must be positive, got ${opts.tau}`);
  }
  const k = vectors.length;
  const n = vectors[0].length;
  const v = Float64Array.from(coordinateMedian(vectors));
  const dist = new Float64Array(k);
  const sorted = new Float64Array(k);
  const acc = new Float64Array(n);
  for (let it = 0; it < iterations; it++) {
    for (let j = 0; j < k; j++) {
      const x = vectors[j];
      let s = 0;
      for (let i = 0; i < n; i++) {
        const xi = x[i];
        const d = Number.isNaN(xi) ? 0 : xi - v[i];
        s += d * d;
      }
      dist[j] = Math.sqrt(s);
    }
    let tau = opts.tau;
    if (tau === undefined) {
      sorted.set(dist);
      sortSmall(sorted, k);
      tau = (sorted[(k - 1) >> 1] + sorted[k >> 1]) / 2;
    }
    if (!(tau > 0) || !Number.isFinite(tau)) break; // every contribution sits on the center already
    acc.fill(0);
    for (let j = 0; j < k; j++) {
      const d = dist[j];
      if (!Number.isFinite(d) || d === 0) continue;
      const scale = Math.min(1, tau / d);
      const x = vectors[j];
      for (let i = 0; i < n; i++) {
        const xi = x[i];
        if (!Number.isNaN(xi)) acc[i] += (xi - v[i]) * scale;
      }
    }
    for (let i = 0; i < n; i++) v[i] += acc[i] / k;
  }
  return Float32Array.from(v);
}

export function centeredClipAggregator(opts: CenteredClipOptions = {}): Aggregator {
  return (contributions) => {
    checkShapes(contributions);
    return centeredClip(
      contributions.map((c) => c.vector),
      opts,
    );
  };
}
