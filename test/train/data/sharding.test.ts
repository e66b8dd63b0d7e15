import { describe, expect, it } from 'vitest';
import { AgoraError } from '../../../src/errors.ts';
import { BatchSampler, holdoutSplit, shardClassCounts, shardIndices } from '../../../src/train/data/index.ts';

const N = 1000;
const C = 10;
const labels = Int32Array.from({ length: N }, (_, i) => (i * 7) % C);
const pool = { indices: Int32Array.from({ length: N }, (_, i) => i), labels, numClasses: C };

function expectPartition(shards: Int32Array[], expected: ArrayLike<number>) {
  const all = shards.flatMap((s) => Array.from(s)).sort((a, b) => a - b);
  expect(all).toEqual(Array.from(expected).sort((a, b) => a - b));
}

describe('sharding', () => {
  it('iid: a partition with sizes within 1, deterministic per seed', () => {
    const s = shardIndices(pool, 8, { kind: 'iid', seed: 1 });
    expectPartition(s, pool.indices);
    const sizes = s.map((x) => x.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(shardIndices(pool, 8, { kind: 'iid', seed: 1 })).toEqual(s);
    expect(shardIndices(pool, 8, { kind: 'iid', seed: 2 })).not.toEqual(s);
    // each shard holds most classes
    for (const sh of s) expect(new Set(Array.from(sh, (i) => labels[i])).size).toBeGreaterThanOrEqual(8);
  });

  it('label-skew: each worker holds exactly N classes, all samples of held classes are used', () => {
    const s = shardIndices(pool, 5, { kind: 'label-skew', classesPerWorker: 2, seed: 3 });
    expectPartition(s, pool.indices);
    for (const sh of s) expect(new Set(Array.from(sh, (i) => labels[i])).size).toBe(2);
    // 4 workers × 2 classes < 10 classes: two classes are dropped
    const t = shardIndices(pool, 4, { kind: 'label-skew', classesPerWorker: 2, seed: 3 });
    expect(t.reduce((a, x) => a + x.length, 0)).toBe(800);
    expect(() => shardIndices(pool, 4, { kind: 'label-skew', classesPerWorker: 11, seed: 3 })).toThrow(
      AgoraError,
    );
  });

  it('label-sort (McMahan et al.): 2 label-sorted pieces per worker, 2–4 classes, overlapping at random', () => {
    const scheme = { kind: 'label-sort', shardsPerWorker: 2, seed: 4 } as const;
    const s = shardIndices(pool, 8, scheme);
    expectPartition(s, pool.indices);
    expect(shardIndices(pool, 8, scheme)).toEqual(s);
    expect(shardIndices(pool, 8, { ...scheme, seed: 5 })).not.toEqual(s);
    // 16 pieces of 62 or 63 samples; every worker gets two of them
    for (const sh of s) expect([124, 125, 126]).toContain(sh.length);
    const counts = shardClassCounts(s, labels, C);
    const classSets = counts.map((c) => c.flatMap((n, k) => (n > 0 ? [k] : [])));
    let total = 0;
    for (const cs of classSets) {
      // a piece of 62.5 samples spans at most 2 classes of 100 samples each
      expect(cs.length).toBeGreaterThanOrEqual(1);
      expect(cs.length).toBeLessThanOrEqual(4);
      total += cs.length;
    }
    // pieces straddle class boundaries: on average more than 2 classes per worker
    expect(total / 8).toBeGreaterThan(2);
    // the pieces are label-sorted: a worker's labels, in sorted order, form at most 2 runs of
    // consecutive class ids, i.e. its classes are a union of ≤ 2 intervals
    for (const cs of classSets) {
      let runs = 1;
      for (let i = 1; i < cs.length; i++) if (cs[i] !== cs[i - 1] + 1) runs++;
      expect(runs).toBeLessThanOrEqual(2);
    }
    // unlike label-skew with 2 classes, some class is held by workers whose class sets differ
    const key = (cs: number[]) => cs.join(',');
    expect(new Set(classSets.map(key)).size).toBeGreaterThan(5);
    expect(() => shardIndices(pool, 8, { ...scheme, shardsPerWorker: 0 })).toThrow(AgoraError);
    expect(() => shardIndices({ ...pool, indices: [1, 2, 3] }, 8, scheme)).toThrow(/at least 16/);
  });

  it('shardClassCounts counts each class per shard', () => {
    expect(shardClassCounts([[0, 1, 10], [7]], labels, C)).toEqual([
      [2, 0, 0, 0, 0, 0, 0, 1, 0, 0], // labels 0, 7, 0
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 1], // label 9
    ]);
  });

  it('dirichlet: deterministic partition; small alpha is more skewed than large alpha', () => {
    const skew = (alpha: number) => {
      const s = shardIndices(pool, 4, { kind: 'dirichlet', alpha, seed: 9 });
      expectPartition(s, pool.indices);
      expect(shardIndices(pool, 4, { kind: 'dirichlet', alpha, seed: 9 })).toEqual(s);
      // mean over workers of the largest class share in that worker's shard
      let m = 0;
      for (const sh of s) {
        const counts = new Array(C).fill(0);
        for (const i of sh) counts[labels[i]]++;
        m += Math.max(...counts) / Math.max(1, sh.length);
      }
      return m / s.length;
    };
    const lo = skew(0.1);
    const hi = skew(1000);
    expect(hi).toBeLessThan(0.16);
    expect(lo).toBeGreaterThan(hi + 0.15);
  });

  it('contiguous: consecutive runs in pool order', () => {
    const s = shardIndices({ indices: [5, 6, 7, 8, 9, 10, 11] }, 3, { kind: 'contiguous' });
    expect(s.map((x) => Array.from(x))).toEqual([
      [5, 6],
      [7, 8],
      [9, 10, 11],
    ]);
  });

  it('label schemes need labels', () => {
    expect(() => shardIndices({ indices: [1, 2] }, 2, { kind: 'dirichlet', alpha: 1, seed: 0 })).toThrow(
      /needs labels/,
    );
  });

  it('holdout split is a deterministic partition', () => {
    const h = holdoutSplit(100, 0.2, { seed: 4 });
    expect(h.eval.length).toBe(20);
    expectPartition(
      [h.train, h.eval],
      Array.from({ length: 100 }, (_, i) => i),
    );
    expect(holdoutSplit(100, 0.2, { seed: 4 })).toEqual(h);
    expect(Array.from(holdoutSplit(10, 0.2, { contiguous: true }).eval)).toEqual([8, 9]);
  });
});

describe('BatchSampler', () => {
  it('visits every shard index once per epoch, deterministically, and resumes from its state', () => {
    const shard = [3, 14, 15, 92, 65, 35, 89];
    const a = new BatchSampler(shard, 3, 42);
    const seen: number[] = [];
    for (let i = 0; i < 7; i++) seen.push(...a.next()); // 21 = 3 epochs
    for (let e = 0; e < 3; e++)
      expect(seen.slice(7 * e, 7 * e + 7).sort((x, y) => x - y)).toEqual([...shard].sort((x, y) => x - y));
    const b = new BatchSampler(shard, 3, 42);
    b.next();
    b.next();
    const resumed = new BatchSampler(shard, 3, 42, b.state);
    expect(Array.from(resumed.next())).toEqual(seen.slice(6, 9));
    expect(() => new BatchSampler([], 3, 1)).toThrow(AgoraError);
  });
});
