/**
 * Peer authentication (pure logic, no I/O): a peer proves that an Ethereum account controls its
 * libp2p PeerId by signing a domain-separated EIP-191 message naming the chain, the job and the
 * PeerId. Noise already proves the PeerId on the connection, so binding the account to the PeerId is
 * enough: a proof cannot be replayed by another PeerId, on another job or on another chain.
 */
import type { Address, Hex, LocalAccount } from 'viem';
import { getAddress, isAddress, recoverMessageAddress } from 'viem';

export interface AuthContext {
  chainId: number;
  jobId: string;
}

export interface AuthProof {
  chainId: number;
  jobId: string;
  peerId: string;
  address: Address;
  signature: Hex;
}

/** The exact text that is signed. Changing it is a protocol version change (`/agora/auth/1`). */
export function authMessage(ctx: AuthContext, peerId: string): string {
  return [
    'Agora peer authentication v1',
    `chain: ${ctx.chainId}`,
    `job: ${ctx.jobId}`,
    `peer: ${peerId}`,
    'Signing this binds your account to this network identity for this job only.',
  ].join('\n');
}

/** Signs a proof for `peerId` with the wallet account (the key never leaves the account object). */
export async function signAuthProof(
  account: LocalAccount,
  ctx: AuthContext,
  peerId: string,
): Promise<AuthProof> {
  const signature = await account.signMessage({ message: authMessage(ctx, peerId) });
  return { chainId: ctx.chainId, jobId: ctx.jobId, peerId, address: account.address, signature };
}

export type AuthVerdict = { ok: true; address: Address } | { ok: false; reason: string };

/**
 * Checks a proof received from `remotePeerId` (the PeerId Noise authenticated on the connection):
 * same chain and job, signed for that PeerId, signature recovers to the claimed address, and the
 * address is one of the job's participants.
 */
export async function verifyAuthProof(
  proof: AuthProof,
  ctx: AuthContext,
  remotePeerId: string,
  participants: ReadonlySet<string>,
): Promise<AuthVerdict> {
  if (proof.chainId !== ctx.chainId) return { ok: false, reason: `wrong chain ${proof.chainId}` };
  if (proof.jobId !== ctx.jobId) return { ok: false, reason: 'wrong job' };
  if (proof.peerId !== remotePeerId) return { ok: false, reason: 'proof is for another PeerId' };
  if (!isAddress(proof.address)) return { ok: false, reason: 'malformed address' };
  let recovered: Address;
  try {
    recovered = await recoverMessageAddress({
      message: authMessage(ctx, remotePeerId),
      signature: proof.signature,
    });
  } catch {
    return { ok: false, reason: 'malformed signature' };
  }
  if (getAddress(recovered) !== getAddress(proof.address)) return { ok: false, reason: 'forged signature' };
  if (!participants.has(getAddress(recovered))) return { ok: false, reason: 'not a participant of this job' };
  return { ok: true, address: getAddress(recovered) };
}

/** Normalizes a participant list to checksummed addresses (the form `verifyAuthProof` compares). */
export function participantSet(addresses: readonly string[]): Set<string> {
  return new Set(addresses.map((a) => getAddress(a)));
}
