/**
 * The self-describing header every codec message starts with (16 bytes, little-endian):
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 3 | magic `AGC` (0x41 0x47 0x43) |
 * | 3 | 1 | format version (1) |
 * | 4 | 1 | codec id (1 fp32, 2 fp16, 3 int8, 4 int4, 5 topk) |
 * | 5 | 1 | flags (bit 0: block scales are fp16 instead of fp32) |
 * | 6 | 2 | reserved, must be 0 |
 * | 8 | 4 | element count of the decoded vector (u32) |
 * | 12 | 4 | codec parameter (u32): block size for int8/int4, k for topk, 0 otherwise |
 *
 * The payload starts at byte 16, so 4-byte typed-array views on it are aligned.
 */

import { AgoraError } from '../../errors.ts';
import type { CodecName } from '../codec.ts';

export const HEADER_BYTES = 16;
export const CODEC_FORMAT_VERSION = 1;
const MAGIC0 = 0x41;
const MAGIC1 = 0x47;
const MAGIC2 = 0x43;

export const FLAG_FP16_SCALES = 1;

export const CODEC_IDS: Readonly<Record<CodecName, number>> = { fp32: 1, fp16: 2, int8: 3, int4: 4, topk: 5 };
const NAMES_BY_ID: readonly (CodecName | undefined)[] = [undefined, 'fp32', 'fp16', 'int8', 'int4', 'topk'];

export type CodecHeader = {
  codec: CodecName;
  version: number;
  flags: number;
  /** Number of float32 elements in the decoded vector. */
  count: number;
  /** Block size (int8, int4), k (topk), or 0. */
  param: number;
};

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new AgoraError('CODEC_BIG_ENDIAN_HOST', 'Agora codecs assume a little-endian host.', {
    hint: 'Run on x86-64 or ARM (little-endian).',
  });
}

/** Allocates a message of `totalBytes` and writes the header; returns the buffer. */
export function allocMessage(
  codec: CodecName,
  count: number,
  param: number,
  flags: number,
  totalBytes: number,
): ArrayBuffer {
  if (!Number.isInteger(count) || count < 0 || count > 0xffffffff) {
    throw new AgoraError('CODEC_TOO_LARGE', `Cannot encode ${count} elements: the limit is 2^32 - 1.`, {
      hint: 'Split the vector into chunks and encode each one.',
    });
  }
  const buf = new ArrayBuffer(totalBytes);
  const dv = new DataView(buf);
  dv.setUint8(0, MAGIC0);
  dv.setUint8(1, MAGIC1);
  dv.setUint8(2, MAGIC2);
  dv.setUint8(3, CODEC_FORMAT_VERSION);
  dv.setUint8(4, CODEC_IDS[codec]);
  dv.setUint8(5, flags);
  dv.setUint16(6, 0, true);
  dv.setUint32(8, count, true);
  dv.setUint32(12, param, true);
  return buf;
}

/** Parses and validates the header (magic, version, codec id, reserved bits). Does not check the payload. */
export function parseHeader(bytes: Uint8Array): CodecHeader {
  if (bytes.byteLength < HEADER_BYTES) {
    throw new AgoraError(
      'CODEC_TRUNCATED',
      `Codec message is ${bytes.byteLength} bytes, shorter than the ${HEADER_BYTES}-byte header.`,
      { hint: 'The message was cut off in transit; request it again.' },
    );
  }
  if (bytes[0] !== MAGIC0 || bytes[1] !== MAGIC1 || bytes[2] !== MAGIC2) {
    throw new AgoraError('CODEC_BAD_MAGIC', 'Not an Agora codec message: the first 3 bytes are not "AGC".', {
      hint: 'Only pass bytes produced by a codec from src/train/codecs.',
    });
  }
  const version = bytes[3];
  if (version !== CODEC_FORMAT_VERSION) {
    throw new AgoraError(
      'CODEC_BAD_VERSION',
      `Codec message has format version ${version}; this build reads version ${CODEC_FORMAT_VERSION}.`,
      { hint: 'Upgrade the peer that is older.' },
    );
  }
  const codec = NAMES_BY_ID[bytes[4]];
  if (codec === undefined) {
    throw new AgoraError('CODEC_UNKNOWN', `Codec message names unknown codec id ${bytes[4]}.`, {
      hint: 'Known ids: 1 fp32, 2 fp16, 3 int8, 4 int4, 5 topk.',
    });
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const flags = bytes[5];
  if (dv.getUint16(6, true) !== 0 || (flags & ~FLAG_FP16_SCALES) !== 0) {
    throw new AgoraError('CODEC_BAD_HEADER', 'Codec message has reserved header bits set.', {
      hint: 'The message is corrupt or from an incompatible peer.',
    });
  }
  return { codec, version, flags, count: dv.getUint32(8, true), param: dv.getUint32(12, true) };
}

/** Throws unless the message is exactly `expected` bytes long. */
export function checkLength(bytes: Uint8Array, h: CodecHeader, expected: number): void {
  if (bytes.byteLength < expected) {
    throw new AgoraError(
      'CODEC_TRUNCATED',
      `${h.codec} message for ${h.count} elements should be ${expected} bytes but is ${bytes.byteLength}.`,
      { hint: 'The message was cut off in transit (or its header was altered); request it again.' },
    );
  }
  if (bytes.byteLength > expected) {
    throw new AgoraError(
      'CODEC_LENGTH_MISMATCH',
      `${h.codec} message for ${h.count} elements should be ${expected} bytes but is ${bytes.byteLength}.`,
      { hint: 'The header does not match the payload: the message is corrupt.' },
    );
  }
}

/** Throws unless the header names `name` (a codec decodes only its own messages). */
export function expectCodec(h: CodecHeader, name: CodecName): void {
  if (h.codec !== name) {
    throw new AgoraError('CODEC_MISMATCH', `A ${name} codec cannot decode a ${h.codec} message.`, {
      hint: 'Use decodeAny() from src/train/codecs to decode messages of any codec.',
    });
  }
}

/** Returns `bytes` if its byteOffset is a multiple of 4, else an aligned copy (also for Node Buffers, whose slice() is a view). */
export function aligned4(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
}

export function nonFinite(name: CodecName, index: number): AgoraError {
  return new AgoraError(
    'CODEC_NON_FINITE',
    `Cannot ${name}-encode a vector with a NaN or infinite value (block or element starting at ${index}).`,
    { hint: 'Training diverged: lower the learning rate or enable gradient clipping.' },
  );
}
