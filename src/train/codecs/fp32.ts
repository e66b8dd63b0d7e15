/** fp32: the exact codec. Payload: `count` little-endian float32 values. 4 bytes per element + 16. */
import type { Codec } from '../codec.ts';
import { aligned4, allocMessage, checkLength, expectCodec, HEADER_BYTES, parseHeader } from './header.ts';

export function fp32Bytes(count: number): number {
  return HEADER_BYTES + 4 * count;
}

export class Fp32Codec implements Codec {
  readonly name = 'fp32' as const;

  encode(v: Float32Array): Uint8Array {
    const buf = allocMessage('fp32', v.length, 0, 0, fp32Bytes(v.length));
    new Float32Array(buf, HEADER_BYTES, v.length).set(v);
    return new Uint8Array(buf);
  }

  decode(bytes: Uint8Array): Float32Array {
    const h = parseHeader(bytes);
    expectCodec(h, 'fp32');
    return decodeFp32Payload(bytes, h.count);
  }
}

export function decodeFp32Payload(bytes: Uint8Array, count: number): Float32Array {
  checkLength(bytes, { codec: 'fp32', version: 1, flags: 0, count, param: 0 }, fp32Bytes(count));
  const b = aligned4(bytes);
  return new Float32Array(b.buffer, b.byteOffset + HEADER_BYTES, count).slice();
}
