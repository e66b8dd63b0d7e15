/**
 * A validator's signed statement about one committed round: which workers it could NOT verify
 * (the worker was down, refused, or served data that did not match its commitments, after the
 * validator's retries). Workers it checked and found wrong are reported for fraud instead; every
 * other worker of the round was verified. The coordinator collects these from approved validators
 * and every provider checks the signatures before it co-signs the reward split, where a round
 * that no validator could verify earns its worker nothing (src/market/job-rewards.ts).
 *
 * Signed with EIP-191 over keccak256(abi.encode("agora.check-attestation.v1", jobId, round,
 * sorted lowercase-normalized workers)).
 */
import {
  type Address,
  encodeAbiParameters,
  getAddress,
  type Hex,
  keccak256,
  type LocalAccount,
  recoverMessageAddress,
} from 'viem';

export type CheckAttestation = {
  validator: Address;
  jobId: bigint;
  round: number;
  /** Workers of the round the validator could not verify (any order; hashed sorted). */
  unverifiable: Address[];
  signature: Hex;
};

export type CheckAttestationJson = Omit<CheckAttestation, 'jobId'> & { jobId: string };

function sorted(workers: readonly Address[]): Address[] {
  return [...new Set(workers.map((w) => getAddress(w)))].sort((a, b) =>
    a.toLowerCase() < b.toLowerCase() ? -1 : 1,
  );
}

export function checkAttestationHash(jobId: bigint, round: number, unverifiable: readonly Address[]): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: 'string' }, { type: 'uint256' }, { type: 'uint256' }, { type: 'address[]' }],
      ['agora.check-attestation.v1', jobId, BigInt(round), sorted(unverifiable)],
    ),
  );
}

export async function signCheckAttestation(
  account: LocalAccount,
  jobId: bigint,
  round: number,
  unverifiable: readonly Address[],
): Promise<CheckAttestation> {
  const signature = await account.signMessage({
    message: { raw: checkAttestationHash(jobId, round, unverifiable) },
  });
  return {
    validator: getAddress(account.address),
    jobId,
    round,
    unverifiable: sorted(unverifiable),
    signature,
  };
}

/** True when `a` is signed by its `validator`. */
export async function checkAttestationValid(a: CheckAttestation): Promise<boolean> {
  try {
    const signer = await recoverMessageAddress({
      message: { raw: checkAttestationHash(a.jobId, a.round, a.unverifiable) },
      signature: a.signature,
    });
    return signer.toLowerCase() === a.validator.toLowerCase();
  } catch {
    return false;
  }
}

export function checkAttestationToJson(a: CheckAttestation): CheckAttestationJson {
  return { ...a, jobId: a.jobId.toString() };
}

export function checkAttestationFromJson(j: CheckAttestationJson): CheckAttestation {
  return {
    ...j,
    jobId: BigInt(j.jobId),
    validator: getAddress(j.validator),
    unverifiable: sorted(j.unverifiable),
  };
}

/**
 * The (round, worker) pairs no validator could verify: for each round, the workers every validator
 * that attested the round named unverifiable. A round nobody attested is not held against anyone.
 */
export function unverifiedRounds(attestations: readonly CheckAttestation[]): Set<string> {
  const byRound = new Map<number, Map<string, number>>();
  const validators = new Map<number, Set<string>>();
  for (const a of attestations) {
    const v = validators.get(a.round) ?? new Set<string>();
    if (v.has(a.validator.toLowerCase())) continue; // one attestation per validator and round
    v.add(a.validator.toLowerCase());
    validators.set(a.round, v);
    const counts = byRound.get(a.round) ?? new Map<string, number>();
    for (const w of a.unverifiable) counts.set(w.toLowerCase(), (counts.get(w.toLowerCase()) ?? 0) + 1);
    byRound.set(a.round, counts);
  }
  const out = new Set<string>();
  for (const [round, counts] of byRound) {
    const n = validators.get(round)?.size ?? 0;
    for (const [w, c] of counts) if (c === n) out.add(unverifiedKey(round, w));
  }
  return out;
}

export function unverifiedKey(round: number, worker: string): string {
  return `${round}:${worker.toLowerCase()}`;
}
