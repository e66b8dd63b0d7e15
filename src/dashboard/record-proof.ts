/**
 * Checking a record's inclusion proof where it is shown (pure; runs in the page): the record's
 * bytes hash to its content hash, the leaf is OpenZeppelin's StandardMerkleTree leaf of
 * (uint256 index, bytes32 contentHash) — keccak256(keccak256(abi.encode(index, contentHash))) —
 * and the proof climbs from it with sorted-pair hashing to the dataset's root registered on chain
 * (what DataRegistry.verifyRecord computes). Uses only @noble/hashes, so the page stays small.
 */
import { keccak_256 } from '@noble/hashes/sha3.js';
import type { RecordProofView } from './types.ts';

export type ProofCheck = {
  ok: boolean;
  contentHash: string;
  contentHashMatches: boolean;
  leaf: string;
  computedRoot: string;
  rootMatches: boolean;
};

export function hexToBytes(hex: string): Uint8Array {
  const h = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (h.length % 2 !== 0 || /[^0-9a-fA-F]/.test(h)) throw new Error(`not hex: ${hex.slice(0, 20)}…`);
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(b: Uint8Array): string {
  let s = '0x';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** The dataset leaf of record `index` with `contentHash` (32 bytes). */
export function recordLeafBytes(index: number, contentHash: Uint8Array): Uint8Array {
  const enc = new Uint8Array(64);
  let v = BigInt(index);
  for (let i = 31; i >= 0 && v > 0n; i--) {
    enc[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  enc.set(contentHash, 32);
  return keccak_256(keccak_256(enc));
}

export function checkRecordProof(p: RecordProofView): ProofCheck {
  const contentHash = keccak_256(hexToBytes(p.record));
  const contentHashMatches = bytesToHex(contentHash) === p.contentHash.toLowerCase();
  const leaf = recordLeafBytes(p.index, contentHash);
  let node = leaf;
  for (const sibHex of p.proof) {
    const sib = hexToBytes(sibHex);
    const pair = new Uint8Array(64);
    const [lo, hi] = compare(node, sib) <= 0 ? [node, sib] : [sib, node];
    pair.set(lo, 0);
    pair.set(hi, 32);
    node = keccak_256(pair);
  }
  const computedRoot = bytesToHex(node);
  const rootMatches = computedRoot === p.root.toLowerCase();
  return {
    ok: contentHashMatches && rootMatches,
    contentHash: bytesToHex(contentHash),
    contentHashMatches,
    leaf: bytesToHex(leaf),
    computedRoot,
    rootMatches,
  };
}
