/**
 * `/agora/round/1`: the round protocol between the separate processes of one job (adapter over
 * AgoraHost). One request per stream: a JSON request frame, a JSON reply frame (`ok` or a reason),
 * and for `delta` / `checkpoint` / `trace-state` / `window-samples` / `lda-stats` / `prep-stats` / `prep-records` one binary frame after the reply. Every frame is size-limited and
 * schema-checked; a malformed request gets `{ ok: false, reason }` and never crashes the node.
 *
 *   provider → coordinator  `record`        its signed round record, provenance and model hash
 *   coordinator → provider  `sign-commit`   the round's records; the provider co-signs the commit
 *   any → coordinator       `round-records` the committed records of a round (checked against chain)
 *   validator → provider    `delta`         the provider's pseudo-gradient of a round (f32 bytes)
 *   validator → provider    `trace-state`   inner state k of a round's trace (`encodeInnerState`)
 *   validator → provider    `window-samples` window k's sample indices, records and Merkle proofs
 *                                            (`encodeWindowSamples`)
 *   any → provider          `checkpoint`    the provider's checkpoint of a round (safetensors bytes)
 *   validator → provider    `prep-stats`    the provider's signed swarm statistics of round 0
 *                                            (`encodePrepStats`, src/verify/prep-stats.ts)
 *   validator → provider    `prep-records`  records [from, to) of its dataset with Merkle proofs
 *                                            (`encodeWindowSamples`, one step of the indices)
 *   validator → provider    `lda-stats`     the provider's signed LDA statistics of the last round
 *                                            (`encodeLdaStats`, src/verify/lda-calibration.ts)
 *   validator → coordinator `checked`       the validator checked a round (+ its signed attestation
 *                                           of the workers it could not verify)
 *   coordinator → provider  `sign-rewards`  the reward split; the provider recomputes and co-signs
 *   any → coordinator       `rewards`       the posted reward split (checked against chain)
 *   provider → provider     `status`        which round (and attempt) the peer is ready for
 *   provider → coordinator  `round-state`   rounds committed and the attempt of the round in flight
 *   provider → coordinator  `group`         "I am ready for round r, attempt a": the reply is that
 *                                            attempt's all-reduce group, fixed once by the coordinator
 *
 * Who plays which part and when: docs/swarm.md ("Across processes").
 */
import type { Stream } from '@libp2p/interface';
import { type Address, type Hex, isAddress } from 'viem';
import { z } from 'zod';
import type { RoundRecord } from '../chain/round-record.ts';
import type { ProvenanceRecord } from '../data/provenance.ts';
import { AgoraError } from '../errors.ts';
import { decodeJson, encodeJson, FrameReader, writeFrame } from '../net/framing.ts';
import type { AgoraHost, PeerInfo } from '../net/host.ts';
import { parseMessage } from '../net/messages.ts';
import { MAX_TRACE_CHECKPOINTS } from '../verify/trace-wire.ts';

export const ROUND_PROTOCOL = '/agora/round/1';
/** Largest JSON frame of this protocol (a round's records with their sample pairs). */
export const MAX_ROUND_JSON_BYTES = 4 * 1024 * 1024;
/** Largest binary frame (a checkpoint or a pseudo-gradient). */
export const MAX_ROUND_BINARY_BYTES = 512 * 1024 * 1024;

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'a 32-byte hex string');
const sig = z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'a 65-byte signature');
// (mixed case must be a valid EIP-55 checksum: viem's signature checks throw on a bad one)
const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, 'an address')
  .refine((s): boolean => isAddress(s), 'an address with a valid EIP-55 checksum (or all lower case)');
// (zod runs a refinement even after its regex failed: each refinement checks the digits itself)
const uint = z
  .string()
  .regex(/^\d{1,78}$/, 'a decimal integer')
  .refine((s) => /^\d{1,78}$/.test(s) && BigInt(s) < 2n ** 256n, 'a uint256');
/** a record's sample count (uint64 in the signed RoundRecord) */
const uint64 = z
  .string()
  .regex(/^\d{1,20}$/, 'a decimal integer')
  .refine((s) => /^\d{1,20}$/.test(s) && BigInt(s) < 2n ** 64n, 'a uint64');
const round = z.number().int().min(0).max(1_000_000);
/** a retried round's attempt (0 the first time; see docs/swarm.md, "Retried rounds") */
const attempt = z.number().int().min(0).max(999);
const jobId = uint;

const recordSchema = z.object({
  jobId: uint,
  round: uint,
  worker: address,
  pseudoGradientHash: hex32,
  sampleRoot: hex32,
  lossBefore: uint,
  lossAfter: uint,
  samples: uint64,
});
const provenanceSchema = z.object({
  worker: address,
  pseudoGradientHash: hex32,
  sampleRoot: hex32,
  lossBefore: uint,
  lossAfter: uint,
  samples: uint64,
  samplePairs: z.record(z.string().regex(/^\d{1,78}$/), z.array(z.number().int().min(0)).max(1_000_000)),
});
export type RecordJson = z.infer<typeof recordSchema>;
const smallInt = z
  .number()
  .int()
  .min(0)
  .max(2 ** 31 - 1);
/** A worker's round trace (`RoundTraceJson`, src/verify/trace-wire.ts). */
const traceSchema = z.object({
  jobId: uint,
  round: uint,
  worker: address,
  innerSteps: z.number().int().min(1).max(1_000_000),
  window: z.number().int().min(1).max(1_000_000),
  batchSize: z.number().int().min(1).max(65_536),
  samplerStart: z.object({ epoch: smallInt, position: smallInt }),
  checkpoints: z.array(hex32).min(2).max(MAX_TRACE_CHECKPOINTS),
});
export type TraceJson = z.infer<typeof traceSchema>;
/** A worker's signed commitment to its LDA statistics (last round of an `lda-head` job). */
const ldaStatement = z.object({ hash: hex32, signature: sig });
const signedRecord = z.object({
  record: recordSchema,
  signature: sig,
  provenance: provenanceSchema,
  /** the worker's round trace and its EIP-191 signature of `roundTraceHash` (checked by the coordinator) */
  trace: traceSchema.optional(),
  traceSignature: sig.optional(),
  /** its signed LDA statistics commitment (`ldaStatsDigest`; checked by the coordinator) */
  lda: ldaStatement.optional(),
  /** round 0 of a task with swarm statistics: its signed statistics commitment (`prepStatsDigest`) */
  prep: ldaStatement.optional(),
});
export type SignedRecordJson = z.infer<typeof signedRecord>;
const validatorWork = z.object({ account: address, checks: z.number().int().min(0).max(1_000_000) });
/** A validator's signed list of the workers of a round it could not verify (src/verify/check-attestation.ts). */
const checkAttestation = z.object({
  validator: address,
  jobId,
  round,
  unverifiable: z.array(address).max(1024),
  signature: sig,
});
/** Attestations in a reward split's inputs: one per validator and round at most. */
const MAX_ATTESTATIONS = 20_000;

export const roundRequestSchema = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('record'),
    jobId,
    round,
    modelHash: hex32,
    /** accounts whose Δ went into this provider's all-reduce result (the coordinator waits for their records) */
    group: z.array(address).max(1024),
    attempt: attempt.default(0),
    record: recordSchema,
    signature: sig,
    provenance: provenanceSchema,
    trace: traceSchema,
    traceSignature: sig,
    lda: ldaStatement.optional(),
    prep: ldaStatement.optional(),
  }),
  z.object({
    t: z.literal('sign-commit'),
    jobId,
    round,
    recordsRoot: hex32,
    modelHash: hex32,
    records: z.array(signedRecord).max(1024),
  }),
  z.object({ t: z.literal('round-records'), jobId, round }),
  z.object({ t: z.literal('delta'), jobId, round }),
  z.object({
    t: z.literal('trace-state'),
    jobId,
    round,
    k: z.number().int().min(0).max(MAX_TRACE_CHECKPOINTS),
  }),
  z.object({
    t: z.literal('window-samples'),
    jobId,
    round,
    k: z.number().int().min(0).max(MAX_TRACE_CHECKPOINTS),
  }),
  z.object({ t: z.literal('checkpoint'), jobId, round }),
  z.object({ t: z.literal('lda-stats'), jobId, round }),
  z.object({ t: z.literal('prep-stats'), jobId }),
  z.object({
    t: z.literal('prep-records'),
    jobId,
    from: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1),
    to: z
      .number()
      .int()
      .min(1)
      .max(2 ** 32 - 1),
  }),
  z.object({
    t: z.literal('checked'),
    jobId,
    round,
    flagged: z.array(address).max(1024),
    attestation: checkAttestation.optional(),
  }),
  z.object({
    t: z.literal('sign-rewards'),
    jobId,
    root: hex32,
    total: uint,
    validators: z.array(validatorWork).max(1024),
    attestations: z.array(checkAttestation).max(MAX_ATTESTATIONS).default([]),
  }),
  z.object({ t: z.literal('rewards'), jobId }),
  z.object({ t: z.literal('status'), jobId }),
  z.object({ t: z.literal('round-state'), jobId, round }),
  z.object({ t: z.literal('group'), jobId, round, attempt }),
]);
export type RoundRequest = z.infer<typeof roundRequestSchema>;
export type RoundRequestOf<T extends RoundRequest['t']> = Extract<RoundRequest, { t: T }>;

const fail = z.object({ ok: z.literal(false), reason: z.string().max(500) });
const replySchemas = {
  record: z.discriminatedUnion('ok', [z.object({ ok: z.literal(true) }), fail]),
  'sign-commit': z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), signature: sig }), fail]),
  'round-records': z.discriminatedUnion('ok', [
    z.object({
      ok: z.literal(true),
      recordsRoot: hex32,
      modelHash: hex32,
      records: z.array(signedRecord).max(1024),
    }),
    fail,
  ]),
  delta: z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), bytes: z.number().int().min(0) }),
    fail,
  ]),
  checkpoint: z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), hash: hex32, bytes: z.number().int().min(0) }),
    fail,
  ]),
  'trace-state': z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), bytes: z.number().int().min(0) }),
    fail,
  ]),
  'window-samples': z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), bytes: z.number().int().min(0) }),
    fail,
  ]),
  'lda-stats': z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), bytes: z.number().int().min(0) }),
    fail,
  ]),
  'prep-stats': z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), bytes: z.number().int().min(0) }),
    fail,
  ]),
  'prep-records': z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), bytes: z.number().int().min(0) }),
    fail,
  ]),
  checked: z.discriminatedUnion('ok', [z.object({ ok: z.literal(true) }), fail]),
  'sign-rewards': z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), signature: sig }), fail]),
  rewards: z.discriminatedUnion('ok', [
    z.object({
      ok: z.literal(true),
      root: hex32,
      total: uint,
      validators: z.array(validatorWork).max(1024),
      attestations: z.array(checkAttestation).max(MAX_ATTESTATIONS).default([]),
    }),
    fail,
  ]),
  status: z.discriminatedUnion('ok', [
    z.object({
      ok: z.literal(true),
      ready: z.number().int().min(-1).max(1_000_000),
      attempt: attempt.default(0),
    }),
    fail,
  ]),
  'round-state': z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), committed: z.number().int().min(0).max(1_000_000), attempt }),
    fail,
  ]),
  group: z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), members: z.array(address).max(1024) }),
    fail,
  ]),
} as const;
type ReplyOf<T extends RoundRequest['t']> = z.infer<(typeof replySchemas)[T]>;
export type OkReply<T extends RoundRequest['t']> = Extract<ReplyOf<T>, { ok: true }>;

/** What a handler answers: a reply, plus the binary payload for `delta` / `checkpoint` / trace data. */
export type HandlerResult<T extends RoundRequest['t']> =
  | { ok: false; reason: string }
  | (OkReply<T> & { payload?: Uint8Array });

export type RoundHandlers = {
  [T in RoundRequest['t']]?: (req: RoundRequestOf<T>, peer: PeerInfo) => Promise<HandlerResult<T>>;
};

/** Registers `/agora/round/1` on `host` with the given handlers (unknown kinds are refused). */
export async function serveRoundProtocol(
  host: AgoraHost,
  handlers: RoundHandlers,
  opts: { timeoutMs?: number } = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  await host.handle(ROUND_PROTOCOL, async (stream, peer) => {
    const reader = new FrameReader(stream);
    const raw = await reader.expect({ maxBytes: MAX_ROUND_JSON_BYTES, timeoutMs });
    const parsed = parseMessage(roundRequestSchema, decodeJson(raw));
    let reply: Record<string, unknown>;
    let payload: Uint8Array | undefined;
    if (!parsed.ok) {
      reply = { ok: false, reason: `malformed request (${parsed.reason})` };
    } else {
      const h = handlers[parsed.value.t] as
        | ((r: RoundRequest, p: PeerInfo) => Promise<HandlerResult<RoundRequest['t']>>)
        | undefined;
      if (!h) reply = { ok: false, reason: `this node does not serve "${parsed.value.t}"` };
      else {
        try {
          const r = await h(parsed.value, peer);
          const { payload: p, ...rest } = r as Record<string, unknown> & { payload?: Uint8Array };
          reply = rest;
          payload = p;
        } catch (err) {
          reply = { ok: false, reason: (err as Error).message.slice(0, 480) };
        }
      }
    }
    await writeFrame(stream, encodeJson(reply));
    if (payload) await writeFrame(stream, payload);
    await stream.close().catch(() => {});
  });
}

/**
 * Sends one request to `peerId` and returns its reply (`ok: false` replies are returned, not
 * thrown). For `delta` / `checkpoint` the binary payload comes back as `payload`. Throws AgoraError
 * when the peer cannot be reached, times out, or answers malformed.
 */
export async function roundRequest<T extends RoundRequest['t']>(
  host: AgoraHost,
  peerId: string,
  req: RoundRequestOf<T>,
  opts: { timeoutMs?: number; maxPayloadBytes?: number } = {},
): Promise<ReplyOf<T> & { payload?: Uint8Array }> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let stream: Stream | undefined;
  try {
    stream = await host.newStream(peerId, ROUND_PROTOCOL, timeoutMs);
    await writeFrame(stream, encodeJson(req));
    const reader = new FrameReader(stream);
    const raw = await reader.expect({ maxBytes: MAX_ROUND_JSON_BYTES, timeoutMs });
    const parsed = parseMessage(replySchemas[req.t] as unknown as z.ZodType<ReplyOf<T>>, decodeJson(raw));
    if (!parsed.ok) throw new Error(`malformed reply to ${req.t} (${parsed.reason})`);
    const reply = parsed.value as ReplyOf<T> & { payload?: Uint8Array; bytes?: number };
    if (reply.ok && typeof reply.bytes === 'number') {
      const max = Math.min(opts.maxPayloadBytes ?? MAX_ROUND_BINARY_BYTES, MAX_ROUND_BINARY_BYTES);
      if (reply.bytes > max) throw new Error(`${req.t} payload of ${reply.bytes} bytes exceeds ${max}`);
      const bytes = await reader.expect({ maxBytes: reply.bytes, timeoutMs });
      if (bytes.byteLength !== reply.bytes) {
        throw new Error(`${req.t} payload is ${bytes.byteLength} bytes, announced ${reply.bytes}`);
      }
      reply.payload = bytes;
    }
    await stream.close().catch(() => {});
    return reply;
  } catch (err) {
    stream?.abort(err as Error);
    throw new AgoraError('ROUND_REQUEST_FAILED', `${req.t} to ${peerId} failed: ${(err as Error).message}`, {
      hint: 'the peer may be down or overloaded; the caller retries or goes on without it',
      cause: err,
    });
  }
}

// ---- conversions (bigint ↔ decimal strings on the wire)

export function recordToJson(r: RoundRecord): RecordJson {
  return {
    jobId: r.jobId.toString(),
    round: r.round.toString(),
    worker: r.worker,
    pseudoGradientHash: r.pseudoGradientHash,
    sampleRoot: r.sampleRoot,
    lossBefore: r.lossBefore.toString(),
    lossAfter: r.lossAfter.toString(),
    samples: r.samples.toString(),
  };
}

export function recordFromJson(r: RecordJson): RoundRecord {
  return {
    jobId: BigInt(r.jobId),
    round: BigInt(r.round),
    worker: r.worker as Address,
    pseudoGradientHash: r.pseudoGradientHash as Hex,
    sampleRoot: r.sampleRoot as Hex,
    lossBefore: BigInt(r.lossBefore),
    lossAfter: BigInt(r.lossAfter),
    samples: BigInt(r.samples),
  };
}

export function provenanceFromJson(p: SignedRecordJson['provenance']): ProvenanceRecord {
  return p as ProvenanceRecord;
}
