/**
 * Pseudo-gradient codecs. `createCodec(name, opts)` makes an encoder/decoder; `decodeAny(bytes)`
 * decodes a message of any codec (the 16-byte header says which). Wire formats: header.ts and
 * docs/training-data-and-diloco.md.
 */

import { AgoraError } from '../../errors.ts';
import type { Codec, CodecName } from '../codec.ts';
import type { BlockwiseOptions } from './blockwise.ts';
import { Fp16Codec } from './fp16.ts';
import { decodeFp32Payload, Fp32Codec } from './fp32.ts';
import { parseHeader } from './header.ts';
import { decodeInt4, Int4Codec } from './int4.ts';
import { decodeInt8, Int8Codec } from './int8.ts';
import { decodeTopk, TopKCodec, type TopKOptions } from './topk.ts';

export type { BlockwiseOptions, ScaleDtype } from './blockwise.ts';
export { type CodecHeader, HEADER_BYTES, parseHeader } from './header.ts';
export type { TopKOptions } from './topk.ts';
export { Fp16Codec, Fp32Codec, Int4Codec, Int8Codec, TopKCodec };

export const CODEC_NAMES: readonly CodecName[] = ['fp32', 'fp16', 'int8', 'int4', 'topk'];

export type CodecOptions = BlockwiseOptions & TopKOptions;

/** A fresh codec. Top-k is stateful (error-feedback residual): use one instance per sender and vector. */
export function createCodec(name: CodecName, opts: CodecOptions = {}): Codec {
  switch (name) {
    case 'fp32':
      return new Fp32Codec();
    case 'fp16':
      return new Fp16Codec();
    case 'int8':
      return new Int8Codec(opts);
    case 'int4':
      return new Int4Codec(opts);
    case 'topk':
      return new TopKCodec(opts);
    default:
      throw new AgoraError('CODEC_UNKNOWN', `Unknown codec "${String(name)}".`, {
        hint: `Choose one of: ${CODEC_NAMES.join(', ')}.`,
      });
  }
}

export function isCodecName(s: string): s is CodecName {
  return (CODEC_NAMES as readonly string[]).includes(s);
}

const fp16Decoder = new Fp16Codec();

/** Decodes a message of any codec; throws AgoraError on a malformed, truncated or tampered message. */
export function decodeAny(bytes: Uint8Array): Float32Array {
  const h = parseHeader(bytes);
  switch (h.codec) {
    case 'fp32':
      return decodeFp32Payload(bytes, h.count);
    case 'fp16':
      return fp16Decoder.decode(bytes);
    case 'int8':
      return decodeInt8(bytes);
    case 'int4':
      return decodeInt4(bytes);
    case 'topk':
      return decodeTopk(bytes);
  }
}
