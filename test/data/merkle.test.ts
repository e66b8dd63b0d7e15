import { randomBytes } from 'node:crypto';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import type { Hex } from 'viem';
import { describe, expect, it } from 'vitest';
import {
  buildMerkleTree,
  processProof,
  recordLeaves,
  twoWordLeaf,
  twoWordLeaves,
  verifyProof,
  writeUint256,
} from '../../src/data/merkle.ts';

function randomHashes(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n * 32));
}
const hashAt = (h: Uint8Array, i: number): Hex =>
  `0x${Buffer.from(h.subarray(i * 32, i * 32 + 32)).toString('hex')}`;

describe('record Merkle tree vs @openzeppelin/merkle-tree', () => {
  for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100, 333]) {
    it(`same root and same proofs for ${n} random leaves`, () => {
      const h = randomHashes(n);
      const values = Array.from({ length: n }, (_, i) => [i, hashAt(h, i)]);
      const oz = StandardMerkleTree.of(values, ['uint256', 'bytes32']);
      const ours = buildMerkleTree(recordLeaves(h));
      expect(ours.root).toBe(oz.root);
      for (let i = 0; i < n; i++) {
        const proof = ours.proof(i);
        expect(proof).toEqual(oz.getProof(i));
        expect(StandardMerkleTree.verify(oz.root, ['uint256', 'bytes32'], values[i], proof)).toBe(true);
        expect(verifyProof(ours.root, ours.leaf(i), proof)).toBe(true);
      }
    });
  }

  it('a single leaf is its own root with an empty proof', () => {
    const h = randomHashes(1);
    const t = buildMerkleTree(recordLeaves(h));
    expect(t.proof(0)).toEqual([]);
    expect(t.root).toBe(twoWordLeaf(0, hashAt(h, 0)));
  });

  it('handles leaves with equal 4-byte prefixes (the radix sort tie-break)', () => {
    // Craft leaf hashes directly: many share the first 4 bytes, so the full comparison decides.
    const n = 50;
    const leaves = randomHashes(n);
    for (let i = 0; i < n; i += 2) leaves.set([1, 2, 3, 4], i * 32);
    const t = buildMerkleTree(leaves);
    const hexLeaves = Array.from({ length: n }, (_, i) => hashAt(leaves, i));
    const sorted = [...hexLeaves].sort();
    // OZ layout: sorted leaf k sits at tree index 2n-2-k
    for (let k = 0; k < n; k++) {
      const v = hexLeaves.indexOf(sorted[k]);
      expect(t.treeIndexOf[v]).toBe(2 * n - 2 - k);
    }
    for (let i = 0; i < n; i++) expect(processProof(t.leaf(i), t.proof(i))).toBe(t.root);
  });

  it('uint256/uint256 leaves (usage samples) match OZ too', () => {
    const pairs = [
      [1n, 0n],
      [1n, 5n],
      [2n, 3n],
      [7n, 123456789n],
    ] as const;
    const words = new Uint8Array(pairs.length * 64);
    pairs.forEach(([a, b], k) => {
      writeUint256(words, k * 64, a);
      writeUint256(words, k * 64 + 32, b);
    });
    const t = buildMerkleTree(twoWordLeaves(words, pairs.length));
    const oz = StandardMerkleTree.of(
      pairs.map(([a, b]) => [a, b]),
      ['uint256', 'uint256'],
    );
    expect(t.root).toBe(oz.root);
    for (let k = 0; k < pairs.length; k++) expect(t.proof(k)).toEqual(oz.getProof(k));
  });

  it('rejects a wrong index, a tampered content hash and a tampered proof', () => {
    const h = randomHashes(20);
    const t = buildMerkleTree(recordLeaves(h));
    const p = t.proof(3);
    expect(verifyProof(t.root, twoWordLeaf(3, hashAt(h, 3)), p)).toBe(true);
    expect(verifyProof(t.root, twoWordLeaf(4, hashAt(h, 3)), p)).toBe(false);
    expect(verifyProof(t.root, twoWordLeaf(3, hashAt(h, 4)), p)).toBe(false);
    const bad = [...p];
    bad[0] = `0x${'11'.repeat(32)}`;
    expect(verifyProof(t.root, twoWordLeaf(3, hashAt(h, 3)), bad)).toBe(false);
    expect(() => t.proof(20)).toThrow(/out of range: the tree has 20 leaves/);
  });

  it('refuses an empty tree with a clear error', () => {
    expect(() => buildMerkleTree(new Uint8Array(0))).toThrow(/at least one leaf/);
  });
});
