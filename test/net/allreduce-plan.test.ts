import { describe, expect, it } from 'vitest';
import { meanAggregator } from '../../src/net/aggregate.ts';
import {
  canonicalGroup,
  contributorSet,
  holderOf,
  setDigest,
  shardBounds,
} from '../../src/net/allreduce-plan.ts';

describe('all-reduce planning', () => {
  it('cuts a vector into K contiguous near-equal shards', () => {
    for (const [len, k] of [
      [10, 3],
      [7, 7],
      [1_000_003, 16],
    ]) {
      let next = 0;
      for (let i = 0; i < k; i++) {
        const [s, e] = shardBounds(len, k, i);
        expect(s).toBe(next);
        expect(e - s === Math.floor(len / k) || e - s === Math.ceil(len / k)).toBe(true);
        next = e;
      }
      expect(next).toBe(len);
    }
  });

  it('agrees on the contributor set from commits', () => {
    const g = canonicalGroup(['d', 'b', 'a', 'c', 'b']);
    expect(g).toEqual(['a', 'b', 'c', 'd']);
    // c died after delivering to owner a only: no commit from c, owners b and d lack its part.
    const commits = new Map([
      ['a', ['a', 'b', 'c', 'd']],
      ['b', ['a', 'b', 'd']],
      ['d', ['a', 'b', 'd']],
    ]);
    expect(contributorSet(g, commits)).toEqual(['a', 'b', 'd']);
    // d's parts were late everywhere but d is alive: it is left out of C but still an owner.
    const late = new Map([
      ['a', ['a', 'b', 'c']],
      ['b', ['a', 'b', 'c']],
      ['c', ['a', 'b', 'c']],
      ['d', ['a', 'b', 'c', 'd']],
    ]);
    expect(contributorSet(g, late)).toEqual(['a', 'b', 'c']);
  });

  it('re-homes a dead owner’s shard on the next contributor in ring order', () => {
    const g = ['a', 'b', 'c', 'd'];
    const alive = new Set(['a', 'b', 'd']);
    const c = new Set(['a', 'b', 'd']);
    expect(holderOf(g, 2, alive, c)).toBe('d');
    expect(holderOf(g, 1, alive, c)).toBe('b');
    expect(holderOf(g, 3, new Set(['a', 'b', 'c']), new Set(['b', 'c']))).toBe('b'); // wraps, skips a ∉ C
    expect(holderOf(g, 0, new Set(), new Set())).toBeUndefined();
    expect(setDigest(1, ['a', 'b'])).not.toBe(setDigest(2, ['a', 'b']));
  });

  it('mean aggregator', () => {
    const m = meanAggregator([
      { peer: 'a', vector: new Float32Array([1, 2]) },
      { peer: 'b', vector: new Float32Array([3, 6]) },
    ]);
    expect([...m]).toEqual([2, 4]);
  });
});
