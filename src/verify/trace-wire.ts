/**
 * What a worker's round trace looks like on the wire and on disk (pure, no I/O): the replay window
 * rule, the trace's JSON form, its signature, and two binary payloads with strict length checks —
 * an inner state (params, AdamW moments, step) and the samples of one replay window (the ordered
 * sample indices of each step, plus each distinct record's bytes and Merkle proof against the
 * worker's registered dataset root). Used by the provider (serves them) and the validator (checks
 * them): docs/validation-and-rewards.md §3, docs/swarm.md "Across processes".
 */
import { type Address, getAddress, type Hex, type LocalAccount, recoverMessageAddress } from 'viem';
import { AgoraError } from '../errors.ts';
import type { InnerState, RoundTrace } from './replay.ts';
import { roundTraceHash } from './replay.ts';

/** Windows per round a worker traces: the largest of these that divides H (W = H / k). */
const WINDOW_COUNTS = [5, 4, 3, 2, 1] as const;

/**
 * The replay window W of a round of `innerSteps` inner steps: W = H / k with k the largest of
 * 5, 4, 3, 2, 1 that divides H (H = 10 → W = 2; H = 12 → W = 3; H = 7 → W = 7). At most 5 windows
 * keeps the boundary states a worker stores small, and W ≤ H/2 whenever H is even.
 */
export function traceWindow(innerSteps: number): number {
  if (!Number.isInteger(innerSteps) || innerSteps < 1) {
    throw new AgoraError('REPLAY_BAD_WINDOW', `inner steps must be a positive integer, not ${innerSteps}`);
  }
  const k = WINDOW_COUNTS.find((c) => innerSteps % c === 0) ?? 1;
  return innerSteps / k;
}

/** How many of its latest rounds a provider keeps the trace states and Δ of (older ones are pruned). */
export const TRACE_RETENTION_ROUNDS = 8;

/** Most checkpoint hashes a trace may carry (windows + 1). */
export const MAX_TRACE_CHECKPOINTS = 1024;

/** A trace as JSON: bigints as decimal strings. */
export type RoundTraceJson = {
  jobId: string;
  round: string;
  worker: string;
  innerSteps: number;
  window: number;
  batchSize: number;
  samplerStart: { epoch: number; position: number };
  checkpoints: string[];
};

export function traceToJson(t: RoundTrace): RoundTraceJson {
  return {
    jobId: t.jobId.toString(),
    round: t.round.toString(),
    worker: t.worker,
    innerSteps: t.innerSteps,
    window: t.window,
    batchSize: t.batchSize,
    samplerStart: { epoch: t.samplerStart.epoch, position: t.samplerStart.position },
    checkpoints: [...t.checkpoints],
  };
}

export function traceFromJson(j: RoundTraceJson): RoundTrace {
  return {
    jobId: BigInt(j.jobId),
    round: BigInt(j.round),
    worker: getAddress(j.worker),
    innerSteps: j.innerSteps,
    window: j.window,
    batchSize: j.batchSize,
    samplerStart: { epoch: j.samplerStart.epoch, position: j.samplerStart.position },
    checkpoints: j.checkpoints.map((c) => c.toLowerCase() as Hex),
  };
}

/** The worker's EIP-191 signature of `roundTraceHash(trace)` (signMessage of the raw 32 bytes). */
export function signRoundTrace(account: LocalAccount, trace: RoundTrace): Promise<Hex> {
  return account.signMessage({ message: { raw: roundTraceHash(trace) } });
}

/**
 * The address that signed `trace` with `signature` (compare it with `trace.worker`); throws
 * TRACE_BAD_SIGNATURE when the signature is malformed (r or s out of range, a bad v, wrong length).
 */
export async function roundTraceSigner(trace: RoundTrace, signature: Hex): Promise<Address> {
  try {
    return getAddress(await recoverMessageAddress({ message: { raw: roundTraceHash(trace) }, signature }));
  } catch (e) {
    throw new AgoraError(
      'TRACE_BAD_SIGNATURE',
      `the round trace signature is malformed: ${(e as Error).message}`,
      {
        hint: 'the worker must sign roundTraceHash(trace) with EIP-191 (65-byte signature)',
        cause: e,
      },
    );
  }
}

/**
 * What is wrong with a trace for the given round (empty when nothing): its ids, its H, a window that
 * is the rule's (`traceWindow`), the batch size, and H/W + 1 checkpoints.
 */
export function traceProblems(
  t: RoundTrace,
  want: { jobId: bigint; round: bigint; worker: Address; innerSteps: number; batchSize?: number },
): string[] {
  const p: string[] = [];
  if (t.jobId !== want.jobId) p.push(`trace is for job ${t.jobId}, not ${want.jobId}`);
  if (t.round !== want.round) p.push(`trace is for round ${t.round}, not ${want.round}`);
  if (getAddress(t.worker) !== getAddress(want.worker))
    p.push(`trace is ${t.worker}'s, not ${want.worker}'s`);
  if (t.innerSteps !== want.innerSteps) p.push(`trace has H = ${t.innerSteps}, the job ${want.innerSteps}`);
  if (t.window !== traceWindow(want.innerSteps))
    p.push(`trace window ${t.window} is not ${traceWindow(want.innerSteps)}`);
  if (want.batchSize !== undefined && t.batchSize !== want.batchSize)
    p.push(`trace batch size ${t.batchSize} is not ${want.batchSize}`);
  if (t.innerSteps % t.window === 0 && t.checkpoints.length !== t.innerSteps / t.window + 1)
    p.push(`trace has ${t.checkpoints.length} checkpoints, not ${t.innerSteps / t.window + 1}`);
  return p;
}

// ---- inner state: "AGIS" ‖ u32le version ‖ u64le step ‖ u32le P ‖ params ‖ m ‖ v (f32 LE)

const STATE_MAGIC = 0x53494741; // "AGIS" read as u32 LE
const WINDOW_MAGIC = 0x53574741; // "AGWS"
const VERSION = 1;
const STATE_HEAD = 20;

/** Bytes of an encoded inner state of `params` parameters. */
export function innerStateBytes(params: number): number {
  return STATE_HEAD + 12 * params;
}

function f32Bytes(v: Float32Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

export function encodeInnerState(s: InnerState): Uint8Array {
  const n = s.params.length;
  if (s.m.length !== n || s.v.length !== n || !Number.isSafeInteger(s.step) || s.step < 0) {
    throw new AgoraError(
      'TRACE_BAD_STATE',
      `inner state of ${n} params has ${s.m.length}/${s.v.length} moments`,
    );
  }
  const out = new Uint8Array(innerStateBytes(n));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, STATE_MAGIC, true);
  dv.setUint32(4, VERSION, true);
  dv.setBigUint64(8, BigInt(s.step), true);
  dv.setUint32(16, n, true);
  out.set(f32Bytes(s.params), STATE_HEAD);
  out.set(f32Bytes(s.m), STATE_HEAD + 4 * n);
  out.set(f32Bytes(s.v), STATE_HEAD + 8 * n);
  return out;
}

/** Decodes an inner state; `params` (when given) is the parameter count the task's model has. */
export function decodeInnerState(bytes: Uint8Array, params?: number): InnerState {
  const bad = (why: string) =>
    new AgoraError('TRACE_BAD_STATE', `malformed inner state: ${why}`, {
      hint: 'the peer serves a corrupt or foreign trace state; it is not used',
    });
  if (bytes.byteLength < STATE_HEAD) throw bad(`${bytes.byteLength} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== STATE_MAGIC) throw bad('wrong magic');
  if (dv.getUint32(4, true) !== VERSION) throw bad(`version ${dv.getUint32(4, true)}`);
  const step = dv.getBigUint64(8, true);
  const n = dv.getUint32(16, true);
  if (params !== undefined && n !== params) throw bad(`${n} params, the model has ${params}`);
  if (bytes.byteLength !== innerStateBytes(n))
    throw bad(`${bytes.byteLength} bytes for ${n} params (want ${innerStateBytes(n)})`);
  if (step > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`step ${step}`);
  // copied into fresh arrays: `bytes` may be a Node Buffer, whose slice() is a view into a shared pool
  const part = (k: number) => {
    const out = new Float32Array(n);
    new Uint8Array(out.buffer).set(bytes.subarray(STATE_HEAD + 4 * n * k, STATE_HEAD + 4 * n * (k + 1)));
    return out;
  };
  return { params: part(0), m: part(1), v: part(2), step: Number(step) };
}

// ---- window samples: "AGWS" ‖ u32 version ‖ u32 S ‖ u32 B ‖ S·B × u32 index ‖ u32 R ‖
//      R × (u32 index ‖ u32 L ‖ L × 32-byte proof ‖ u32 n ‖ n record bytes)

export type WindowRecord = { index: number; bytes: Uint8Array; proof: Hex[] };
export type WindowSamples = {
  /** The sample indices of each step of the window, in order. */
  steps: Int32Array[];
  /** Each distinct index of `steps` once: the record bytes and their proof against the dataset root. */
  records: WindowRecord[];
};

export const WINDOW_LIMITS = {
  maxSteps: 4096,
  maxBatch: 65_536,
  maxIndices: 1 << 20,
  maxProof: 64,
  maxRecordBytes: 16 * 1024 * 1024,
} as const;

function hexToBytes32(h: Hex): Uint8Array {
  if (!/^0x[0-9a-fA-F]{64}$/.test(h)) throw new AgoraError('TRACE_BAD_SAMPLES', `${h} is not a 32-byte hash`);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number.parseInt(h.slice(2 + 2 * i, 4 + 2 * i), 16);
  return out;
}

function bytes32ToHex(b: Uint8Array, off: number): Hex {
  let s = '0x';
  for (let i = off; i < off + 32; i++) s += b[i].toString(16).padStart(2, '0');
  return s as Hex;
}

export function encodeWindowSamples(w: WindowSamples): Uint8Array {
  const S = w.steps.length;
  const B = S > 0 ? w.steps[0].length : 0;
  if (w.steps.some((s) => s.length !== B))
    throw new AgoraError('TRACE_BAD_SAMPLES', 'every step of a window has the same batch size');
  let size = 16 + 4 * S * B + 4;
  for (const r of w.records) size += 12 + 32 * r.proof.length + r.bytes.byteLength;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let o = 0;
  const u32 = (v: number) => {
    dv.setUint32(o, v, true);
    o += 4;
  };
  u32(WINDOW_MAGIC);
  u32(VERSION);
  u32(S);
  u32(B);
  for (const s of w.steps) for (const i of s) u32(i);
  u32(w.records.length);
  for (const r of w.records) {
    u32(r.index);
    u32(r.proof.length);
    for (const p of r.proof) {
      out.set(hexToBytes32(p), o);
      o += 32;
    }
    u32(r.bytes.byteLength);
    out.set(r.bytes, o);
    o += r.bytes.byteLength;
  }
  return out;
}

export function decodeWindowSamples(bytes: Uint8Array): WindowSamples {
  const bad = (why: string) =>
    new AgoraError('TRACE_BAD_SAMPLES', `malformed window samples: ${why}`, {
      hint: 'the peer serves corrupt window samples; they are not used',
    });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const u32 = () => {
    if (o + 4 > bytes.byteLength) throw bad(`truncated at byte ${o}`);
    const v = dv.getUint32(o, true);
    o += 4;
    return v;
  };
  if (u32() !== WINDOW_MAGIC) throw bad('wrong magic');
  if (u32() !== VERSION) throw bad('unknown version');
  const S = u32();
  const B = u32();
  if (S > WINDOW_LIMITS.maxSteps || B > WINDOW_LIMITS.maxBatch || S * B > WINDOW_LIMITS.maxIndices)
    throw bad(`${S} steps of ${B} samples is over the limits`);
  if (o + 4 * S * B > bytes.byteLength) throw bad('truncated indices');
  const steps: Int32Array[] = [];
  for (let s = 0; s < S; s++) {
    const idx = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      const v = u32();
      if (v > 0x7fffffff) throw bad(`index ${v}`);
      idx[b] = v;
    }
    steps.push(idx);
  }
  const R = u32();
  if (R > S * B) throw bad(`${R} records for ${S * B} indices`);
  const records: WindowRecord[] = [];
  for (let r = 0; r < R; r++) {
    const index = u32();
    if (index > 0x7fffffff) throw bad(`record index ${index}`);
    const L = u32();
    if (L > WINDOW_LIMITS.maxProof) throw bad(`proof of ${L} hashes`);
    if (o + 32 * L > bytes.byteLength) throw bad('truncated proof');
    const proof: Hex[] = [];
    for (let k = 0; k < L; k++) {
      proof.push(bytes32ToHex(bytes, o));
      o += 32;
    }
    const n = u32();
    if (n > WINDOW_LIMITS.maxRecordBytes || o + n > bytes.byteLength) throw bad(`record of ${n} bytes`);
    records.push({ index, proof, bytes: bytes.slice(o, o + n) });
    o += n;
  }
  if (o !== bytes.byteLength) throw bad(`${bytes.byteLength - o} trailing bytes`);
  return { steps, records };
}
