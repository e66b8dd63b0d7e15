/**
 * Control messages of the Agora wire protocols (JSON frames, schema-checked with zod). Binary
 * payloads (codec-encoded tensors, checkpoint chunks) travel in the frame that follows a header.
 * Anything that does not parse is dropped with a logged reason.
 */
import { isAddress } from 'viem';
import { z } from 'zod';

export const MAX_CONTROL_BYTES = 256 * 1024;
/** Upper bound on a group's size (member lists are carried in control frames). */
export const MAX_GROUP = 1024;

const peerIdStr = z
  .string()
  .min(16)
  .max(128)
  .regex(/^[1-9A-HJ-NP-Za-km-z]+$/, 'base58 PeerId');
const hex = z.string().regex(/^0x[0-9a-fA-F]*$/);
const u32 = z.number().int().nonnegative().max(0xffffffff);
const roundNo = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const authProofSchema = z.object({
  chainId: z.number().int().positive(),
  jobId: z.string().min(1).max(128),
  peerId: peerIdStr,
  address: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/)
    .refine(
      (s) => isAddress(s),
      'an address with a valid EIP-55 checksum (or all lower case)',
    ) as z.ZodType<`0x${string}`>,
  signature: hex.max(2 + 2 * 65 + 8) as z.ZodType<`0x${string}`>,
});

export const authHelloSchema = z.object({ t: z.literal('auth'), proof: authProofSchema });
export const authReplySchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('auth'), proof: authProofSchema }),
  z.object({ t: z.literal('auth-deny'), reason: z.string().max(200) }),
]);

export const announceSchema = z.object({
  t: z.literal('announce'),
  proof: authProofSchema,
  addrs: z.array(z.string().max(256)).max(16),
});
export type Announce = z.infer<typeof announceSchema>;

const members = z.array(peerIdStr).min(1).max(MAX_GROUP);

/**
 * All-reduce messages. `part` and `commit` are pushed, any number in a row, on one long-lived
 * stream per peer pair (src/net/allreduce.ts); a `get` is the first and only request of its stream.
 */
export const allreduceRequestSchema = z.discriminatedUnion('t', [
  /** Scatter: the sender's slice of shard `shard`; a binary frame follows. */
  z.object({
    t: z.literal('part'),
    round: roundNo,
    shard: u32,
    /** digest of (round, group): parts for another view of the group are discarded */
    group: z.string().regex(/^[0-9a-f]{32}$/),
    length: u32,
    /** true when the part goes to a fallback holder because the shard's owner died. */
    fallback: z.boolean(),
  }),
  /**
   * Commit: the owner's set of peers whose part of its shard arrived in time. With `reduced`, a
   * binary frame follows: the owner's shard aggregated over exactly `received` (what a `get` for
   * that set would return), and `length` is the vector length (bounds that frame).
   */
  z.object({
    t: z.literal('commit'),
    round: roundNo,
    shard: u32,
    received: members,
    reduced: z.boolean().optional(),
    length: u32.optional(),
  }),
  /** Gather: ask for shard `shard` aggregated over exactly `members`. */
  z.object({
    t: z.literal('get'),
    round: roundNo,
    shard: u32,
    members,
    /** only answer from an already-computed result (repair from a mirror), never aggregate */
    mirrorOnly: z.boolean(),
  }),
]);
export type AllreduceRequest = z.infer<typeof allreduceRequestSchema>;

export const shardReplySchema = z.discriminatedUnion('ok', [
  z.object({ t: z.literal('shard'), ok: z.literal(true), digest: z.string().max(128) }),
  z.object({ t: z.literal('shard'), ok: z.literal(false), reason: z.string().max(200) }),
]);

export const ckptRequestSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('ckpt-head') }),
  z.object({
    t: z.literal('ckpt-chunk'),
    hash: hex.length(66),
    offset: z.number().int().nonnegative(),
    length: z.number().int().positive(),
  }),
]);
export type CkptRequest = z.infer<typeof ckptRequestSchema>;

export const ckptHeadSchema = z.discriminatedUnion('available', [
  z.object({ t: z.literal('ckpt-head'), available: z.literal(false) }),
  z.object({
    t: z.literal('ckpt-head'),
    available: z.literal(true),
    round: roundNo,
    hash: hex.length(66),
    size: z.number().int().nonnegative(),
    meta: z.record(z.string(), z.union([z.string().max(1024), z.number(), z.boolean()])).optional(),
  }),
]);
export type CkptHead = z.infer<typeof ckptHeadSchema>;

export const ckptChunkReplySchema = z.discriminatedUnion('ok', [
  z.object({ t: z.literal('ckpt-chunk'), ok: z.literal(true) }),
  z.object({ t: z.literal('ckpt-chunk'), ok: z.literal(false), reason: z.string().max(200) }),
]);

/** Parses a control message; returns a readable reason instead of throwing. */
export function parseMessage<T>(
  schema: z.ZodType<T>,
  value: unknown,
): { ok: true; value: T } | { ok: false; reason: string } {
  const r = schema.safeParse(value);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  return { ok: false, reason: `schema: ${issue?.path.join('.') || '(root)'} ${issue?.message ?? 'invalid'}` };
}
