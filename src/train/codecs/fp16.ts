/**
 * fp16: IEEE binary16, round-to-nearest-even. Payload: `count` little-endian fp16 values.
 * 2 bytes per element + 16. Relative error ≤ 2^-11 for |x| in [6.1e-5, 65504]; larger values
 * become ±Infinity, so use int8 (per-block scales) for vectors that may exceed fp16 range.
 */
import type { Codec } from '../codec.ts';
import { decodeHalfArray, encodeHalfArray } from './half.ts';
import { aligned4, allocMessage, checkLength, expectCodec, HEADER_BYTES, parseHeader } from './header.ts';

export function fp16Bytes(count: number): number {
  return HEADER_BYTES + 2 * count;
}

export class Fp16Codec implements Codec {
  readonly name = 'fp16' as const;

  encode(v: Float32Array): Uint8Array {
    const buf = allocMessage('fp16', v.length, 0, 0, fp16Bytes(v.length));
    encodeHalfArray(v, new Uint16Array(buf, HEADER_BYTES, v.length));
    return new Uint8Array(buf);
  }

  decode(bytes: Uint8Array): Float32Array {
    const h = parseHeader(bytes);
    expectCodec(h, 'fp16');
    checkLength(bytes, h, fp16Bytes(h.count));
    const b = aligned4(bytes);
    const out = new Float32Array(h.count);
    decodeHalfArray(new Uint16Array(b.buffer, b.byteOffset + HEADER_BYTES, h.count), out);
    return out;
  }
}
