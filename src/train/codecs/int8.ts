/**
 * int8: blockwise absmax quantization. Each block of `blockSize` elements has scale
 * s = absmax/127 and codes q = round(x/s) ∈ [-127, 127]; decode is q·s. Per-element error ≤ s/2
 * (plus fp16 rounding of s when fp16 scales are used).
 * Wire size: 16 + nBlocks·(4 | 2) + count bytes.
 */
import type { Codec } from '../codec.ts';
import {
  type BlockwiseOptions,
  blockCount,
  checkBlockSize,
  checkHeaderBlockSize,
  computeScales,
  readScales,
  scaleBytes,
  writeScales,
} from './blockwise.ts';
import {
  aligned4,
  allocMessage,
  checkLength,
  expectCodec,
  HEADER_BYTES,
  nonFinite,
  parseHeader,
} from './header.ts';

export function int8Bytes(count: number, blockSize: number, flags: number): number {
  return HEADER_BYTES + blockCount(count, blockSize) * scaleBytes(flags) + count;
}

export class Int8Codec implements Codec {
  readonly name = 'int8' as const;
  readonly blockSize: number;
  readonly fp16Scales: boolean;

  constructor(opts: BlockwiseOptions = {}) {
    this.blockSize = checkBlockSize(opts.blockSize ?? 256);
    this.fp16Scales = opts.scaleDtype === 'fp16';
  }

  encode(v: Float32Array): Uint8Array {
    const n = v.length;
    const bs = this.blockSize;
    const { scales, flags } = computeScales(v, bs, 127, this.fp16Scales, (i) => nonFinite('int8', i));
    const nb = scales.length;
    const total = int8Bytes(n, bs, flags);
    const buf = allocMessage('int8', n, bs, flags, total);
    writeScales(buf, scales, flags);
    const q = new Int8Array(buf, HEADER_BYTES + nb * scaleBytes(flags), n);
    for (let b = 0; b < nb; b++) {
      const s = scales[b];
      const inv = s > 0 ? 1 / s : 0;
      const start = b * bs;
      const end = Math.min(n, start + bs);
      for (let i = start; i < end; i++) {
        const r = v[i] * inv;
        let c = r < 0 ? -((0.5 - r) | 0) : (r + 0.5) | 0;
        if (c > 127) c = 127;
        else if (c < -127) c = -127;
        q[i] = c;
      }
    }
    return new Uint8Array(buf);
  }

  decode(bytes: Uint8Array): Float32Array {
    const h = parseHeader(bytes);
    expectCodec(h, 'int8');
    return decodeInt8(bytes);
  }
}

export function decodeInt8(bytes: Uint8Array): Float32Array {
  const h = parseHeader(bytes);
  checkHeaderBlockSize(h);
  const n = h.count;
  const bs = h.param;
  const nb = blockCount(n, bs);
  checkLength(bytes, h, int8Bytes(n, bs, h.flags));
  const b = aligned4(bytes);
  const scales = readScales(b, h, nb);
  const q = new Int8Array(b.buffer, b.byteOffset + HEADER_BYTES + nb * scaleBytes(h.flags), n);
  const out = new Float32Array(n);
  for (let k = 0; k < nb; k++) {
    const s = scales[k];
    const start = k * bs;
    const end = Math.min(n, start + bs);
    for (let i = start; i < end; i++) out[i] = q[i] * s;
  }
  return out;
}
