import { getAddress, type Hex, keccak256, toHex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import { checkDeltaLink, sameBits } from '../../src/verify/link-check.ts';
import { type InnerState, innerStateHash, type RoundTrace, roundTraceHash } from '../../src/verify/replay.ts';
import {
  decodeInnerState,
  decodeWindowSamples,
  encodeInnerState,
  encodeWindowSamples,
  innerStateBytes,
  roundTraceSigner,
  signRoundTrace,
  traceFromJson,
  traceProblems,
  traceToJson,
  traceWindow,
} from '../../src/verify/trace-wire.ts';

const state = (n: number, step = 7): InnerState => ({
  params: Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.1),
  m: Float32Array.from({ length: n }, (_, i) => i * 1e-4),
  v: Float32Array.from({ length: n }, (_, i) => i * 1e-7),
  step,
});

describe('replay window rule', () => {
  it('W = H / k with k the largest of 5, 4, 3, 2, 1 dividing H', () => {
    expect(traceWindow(10)).toBe(2);
    expect(traceWindow(12)).toBe(3);
    expect(traceWindow(8)).toBe(2);
    expect(traceWindow(9)).toBe(3);
    expect(traceWindow(7)).toBe(7);
    expect(traceWindow(1)).toBe(1);
    expect(traceWindow(500)).toBe(100);
    expect(() => traceWindow(0)).toThrow(/positive integer/);
  });
});

describe('inner state encoding', () => {
  it('round-trips bit-exactly and keeps the state hash', () => {
    const s = state(33);
    const bytes = encodeInnerState(s);
    expect(bytes.byteLength).toBe(innerStateBytes(33));
    const d = decodeInnerState(bytes, 33);
    expect(d.step).toBe(7);
    expect(sameBits(d.params, s.params) && sameBits(d.m, s.m) && sameBits(d.v, s.v)).toBe(true);
    expect(innerStateHash(d)).toBe(innerStateHash(s));
    // decodes from an unaligned view too (a libp2p frame can start anywhere)
    const shifted = new Uint8Array(bytes.byteLength + 1);
    shifted.set(bytes, 1);
    expect(innerStateHash(decodeInnerState(shifted.subarray(1)))).toBe(innerStateHash(s));
  });

  it('innerStateHash is keccak256("agora-inner-state-v1" ‖ u64 step ‖ u32 P ‖ params ‖ m ‖ v)', () => {
    const s = state(1000, 12345);
    const tag = new TextEncoder().encode('agora-inner-state-v1');
    const head = new Uint8Array(12);
    new DataView(head.buffer).setBigUint64(0, 12345n, true);
    new DataView(head.buffer).setUint32(8, 1000, true);
    const f = (v: Float32Array) => new Uint8Array(v.buffer);
    const all = new Uint8Array(tag.length + 12 + 12_000);
    all.set(tag);
    all.set(head, tag.length);
    all.set(f(s.params), tag.length + 12);
    all.set(f(s.m), tag.length + 4012);
    all.set(f(s.v), tag.length + 8012);
    expect(innerStateHash(s)).toBe(keccak256(all)); // viem's (noble) keccak as the reference
  });

  it('refuses truncated, padded, foreign and wrong-size states', () => {
    const bytes = encodeInnerState(state(10));
    expect(() => decodeInnerState(bytes.subarray(0, bytes.byteLength - 1))).toThrow(/bytes for 10 params/);
    const padded = new Uint8Array(bytes.byteLength + 4);
    padded.set(bytes);
    expect(() => decodeInnerState(padded)).toThrow(/bytes for 10 params/);
    expect(() => decodeInnerState(bytes, 11)).toThrow(/10 params, the model has 11/);
    const foreign = bytes.slice();
    foreign[0] ^= 1;
    expect(() => decodeInnerState(foreign)).toThrow(/magic/);
    expect(() => decodeInnerState(new Uint8Array(3))).toThrow(/3 bytes/);
  });
});

describe('window samples encoding', () => {
  const proof = [keccak256(toHex('a')), keccak256(toHex('b'))] as Hex[];
  const w = {
    steps: [Int32Array.from([3, 1]), Int32Array.from([2, 3])],
    records: [1, 2, 3].map((index) => ({ index, bytes: Uint8Array.from([index, 0, 0, 0, 9, 9]), proof })),
  };
  it('round-trips', () => {
    const d = decodeWindowSamples(encodeWindowSamples(w));
    expect(d.steps.map((s) => Array.from(s))).toEqual([
      [3, 1],
      [2, 3],
    ]);
    expect(d.records.map((r) => [r.index, Array.from(r.bytes), r.proof])).toEqual(
      w.records.map((r) => [r.index, Array.from(r.bytes), r.proof]),
    );
  });
  it('refuses truncated or padded payloads', () => {
    const b = encodeWindowSamples(w);
    for (const cut of [4, 20, b.byteLength - 1])
      expect(() => decodeWindowSamples(b.subarray(0, cut))).toThrow();
    const padded = new Uint8Array(b.byteLength + 1);
    padded.set(b);
    expect(() => decodeWindowSamples(padded)).toThrow(/trailing/);
  });
});

describe('round trace JSON and signature', () => {
  const account = privateKeyToAccount(generatePrivateKey());
  const trace: RoundTrace = {
    jobId: 3n,
    round: 4n,
    worker: getAddress(account.address),
    innerSteps: 10,
    window: 2,
    batchSize: 32,
    samplerStart: { epoch: 1, position: 96 },
    checkpoints: Array.from({ length: 6 }, (_, i) => keccak256(toHex(i))),
  };
  it('round-trips through JSON with the same hash, and the signature recovers the worker', async () => {
    const back = traceFromJson(JSON.parse(JSON.stringify(traceToJson(trace))));
    expect(roundTraceHash(back)).toBe(roundTraceHash(trace));
    const sig = await signRoundTrace(account, trace);
    expect(await roundTraceSigner(back, sig)).toBe(trace.worker);
    expect(await roundTraceSigner({ ...back, round: 5n }, sig)).not.toBe(trace.worker);
  });
  it('names what is wrong with a trace', () => {
    const want = { jobId: 3n, round: 4n, worker: trace.worker, innerSteps: 10, batchSize: 32 };
    expect(traceProblems(trace, want)).toEqual([]);
    expect(traceProblems({ ...trace, window: 5, checkpoints: trace.checkpoints.slice(0, 3) }, want)).toEqual([
      'trace window 5 is not 2',
    ]);
    expect(traceProblems({ ...trace, checkpoints: trace.checkpoints.slice(1) }, want)).toEqual([
      'trace has 5 checkpoints, not 6',
    ]);
    expect(traceProblems(trace, { ...want, round: 5n, batchSize: 16 })).toHaveLength(2);
  });
});

describe('link check', () => {
  const n = 64;
  const thetaStart = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
  const final = state(n);
  const committedFinal = innerStateHash(final);
  const honest = new Float32Array(n);
  for (let i = 0; i < n; i++) honest[i] = thetaStart[i] - final.params[i];
  it('passes the honest Δ bit-exactly', () => {
    const c = checkDeltaLink({ delta: honest, thetaStart, final, committedFinal });
    expect(c).toMatchObject({ ok: true, mismatched: 0, finalHashOk: true });
    expect(c.cosine).toBeCloseTo(1, 6);
  });
  it('fails a sign flip, a scaled or noisy Δ, zeros, a 1-ulp change, and a state not the committed one', () => {
    const flip = honest.map((x) => -x);
    const c = checkDeltaLink({ delta: flip, thetaStart, final, committedFinal });
    expect(c.ok).toBe(false);
    expect(c.cosine).toBeCloseTo(-1, 6);
    expect(
      checkDeltaLink({ delta: honest.map((x) => 2 * x), thetaStart, final, committedFinal }).normRatio,
    ).toBeCloseTo(2, 5);
    expect(checkDeltaLink({ delta: honest.map((x) => 2 * x), thetaStart, final, committedFinal }).ok).toBe(
      false,
    );
    expect(checkDeltaLink({ delta: new Float32Array(n), thetaStart, final, committedFinal }).ok).toBe(false);
    const ulp = honest.slice();
    new Uint32Array(ulp.buffer)[5] ^= 1;
    expect(checkDeltaLink({ delta: ulp, thetaStart, final, committedFinal }).mismatched).toBe(1);
    const other = checkDeltaLink({
      delta: honest,
      thetaStart,
      final,
      committedFinal: innerStateHash(state(n, 8)),
    });
    expect(other).toMatchObject({ ok: false, finalHashOk: false });
  });
});
