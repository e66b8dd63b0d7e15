import { describe, expect, it } from 'vitest';
import { AgoraError } from '../../../src/errors.ts';
import type { CodecName } from '../../../src/train/codec.ts';
import { fromHalf, toHalf } from '../../../src/train/codecs/half.ts';
import {
  CODEC_NAMES,
  createCodec,
  decodeAny,
  HEADER_BYTES,
  parseHeader,
  TopKCodec,
} from '../../../src/train/codecs/index.ts';
import { kthLargest } from '../../../src/train/codecs/topk.ts';

/** Deterministic pseudo-random normal-ish vector (mulberry32 + Box-Muller). */
function randn(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rnd(), 1e-12);
    v[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
  }
  return v;
}

function expectAgoraError(fn: () => unknown, code: string): AgoraError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AgoraError);
    expect((e as AgoraError).code).toBe(code);
    expect((e as AgoraError).message.length).toBeGreaterThan(10);
    return e as AgoraError;
  }
  throw new Error(`expected AgoraError ${code}`);
}

describe('fp16 bit conversion', () => {
  it('rounds to nearest even and handles specials', () => {
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(-2)).toBe(0xc000);
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(65520)).toBe(0x7c00); // rounds up to +Inf
    expect(toHalf(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toHalf(2 ** -25)).toBe(0x0000); // tie → even (0)
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(toHalf(Number.NaN) & 0x7c00).toBe(0x7c00);
    expect(fromHalf(0x3555)).toBeCloseTo(0.333251953125, 12);
    for (let h = 0; h < 0x7c00; h += 7) expect(toHalf(fromHalf(h))).toBe(h); // exact round trip
  });
});

describe('codec round trips', () => {
  const v = randn(10_001, 1, 0.01);

  it('fp32 is bit-exact, sized 16 + 4n', () => {
    const c = createCodec('fp32');
    const b = c.encode(v);
    expect(b.byteLength).toBe(HEADER_BYTES + 4 * v.length);
    expect(c.decode(b)).toEqual(v);
    expect(decodeAny(b)).toEqual(v);
    // decodes from an unaligned view too
    const shifted = new Uint8Array(b.byteLength + 1);
    shifted.set(b, 1);
    expect(decodeAny(shifted.subarray(1))).toEqual(v);
    // ... including a Node Buffer view (Buffer#slice is a view, so alignment needs a real copy)
    const buf = Buffer.from(shifted.buffer, 1, b.byteLength);
    expect(createCodec('fp32').decode(buf)).toEqual(v);
    const i8 = createCodec('int8').encode(v);
    const shifted8 = new Uint8Array(i8.byteLength + 3);
    shifted8.set(i8, 3);
    expect(decodeAny(Buffer.from(shifted8.buffer, 3, i8.byteLength))).toEqual(decodeAny(i8));
  });

  it('fp16 has relative error ≤ 2^-11 in the normal range', () => {
    const c = createCodec('fp16');
    const b = c.encode(v);
    expect(b.byteLength).toBe(HEADER_BYTES + 2 * v.length);
    const d = c.decode(b);
    for (let i = 0; i < v.length; i++) {
      const tol = Math.max(Math.abs(v[i]) * 2 ** -11, 2 ** -25);
      expect(Math.abs(d[i] - v[i])).toBeLessThanOrEqual(tol);
    }
  });

  for (const [name, qmax, blockSize, scaleDtype] of [
    ['int8', 127, 64, 'fp32'],
    ['int8', 127, 256, 'fp16'],
    ['int4', 7, 64, 'fp32'],
    ['int4', 7, 33, 'fp16'],
  ] as const) {
    it(`${name} block ${blockSize} (${scaleDtype} scales): error ≤ absmax/(2·${qmax}) per block`, () => {
      const x = randn(5003, 7, 3);
      const c = createCodec(name, { blockSize, scaleDtype });
      const b = c.encode(x);
      const nb = Math.ceil(x.length / blockSize);
      const sb = scaleDtype === 'fp16' ? 2 : 4;
      const payload = name === 'int8' ? x.length : Math.ceil(x.length / 2);
      expect(b.byteLength).toBe(HEADER_BYTES + nb * sb + payload);
      const h = parseHeader(b);
      expect(h).toMatchObject({ codec: name, count: x.length, param: blockSize });
      const d = c.decode(b);
      expect(decodeAny(b)).toEqual(d);
      // fp16 scale rounding adds up to 2^-11 relative to the scale, times qmax at most
      const slack = scaleDtype === 'fp16' ? 1 + 2 * qmax * 2 ** -11 : 1 + 1e-6;
      for (let blk = 0; blk < nb; blk++) {
        let m = 0;
        for (let i = blk * blockSize; i < Math.min(x.length, (blk + 1) * blockSize); i++) {
          m = Math.max(m, Math.abs(x[i]));
        }
        for (let i = blk * blockSize; i < Math.min(x.length, (blk + 1) * blockSize); i++) {
          expect(Math.abs(d[i] - x[i])).toBeLessThanOrEqual((m / (2 * qmax)) * slack);
        }
      }
    });
  }

  it('quantizers keep zero blocks exact and the block absmax exact (fp32 scales)', () => {
    const x = new Float32Array(130);
    x[70] = -5.5;
    x[71] = 1;
    for (const name of ['int8', 'int4'] as const) {
      const d = createCodec(name, { blockSize: 64 }).decode(createCodec(name, { blockSize: 64 }).encode(x));
      expect(Array.from(d.subarray(0, 64)).every((y) => y === 0)).toBe(true);
      expect(d[70]).toBeCloseTo(-5.5, 5);
    }
  });

  it('fp16 scales fall back to fp32 when scales leave fp16 range', () => {
    const x = randn(256, 3, 1e-7);
    const b = createCodec('int8', { blockSize: 64, scaleDtype: 'fp16' }).encode(x);
    expect(parseHeader(b).flags).toBe(0);
    const d = decodeAny(b);
    for (let i = 0; i < x.length; i++) expect(Math.abs(d[i] - x[i])).toBeLessThan(1e-8);
  });

  it('empty vectors round-trip in every codec', () => {
    for (const name of CODEC_NAMES) {
      const b = createCodec(name).encode(new Float32Array(0));
      expect(b.byteLength).toBe(HEADER_BYTES);
      expect(decodeAny(b).length).toBe(0);
    }
  });

  it('quantizers reject NaN and Inf', () => {
    for (const name of ['int8', 'int4', 'topk'] as const) {
      const x = randn(100, 2);
      x[77] = name === 'int4' ? Number.POSITIVE_INFINITY : Number.NaN;
      expectAgoraError(() => createCodec(name).encode(x), 'CODEC_NON_FINITE');
    }
  });
});

describe('top-k with error feedback', () => {
  it('sends exactly k entries, the largest ones, in index order', () => {
    const x = new Float32Array([0.1, -5, 0.2, 3, -0.05, 4, 0, 0, 0, 0]);
    const c = new TopKCodec({ fraction: 0.3 });
    const b = c.encode(x);
    expect(b.byteLength).toBe(HEADER_BYTES + 8 * 3);
    expect(Array.from(c.decode(b))).toEqual([0, -5, 0, 3, 0, 4, 0, 0, 0, 0]);
    expect(Array.from(c.residual!)).toEqual(
      Array.from(new Float32Array([0.1, 0, 0.2, 0, -0.05, 0, 0, 0, 0, 0])),
    );
  });

  it('breaks ties by lower index, keeping exactly k', () => {
    const c = new TopKCodec({ fraction: 0.5, errorFeedback: false });
    const d = c.decode(c.encode(new Float32Array([1, 1, 1, 1, 1, 1])));
    expect(Array.from(d)).toEqual([1, 1, 1, 0, 0, 0]);
  });

  it('the sum of decoded outputs converges to the sum of inputs', () => {
    const n = 2000;
    const c = createCodec('topk', { fraction: 0.02 });
    const sumIn = new Float64Array(n);
    const sumOut = new Float64Array(n);
    const steps = 400;
    for (let t = 0; t < steps; t++) {
      const x = randn(n, 100 + t, 1);
      for (let i = 0; i < n; i++) x[i] += 0.3 * Math.sin(i); // a persistent signal
      const d = decodeAny(c.encode(x));
      for (let i = 0; i < n; i++) {
        sumIn[i] += x[i];
        sumOut[i] += d[i];
      }
    }
    // sumIn − sumOut is exactly the residual (up to float rounding), which stays bounded.
    const r = (c as TopKCodec).residual!;
    let maxGap = 0;
    let maxIn = 0;
    let maxResidualErr = 0;
    for (let i = 0; i < n; i++) {
      maxGap = Math.max(maxGap, Math.abs(sumIn[i] - sumOut[i]));
      maxIn = Math.max(maxIn, Math.abs(sumIn[i]));
      maxResidualErr = Math.max(maxResidualErr, Math.abs(sumIn[i] - sumOut[i] - r[i]));
    }
    expect(maxResidualErr).toBeLessThan(1e-2);
    // relative gap shrinks with steps: the persistent signal's sum grows ∝ steps, the gap stays O(1)
    expect(maxGap / maxIn).toBeLessThan(0.25);
    // without error feedback the small entries never arrive: the gap is much larger
    const noEf = createCodec('topk', { fraction: 0.02, errorFeedback: false });
    const sumOut2 = new Float64Array(n);
    for (let t = 0; t < steps; t++) {
      const x = randn(n, 100 + t, 1);
      for (let i = 0; i < n; i++) x[i] += 0.3 * Math.sin(i);
      const d = decodeAny(noEf.encode(x));
      for (let i = 0; i < n; i++) sumOut2[i] += d[i];
    }
    let maxGap2 = 0;
    for (let i = 0; i < n; i++) maxGap2 = Math.max(maxGap2, Math.abs(sumIn[i] - sumOut2[i]));
    expect(maxGap2).toBeGreaterThan(3 * maxGap);
  });

  it('rejects a vector of a different length than its residual', () => {
    const c = createCodec('topk');
    c.encode(new Float32Array(10));
    expectAgoraError(() => c.encode(new Float32Array(11)), 'CODEC_LENGTH_CHANGED');
  });

  it('kthLargest matches a sort', () => {
    const x = randn(1001, 9);
    const sorted = Array.from(x).sort((a, b) => b - a);
    for (const k of [1, 2, 10, 500, 1001]) expect(kthLargest(x.slice(), k)).toBe(sorted[k - 1]);
    const dup = new Float32Array([3, 3, 3, 1, 1, 2, 2, 2, 2]);
    for (let k = 1; k <= dup.length; k++) {
      expect(kthLargest(dup.slice(), k)).toBe([3, 3, 3, 2, 2, 2, 2, 1, 1][k - 1]);
    }
  });
});

describe('malformed messages', () => {
  const x = randn(300, 5);
  const names: CodecName[] = ['fp32', 'fp16', 'int8', 'int4', 'topk'];

  it('truncation and extension are rejected', () => {
    for (const name of names) {
      const b = createCodec(name).encode(x);
      expectAgoraError(() => decodeAny(b.subarray(0, b.byteLength - 1)), 'CODEC_TRUNCATED');
      expectAgoraError(() => decodeAny(b.subarray(0, 10)), 'CODEC_TRUNCATED');
      const longer = new Uint8Array(b.byteLength + 4);
      longer.set(b);
      expectAgoraError(() => decodeAny(longer), 'CODEC_LENGTH_MISMATCH');
    }
  });

  it('header tampering is rejected', () => {
    const b = createCodec('int8', { blockSize: 64 }).encode(x);
    const bad = (i: number, val: number) => {
      const c = b.slice();
      c[i] = val;
      return c;
    };
    expectAgoraError(() => decodeAny(bad(0, 0x58)), 'CODEC_BAD_MAGIC');
    expectAgoraError(() => decodeAny(bad(3, 9)), 'CODEC_BAD_VERSION');
    expectAgoraError(() => decodeAny(bad(4, 42)), 'CODEC_UNKNOWN');
    expectAgoraError(() => decodeAny(bad(6, 1)), 'CODEC_BAD_HEADER');
    expectAgoraError(() => decodeAny(bad(5, 0x80)), 'CODEC_BAD_HEADER');
    expectAgoraError(() => decodeAny(bad(8, 0x2d)), 'CODEC_TRUNCATED'); // count 301 → needs more bytes
    expectAgoraError(() => decodeAny(bad(12, 0)), 'CODEC_BAD_HEADER'); // block size 0
    expectAgoraError(() => decodeAny(bad(12, 32)), 'CODEC_TRUNCATED'); // more blocks → more scales
    expectAgoraError(() => decodeAny(bad(5, 1)), 'CODEC_LENGTH_MISMATCH'); // fp16 scales → shorter
    expectAgoraError(() => createCodec('fp32').decode(b), 'CODEC_MISMATCH');
    // a NaN scale
    const c = b.slice();
    new DataView(c.buffer).setFloat32(HEADER_BYTES, Number.NaN, true);
    expectAgoraError(() => decodeAny(c), 'CODEC_BAD_SCALE');
  });

  it('top-k indices out of order or out of range are rejected', () => {
    const b = createCodec('topk', { fraction: 0.1 }).encode(x);
    const dv = new DataView(b.buffer);
    const c = b.slice();
    new DataView(c.buffer).setUint32(HEADER_BYTES + 4, dv.getUint32(HEADER_BYTES, true), true);
    expectAgoraError(() => decodeAny(c), 'CODEC_BAD_INDEX');
    const d = b.slice();
    new DataView(d.buffer).setUint32(HEADER_BYTES + 4 * 29, 300, true);
    expectAgoraError(() => decodeAny(d), 'CODEC_BAD_INDEX');
    const e = b.slice();
    new DataView(e.buffer).setUint32(12, 301, true); // k > count
    expectAgoraError(() => decodeAny(e), 'CODEC_BAD_HEADER');
  });

  it('bad options are rejected', () => {
    expectAgoraError(() => createCodec('int8', { blockSize: 0 }), 'CODEC_BAD_OPTION');
    expectAgoraError(() => createCodec('topk', { fraction: 0 }), 'CODEC_BAD_OPTION');
    expectAgoraError(() => createCodec('nope' as CodecName), 'CODEC_UNKNOWN');
  });
});
