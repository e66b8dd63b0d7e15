import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { type Hex, keccak256, toHex } from 'viem';
import { describe, expect, it } from 'vitest';
import {
  buildMerkleTree,
  buildRewardTree,
  recordLeaf,
  rewardLeaf,
  verifyMerkleProof,
} from '../../src/chain/merkle.ts';
import {
  lossToFixed,
  type RoundRecord,
  roundRecordLeaf,
  roundRecordsTree,
} from '../../src/chain/round-record.ts';

const addr = (i: number) => `0x${(i + 1).toString(16).padStart(40, '0')}` as const;

describe('Merkle builder (StandardMerkleTree-compatible)', () => {
  it('matches @openzeppelin/merkle-tree roots and proofs for every size 1..40', () => {
    for (let n = 1; n <= 40; n++) {
      const values = Array.from(
        { length: n },
        (_, i) => [addr(i), BigInt(i * 1000 + 7)] as [`0x${string}`, bigint],
      );
      const oz = StandardMerkleTree.of(values, ['address', 'uint256']);
      const ours = buildRewardTree(values.map(([account, amount]) => ({ account, amount })));
      expect(ours.root).toBe(oz.root);
      for (let i = 0; i < n; i++) {
        const { proof } = ours.proofFor(values[i][0]);
        expect(proof).toEqual(oz.getProof(i));
        expect(verifyMerkleProof(rewardLeaf(values[i][0], values[i][1]), proof, ours.root)).toBe(true);
      }
      expect(ours.total).toBe(values.reduce((s, v) => s + v[1], 0n));
    }
  });

  it('rejects wrong leaves, empty trees, duplicates and unknown accounts', () => {
    const t = buildMerkleTree([recordLeaf(0n, keccak256(toHex('a'))), recordLeaf(1n, keccak256(toHex('b')))]);
    expect(verifyMerkleProof(recordLeaf(2n, keccak256(toHex('a'))), t.proof(0), t.root)).toBe(false);
    expect(() => buildMerkleTree([])).toThrow(/no leaves/);
    expect(() => t.proof(2)).toThrow(/out of range/);
    expect(() =>
      buildRewardTree([
        { account: addr(1), amount: 1n },
        { account: addr(1), amount: 2n },
      ]),
    ).toThrow(/twice/);
    expect(() => buildRewardTree([{ account: addr(1), amount: 1n }]).proofFor(addr(2))).toThrow(/no reward/);
  });

  it('round-record leaves equal StandardMerkleTree leaves of the 8-field encoding', () => {
    const recs: RoundRecord[] = Array.from({ length: 5 }, (_, i) => ({
      jobId: 3n,
      round: 7n,
      worker: addr(i),
      pseudoGradientHash: keccak256(toHex(`pg${i}`)) as Hex,
      sampleRoot: keccak256(toHex(`s${i}`)) as Hex,
      lossBefore: lossToFixed(2.25),
      lossAfter: lossToFixed(1.5 + i / 10),
      samples: 1024n,
    }));
    const oz = StandardMerkleTree.of(
      recs.map((r) => [
        r.jobId,
        r.round,
        r.worker,
        r.pseudoGradientHash,
        r.sampleRoot,
        r.lossBefore,
        r.lossAfter,
        r.samples,
      ]),
      ['uint256', 'uint256', 'address', 'bytes32', 'bytes32', 'uint256', 'uint256', 'uint64'],
    );
    expect(roundRecordsTree(recs).root).toBe(oz.root);
    expect(roundRecordLeaf(recs[0])).toBe(oz.leafHash(oz.at(0) as never));
    expect(lossToFixed(2.25)).toBe(2_250_000n);
  });

  it('builds 20k leaves quickly', () => {
    const leaves = Array.from({ length: 20_000 }, (_, i) =>
      recordLeaf(BigInt(i), `0x${i.toString(16).padStart(64, '0')}`),
    );
    const t0 = performance.now();
    const t = buildMerkleTree(leaves);
    const ms = performance.now() - t0;
    expect(verifyMerkleProof(leaves[19_999], t.proof(19_999), t.root)).toBe(true);
    expect(ms).toBeLessThan(10_000); // loose: a sanity bound, not a benchmark (OZ takes ~2.4 s for 20k here)
  });
});
