/**
 * `/agora/ckpt/1`: checkpoint sync for late joiners (adapter over AgoraHost). Every peer serves its
 * latest checkpoint (bytes + round + hash + small metadata). A joiner asks the connected peers for
 * their head, picks the highest round, downloads it in chunks spread over every peer offering the
 * same hash (a failed chunk is retried on another peer), and verifies the hash before returning it.
 * The hash is the checkpoint hash of src/train/checkpoint/hash.ts (keccak256 of the file bytes).
 */
import type { Stream } from '@libp2p/interface';
import type { Logger } from 'pino';
import { AgoraError } from '../errors.ts';
import { checkpointHash, type Hex32 } from '../train/checkpoint/hash.ts';
import { decodeJson, encodeJson, FrameReader, writeFrame } from './framing.ts';
import type { AgoraHost, PeerInfo } from './host.ts';
import {
  type CkptHead,
  ckptChunkReplySchema,
  ckptHeadSchema,
  ckptRequestSchema,
  MAX_CONTROL_BYTES,
  parseMessage,
} from './messages.ts';

export const CKPT_PROTOCOL = '/agora/ckpt/1';

export type CheckpointMeta = Record<string, string | number | boolean>;

export interface CheckpointSyncOptions {
  host: AgoraHost;
  logger: Logger;
  /** bytes per chunk (default 1 MiB; the largest frame a peer accepts is 4 MiB) */
  chunkBytes?: number;
  /** per request timeout (default 10 s) */
  timeoutMs?: number;
  /** largest checkpoint a joiner accepts (default 2 GiB) */
  maxBytes?: number;
  /** chunk downloads in flight (default 4) */
  parallel?: number;
}

export interface FetchedCheckpoint {
  round: number;
  hash: Hex32;
  bytes: Uint8Array;
  meta: CheckpointMeta;
  /** peers that served at least one chunk */
  servedBy: string[];
  seconds: number;
}

const MAX_CHUNK_BYTES = 4 * 1024 * 1024;

interface Held {
  round: number;
  hash: Hex32;
  bytes: Uint8Array;
  meta: CheckpointMeta;
}

export class CheckpointSync {
  readonly #host: AgoraHost;
  readonly #log: Logger;
  readonly #chunk: number;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #parallel: number;
  /** the latest checkpoint and the one before it (so downloads in progress can finish) */
  #held: Held[] = [];

  constructor(opts: CheckpointSyncOptions) {
    this.#host = opts.host;
    this.#log = opts.logger.child({ mod: 'net/ckpt' });
    this.#chunk = Math.min(opts.chunkBytes ?? 1024 * 1024, MAX_CHUNK_BYTES);
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#maxBytes = opts.maxBytes ?? 2 ** 31;
    this.#parallel = opts.parallel ?? 4;
  }

  async start(): Promise<void> {
    await this.#host.handle(CKPT_PROTOCOL, (s, p) => this.#onStream(s, p), { maxInboundStreams: 32 });
  }

  async stop(): Promise<void> {
    this.#held = [];
  }

  /** Publishes a checkpoint to serve (e.g. after each outer step). Returns its hash. */
  setLatest(round: number, bytes: Uint8Array, meta: CheckpointMeta = {}): Hex32 {
    const hash = checkpointHash(bytes);
    this.#held = [{ round, hash, bytes, meta }, ...this.#held.filter((h) => h.hash !== hash)].slice(0, 2);
    return hash;
  }

  latest(): { round: number; hash: Hex32 } | undefined {
    const h = this.#held[0];
    return h ? { round: h.round, hash: h.hash } : undefined;
  }

  /** Asks one peer for its head. */
  async head(peerId: string): Promise<CkptHead | undefined> {
    let stream: Stream | undefined;
    try {
      stream = await this.#host.newStream(peerId, CKPT_PROTOCOL, this.#timeoutMs);
      await writeFrame(stream, encodeJson({ t: 'ckpt-head' }));
      const reader = new FrameReader(stream);
      const r = parseMessage(
        ckptHeadSchema,
        decodeJson(await reader.expect({ maxBytes: MAX_CONTROL_BYTES, timeoutMs: this.#timeoutMs })),
      );
      await stream.close().catch(() => {});
      if (!r.ok) {
        this.#log.warn({ peer: peerId, reason: r.reason }, 'dropped checkpoint head');
        return undefined;
      }
      return r.value;
    } catch (err) {
      stream?.abort(err as Error);
      this.#log.debug({ peer: peerId, err: (err as Error).message }, 'checkpoint head failed');
      return undefined;
    }
  }

  /**
   * Fetches the newest checkpoint any of `peers` (default: every authenticated peer) serves, and
   * verifies its hash. Throws AgoraError when no peer has one or no copy verifies.
   */
  async fetchLatest(peers?: string[]): Promise<FetchedCheckpoint> {
    const t0 = performance.now();
    const candidates = peers ?? this.#host.authorizedPeers().map((p) => p.peerId);
    const heads = await Promise.all(candidates.map(async (p) => ({ peer: p, head: await this.head(p) })));
    const offers = heads.flatMap(({ peer, head }) => (head?.available ? [{ peer, head }] : []));
    if (offers.length === 0) {
      throw new AgoraError('CKPT_NONE', 'No connected peer serves a checkpoint.', {
        hint: 'Wait until the job has finished its first round, or connect to more peers.',
      });
    }
    offers.sort((a, b) => b.head.round - a.head.round);
    const best = offers[0].head as Extract<CkptHead, { available: true }>;
    if (best.size > this.#maxBytes) {
      throw new AgoraError(
        'CKPT_TOO_LARGE',
        `Checkpoint of ${best.size} bytes exceeds the limit of ${this.#maxBytes}.`,
        {
          hint: 'Raise maxBytes if this size is expected.',
        },
      );
    }
    const sources = offers
      .filter((o) => o.head.available && o.head.hash === best.hash && o.head.size === best.size)
      .map((o) => o.peer);
    const bytes = new Uint8Array(best.size);
    const nChunks = Math.ceil(best.size / this.#chunk);
    const servedBy = new Set<string>();
    let next = 0;
    const worker = async (w: number) => {
      while (next < nChunks) {
        const c = next++;
        const offset = c * this.#chunk;
        const length = Math.min(this.#chunk, best.size - offset);
        let done = false;
        for (let attempt = 0; attempt < sources.length && !done; attempt++) {
          const peer = sources[(c + w + attempt) % sources.length];
          const data = await this.#fetchChunk(peer, best.hash, offset, length);
          if (data) {
            bytes.set(data, offset);
            servedBy.add(peer);
            done = true;
          }
        }
        if (!done) {
          throw new AgoraError(
            'CKPT_CHUNK_FAILED',
            `No peer served bytes ${offset}..${offset + length} of ${best.hash}.`,
            {
              hint: 'The serving peers may have left or moved to a newer checkpoint; retry.',
            },
          );
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.#parallel, Math.max(1, nChunks)) }, (_, w) => worker(w)),
    );
    const got = checkpointHash(bytes);
    if (got !== best.hash) {
      throw new AgoraError(
        'CKPT_HASH_MISMATCH',
        `Downloaded checkpoint hashes to ${got}, expected ${best.hash}.`,
        {
          hint: 'A peer served corrupt data; retry (peers that serve bad chunks should be reported).',
        },
      );
    }
    this.#log.info(
      { round: best.round, hash: best.hash, bytes: best.size, peers: servedBy.size },
      'checkpoint synced',
    );
    return {
      round: best.round,
      hash: best.hash as Hex32,
      bytes,
      meta: best.meta ?? {},
      servedBy: [...servedBy],
      seconds: (performance.now() - t0) / 1000,
    };
  }

  async #fetchChunk(
    peer: string,
    hash: string,
    offset: number,
    length: number,
  ): Promise<Uint8Array | undefined> {
    let stream: Stream | undefined;
    try {
      stream = await this.#host.newStream(peer, CKPT_PROTOCOL, this.#timeoutMs);
      await writeFrame(stream, encodeJson({ t: 'ckpt-chunk', hash, offset, length }));
      const reader = new FrameReader(stream);
      const r = parseMessage(
        ckptChunkReplySchema,
        decodeJson(await reader.expect({ maxBytes: MAX_CONTROL_BYTES, timeoutMs: this.#timeoutMs })),
      );
      if (!r.ok) throw new Error(`malformed reply (${r.reason})`);
      if (!r.value.ok) throw new Error(`refused: ${r.value.reason}`);
      const data = await reader.expect({ maxBytes: length, timeoutMs: this.#timeoutMs });
      if (data.byteLength !== length)
        throw new Error(`chunk of ${data.byteLength} bytes, expected ${length}`);
      await stream.close().catch(() => {});
      return data;
    } catch (err) {
      stream?.abort(err as Error);
      this.#log.warn({ peer, offset, reason: (err as Error).message }, 'checkpoint chunk failed');
      return undefined;
    }
  }

  async #onStream(stream: Stream, _peer: PeerInfo): Promise<void> {
    const reader = new FrameReader(stream);
    const parsed = parseMessage(
      ckptRequestSchema,
      decodeJson(await reader.expect({ maxBytes: MAX_CONTROL_BYTES, timeoutMs: this.#timeoutMs })),
    );
    if (!parsed.ok) throw new Error(`malformed request (${parsed.reason})`);
    const req = parsed.value;
    if (req.t === 'ckpt-head') {
      const h = this.#held[0];
      const head = h
        ? {
            t: 'ckpt-head',
            available: true,
            round: h.round,
            hash: h.hash,
            size: h.bytes.byteLength,
            meta: h.meta,
          }
        : { t: 'ckpt-head', available: false };
      await writeFrame(stream, encodeJson(head));
    } else {
      const h = this.#held.find((x) => x.hash === req.hash);
      if (!h) {
        await writeFrame(stream, encodeJson({ t: 'ckpt-chunk', ok: false, reason: 'unknown hash' }));
      } else if (req.length > MAX_CHUNK_BYTES || req.offset + req.length > h.bytes.byteLength) {
        await writeFrame(stream, encodeJson({ t: 'ckpt-chunk', ok: false, reason: 'bad range' }));
      } else {
        await writeFrame(stream, encodeJson({ t: 'ckpt-chunk', ok: true }));
        await writeFrame(stream, h.bytes.subarray(req.offset, req.offset + req.length));
      }
    }
    await stream.close().catch(() => {});
  }
}
