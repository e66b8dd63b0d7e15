/**
 * Round records: what each worker reports about one DiLoCo round of a job. Pure encoders (no I/O) for
 * the TrainingLedger leaf (the per-round Merkle root commits to all participants' records) and the
 * EIP-712 typed data a worker signs for its record (ComputeMarket uses two different signed records for
 * the same job and round as an equivocation proof).
 */
import { type Address, encodeAbiParameters, type Hex } from 'viem';
import { buildMerkleTree, type MerkleTree, standardLeaf } from './merkle.ts';

export type RoundRecord = {
  jobId: bigint;
  /** 0-based outer round. */
  round: bigint;
  worker: Address;
  pseudoGradientHash: Hex;
  /** Merkle root of the (datasetId, index) samples the worker trained on. */
  sampleRoot: Hex;
  /** Loss × 1e6 before the round's inner steps. */
  lossBefore: bigint;
  /** Loss × 1e6 after. */
  lossAfter: bigint;
  samples: bigint;
};

const ROUND_RECORD_ABI = [
  { type: 'uint256' },
  { type: 'uint256' },
  { type: 'address' },
  { type: 'bytes32' },
  { type: 'bytes32' },
  { type: 'uint256' },
  { type: 'uint256' },
  { type: 'uint64' },
] as const;

/** abi.encode(jobId, round, worker, pseudoGradientHash, sampleRoot, lossBefore, lossAfter, samples). */
export function encodeRoundRecord(r: RoundRecord): Hex {
  return encodeAbiParameters(ROUND_RECORD_ABI, [
    r.jobId,
    r.round,
    r.worker,
    r.pseudoGradientHash,
    r.sampleRoot,
    r.lossBefore,
    r.lossAfter,
    r.samples,
  ]);
}

/** The TrainingLedger leaf: keccak256(keccak256(abi.encode(...record))). */
export function roundRecordLeaf(r: RoundRecord): Hex {
  return standardLeaf(encodeRoundRecord(r));
}

/** The Merkle tree over a round's records (its root is `recordsRoot` in commitRound). */
export function roundRecordsTree(records: readonly RoundRecord[]): MerkleTree {
  return buildMerkleTree(records.map(roundRecordLeaf));
}

/** Loss as the fixed-point integer the records carry (loss × 1e6, rounded). */
export function lossToFixed(loss: number): bigint {
  return BigInt(Math.round(loss * 1e6));
}

/** EIP-712 types of a worker's signed round record (domain: "Agora ComputeMarket" v1, the market's address). */
export const ROUND_RECORD_TYPES = {
  RoundRecord: [
    { name: 'jobId', type: 'uint256' },
    { name: 'round', type: 'uint256' },
    { name: 'worker', type: 'address' },
    { name: 'pseudoGradientHash', type: 'bytes32' },
    { name: 'sampleRoot', type: 'bytes32' },
    { name: 'lossBefore', type: 'uint256' },
    { name: 'lossAfter', type: 'uint256' },
    { name: 'samples', type: 'uint64' },
  ],
} as const;
