/**
 * A fast Merkle tree that is byte-for-byte OpenZeppelin's `StandardMerkleTree` for leaves of two
 * 32-byte ABI words — `["uint256","bytes32"]` (records: index, contentHash) and
 * `["uint256","uint256"]` (usage samples: datasetId, index):
 *
 *   leaf  = keccak256(keccak256(abi.encode(w0, w1)))          (abi.encode of two words = w0 ‖ w1)
 *   node  = keccak256(min(a, b) ‖ max(a, b))                  (sorted-pair hashing, OZ MerkleProof)
 *   order = leaves sorted by hash (stable), stored in OZ's heap layout: with T = 2n − 1 nodes,
 *           sorted leaf i sits at tree index T − 1 − i and node i has children 2i + 1 and 2i + 2.
 *
 * Same layout means the same root AND the same proofs as `StandardMerkleTree.of(values, types)`,
 * and OpenZeppelin's `MerkleProof.verify` accepts them on-chain. Pure: no I/O.
 *
 * Speed: all nodes live in one `Uint8Array` of 32-byte slots; hashing reads straight from it (a
 * node's two children are adjacent, so an already-ordered pair is hashed in place), leaves are sorted
 * by an LSD radix sort on their first 4 bytes with a full comparison only inside equal-prefix runs.
 */
import { type Hex, hexToBytes } from 'viem';
import { AgoraError } from '../errors.ts';
import { BATCH, batchInput, batchOutput, hashBatchInput, keccak256Into } from './keccak.ts';

export type MerkleTree = {
  /** Number of leaves. */
  readonly count: number;
  readonly root: Hex;
  /** All 2n − 1 nodes, 32 bytes each, in OZ's heap layout (node 0 is the root). */
  readonly nodes: Uint8Array;
  /** treeIndexOf[valueIndex] = where leaf `valueIndex` (input order) sits in `nodes`. */
  readonly treeIndexOf: Uint32Array;
  /** The leaf hash of input value `valueIndex`. */
  leaf(valueIndex: number): Hex;
  /** OZ-compatible proof (sibling hashes, leaf to root) for input value `valueIndex`. */
  proof(valueIndex: number): Hex[];
};

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** `bytes[off .. off+32]` as 0x-hex. */
export function slotHex(bytes: Uint8Array, off: number): Hex {
  let s = '0x';
  for (let i = off; i < off + 32; i++) s += HEX[bytes[i]];
  return s as Hex;
}

/** Writes `value` (< 2^256) big-endian into `buf[off .. off+32]`. */
export function writeUint256(buf: Uint8Array, off: number, value: number | bigint): void {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
    buf.fill(0, off, off + 24);
    let v = value;
    for (let i = off + 31; i >= off + 24; i--) {
      buf[i] = v % 256;
      v = Math.floor(v / 256);
    }
    return;
  }
  let v = BigInt(value);
  if (v < 0n || v >= 1n << 256n) throw new AgoraError('BAD_UINT256', `${value} does not fit a uint256`);
  for (let i = off + 31; i >= off; i--) {
    buf[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/**
 * OZ standard leaf hashes for `n` two-word values: `words` holds them back to back (64 bytes each:
 * abi.encode(w0, w1)). Returns n × 32 bytes.
 */
export function twoWordLeaves(words: Uint8Array, n: number): Uint8Array {
  if (words.length < n * 64)
    throw new AgoraError('MERKLE_INPUT', `need ${n * 64} bytes of words, got ${words.length}`);
  const out = new Uint8Array(n * 32);
  for (let start = 0; start < n; start += BATCH) {
    const m = Math.min(BATCH, n - start);
    batchInput.set(words.subarray(start * 64, (start + m) * 64));
    doubleHashBatch(m);
    out.set(batchOutput.subarray(0, m * 32), start * 32);
  }
  return out;
}

/** Leaf = keccak256(keccak256(64-byte word pair)) for the m pairs in `batchInput`, into `batchOutput`. */
function doubleHashBatch(m: number): void {
  hashBatchInput(m, 64, 64);
  batchInput.set(batchOutput.subarray(0, m * 32));
  hashBatchInput(m, 32, 32);
}

/**
 * Leaf hashes of records: value i is `(uint256 i, bytes32 contentHashes[i])`, the record tree's
 * leaves. `contentHashes` holds n × 32 bytes. Returns n × 32 bytes.
 */
export function recordLeaves(contentHashes: Uint8Array): Uint8Array {
  if (contentHashes.length % 32 !== 0) {
    throw new AgoraError('MERKLE_INPUT', 'content hashes must be a whole number of 32-byte hashes');
  }
  const n = contentHashes.length / 32;
  const out = new Uint8Array(n * 32);
  for (let start = 0; start < n; start += BATCH) {
    const m = Math.min(BATCH, n - start);
    batchInput.fill(0, 0, m * 64);
    for (let k = 0; k < m; k++) {
      const i = start + k;
      const o = k * 64;
      // uint256 index, big-endian (indices stay below 2^32 here)
      batchInput[o + 28] = i >>> 24;
      batchInput[o + 29] = i >>> 16;
      batchInput[o + 30] = i >>> 8;
      batchInput[o + 31] = i;
      batchInput.set(contentHashes.subarray(i * 32, i * 32 + 32), o + 32);
    }
    doubleHashBatch(m);
    out.set(batchOutput.subarray(0, m * 32), start * 32);
  }
  return out;
}

/** The OZ standard leaf hash of one `(uint256 a, uint256|bytes32 b)` value. */
export function twoWordLeaf(a: bigint | number, b: bigint | number | Hex): Hex {
  const word = new Uint8Array(64);
  writeUint256(word, 0, a);
  if (typeof b === 'string') {
    const bytes = hexToBytes(b);
    if (bytes.length !== 32) throw new AgoraError('MERKLE_INPUT', `expected a 32-byte hash, got ${b}`);
    word.set(bytes, 32);
  } else writeUint256(word, 32, b);
  keccak256Into(word, 0, 64, word, 0);
  keccak256Into(word, 0, 32, word, 0);
  return slotHex(word, 0);
}

/** Compares two 32-byte slots lexicographically (as OZ's `compare` on bytes). */
function compareSlots(a: Uint8Array, ao: number, b: Uint8Array, bo: number): number {
  for (let k = 0; k < 32; k++) {
    const d = a[ao + k] - b[bo + k];
    if (d !== 0) return d;
  }
  return 0;
}

/** Value indices ordered by leaf hash, stable (the order OZ's `Array.prototype.sort` produces). */
export function sortedLeafOrder(leaves: Uint8Array, n: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (n < 2) return order;
  // 32-bit big-endian prefixes, LSD radix sort in two 16-bit passes (stable).
  const key = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * 32;
    key[i] = ((leaves[o] << 24) | (leaves[o + 1] << 16) | (leaves[o + 2] << 8) | leaves[o + 3]) >>> 0;
  }
  const tmp = new Uint32Array(n);
  const count = new Uint32Array(65537);
  let src = order;
  let dst = tmp;
  for (const shift of [0, 16]) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[((key[src[i]] >>> shift) & 0xffff) + 1]++;
    for (let d = 1; d <= 65536; d++) count[d] += count[d - 1];
    for (let i = 0; i < n; i++) {
      const v = src[i];
      dst[count[(key[v] >>> shift) & 0xffff]++] = v;
    }
    const t = src;
    src = dst;
    dst = t;
  }
  // src is now sorted by prefix (two passes: back in `order`). Fully order runs of equal prefixes.
  for (let i = 0; i < n; ) {
    let j = i + 1;
    while (j < n && key[src[j]] === key[src[i]]) j++;
    if (j - i > 1) {
      const run = Array.from(src.subarray(i, j));
      run.sort((a, b) => compareSlots(leaves, a * 32, leaves, b * 32) || a - b);
      src.set(run, i);
    }
    i = j;
  }
  return src;
}

/** Hashes the sorted pair of 32-byte slots at `ao` and `bo` of `src` into `dst[dOff]`. */
function hashPair(
  src: Uint8Array,
  ao: number,
  bo: number,
  dst: Uint8Array,
  dOff: number,
  scratch: Uint8Array,
): void {
  if (compareSlots(src, ao, src, bo) <= 0) {
    if (bo === ao + 32) {
      keccak256Into(src, ao, 64, dst, dOff);
      return;
    }
    scratch.set(src.subarray(ao, ao + 32), 0);
    scratch.set(src.subarray(bo, bo + 32), 32);
  } else {
    scratch.set(src.subarray(bo, bo + 32), 0);
    scratch.set(src.subarray(ao, ao + 32), 32);
  }
  keccak256Into(scratch, 0, 64, dst, dOff);
}

/**
 * Builds the tree over `leaves` (n × 32 bytes of leaf hashes, in value order). `n` may not be 0.
 * `onProgress(done, total)` is called now and then with internal nodes hashed.
 */
export function buildMerkleTree(
  leaves: Uint8Array,
  opts: { onProgress?: (done: number, total: number) => void } = {},
): MerkleTree {
  if (leaves.length % 32 !== 0) throw new AgoraError('MERKLE_INPUT', 'leaves must be whole 32-byte hashes');
  const n = leaves.length / 32;
  if (n === 0) {
    throw new AgoraError('MERKLE_EMPTY', 'a Merkle tree needs at least one leaf', {
      hint: 'the source produced no records; check the path and --format',
    });
  }
  if (n > 0x7fffffff)
    throw new AgoraError('MERKLE_TOO_LARGE', `${n} leaves is more than this builder supports`);
  const total = 2 * n - 1;
  const nodes = new Uint8Array(total * 32);
  const order = sortedLeafOrder(leaves, n);
  const treeIndexOf = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const v = order[i];
    const t = total - 1 - i;
    nodes.set(leaves.subarray(v * 32, v * 32 + 32), t * 32);
    treeIndexOf[v] = t;
  }
  // Internal nodes from the last to the first, in batches [lo, hi) whose children (2lo+1 .. 2hi)
  // are all done: needs hi <= 2lo + 1. The children of a batch are one contiguous run of slots.
  const internal = total - n;
  let lastReport = internal;
  for (let hi = internal; hi > 0; ) {
    const lo = Math.max(hi - BATCH, hi >>> 1);
    const m = hi - lo;
    const from = (2 * lo + 1) * 32;
    batchInput.set(nodes.subarray(from, from + m * 64));
    for (let k = 0; k < m; k++) {
      const o = k * 64;
      if (compareSlots(batchInput, o, batchInput, o + 32) > 0) {
        for (let q = 0; q < 32; q++) {
          const t = batchInput[o + q];
          batchInput[o + q] = batchInput[o + 32 + q];
          batchInput[o + 32 + q] = t;
        }
      }
    }
    hashBatchInput(m, 64, 64);
    nodes.set(batchOutput.subarray(0, m * 32), lo * 32);
    hi = lo;
    if (opts.onProgress && lastReport - hi >= 1 << 17) {
      lastReport = hi;
      opts.onProgress(internal - hi, internal);
    }
  }
  return makeTree(nodes, treeIndexOf);
}

function makeTree(nodes: Uint8Array, treeIndexOf: Uint32Array): MerkleTree {
  const count = treeIndexOf.length;
  return {
    count,
    root: slotHex(nodes, 0),
    nodes,
    treeIndexOf,
    leaf(valueIndex) {
      checkIndex(valueIndex, count);
      return slotHex(nodes, treeIndexOf[valueIndex] * 32);
    },
    proof(valueIndex) {
      checkIndex(valueIndex, count);
      const proof: Hex[] = [];
      let j = treeIndexOf[valueIndex];
      while (j > 0) {
        const sibling = j % 2 === 1 ? j + 1 : j - 1;
        proof.push(slotHex(nodes, sibling * 32));
        j = (j - 1) >>> 1;
      }
      return proof;
    },
  };
}

function checkIndex(valueIndex: number, count: number): void {
  if (!Number.isInteger(valueIndex) || valueIndex < 0 || valueIndex >= count) {
    throw new AgoraError(
      'INDEX_OUT_OF_RANGE',
      `index ${valueIndex} is out of range: the tree has ${count} leaves`,
      {
        hint: `use an index from 0 to ${count - 1}`,
      },
    );
  }
}

/** The root a proof leads to from `leaf` (sorted-pair hashing, as OZ `MerkleProof.processProof`). */
export function processProof(leaf: Hex, proof: readonly Hex[]): Hex {
  const buf = new Uint8Array(96);
  const cur = hexToBytes(leaf);
  if (cur.length !== 32) throw new AgoraError('BAD_PROOF', `leaf ${leaf} is not 32 bytes`);
  buf.set(cur, 0);
  const scratch = new Uint8Array(64);
  for (const p of proof) {
    const sib = hexToBytes(p);
    if (sib.length !== 32) throw new AgoraError('BAD_PROOF', `proof element ${p} is not 32 bytes`);
    buf.set(sib, 32);
    hashPair(buf, 0, 32, buf, 0, scratch);
  }
  return slotHex(buf, 0);
}

/** True when `proof` takes `leaf` to `root`. */
export function verifyProof(root: Hex, leaf: Hex, proof: readonly Hex[]): boolean {
  return processProof(leaf, proof).toLowerCase() === root.toLowerCase();
}
