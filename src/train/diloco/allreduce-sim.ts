/**
 * An in-process simulation of the compressed butterfly all-reduce (`/agora/allreduce/1`,
 * src/net/allreduce.ts), used by the DiLoCo and FedAvg simulations for numerics and exact bytes:
 *
 * 1. scatter: worker i splits its vector into K slices (sliceBounds) and sends slice j, encoded
 *    with its own codec for (i, j), to owner j (j ≠ i; the owner keeps its own slice raw);
 * 2. the owner decodes the K−1 parts, averages them with its own slice (float64 accumulation);
 * 3. gather: the owner encodes the mean slice once and sends the same bytes to the other K−1
 *    workers; everyone (owner included) decodes those bytes, so all end bit-identical. The owner
 *    keeps one codec per slice across rounds, so top-k's error feedback also covers the gather
 *    (a fresh codec per round would silently drop the unsent part of the mean every round).
 */

import { AgoraError } from '../../errors.ts';
import type { Codec } from '../codec.ts';
import { decodeAny } from '../codecs/index.ts';
import { sliceBounds } from './bytes.ts';

export type AllReduceSimResult = {
  /** The mean every worker ends with. */
  mean: Float32Array;
  /** Bytes each worker sent (scatter + gather, headers included). */
  bytesSent: number[];
};

export class AllReduceSim {
  readonly workers: number;
  readonly makeCodec: () => Codec;
  /** scatter codecs by `${worker}:${slice}` (stateful codecs keep their residual per slice). */
  readonly #scatter = new Map<string, Codec>();
  /** gather codecs by owner (slice) index. */
  readonly #gather = new Map<number, Codec>();

  constructor(workers: number, makeCodec: () => Codec) {
    this.workers = workers;
    this.makeCodec = makeCodec;
  }

  run(vectors: readonly Float32Array[]): AllReduceSimResult {
    const K = this.workers;
    if (vectors.length !== K) {
      throw new AgoraError('ALLREDUCE_BAD_INPUT', `Expected ${K} vectors, got ${vectors.length}.`);
    }
    const n = vectors[0].length;
    for (const v of vectors) {
      if (v.length !== n) throw new AgoraError('ALLREDUCE_BAD_INPUT', 'All-reduce vectors differ in length.');
    }
    const bytesSent = new Array<number>(K).fill(0);
    if (K === 1) return { mean: vectors[0].slice(), bytesSent };
    const mean = new Float32Array(n);
    for (let j = 0; j < K; j++) {
      const [s, e] = sliceBounds(n, K, j);
      const acc = new Float64Array(e - s);
      for (let i = 0; i < K; i++) {
        const slice = vectors[i].subarray(s, e);
        let part: Float32Array;
        if (i === j) {
          part = slice;
        } else {
          const key = `${i}:${j}`;
          let c = this.#scatter.get(key);
          if (c === undefined) {
            c = this.makeCodec();
            this.#scatter.set(key, c);
          }
          const bytes = c.encode(slice);
          bytesSent[i] += bytes.byteLength;
          part = decodeAny(bytes);
        }
        for (let t = 0; t < part.length; t++) acc[t] += part[t];
      }
      const m = new Float32Array(e - s);
      for (let t = 0; t < m.length; t++) m[t] = acc[t] / K;
      let g = this.#gather.get(j);
      if (g === undefined) {
        g = this.makeCodec();
        this.#gather.set(j, g);
      }
      const out = g.encode(m);
      bytesSent[j] += out.byteLength * (K - 1);
      mean.set(decodeAny(out), s);
    }
    return { mean, bytesSent };
  }
}
