/**
 * Error feedback for a lossy codec (Seide et al. 2014; Karimireddy et al. 2019, "EF-SGD"): the
 * sender keeps the part of each vector the codec did not transmit and adds it to the next vector
 * it sends through the same codec: u = v + e, send Q(u), e ← u − decode(Q(u)). Over rounds nothing
 * is lost, only delayed. Used by the DiLoCo loop (`errorFeedback: true`) around every scatter and
 * gather codec of the simulated all-reduce, which keeps one codec per (sender, slice) across rounds.
 * The wire bytes are exactly the inner codec's (decodable with `decodeAny`).
 */
import { AgoraError } from '../../errors.ts';
import type { Codec } from '../codec.ts';

export class ErrorFeedbackCodec implements Codec {
  readonly inner: Codec;
  #residual: Float32Array | undefined;

  constructor(inner: Codec) {
    this.inner = inner;
  }

  get name(): Codec['name'] {
    return this.inner.name;
  }

  /** The residual carried to the next `encode` (a copy; zeros before the first call). */
  get residual(): Float32Array {
    return this.#residual?.slice() ?? new Float32Array(0);
  }

  encode(v: Float32Array): Uint8Array {
    let e = this.#residual;
    if (e === undefined || e.length !== v.length) {
      if (e !== undefined) {
        throw new AgoraError(
          'CODEC_BAD_INPUT',
          `Error feedback: vector length changed from ${e.length} to ${v.length}.`,
          { hint: 'use one error-feedback codec per sender and vector slice' },
        );
      }
      e = new Float32Array(v.length);
    }
    const u = new Float32Array(v.length);
    for (let i = 0; i < u.length; i++) u[i] = v[i] + e[i];
    const bytes = this.inner.encode(u);
    const sent = this.inner.decode(bytes);
    for (let i = 0; i < u.length; i++) e[i] = u[i] - sent[i];
    this.#residual = e;
    return bytes;
  }

  decode(bytes: Uint8Array): Float32Array {
    return this.inner.decode(bytes);
  }
}
