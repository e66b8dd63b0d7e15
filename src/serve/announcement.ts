/**
 * A server's signed announcement of what it sells (pure + signing): endpoint, seller, chain and
 * payment contracts, and per model its job, hash, task and price. Signed by the seller's wallet
 * (EIP-191 over the keccak256 of the canonical JSON), so a buyer can tell who sells and check each
 * model hash against its job on chain (`agora models`).
 */
import {
  type Address,
  getAddress,
  type Hex,
  keccak256,
  type LocalAccount,
  recoverMessageAddress,
  toBytes,
} from 'viem';
import { AgoraError } from '../errors.ts';

export type AnnouncedModel = {
  id: string;
  jobId: string | null;
  modelHash: Hex;
  task: string;
  /** Price per input row, token base units. */
  unitPrice: string;
  /** Rounds and datasets of its provenance manifest, when the server has it. */
  rounds?: number;
  datasets?: string[];
};

export type ModelAnnouncement = {
  kind: 'agora-model-announcement';
  version: 1;
  endpoint: string;
  seller: Address;
  chainId: number;
  token: Address | null;
  paymentChannels: Address | null;
  schemes: string[];
  issuedAt: number;
  models: AnnouncedModel[];
};

export type SignedAnnouncement = ModelAnnouncement & { signature: Hex };

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function announcementHash(a: ModelAnnouncement): Hex {
  const { signature: _s, ...rest } = a as SignedAnnouncement;
  return keccak256(toBytes(canonical(rest)));
}

export async function signAnnouncement(
  account: LocalAccount,
  a: ModelAnnouncement,
): Promise<SignedAnnouncement> {
  if (getAddress(a.seller) !== account.address) {
    throw new AgoraError(
      'ANNOUNCE_WRONG_SIGNER',
      `the announcement names seller ${a.seller}, not ${account.address}`,
    );
  }
  return { ...a, signature: await account.signMessage({ message: { raw: announcementHash(a) } }) };
}

/** Checks shape and signature; throws ANNOUNCE_INVALID saying why. */
export async function verifyAnnouncement(j: unknown): Promise<SignedAnnouncement> {
  const bad = (why: string): never => {
    throw new AgoraError('ANNOUNCE_INVALID', `the model announcement ${why}`, {
      hint: 'the server is not a (current) agora serve',
    });
  };
  const a = j as SignedAnnouncement;
  if (typeof a !== 'object' || a === null || a.kind !== 'agora-model-announcement' || a.version !== 1)
    bad('is not one');
  if (typeof a.seller !== 'string' || typeof a.signature !== 'string' || !Array.isArray(a.models))
    bad('is incomplete');
  const signer = await recoverMessageAddress({
    message: { raw: announcementHash(a) },
    signature: a.signature,
  }).catch(() => undefined);
  if (!signer || signer !== getAddress(a.seller)) bad(`is not signed by its seller ${a.seller}`);
  return a;
}
