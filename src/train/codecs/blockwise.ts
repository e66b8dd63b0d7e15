/**
 * Shared layout of the blockwise absmax codecs (int8, int4). The vector is cut into blocks of
 * `blockSize` elements (the last one may be shorter); each block stores one scale
 * `absmax(block) / qmax` and integer codes `round(x / scale)` in [-qmax, qmax].
 *
 * Payload: `nBlocks` scales (float32, or fp16 when header flag bit 0 is set), then the codes.
 */
import { AgoraError } from '../../errors.ts';
import { decodeHalfArray, f32BitsToHalf, halfTable } from './half.ts';
import { type CodecHeader, FLAG_FP16_SCALES, HEADER_BYTES } from './header.ts';

export type ScaleDtype = 'fp32' | 'fp16';

export type BlockwiseOptions = {
  /** Elements per block (each block has one scale). Default 256 for int8, 64 for int4. */
  blockSize?: number;
  /**
   * Scale storage. 'fp16' halves scale overhead; a message whose scales would leave fp16's normal
   * range (absmax/qmax outside [6.1e-5, 65504]) falls back to fp32 scales (header flag says which).
   * Default 'fp32'.
   */
  scaleDtype?: ScaleDtype;
};

export function checkBlockSize(blockSize: number): number {
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > 0x7fffffff) {
    throw new AgoraError('CODEC_BAD_OPTION', `Block size must be a positive integer, got ${blockSize}.`, {
      hint: 'Typical block sizes are 64 or 256.',
    });
  }
  return blockSize;
}

export function blockCount(count: number, blockSize: number): number {
  return Math.ceil(count / blockSize);
}

export function scaleBytes(flags: number): number {
  return flags & FLAG_FP16_SCALES ? 2 : 4;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const FP16_MIN_NORMAL = 2 ** -14;
const FP16_MAX = 65504;

/**
 * Computes per-block scales (absmax / qmax), rounded to fp16 when `wantFp16` and every scale fits
 * fp16's normal range. Throws on NaN/Inf in `v`. Returns scales (as they will be decoded) and flags.
 */
export function computeScales(
  v: Float32Array,
  blockSize: number,
  qmax: number,
  wantFp16: boolean,
  onNonFinite: (index: number) => Error,
): { scales: Float32Array; flags: number } {
  const n = v.length;
  const nb = blockCount(n, blockSize);
  const scales = new Float32Array(nb);
  let fits16 = wantFp16;
  for (let b = 0; b < nb; b++) {
    const start = b * blockSize;
    const end = Math.min(n, start + blockSize);
    let m = 0;
    let bad = 0;
    for (let i = start; i < end; i++) {
      const x = v[i];
      const a = x < 0 ? -x : x;
      if (a > m) m = a;
      bad += x - x; // NaN for NaN and ±Inf, 0 otherwise
    }
    if (bad !== 0) throw onNonFinite(start);
    const s = m / qmax;
    scales[b] = s;
    if (fits16 && s !== 0 && (s < FP16_MIN_NORMAL || s > FP16_MAX)) fits16 = false;
  }
  if (fits16) {
    const t = halfTable();
    for (let b = 0; b < nb; b++) {
      f32[0] = scales[b];
      scales[b] = t[f32BitsToHalf(u32[0])];
    }
  }
  return { scales, flags: fits16 ? FLAG_FP16_SCALES : 0 };
}

/** Writes the scales into the message at the payload start. */
export function writeScales(buf: ArrayBuffer, scales: Float32Array, flags: number): void {
  if (flags & FLAG_FP16_SCALES) {
    const dst = new Uint16Array(buf, HEADER_BYTES, scales.length);
    const bits = new Uint32Array(scales.buffer, scales.byteOffset, scales.length);
    for (let i = 0; i < scales.length; i++) dst[i] = f32BitsToHalf(bits[i]);
  } else {
    new Float32Array(buf, HEADER_BYTES, scales.length).set(scales);
  }
}

/** Reads and validates the scales of an aligned message. */
export function readScales(b: Uint8Array, h: CodecHeader, nb: number): Float32Array {
  let scales: Float32Array;
  if (h.flags & FLAG_FP16_SCALES) {
    scales = new Float32Array(nb);
    decodeHalfArray(new Uint16Array(b.buffer, b.byteOffset + HEADER_BYTES, nb), scales);
  } else {
    scales = new Float32Array(b.buffer, b.byteOffset + HEADER_BYTES, nb);
  }
  for (let i = 0; i < nb; i++) {
    const s = scales[i];
    if (!(s >= 0 && s < Number.POSITIVE_INFINITY)) {
      throw new AgoraError(
        'CODEC_BAD_SCALE',
        `${h.codec} message has an invalid scale (${s}) in block ${i}.`,
        {
          hint: 'The message is corrupt; request it again.',
        },
      );
    }
  }
  return scales;
}

export function checkHeaderBlockSize(h: CodecHeader): void {
  if (h.param < 1) {
    throw new AgoraError('CODEC_BAD_HEADER', `${h.codec} message has block size 0.`, {
      hint: 'The message is corrupt; request it again.',
    });
  }
}
