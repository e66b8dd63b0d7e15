/**
 * Sharding a pool of global sample indices across K workers. Every scheme is deterministic given
 * its seed, and every output index is a global data set index (provenance commits exactly these).
 *
 * - `iid`: shuffle the pool (seeded Fisher–Yates) and deal it round-robin: shard sizes differ by ≤ 1.
 * - `label-skew`: each worker holds `classesPerWorker` classes. The classes are put in a seeded
 *   random order π; worker w holds π[(w·N + j) mod C] for j < N. Each class's samples (shuffled)
 *   are split evenly among the workers that hold it. If K·N < C, the classes nobody holds are dropped.
 * - `label-sort`: McMahan et al.'s pathological non-i.i.d. split (FedAvg paper, 2017). Shuffle each
 *   class's samples (seeded), order the pool by label, cut it into K·S equal contiguous pieces
 *   (S = `shardsPerWorker`), and give each worker S pieces drawn by a seeded permutation. Pieces
 *   straddle class boundaries, so with S = 2 and C = 10, K = 8 a worker holds 2–4 classes (mostly
 *   2–3) in unequal proportions, and the workers' class sets overlap at random.
 * - `dirichlet`: for every class c (in class-id order) draw p_c ~ Dirichlet(α·1_K) and give worker w
 *   the next round(p_c,w · n_c) of that class's shuffled samples (largest-remainder rounding, so
 *   the counts sum to n_c). Small α → very skewed shards; large α → close to i.i.d.
 * - `contiguous`: the pool in its given order cut into K consecutive runs (text LM: each worker
 *   reads its own part of the corpus).
 */
import { AgoraError } from '../../errors.ts';
import { createRng, dirichlet, mixSeed, type Rng, shuffleInPlace } from './rng.ts';

export type ShardScheme =
  | { kind: 'iid'; seed: number }
  | { kind: 'label-skew'; classesPerWorker: number; seed: number }
  | { kind: 'label-sort'; shardsPerWorker: number; seed: number }
  | { kind: 'dirichlet'; alpha: number; seed: number }
  | { kind: 'contiguous' };

export type LabeledPool = {
  /** Global indices to distribute. */
  indices: ArrayLike<number>;
  /** Labels by global index (required for label-skew and dirichlet). */
  labels?: ArrayLike<number>;
  numClasses?: number;
};

function badOption(what: string, hint: string): AgoraError {
  return new AgoraError('SHARD_BAD_OPTION', what, { hint });
}

/** Splits `pool.indices` into `workers` shards (arrays of global indices, each sorted ascending). */
export function shardIndices(pool: LabeledPool, workers: number, scheme: ShardScheme): Int32Array[] {
  if (!Number.isInteger(workers) || workers < 1) {
    throw badOption(`Worker count must be a positive integer, got ${workers}.`, 'e.g. --workers 8');
  }
  const idx = Int32Array.from(pool.indices);
  let shards: number[][];
  switch (scheme.kind) {
    case 'iid': {
      shuffleInPlace(idx, createRng(mixSeed(scheme.seed, 1)));
      shards = Array.from({ length: workers }, () => []);
      for (let i = 0; i < idx.length; i++) shards[i % workers].push(idx[i]);
      break;
    }
    case 'contiguous': {
      shards = [];
      for (let w = 0; w < workers; w++) {
        const a = Math.floor((w * idx.length) / workers);
        const b = Math.floor(((w + 1) * idx.length) / workers);
        shards.push(Array.from(idx.subarray(a, b)));
      }
      return shards.map((s) => Int32Array.from(s));
    }
    case 'label-skew':
      shards = labelSkew(pool, idx, workers, scheme.classesPerWorker, createRng(mixSeed(scheme.seed, 2)));
      break;
    case 'label-sort':
      shards = labelSort(pool, idx, workers, scheme.shardsPerWorker, createRng(mixSeed(scheme.seed, 5)));
      break;
    case 'dirichlet':
      shards = dirichletShards(pool, idx, workers, scheme.alpha, createRng(mixSeed(scheme.seed, 3)));
      break;
    default:
      throw badOption(
        `Unknown shard scheme ${(scheme as { kind: string }).kind}.`,
        'Use iid, label-skew, label-sort, dirichlet or contiguous.',
      );
  }
  return shards.map((s) => Int32Array.from(s).sort());
}

function byClass(pool: LabeledPool, idx: Int32Array, scheme: string): { C: number; members: number[][] } {
  if (pool.labels === undefined) {
    throw badOption(
      `Shard scheme ${scheme} needs labels.`,
      'Only classification data sets can be label-sharded.',
    );
  }
  let C = pool.numClasses ?? 0;
  for (let i = 0; i < idx.length; i++) C = Math.max(C, pool.labels[idx[i]] + 1);
  const members: number[][] = Array.from({ length: C }, () => []);
  for (let i = 0; i < idx.length; i++) members[pool.labels[idx[i]]].push(idx[i]);
  return { C, members };
}

function labelSkew(pool: LabeledPool, idx: Int32Array, K: number, N: number, rng: Rng): number[][] {
  const { C, members } = byClass(pool, idx, 'label-skew');
  if (!Number.isInteger(N) || N < 1 || N > C) {
    throw badOption(
      `classesPerWorker must be an integer in [1, ${C}], got ${N}.`,
      'e.g. 2 classes per worker.',
    );
  }
  const order = shuffleInPlace(
    Int32Array.from({ length: C }, (_, i) => i),
    rng,
  );
  const holders: number[][] = Array.from({ length: C }, () => []);
  for (let w = 0; w < K; w++) {
    for (let j = 0; j < N; j++) {
      const c = order[(w * N + j) % C];
      if (!holders[c].includes(w)) holders[c].push(w);
    }
  }
  const shards: number[][] = Array.from({ length: K }, () => []);
  for (let c = 0; c < C; c++) {
    const h = holders[c];
    if (h.length === 0) continue;
    const m = shuffleInPlace(Int32Array.from(members[c]), rng);
    for (let r = 0; r < h.length; r++) {
      const a = Math.floor((r * m.length) / h.length);
      const b = Math.floor(((r + 1) * m.length) / h.length);
      for (let i = a; i < b; i++) shards[h[r]].push(m[i]);
    }
  }
  return shards;
}

function labelSort(pool: LabeledPool, idx: Int32Array, K: number, S: number, rng: Rng): number[][] {
  const { members } = byClass(pool, idx, 'label-sort');
  if (!Number.isInteger(S) || S < 1) {
    throw badOption(`shardsPerWorker must be a positive integer, got ${S}.`, 'e.g. 2 (McMahan et al.).');
  }
  const pieces = K * S;
  if (idx.length < pieces) {
    throw badOption(
      `label-sort needs at least ${pieces} samples for ${K} workers × ${S} pieces, got ${idx.length}.`,
      'use fewer workers or fewer shards per worker',
    );
  }
  const sorted: number[] = [];
  for (const m of members) for (const i of shuffleInPlace(Int32Array.from(m), rng)) sorted.push(i);
  const order = shuffleInPlace(
    Int32Array.from({ length: pieces }, (_, i) => i),
    rng,
  );
  const shards: number[][] = Array.from({ length: K }, () => []);
  for (let w = 0; w < K; w++) {
    for (let j = 0; j < S; j++) {
      const piece = order[w * S + j];
      const a = Math.floor((piece * sorted.length) / pieces);
      const b = Math.floor(((piece + 1) * sorted.length) / pieces);
      for (let i = a; i < b; i++) shards[w].push(sorted[i]);
    }
  }
  return shards;
}

/** Per-worker class counts of `shards` (counts[w][c] = samples of class c in shard w). */
export function shardClassCounts(
  shards: readonly ArrayLike<number>[],
  labels: ArrayLike<number>,
  numClasses: number,
): number[][] {
  return shards.map((s) => {
    const counts = new Array<number>(numClasses).fill(0);
    for (let i = 0; i < s.length; i++) {
      const y = labels[s[i]];
      if (!(y >= 0 && y < numClasses)) {
        throw badOption(`Label ${y} of sample ${s[i]} is outside [0, ${numClasses}).`, 'check numClasses');
      }
      counts[y]++;
    }
    return counts;
  });
}

function dirichletShards(pool: LabeledPool, idx: Int32Array, K: number, alpha: number, rng: Rng): number[][] {
  if (!(alpha > 0 && Number.isFinite(alpha))) {
    throw badOption(
      `Dirichlet alpha must be a positive number, got ${alpha}.`,
      'e.g. 0.5 (skewed) or 100 (near i.i.d.).',
    );
  }
  const { C, members } = byClass(pool, idx, 'dirichlet');
  const shards: number[][] = Array.from({ length: K }, () => []);
  for (let c = 0; c < C; c++) {
    const m = shuffleInPlace(Int32Array.from(members[c]), rng);
    const p = dirichlet(rng, alpha, K);
    // largest-remainder rounding of p·n to integer counts summing to n
    const n = m.length;
    const counts = new Int32Array(K);
    const rem: [number, number][] = [];
    let given = 0;
    for (let w = 0; w < K; w++) {
      const exact = p[w] * n;
      counts[w] = Math.floor(exact);
      given += counts[w];
      rem.push([exact - counts[w], w]);
    }
    rem.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    for (let r = 0; r < n - given; r++) counts[rem[r][1]]++;
    let o = 0;
    for (let w = 0; w < K; w++) {
      for (let i = 0; i < counts[w]; i++) shards[w].push(m[o++]);
    }
  }
  return shards;
}

/**
 * A deterministic train/eval split of [0, size): `evalFraction` of the indices, chosen by a seeded
 * shuffle (or, with `contiguous`, the last ones; for text LM so eval text is unseen).
 */
export function holdoutSplit(
  size: number,
  evalFraction: number,
  opts: { seed?: number; contiguous?: boolean } = {},
): { train: Int32Array; eval: Int32Array } {
  if (!(evalFraction > 0 && evalFraction < 1)) {
    throw badOption(`evalFraction must be in (0, 1), got ${evalFraction}.`, 'e.g. 0.1');
  }
  const all = Int32Array.from({ length: size }, (_, i) => i);
  const nEval = Math.max(1, Math.round(size * evalFraction));
  if (!opts.contiguous) shuffleInPlace(all, createRng(mixSeed(opts.seed ?? 0, 4)));
  const train = all.slice(0, size - nEval).sort();
  const ev = all.slice(size - nEval).sort();
  return { train, eval: ev };
}
