/**
 * EIP-712 domains, types and signing helpers for everything the protocol contracts verify:
 * dataset attestations (DataRegistry), round commits and reward roots (TrainingLedger), and workers'
 * round records (ComputeMarket equivocation proofs). The chain id and the verifying contract are in
 * every domain, so a signature cannot be replayed on another chain or deployment; the job id and round
 * are in every struct, so it cannot be replayed to another job or round.
 */
import type { Address, Hex, LocalAccount } from 'viem';
import { ROUND_RECORD_TYPES, type RoundRecord } from './round-record.ts';

export type Eip712Domain = { name: string; version: string; chainId: number; verifyingContract: Address };

export const domains = {
  dataRegistry: (chainId: number, verifyingContract: Address): Eip712Domain => ({
    name: 'Agora DataRegistry',
    version: '1',
    chainId,
    verifyingContract,
  }),
  trainingLedger: (chainId: number, verifyingContract: Address): Eip712Domain => ({
    name: 'Agora TrainingLedger',
    version: '1',
    chainId,
    verifyingContract,
  }),
  computeMarket: (chainId: number, verifyingContract: Address): Eip712Domain => ({
    name: 'Agora ComputeMarket',
    version: '1',
    chainId,
    verifyingContract,
  }),
};

/**
 * The dataset attestation a contributor signs (field `bytes` is the dataset size in bytes). It has no
 * nonce: a root registers at most once and the deadline bounds the signature's life, so it cannot be
 * replayed into a second registration (see contracts/DataRegistry.sol).
 */
export type DatasetAttestation = {
  root: Hex;
  records: bigint;
  bytes: bigint;
  licence: string;
  sector: string;
  manifestHash: Hex;
  contributor: Address;
  deadline: bigint;
};

export const DATASET_ATTESTATION_TYPES = {
  DatasetAttestation: [
    { name: 'root', type: 'bytes32' },
    { name: 'records', type: 'uint64' },
    { name: 'bytes', type: 'uint64' },
    { name: 'licence', type: 'string' },
    { name: 'sector', type: 'string' },
    { name: 'manifestHash', type: 'bytes32' },
    { name: 'contributor', type: 'address' },
    { name: 'deadline', type: 'uint256' },
  ],
} as const;

export const ROUND_COMMIT_TYPES = {
  RoundCommit: [
    { name: 'jobId', type: 'uint256' },
    { name: 'round', type: 'uint256' },
    { name: 'recordsRoot', type: 'bytes32' },
    { name: 'modelHash', type: 'bytes32' },
  ],
} as const;

export const REWARD_ROOT_TYPES = {
  RewardRoot: [
    { name: 'jobId', type: 'uint256' },
    { name: 'root', type: 'bytes32' },
    { name: 'total', type: 'uint256' },
  ],
} as const;

export type RoundCommit = { jobId: bigint; round: bigint; recordsRoot: Hex; modelHash: Hex };
export type RewardRootMessage = { jobId: bigint; root: Hex; total: bigint };

/** The contributor signs its dataset attestation for the DataRegistry at `registry`. */
export function signDatasetAttestation(
  signer: LocalAccount,
  domain: Eip712Domain,
  a: DatasetAttestation,
): Promise<Hex> {
  return signer.signTypedData({
    domain,
    types: DATASET_ATTESTATION_TYPES,
    primaryType: 'DatasetAttestation',
    message: a,
  });
}

/** A job participant co-signs a round commit for the TrainingLedger. */
export function signRoundCommit(signer: LocalAccount, domain: Eip712Domain, c: RoundCommit): Promise<Hex> {
  return signer.signTypedData({ domain, types: ROUND_COMMIT_TYPES, primaryType: 'RoundCommit', message: c });
}

/** A job participant co-signs the job's reward root for the TrainingLedger. */
export function signRewardRoot(
  signer: LocalAccount,
  domain: Eip712Domain,
  r: RewardRootMessage,
): Promise<Hex> {
  return signer.signTypedData({ domain, types: REWARD_ROOT_TYPES, primaryType: 'RewardRoot', message: r });
}

/** A worker signs its round record (ComputeMarket domain). Two different ones for one round get it slashed. */
export function signRoundRecord(signer: LocalAccount, domain: Eip712Domain, r: RoundRecord): Promise<Hex> {
  return signer.signTypedData({ domain, types: ROUND_RECORD_TYPES, primaryType: 'RoundRecord', message: r });
}
