/**
 * Pseudo-gradient codecs: what goes on the wire between peers. Every encoded message is
 * self-describing (a header names the codec and length), and `encode(...).byteLength` is exactly the
 * number of bytes sent, headers included. Implementations, the 16-byte header and `createCodec` /
 * `decodeAny`: src/train/codecs/ (wire formats in docs/training-data-and-diloco.md).
 */
export type CodecName = 'fp32' | 'fp16' | 'int8' | 'int4' | 'topk';

export interface Codec {
  readonly name: CodecName;
  /** Encodes `v`. Stateful codecs (top-k with error feedback) update their residual here. */
  encode(v: Float32Array): Uint8Array;
  /** Decodes any message produced by a codec of the same name (the header carries the parameters). */
  decode(bytes: Uint8Array): Float32Array;
}
