/**
 * A fast Merkle tree builder compatible with OpenZeppelin's StandardMerkleTree and `MerkleProof`:
 * leaves are double-hashed ABI encodings, pairs are hashed sorted, leaves are sorted by hash and laid out
 * in the same array layout, so roots and proofs equal `@openzeppelin/merkle-tree`'s. Pure (no I/O).
 */
import { keccak_256 } from '@noble/hashes/sha3.js';
import { type Address, bytesToHex, encodeAbiParameters, type Hex, hexToBytes } from 'viem';
import { AgoraError } from '../errors.ts';

export type MerkleTree = {
  root: Hex;
  /** Leaf hashes in input order. */
  leaves: Hex[];
  /** Proof for the leaf at input position `i`. */
  proof(i: number): Hex[];
};

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

function hashPairBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const buf = new Uint8Array(64);
  if (compareBytes(a, b) <= 0) {
    buf.set(a, 0);
    buf.set(b, 32);
  } else {
    buf.set(b, 0);
    buf.set(a, 32);
  }
  return keccak_256(buf);
}

/** keccak256 of the sorted concatenation of two 32-byte nodes (OpenZeppelin's commutative hash). */
export function hashPair(a: Hex, b: Hex): Hex {
  return bytesToHex(hashPairBytes(hexToBytes(a), hexToBytes(b)));
}

/** StandardMerkleTree leaf: keccak256(keccak256(abiEncoded)). */
export function standardLeaf(abiEncoded: Hex): Hex {
  return bytesToHex(keccak_256(keccak_256(hexToBytes(abiEncoded))));
}

/** Builds the tree over already-hashed leaves (each 32 bytes), in StandardMerkleTree's layout. */
export function buildMerkleTree(leaves: readonly Hex[]): MerkleTree {
  const n = leaves.length;
  if (n === 0) throw new AgoraError('MERKLE_EMPTY', 'cannot build a Merkle tree with no leaves');
  const bytes = leaves.map((l, i) => {
    const b = hexToBytes(l);
    if (b.length !== 32) throw new AgoraError('MERKLE_LEAF', `leaf ${i} is ${b.length} bytes, expected 32`);
    return b;
  });
  const order = bytes.map((_, i) => i).sort((x, y) => compareBytes(bytes[x], bytes[y]));
  const len = 2 * n - 1;
  const tree: Uint8Array[] = new Array(len);
  const treeIndexOf = new Int32Array(n);
  for (let p = 0; p < n; p++) {
    tree[len - 1 - p] = bytes[order[p]];
    treeIndexOf[order[p]] = len - 1 - p;
  }
  for (let i = len - 1 - n; i >= 0; i--) tree[i] = hashPairBytes(tree[2 * i + 1], tree[2 * i + 2]);
  return {
    root: bytesToHex(tree[0]),
    leaves: [...leaves],
    proof(i: number): Hex[] {
      if (!Number.isInteger(i) || i < 0 || i >= n) {
        throw new AgoraError('MERKLE_INDEX', `leaf index ${i} is out of range 0..${n - 1}`);
      }
      const out: Hex[] = [];
      let k = treeIndexOf[i];
      while (k > 0) {
        out.push(bytesToHex(tree[k % 2 === 1 ? k + 1 : k - 1]));
        k = Math.floor((k - 1) / 2);
      }
      return out;
    },
  };
}

/** Verifies a proof like OpenZeppelin's MerkleProof.verify. */
export function verifyMerkleProof(leaf: Hex, proof: readonly Hex[], root: Hex): boolean {
  let h = hexToBytes(leaf);
  for (const p of proof) h = hashPairBytes(h, hexToBytes(p));
  return bytesToHex(h) === root.toLowerCase();
}

/** A reward entry: `amount` AGORA wei for `account`. */
export type RewardEntry = { account: Address; amount: bigint };

/** Reward leaf, as TrainingLedger.claim computes it: StandardMerkleTree ["address","uint256"]. */
export function rewardLeaf(account: Address, amount: bigint): Hex {
  return standardLeaf(encodeAbiParameters([{ type: 'address' }, { type: 'uint256' }], [account, amount]));
}

export type RewardTree = {
  root: Hex;
  /** Sum of all amounts: the `total` posted with the root (must not exceed the job's funded escrow). */
  total: bigint;
  entries: RewardEntry[];
  /** Proof for `account` (throws if it has no entry). */
  proofFor(account: Address): { amount: bigint; proof: Hex[] };
};

/** Builds a reward tree; each account may appear once (the ledger allows one claim per account and epoch). */
export function buildRewardTree(entries: readonly RewardEntry[]): RewardTree {
  const index = new Map<string, number>();
  entries.forEach((e, i) => {
    const k = e.account.toLowerCase();
    if (index.has(k))
      throw new AgoraError('REWARD_DUPLICATE', `account ${e.account} appears twice in the rewards`);
    if (e.amount < 0n) throw new AgoraError('REWARD_NEGATIVE', `negative reward for ${e.account}`);
    index.set(k, i);
  });
  const tree = buildMerkleTree(entries.map((e) => rewardLeaf(e.account, e.amount)));
  return {
    root: tree.root,
    total: entries.reduce((s, e) => s + e.amount, 0n),
    entries: [...entries],
    proofFor(account: Address) {
      const i = index.get(account.toLowerCase());
      if (i === undefined) throw new AgoraError('REWARD_NO_ENTRY', `${account} has no reward in this tree`);
      return { amount: entries[i].amount, proof: tree.proof(i) };
    },
  };
}

/** Dataset record leaf, as DataRegistry.verifyRecord computes it: StandardMerkleTree ["uint256","bytes32"]. */
export function recordLeaf(index: bigint, contentHash: Hex): Hex {
  return standardLeaf(encodeAbiParameters([{ type: 'uint256' }, { type: 'bytes32' }], [index, contentHash]));
}
