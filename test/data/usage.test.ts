import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { describe, expect, it } from 'vitest';
import {
  canonicalSamples,
  countByDataset,
  proveSample,
  type SamplePair,
  sampleRoot,
  samplesFromJson,
  samplesToJson,
  usageTotals,
  verifySample,
  ZERO_ROOT,
} from '../../src/data/usage.ts';

const pairs: SamplePair[] = [
  [2n, 5],
  [1n, 9],
  [1n, 3],
  [2n, 5],
  [1n, 10],
];

describe('usage accounting: sample roots of (datasetId, index)', () => {
  it('canonicalises: distinct pairs sorted by dataset then index', () => {
    expect(canonicalSamples(pairs)).toEqual([
      [1n, 3],
      [1n, 9],
      [1n, 10],
      [2n, 5],
    ]);
    expect(() => canonicalSamples([[0n, 1]])).toThrow(/ids start at 1/);
    expect(() => canonicalSamples([[1n, -1]])).toThrow(/not valid/);
  });

  it('the root equals OZ StandardMerkleTree ["uint256","uint256"] and ignores order and repeats', () => {
    const oz = StandardMerkleTree.of(
      canonicalSamples(pairs).map(([d, i]) => [d, BigInt(i)]),
      ['uint256', 'uint256'],
    );
    expect(sampleRoot(pairs)).toBe(oz.root);
    expect(sampleRoot([...pairs].reverse())).toBe(oz.root);
    expect(sampleRoot([])).toBe(ZERO_ROOT);
  });

  it('proves that a sample was used, and rejects one that was not', () => {
    const p = proveSample(pairs, 1n, 9);
    expect(verifySample(p.sampleRoot, 1n, 9, p.proof)).toBe(true);
    expect(verifySample(p.sampleRoot, 1n, 8, p.proof)).toBe(false);
    expect(verifySample(p.sampleRoot, 2n, 9, p.proof)).toBe(false);
    expect(() => proveSample(pairs, 3n, 1)).toThrow(/was not used in this round/);
  });

  it('counts per dataset for the reward split', () => {
    expect(Object.fromEntries(countByDataset(pairs))).toEqual({ '1': 3, '2': 1 });
    const totals = usageTotals([pairs, [[1n, 3]], [[2n, 7]]]);
    expect(Object.fromEntries(totals)).toEqual({
      '1': { uses: 4, distinctRecords: 3 },
      '2': { uses: 2, distinctRecords: 2 },
    });
  });

  it('round-trips the compact JSON form', () => {
    const json = samplesToJson(pairs);
    expect(json).toEqual({ '1': [3, 9, 10], '2': [5] });
    expect(canonicalSamples(samplesFromJson(json))).toEqual(canonicalSamples(pairs));
  });
});
