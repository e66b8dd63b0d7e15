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
  isAddress,
  keccak256,
  type LocalAccount,
  recoverMessageAddress,
  toBytes,
} from 'viem';
import { z } from 'zod';
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

const address = z.string().refine((a) => isAddress(a), 'not an address');
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// well-formed Unicode: a lone surrogate in a model id made `offersOf`'s encodeURIComponent throw
const text = z
  .string()
  .max(1024)
  .refine((t) => !LONE_SURROGATE.test(t), 'not well-formed Unicode (a lone surrogate)');
/**
 * The shape a buyer relies on (`offersOf`, `matchOffers`): every field the code reads, typed and
 * bounded. Fields a later version adds pass through (they are signed like the others).
 */
const announcementSchema = z
  .object({
    kind: z.literal('agora-model-announcement'),
    version: z.literal(1),
    endpoint: text,
    seller: address,
    chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    token: address.nullable(),
    paymentChannels: address.nullable(),
    schemes: z.array(text).max(16),
    issuedAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    models: z
      .array(
        z
          .object({
            id: text,
            jobId: text.nullable(),
            modelHash: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
            task: text,
            unitPrice: z.string().regex(/^[0-9]{1,78}$/),
            rounds: z.number().int().min(0).optional(),
            datasets: z.array(text).max(1024).optional(),
          })
          .passthrough(),
      )
      .max(1024),
    signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/),
  })
  .passthrough();

/** Checks shape and signature; throws ANNOUNCE_INVALID saying why. */
export async function verifyAnnouncement(j: unknown): Promise<SignedAnnouncement> {
  const bad = (why: string): never => {
    throw new AgoraError('ANNOUNCE_INVALID', `the model announcement ${why}`, {
      hint: 'the server is not a (current) agora serve',
    });
  };
  const o = j as Partial<SignedAnnouncement> | null;
  if (typeof o !== 'object' || o === null || o.kind !== 'agora-model-announcement' || o.version !== 1)
    bad('is not one');
  const r = announcementSchema.safeParse(j);
  if (!r.success) {
    const i = r.error.issues[0];
    return bad(`is malformed (${i.path.join('.') || '(root)'}: ${i.message})`);
  }
  const a = j as SignedAnnouncement;
  const signer = await recoverMessageAddress({
    message: { raw: announcementHash(a) },
    signature: a.signature,
  }).catch(() => undefined);
  if (!signer || signer !== getAddress(a.seller)) bad(`is not signed by its seller ${a.seller}`);
  return a;
}
