/**
 * Checkpoint hash: keccak256 of the complete safetensors file bytes (header included), as
 * 0x-prefixed lowercase hex — the same hash function the chain and the data-provenance layer use,
 * so a checkpoint hash can be committed on-chain and linked to the job that produced it. Because
 * `encodeSafetensors` is deterministic (sorted names, fixed padding), equal tensors and metadata
 * give equal hashes.
 */
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex } from '@noble/hashes/utils.js';

export type Hex32 = `0x${string}`;

export function checkpointHash(fileBytes: Uint8Array): Hex32 {
  return `0x${bytesToHex(keccak_256(fileBytes))}`;
}
