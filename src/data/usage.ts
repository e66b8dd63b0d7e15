/**
 * Usage accounting (pure): which dataset records a worker trained on in one round, committed as the
 * `sampleRoot` of its round record, and the per-dataset counts the DataDAO reward split uses.
 *
 * sampleRoot: an OpenZeppelin StandardMerkleTree over ["uint256","uint256"] values
 * `(datasetId, index)` — leaf = keccak256(keccak256(abi.encode(datasetId, index))). The pairs are
 * canonicalised first: duplicates removed (a record is used in a round or not), sorted by datasetId
 * then index (numerically). The root does not depend on the order (OZ sorts leaves by hash), but the
 * canonical order fixes value positions for proofs and makes the list itself reproducible.
 * A round with no samples has sampleRoot = bytes32(0).
 */
import type { Hex } from 'viem';
import { AgoraError } from '../errors.ts';
import {
  buildMerkleTree,
  type MerkleTree,
  twoWordLeaf,
  twoWordLeaves,
  verifyProof,
  writeUint256,
} from './merkle.ts';

/** One used record: (datasetId, index). */
export type SamplePair = readonly [datasetId: bigint, index: number];

export const ZERO_ROOT: Hex = `0x${'0'.repeat(64)}`;

/** Distinct pairs sorted by (datasetId, index). Throws on negative or non-integer values. */
export function canonicalSamples(pairs: Iterable<SamplePair>): SamplePair[] {
  const byDataset = new Map<bigint, Set<number>>();
  for (const [d, i] of pairs) {
    if (typeof d !== 'bigint' || d < 1n) {
      throw new AgoraError(
        'USAGE_BAD_SAMPLE',
        `dataset id ${String(d)} is not a registered id (ids start at 1)`,
      );
    }
    if (!Number.isSafeInteger(i) || i < 0)
      throw new AgoraError('USAGE_BAD_SAMPLE', `record index ${i} is not valid`);
    let s = byDataset.get(d);
    if (!s) {
      s = new Set();
      byDataset.set(d, s);
    }
    s.add(i);
  }
  const out: SamplePair[] = [];
  for (const d of [...byDataset.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const idx = Float64Array.from(byDataset.get(d)!).sort();
    for (const i of idx) out.push([d, i]);
  }
  return out;
}

/** The Merkle tree over canonical pairs (value k = canonical pair k). Needs at least one pair. */
export function sampleTree(canonical: readonly SamplePair[]): MerkleTree {
  const words = new Uint8Array(canonical.length * 64);
  canonical.forEach(([d, i], k) => {
    writeUint256(words, k * 64, d);
    writeUint256(words, k * 64 + 32, i);
  });
  return buildMerkleTree(twoWordLeaves(words, canonical.length));
}

/** The sampleRoot of a round's used records (bytes32(0) when none). */
export function sampleRoot(pairs: Iterable<SamplePair>): Hex {
  const c = canonicalSamples(pairs);
  return c.length === 0 ? ZERO_ROOT : sampleTree(c).root;
}

export type SampleProof = { datasetId: string; index: number; sampleRoot: Hex; proof: Hex[] };

/** Proof that (datasetId, index) is among `pairs` (a round's usage). */
export function proveSample(pairs: Iterable<SamplePair>, datasetId: bigint, index: number): SampleProof {
  const c = canonicalSamples(pairs);
  const k = c.findIndex(([d, i]) => d === datasetId && i === index);
  if (k < 0) {
    throw new AgoraError(
      'USAGE_NOT_USED',
      `record ${index} of dataset ${datasetId} was not used in this round`,
    );
  }
  const tree = sampleTree(c);
  return { datasetId: datasetId.toString(), index, sampleRoot: tree.root, proof: tree.proof(k) };
}

/** Checks a sample proof against a committed sampleRoot (as OZ MerkleProof would on-chain). */
export function verifySample(root: Hex, datasetId: bigint, index: number, proof: readonly Hex[]): boolean {
  if (root === ZERO_ROOT) return false;
  return verifyProof(root, twoWordLeaf(datasetId, BigInt(index)), proof);
}

/** Distinct records used per dataset (key: dataset id as decimal string). */
export function countByDataset(pairs: Iterable<SamplePair>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [d] of canonicalSamples(pairs)) counts.set(d.toString(), (counts.get(d.toString()) ?? 0) + 1);
  return counts;
}

/**
 * Usage across many worker-rounds, as the DataDAO reward split counts it: `uses` = sum over
 * worker-rounds of distinct records used; `distinctRecords` = records used at least once in the job.
 */
export function usageTotals(
  rounds: Iterable<Iterable<SamplePair>>,
): Map<string, { uses: number; distinctRecords: number }> {
  const uses = new Map<string, number>();
  const seen = new Map<string, Set<number>>();
  for (const r of rounds) {
    for (const [d, i] of canonicalSamples(r)) {
      const key = d.toString();
      uses.set(key, (uses.get(key) ?? 0) + 1);
      let s = seen.get(key);
      if (!s) {
        s = new Set();
        seen.set(key, s);
      }
      s.add(i);
    }
  }
  const out = new Map<string, { uses: number; distinctRecords: number }>();
  for (const key of [...uses.keys()].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))) {
    out.set(key, { uses: uses.get(key)!, distinctRecords: seen.get(key)!.size });
  }
  return out;
}

/** Compact JSON form of pairs: `{ "<datasetId>": [indices...] }` (canonical order). */
export function samplesToJson(pairs: Iterable<SamplePair>): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [d, i] of canonicalSamples(pairs)) {
    const key = d.toString();
    out[key] ??= [];
    out[key].push(i);
  }
  return out;
}

export function samplesFromJson(json: Record<string, readonly number[]>): SamplePair[] {
  const pairs: SamplePair[] = [];
  for (const [d, list] of Object.entries(json)) {
    if (!/^\d+$/.test(d)) throw new AgoraError('USAGE_BAD_SAMPLE', `"${d}" is not a dataset id`);
    if (!Array.isArray(list))
      throw new AgoraError('USAGE_BAD_SAMPLE', `samples of dataset ${d} must be an array`);
    for (const i of list) pairs.push([BigInt(d), i]);
  }
  return pairs;
}
