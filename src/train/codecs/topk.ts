/**
 * top-k with error feedback. Each `encode(v)` adds the carried residual to `v`, keeps the k entries
 * of largest magnitude (k = max(1, round(fraction·count)), ties broken by lower index), sends them
 * exactly (float32), and carries everything else to the next call as the new residual. Over many
 * steps the sum of decoded outputs tracks the sum of inputs (the difference is the residual).
 *
 * Payload: k u32 indices, strictly increasing, then k float32 values.
 * Wire size: 16 + 8·k bytes. Header param = k.
 */

import { AgoraError } from '../../errors.ts';
import type { Codec } from '../codec.ts';
import {
  aligned4,
  allocMessage,
  checkLength,
  expectCodec,
  HEADER_BYTES,
  nonFinite,
  parseHeader,
} from './header.ts';

export type TopKOptions = {
  /** Fraction of entries sent per message, in (0, 1]. Default 0.01. */
  fraction?: number;
  /** Carry unsent mass to the next encode (default true). */
  errorFeedback?: boolean;
};

export function topkBytes(k: number): number {
  return HEADER_BYTES + 8 * k;
}

export function topkCount(count: number, fraction: number): number {
  if (count === 0) return 0;
  return Math.min(count, Math.max(1, Math.round(fraction * count)));
}

export class TopKCodec implements Codec {
  readonly name = 'topk' as const;
  readonly fraction: number;
  readonly errorFeedback: boolean;
  #residual: Float32Array | undefined;

  constructor(opts: TopKOptions = {}) {
    const f = opts.fraction ?? 0.01;
    if (!(f > 0 && f <= 1)) {
      throw new AgoraError('CODEC_BAD_OPTION', `top-k fraction must be in (0, 1], got ${f}.`, {
        hint: 'For example 0.01 sends 1% of the entries.',
      });
    }
    this.fraction = f;
    this.errorFeedback = opts.errorFeedback ?? true;
  }

  /** The carried residual (a copy), or undefined before the first encode. */
  get residual(): Float32Array | undefined {
    return this.#residual?.slice();
  }

  /** Forgets the residual (e.g. when the model is re-initialized). */
  reset(): void {
    this.#residual = undefined;
  }

  encode(v: Float32Array): Uint8Array {
    const n = v.length;
    let acc: Float32Array;
    if (this.errorFeedback) {
      if (this.#residual !== undefined && this.#residual.length !== n) {
        throw new AgoraError(
          'CODEC_LENGTH_CHANGED',
          `top-k codec carries a residual of ${this.#residual.length} elements but got ${n}.`,
          { hint: 'Use one top-k codec instance per vector layout, or call reset() first.' },
        );
      }
      acc = this.#residual ?? new Float32Array(n);
      for (let i = 0; i < n; i++) acc[i] += v[i];
    } else {
      acc = v;
    }
    const mags = new Float32Array(n);
    let bad = 0;
    for (let i = 0; i < n; i++) {
      const x = acc[i];
      mags[i] = x < 0 ? -x : x;
      bad += x - x;
    }
    if (bad !== 0) {
      this.#residual = undefined;
      throw nonFinite('topk', 0);
    }
    const k = topkCount(n, this.fraction);
    const buf = allocMessage('topk', n, k, 0, topkBytes(k));
    const idx = new Uint32Array(buf, HEADER_BYTES, k);
    const val = new Float32Array(buf, HEADER_BYTES + 4 * k, k);
    if (k > 0) {
      const thr = kthLargest(mags.slice(), k);
      let greater = 0;
      for (let i = 0; i < n; i++) if (mags[i] > thr) greater++;
      let ties = k - greater;
      let j = 0;
      for (let i = 0; i < n; i++) {
        const m = mags[i];
        if (m > thr || (m === thr && ties-- > 0)) {
          idx[j] = i;
          val[j] = acc[i];
          j++;
        }
      }
    }
    if (this.errorFeedback) {
      for (let j = 0; j < k; j++) acc[idx[j]] = 0;
      this.#residual = acc;
    }
    return new Uint8Array(buf);
  }

  decode(bytes: Uint8Array): Float32Array {
    const h = parseHeader(bytes);
    expectCodec(h, 'topk');
    return decodeTopk(bytes);
  }
}

export function decodeTopk(bytes: Uint8Array): Float32Array {
  const h = parseHeader(bytes);
  const n = h.count;
  const k = h.param;
  if (k > n) {
    throw new AgoraError('CODEC_BAD_HEADER', `topk message claims k=${k} entries of a ${n}-element vector.`, {
      hint: 'The message is corrupt; request it again.',
    });
  }
  checkLength(bytes, h, topkBytes(k));
  const b = aligned4(bytes);
  const idx = new Uint32Array(b.buffer, b.byteOffset + HEADER_BYTES, k);
  const val = new Float32Array(b.buffer, b.byteOffset + HEADER_BYTES + 4 * k, k);
  const out = new Float32Array(n);
  let prev = -1;
  for (let j = 0; j < k; j++) {
    const i = idx[j];
    if (i <= prev || i >= n) {
      throw new AgoraError(
        'CODEC_BAD_INDEX',
        `topk message has index ${i} at position ${j}: indices must be strictly increasing and < ${n}.`,
        { hint: 'The message is corrupt; request it again.' },
      );
    }
    out[i] = val[j];
    prev = i;
  }
  return out;
}

/** The k-th largest value of `a` (1-based; destroys the order of `a`). Iterative quickselect. */
export function kthLargest(a: Float32Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  const target = k - 1; // position in descending order
  while (hi > lo) {
    // median of three pivot
    const mid = (lo + hi) >>> 1;
    let x = a[lo];
    let y = a[mid];
    let z = a[hi];
    if (x < y) [x, y] = [y, x];
    if (y < z) [y, z] = [z, y];
    if (x < y) [x, y] = [y, x];
    const pivot = y;
    // Hoare-style partition into [> pivot | ... | < pivot] (descending)
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}
