/**
 * Length-prefixed framing over a libp2p 3 stream: every frame is a big-endian uint32 byte length
 * followed by that many bytes. Reads always have a size limit and a timeout; a violation throws
 * `FrameError` (the caller logs the reason and aborts the stream) and never crashes the node.
 *
 * libp2p 3 streams are `AsyncIterable<Uint8Array | Uint8ArrayList>` with `send()` (returns false
 * when the caller must wait for `onDrain()`), `close()` and `abort(err)`.
 */
import type { Stream } from '@libp2p/interface';
import { AgoraError } from '../errors.ts';

export const FRAME_HEADER_BYTES = 4;
/** Hard ceiling on any frame, whatever a caller asks for (uint32 range, and memory safety). */
export const ABSOLUTE_MAX_FRAME_BYTES = 1 << 30;
/** Large payloads are handed to the muxer in pieces of this size so back-pressure works. */
const SEND_PIECE_BYTES = 64 * 1024;

export type FrameErrorReason = 'timeout' | 'oversized' | 'eof' | 'truncated' | 'malformed' | 'stream';

/**
 * A framing violation. It is an `AgoraError` (code `FRAME_TIMEOUT`, `FRAME_OVERSIZED`, …) so that
 * every rejection of bad wire input carries a stable code; `reason` is the same fact, lower-case.
 */
export class FrameError extends AgoraError {
  readonly reason: FrameErrorReason;
  constructor(reason: FrameErrorReason, message: string) {
    super(`FRAME_${reason.toUpperCase()}`, message, {
      hint: 'the peer sent a frame this node does not accept; the stream is dropped',
    });
    this.reason = reason;
  }
}

/** The only part of a stream the reader needs (a libp2p `Stream` satisfies it). */
export interface ReadableSource extends AsyncIterable<Uint8Array | { subarray(): Uint8Array }> {
  abort?(err: Error): void;
}

export interface ReadOptions {
  /** Largest acceptable payload in bytes. */
  maxBytes: number;
  /** Time allowed for the whole frame to arrive. */
  timeoutMs: number;
}

/** Pulls frames from a stream's async iterator; buffers partial chunks between frames. */
export class FrameReader {
  readonly #source: ReadableSource;
  readonly #it: AsyncIterator<Uint8Array | { subarray(): Uint8Array }>;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  /** Bytes consumed from the stream so far (headers included). */
  bytesRead = 0;

  constructor(source: ReadableSource) {
    this.#source = source;
    this.#it = source[Symbol.asyncIterator]();
  }

  /** Reads the next frame, or returns `null` if the stream ended cleanly at a frame boundary. */
  async next(opts: ReadOptions): Promise<Uint8Array | null> {
    const maxBytes = Math.min(opts.maxBytes, ABSOLUTE_MAX_FRAME_BYTES);
    const deadline = Date.now() + opts.timeoutMs;
    if (!(await this.#fill(FRAME_HEADER_BYTES, deadline, true))) return null;
    const header = this.#take(FRAME_HEADER_BYTES);
    const len = new DataView(header.buffer, header.byteOffset, 4).getUint32(0, false);
    if (len > maxBytes) {
      throw new FrameError('oversized', `frame of ${len} bytes exceeds the limit of ${maxBytes} bytes`);
    }
    if (!(await this.#fill(len, deadline, false))) {
      throw new FrameError('truncated', `stream ended inside a ${len}-byte frame`);
    }
    return this.#take(len);
  }

  /** Reads a frame that must exist (EOF is an error). */
  async expect(opts: ReadOptions): Promise<Uint8Array> {
    const f = await this.next(opts);
    if (f === null) throw new FrameError('eof', 'stream ended before the expected frame');
    return f;
  }

  async #fill(n: number, deadline: number, eofOk: boolean): Promise<boolean> {
    while (this.#buffered < n) {
      if (this.#ended) {
        if (eofOk && this.#buffered === 0) return false;
        if (eofOk) throw new FrameError('truncated', 'stream ended inside a frame header');
        return false;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw this.#timeout();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), remaining);
      });
      let r: IteratorResult<Uint8Array | { subarray(): Uint8Array }> | 'timeout';
      try {
        r = await Promise.race([this.#it.next(), timeout]);
      } catch (e) {
        throw new FrameError('stream', `stream failed: ${(e as Error).message}`);
      } finally {
        clearTimeout(timer);
      }
      if (r === 'timeout') throw this.#timeout();
      if (r.done) {
        this.#ended = true;
        continue;
      }
      const chunk = r.value instanceof Uint8Array ? r.value : r.value.subarray();
      if (chunk.byteLength === 0) continue;
      this.#chunks.push(chunk);
      this.#buffered += chunk.byteLength;
      this.bytesRead += chunk.byteLength;
    }
    return true;
  }

  #timeout(): FrameError {
    const err = new FrameError('timeout', 'timed out waiting for a frame');
    // Abort so the pending iterator.next() settles and the muxer frees the stream.
    this.#source.abort?.(err);
    return err;
  }

  #take(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0);
    const first = this.#chunks[0];
    if (first.byteLength >= n) {
      const out = first.subarray(0, n);
      if (first.byteLength === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      this.#buffered -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.#chunks[0];
      const k = Math.min(c.byteLength, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (k === c.byteLength) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(k);
    }
    this.#buffered -= n;
    return out;
  }
}

/** The only part of a stream the writer needs (a libp2p `Stream` satisfies it). */
export type WritableSink = Pick<Stream, 'send' | 'onDrain'>;

/** Encodes a frame header. */
export function frameHeader(len: number): Uint8Array {
  if (!Number.isInteger(len) || len < 0 || len > ABSOLUTE_MAX_FRAME_BYTES) {
    throw new FrameError('oversized', `cannot frame ${len} bytes`);
  }
  const h = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(h.buffer).setUint32(0, len, false);
  return h;
}

/** Writes one frame, respecting back-pressure. Returns the bytes written (header included). */
export async function writeFrame(
  sink: WritableSink,
  payload: Uint8Array,
  opts: { signal?: AbortSignal } = {},
): Promise<number> {
  const header = frameHeader(payload.byteLength);
  if (payload.byteLength <= SEND_PIECE_BYTES) {
    const buf = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength);
    buf.set(header, 0);
    buf.set(payload, FRAME_HEADER_BYTES);
    if (!sink.send(buf)) await sink.onDrain({ signal: opts.signal });
  } else {
    if (!sink.send(header)) await sink.onDrain({ signal: opts.signal });
    for (let off = 0; off < payload.byteLength; off += SEND_PIECE_BYTES) {
      const piece = payload.subarray(off, Math.min(off + SEND_PIECE_BYTES, payload.byteLength));
      if (!sink.send(piece)) await sink.onDrain({ signal: opts.signal });
    }
  }
  return FRAME_HEADER_BYTES + payload.byteLength;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** JSON → UTF-8 bytes for a control frame. */
export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** UTF-8 bytes → JSON; throws `FrameError('malformed')` on invalid UTF-8 or JSON. */
export function decodeJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch (e) {
    throw new FrameError('malformed', `control frame is not valid JSON: ${(e as Error).message}`);
  }
}
