/**
 * int4: blockwise absmax quantization to 4 bits. Each block of `blockSize` elements has scale
 * s = absmax/7 and codes q = round(x/s) ∈ [-7, 7], stored two's-complement, two per byte: element
 * 2j in the low nibble of byte j, element 2j+1 in the high nibble. Per-element error ≤ s/2.
 * Wire size: 16 + nBlocks·(4 | 2) + ceil(count/2) bytes.
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

export function int4Bytes(count: number, blockSize: number, flags: number): number {
  return HEADER_BYTES + blockCount(count, blockSize) * scaleBytes(flags) + Math.ceil(count / 2);
}

export class Int4Codec implements Codec {
  readonly name = 'int4' as const;
  readonly blockSize: number;
  readonly fp16Scales: boolean;

  constructor(opts: BlockwiseOptions = {}) {
    this.blockSize = checkBlockSize(opts.blockSize ?? 64);
    this.fp16Scales = opts.scaleDtype === 'fp16';
  }

  encode(v: Float32Array): Uint8Array {
    const n = v.length;
    const bs = this.blockSize;
    const { scales, flags } = computeScales(v, bs, 7, this.fp16Scales, (i) => nonFinite('int4', i));
    const nb = scales.length;
    const buf = allocMessage('int4', n, bs, flags, int4Bytes(n, bs, flags));
    writeScales(buf, scales, flags);
    const packed = new Uint8Array(buf, HEADER_BYTES + nb * scaleBytes(flags), Math.ceil(n / 2));
    for (let b = 0; b < nb; b++) {
      const s = scales[b];
      const inv = s > 0 ? 1 / s : 0;
      const start = b * bs;
      const end = Math.min(n, start + bs);
      for (let i = start; i < end; i++) {
        const r = v[i] * inv;
        let c = r < 0 ? -((0.5 - r) | 0) : (r + 0.5) | 0;
        if (c > 7) c = 7;
        else if (c < -7) c = -7;
        if (i & 1) packed[i >>> 1] |= (c & 15) << 4;
        else packed[i >>> 1] = c & 15;
      }
    }
    return new Uint8Array(buf);
  }

  decode(bytes: Uint8Array): Float32Array {
    const h = parseHeader(bytes);
    expectCodec(h, 'int4');
    return decodeInt4(bytes);
  }
}

export function decodeInt4(bytes: Uint8Array): Float32Array {
  const h = parseHeader(bytes);
  checkHeaderBlockSize(h);
  const n = h.count;
  const bs = h.param;
  const nb = blockCount(n, bs);
  checkLength(bytes, h, int4Bytes(n, bs, h.flags));
  const b = aligned4(bytes);
  const scales = readScales(b, h, nb);
  const packed = new Uint8Array(
    b.buffer,
    b.byteOffset + HEADER_BYTES + nb * scaleBytes(h.flags),
    Math.ceil(n / 2),
  );
  const out = new Float32Array(n);
  for (let k = 0; k < nb; k++) {
    const s = scales[k];
    const start = k * bs;
    const end = Math.min(n, start + bs);
    for (let i = start; i < end; i++) {
      const nib = (packed[i >>> 1] >>> ((i & 1) << 2)) & 15;
      out[i] = ((nib << 28) >> 28) * s;
    }
  }
  return out;
}
