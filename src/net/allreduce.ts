/**
 * `/agora/allreduce/1`: butterfly all-reduce of a Float32Array among an authenticated group
 * (adapter over AgoraHost). Each of the K peers owns 1/K of the vector:
 *   1. SCATTER  every peer pushes slice i (codec-encoded) to owner i;
 *   2. COMMIT   each owner, when it has every part or at the deadline, tells everyone which peers'
 *               parts it received (R_i), and pushes with it its shard aggregated over exactly R_i;
 *               each peer derives the contributor set C (allreduce-plan.ts); a peer lost before
 *               its commit arrived here, whose parts reached every owner, is looked up at the
 *               mirrors first (its commit may have reached the others: a pushed copy proves it);
 *   3. GATHER   a pushed shard whose R_i = C is the result (the common case: no extra message).
 *               Otherwise the peer asks the holder of the shard for it aggregated over exactly C
 *               (owner, or a deterministic fallback when the owner died; survivors resend that slice
 *               to the fallback); missing shards are repaired from any peer that already has them;
 *   4. RECOVERY if a holder in C died before anyone fetched its shard, every shard is recomputed
 *               over C minus that holder (owners keep all parts, so this is one more gather).
 * Pushes (parts, commits) travel on one long-lived stream per peer pair and direction, reused across
 * rounds, so the common round costs two one-way delays after the last peer enters, and no protocol
 * negotiation. Every included peer ends with bit-identical results (the holder encodes once, all
 * decode the same bytes). The full protocol and its failure handling: docs/allreduce.md.
 */
import type { Stream } from '@libp2p/interface';
import type { Logger } from 'pino';
import { AgoraError } from '../errors.ts';
import type { Codec } from '../train/codec.ts';
import { type Aggregator, meanAggregator } from './aggregate.ts';
import {
  canonicalGroup,
  contributorSet,
  holderOf,
  setDigest,
  shardBounds,
  shardLength,
} from './allreduce-plan.ts';
import { decodeJson, encodeJson, FrameError, FrameReader, writeFrame } from './framing.ts';
import type { AgoraHost, PeerInfo } from './host.ts';
import {
  type AllreduceRequest,
  allreduceRequestSchema,
  MAX_CONTROL_BYTES,
  parseMessage,
  shardReplySchema,
} from './messages.ts';

export const ALLREDUCE_PROTOCOL = '/agora/allreduce/1';

export interface AllReduceOptions {
  host: AgoraHost;
  logger: Logger;
  /** Makes a codec; one instance per outgoing slice (stateful codecs keep their residual). */
  codec: () => Codec;
  aggregator?: Aggregator;
  /**
   * The libp2p protocol (default ALLREDUCE_PROTOCOL). A second AllReduce on the same host, with
   * another codec or aggregator, needs a protocol of its own.
   */
  protocol?: string;
  /** Time owners wait for parts, and requesters wait for a shard (default 10 s). */
  deadlineMs?: number;
  /** Extra time for small control messages (commits) after the data deadline (default 1 s). */
  graceMs?: number;
  /** Largest vector accepted (elements; default 2^28). */
  maxElements?: number;
  /**
   * An inbound push stream idle this long is closed (default 10 min); a sender reopens its stream
   * after half of it, so a reused stream is never one the receiver is about to close.
   */
  streamIdleMs?: number;
  /** Fault injection for tests: awaited before / after each scatter part is sent. */
  faults?: {
    beforePartSend?: (shard: number, to: string) => Promise<void> | void;
    afterPartSent?: (shard: number, to: string) => Promise<void> | void;
    /** called once this peer's commits were written to every peer's push stream */
    afterCommit?: () => Promise<void> | void;
    /** commit without pushing the reduced shard (others must `get` it: the pre-push protocol) */
    withholdReduced?: boolean;
    /** the commit to this peer is never sent (as if it were lost in flight when this peer died) */
    dropCommitTo?: (to: string) => boolean;
  };
}

export interface PeerTraffic {
  sent: number;
  received: number;
}

export interface RoundReport {
  round: number;
  ok: boolean;
  /** why the round failed (ok = false); the caller keeps its local vector */
  reason?: string;
  /** the aggregated vector (ok = true) */
  result?: Float32Array;
  /** the group asked for, canonical order */
  group: string[];
  /** contributor set C: peers whose vectors are in the result */
  included: string[];
  /** owners whose commit arrived (alive after scatter) */
  alive: string[];
  /** digest of (round, C); equal on every peer that agreed */
  digest: string;
  /**
   * Bytes this peer sent / received for this round up to the moment `run` returned (frame headers
   * included). A peer can still be serving its shard to slower peers afterwards; that traffic is in
   * `traffic(round)`.
   */
  bytesSent: number;
  bytesReceived: number;
  /** traffic with each remote peer (bytes on the wire, frame headers included) */
  perPeer: Record<string, PeerTraffic>;
  seconds: number;
  phases: { scatter: number; commit: number; gather: number };
  /** shards served by a fallback holder because their owner did not commit */
  fallbackShards: number[];
  /** shards fetched from a mirror after their holder failed */
  repairedShards: number[];
  /**
   * shards requested with a `get` because no usable pushed copy came with the owner's commit (its
   * received set differed from C, or the owner died): 0 round trips in the common case, one here
   */
  pulledShards: number[];
  /** true when a holder in C died during the gather and the round was recomputed over C minus it */
  recovered: boolean;
}

interface Part {
  groupDigest: string;
  length: number;
  vector: Float32Array;
}

class RoundState {
  readonly round: number;
  /** parts[shard] → sender → part (for the shards this peer owns or holds as fallback) */
  readonly parts = new Map<number, Map<string, Part>>();
  /** commit sender → received set */
  readonly commits = new Map<string, string[]>();
  /** commit sender → the shard its commit named (checked against the group once it is known) */
  readonly commitShards = new Map<string, number>();
  /** commit sender → its shard aggregated over its received set, pushed after the commit */
  readonly reduced = new Map<string, Uint8Array>();
  /** commit senders whose pushed shard is announced but not fully here yet */
  readonly reducedPending = new Set<string>();
  /** `${shard}|${digest}` → encoded aggregated shard (served to others, identical everywhere) */
  readonly results = new Map<string, Promise<Uint8Array | undefined>>();
  readonly traffic = new Map<string, PeerTraffic>();
  readonly lost = new Set<string>();
  /** shards this peer already aggregated and encoded in this round (see AllReduce.#resultCodec) */
  readonly encodedShards = new Set<number>();
  group: string[] | undefined;
  groupDigest: string | undefined;
  length = 0;
  readonly #waiters = new Set<() => void>();

  constructor(round: number) {
    this.round = round;
  }

  count(peer: string, sent: number, received: number): void {
    let t = this.traffic.get(peer);
    if (!t) {
      t = { sent: 0, received: 0 };
      this.traffic.set(peer, t);
    }
    t.sent += sent;
    t.received += received;
  }

  notify(): void {
    for (const w of this.#waiters) w();
  }

  /** Resolves true as soon as `pred()` holds, false at `deadline`. */
  async waitUntil(pred: () => boolean, deadline: number): Promise<boolean> {
    while (!pred()) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return false;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.#waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, remaining);
        this.#waiters.add(done);
      });
    }
    return true;
  }
}

/** How many round states are kept (current, a few early ones, a previous one serving mirrors). */
const MAX_STATES = 8;

/** One outbound push stream to a peer, reused across rounds; writes are queued one at a time. */
interface Channel {
  stream: Stream | undefined;
  lastUsed: number;
  tail: Promise<unknown>;
}

export class AllReduce {
  readonly #host: AgoraHost;
  readonly #log: Logger;
  readonly #codecFactory: () => Codec;
  readonly #aggregate: Aggregator;
  readonly #protocol: string;
  readonly #deadlineMs: number;
  readonly #graceMs: number;
  readonly #maxElements: number;
  readonly #faults: AllReduceOptions['faults'];
  readonly #idleMs: number;
  readonly #states = new Map<number, RoundState>();
  readonly #channels = new Map<string, Channel>();
  readonly #sendCodecs = new Map<string, Codec>();
  /**
   * Codecs encoding the aggregated shards this peer serves, per (group size, shard, length), kept
   * across rounds like the send codecs so a stateful codec (top-k) keeps its error feedback on the
   * gather leg too.
   */
  readonly #resultCodecs = new Map<string, Codec>();
  readonly #decoder: Codec;
  #minRound = 0;
  /** inbound push streams still being read, per peer */
  readonly #inbound = new Map<string, Set<Promise<void>>>();
  readonly #inboundStreams = new Set<Stream>();
  #stopped = false;
  #onLost = (e: Event) => {
    const peer = (e as CustomEvent<string>).detail;
    this.#dropChannel(peer);
    const mark = () => {
      for (const s of this.#states.values()) {
        s.lost.add(peer);
        s.notify();
      }
    };
    // What the peer pushed before its connection closed (a commit, say) is still being read: count
    // it before the peer stops being waited for (bounded by the grace period).
    const reading = [...(this.#inbound.get(peer) ?? [])];
    if (reading.length === 0) return mark();
    let timer: NodeJS.Timeout | undefined;
    void Promise.race([
      Promise.allSettled(reading),
      new Promise((r) => {
        timer = setTimeout(r, this.#graceMs);
      }),
    ]).then(() => {
      clearTimeout(timer);
      mark();
    });
  };

  constructor(opts: AllReduceOptions) {
    this.#host = opts.host;
    this.#log = opts.logger.child({ mod: 'net/allreduce' });
    this.#codecFactory = opts.codec;
    this.#aggregate = opts.aggregator ?? meanAggregator;
    this.#protocol = opts.protocol ?? ALLREDUCE_PROTOCOL;
    this.#deadlineMs = opts.deadlineMs ?? 10_000;
    this.#graceMs = opts.graceMs ?? 1000;
    this.#maxElements = opts.maxElements ?? 2 ** 28;
    this.#faults = opts.faults;
    this.#idleMs = opts.streamIdleMs ?? 600_000;
    this.#decoder = opts.codec();
  }

  /** Registers the protocol handler on the host (call after host.start()). */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#host.handle(
      this.#protocol,
      (stream, peer) => {
        // Streams reset by stop() end quietly.
        const p = this.#onStream(stream, peer).catch((err: unknown) => {
          if (!this.#stopped) throw err;
        });
        this.#inboundStreams.add(stream);
        let set = this.#inbound.get(peer.peerId);
        if (!set) {
          set = new Set();
          this.#inbound.set(peer.peerId, set);
        }
        set.add(p);
        const s = set;
        const done = () => {
          this.#inboundStreams.delete(stream);
          s.delete(p);
          if (s.size === 0 && this.#inbound.get(peer.peerId) === s) this.#inbound.delete(peer.peerId);
        };
        p.then(done, done);
        return p;
      },
      { maxInboundStreams: 256 },
    );
    this.#host.addEventListener('peer:lost', this.#onLost);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#host.removeEventListener('peer:lost', this.#onLost);
    if (this.#host.isStarted()) await this.#host.libp2p.unhandle(this.#protocol).catch(() => {});
    for (const peer of [...this.#channels.keys()]) this.#dropChannel(peer);
    // Reset the streams peers push to: their next push opens a stream to whatever handles the
    // protocol now (a restarted AllReduce), instead of feeding this stopped one.
    for (const stream of this.#inboundStreams) stream.abort(new Error('all-reduce stopped'));
    this.#inboundStreams.clear();
    this.#states.clear();
  }

  /**
   * Runs one all-reduce round. Every member must call it with the same `round` and `members` (any
   * order) and a vector of the same length. Never throws for network failures: the report says
   * what happened (`ok: false` when no consistent result could be formed).
   */
  async run(round: number, vector: Float32Array, members: readonly string[]): Promise<RoundReport> {
    const t0 = performance.now();
    const me = this.#host.peerId;
    const group = canonicalGroup(members);
    const k = group.length;
    const myIndex = group.indexOf(me);
    if (myIndex < 0) {
      throw new AgoraError('ALLREDUCE_NOT_MEMBER', 'This peer is not in the all-reduce group.', {
        hint: 'Pass a member list that includes host.peerId.',
      });
    }
    if (vector.length < k || vector.length > this.#maxElements) {
      throw new AgoraError(
        'ALLREDUCE_BAD_LENGTH',
        `Cannot all-reduce ${vector.length} elements among ${k} peers (need ${k}..${this.#maxElements}).`,
        { hint: 'Use a longer vector or a smaller group.' },
      );
    }
    if (round < this.#minRound) {
      throw new AgoraError('ALLREDUCE_OLD_ROUND', `Round ${round} is older than round ${this.#minRound}.`, {
        hint: 'Round numbers must increase.',
      });
    }
    const st = this.#state(round);
    if (!st) throw new AgoraError('ALLREDUCE_TOO_MANY_ROUNDS', 'Too many rounds in flight.');
    if (st.group) {
      throw new AgoraError('ALLREDUCE_ROUND_REUSED', `Round ${round} was already run on this peer.`, {
        hint: 'Use a new round number for every all-reduce (e.g. the outer step).',
      });
    }
    st.group = group;
    st.groupDigest = setDigest(round, group);
    st.length = vector.length;
    for (const p of group) if (p !== me && !this.#host.isAuthorized(p)) st.lost.add(p);
    this.#dropMismatchedParts(st);
    this.#dropMismatchedCommits(st);
    // Keep the previous round (it may still serve mirrors); forget older ones.
    this.#minRound = Math.max(this.#minRound, round - 1);
    for (const r of this.#states.keys()) if (r < this.#minRound) this.#states.delete(r);

    const slice = (i: number) => {
      const [s, e] = shardBounds(vector.length, k, i);
      return vector.subarray(s, e);
    };
    const report = (partial: Partial<RoundReport>): RoundReport => {
      let sent = 0;
      let received = 0;
      const perPeer: Record<string, PeerTraffic> = {};
      for (const [p, t] of st.traffic) {
        perPeer[p] = { ...t };
        sent += t.sent;
        received += t.received;
      }
      return {
        round,
        ok: false,
        group,
        included: [],
        alive: [],
        digest: '',
        bytesSent: sent,
        bytesReceived: received,
        perPeer,
        seconds: (performance.now() - t0) / 1000,
        phases: { scatter: 0, commit: 0, gather: 0 },
        fallbackShards: [],
        repairedShards: [],
        pulledShards: [],
        recovered: false,
        ...partial,
      };
    };

    // ---- 1. SCATTER ----
    const deadline1 = Date.now() + this.#deadlineMs;
    this.#storePart(st, myIndex, me, {
      groupDigest: st.groupDigest,
      length: vector.length,
      vector: slice(myIndex),
    });
    const sends: Promise<void>[] = [];
    for (let i = 0; i < k; i++) {
      if (i === myIndex) continue;
      sends.push(this.#sendPart(st, group[i], i, slice(i), false));
    }
    void Promise.all(sends);
    const myParts = () => st.parts.get(myIndex);
    await st.waitUntil(() => group.every((p) => myParts()?.has(p) || st.lost.has(p)), deadline1);
    const received = group.filter((p) => myParts()?.has(p));
    const tScatter = performance.now();

    // ---- 2. COMMIT (+ the shard aggregated over what arrived, pushed with it) ----
    st.commits.set(me, received);
    st.notify();
    // Every part of `received` is here, so this resolves at once; it is cached under (shard, set),
    // so a later `get` for the same set serves these very bytes.
    const reduced = this.#faults?.withholdReduced
      ? undefined
      : await this.#serveShard(st, myIndex, received, setDigest(round, received), false, deadline1);
    const commitSends: Promise<void>[] = [];
    for (let i = 0; i < k; i++) {
      if (i === myIndex || this.#faults?.dropCommitTo?.(group[i])) continue;
      commitSends.push(this.#sendCommit(st, group[i], myIndex, received, reduced));
    }
    if (this.#faults?.afterCommit) void Promise.all(commitSends).then(() => this.#faults?.afterCommit?.());
    await st.waitUntil(
      () => group.every((p) => st.commits.has(p) || st.lost.has(p)),
      deadline1 + this.#graceMs,
    );
    const commits = new Map<string, string[]>();
    for (const p of group) {
      const c = st.commits.get(p);
      if (c) commits.set(p, c);
    }
    // A peer lost before its commit arrived here may still have committed to others: its commit
    // and shard were in flight when it died, and a connection torn down under them can deliver them
    // to some peers and not to us. If it delivered its part to every live owner (the only case in
    // which the others can count it), ask the other peers for its pushed shard over C ∪ {it}: a
    // copy proves it committed exactly that set, and we join the others on it.
    const late = group.filter(
      (p) => !commits.has(p) && st.lost.has(p) && [...commits.values()].every((r) => r.includes(p)),
    );
    let confirmedShard: number | undefined;
    if (late.length === 1) {
      const x = late[0];
      const plus = canonicalGroup([...contributorSet(group, commits), x]);
      const copy = await this.#probeCommitted(st, group.indexOf(x), x, plus);
      if (copy && !st.commits.has(x)) {
        this.#log.info(
          { round, peer: x, included: plus.length },
          'commit of a lost peer confirmed by a mirror',
        );
        st.commits.set(x, plus);
        st.reduced.set(x, copy);
        commits.set(x, plus);
        confirmedShard = group.indexOf(x);
      }
    }
    const C = contributorSet(group, commits);
    const alive = group.filter((p) => commits.has(p));
    const aliveSet = new Set(alive);
    const digest = setDigest(round, C);
    const tCommit = performance.now();
    const phasesSoFar = { scatter: (tScatter - t0) / 1000, commit: (tCommit - tScatter) / 1000, gather: 0 };
    if (C.length === 0) {
      return report({
        reason: 'no contributor delivered to every live owner',
        alive,
        digest,
        phases: phasesSoFar,
      });
    }

    // ---- 3. GATHER (+ repair, + one recovery attempt) ----
    const out = new Float32Array(vector.length);
    const repairedShards: number[] = confirmedShard === undefined ? [] : [confirmedShard];
    const pulledShards = new Set<number>();
    const fallbackShards = new Set<number>();
    /**
     * Fetches every shard aggregated over exactly `members`, from its holder (the owner if it is
     * in `live`, else the fallback; slices for fallbacks are sent first), or from a mirror.
     * Returns the shards still missing and the holders that failed them.
     */
    const gather = async (members: string[], live: ReadonlySet<string>) => {
      const mSet = new Set(members);
      const digest = setDigest(round, members);
      const holders: string[] = [];
      for (let i = 0; i < k; i++) {
        const h = holderOf(group, i, live, mSet)!;
        holders.push(h);
        if (h === group[i]) continue;
        fallbackShards.add(i);
        if (!mSet.has(me)) continue;
        if (h === me) {
          this.#storePart(st, i, me, {
            groupDigest: st.groupDigest!,
            length: vector.length,
            vector: slice(i),
          });
        } else {
          void this.#sendPart(st, h, i, slice(i), true);
        }
      }
      const deadline = Date.now() + this.#deadlineMs;
      const fetchShard = async (i: number): Promise<boolean> => {
        const [s, e] = shardBounds(vector.length, k, i);
        let bytes: Uint8Array | undefined;
        let v: Float32Array | undefined;
        if (holders[i] === me) {
          bytes = await this.#serveShard(st, i, members, digest, false, deadline);
        } else {
          // The owner pushed its shard with its commit: it is the result if its set is `members`.
          bytes = await this.#pushedShard(st, i, holders[i], members, deadline);
          v = bytes && this.#decodeShard(bytes, e - s);
          if (!v) {
            bytes = undefined;
            pulledShards.add(i);
            bytes = await this.#requestShard(st, holders[i], i, members, digest, false, deadline);
          }
        }
        if (!bytes) {
          // Repair: any live peer that already fetched this shard for the same set can mirror it.
          for (const p of group) {
            if (p === me || p === holders[i] || st.lost.has(p)) continue;
            bytes = await this.#requestShard(st, p, i, members, digest, true, Date.now() + this.#graceMs * 2);
            if (bytes) {
              repairedShards.push(i);
              break;
            }
          }
        }
        if (!bytes) return false;
        v ??= this.#decodeShard(bytes, e - s);
        if (!v) return false;
        if (holders[i] !== me) st.results.set(`${i}|${digest}`, Promise.resolve(bytes));
        out.set(v, s);
        return true;
      };
      const got = await Promise.all(group.map((_, i) => fetchShard(i)));
      const missing = got.flatMap((ok, i) => (ok ? [] : [i]));
      return { digest, missing, failedHolders: new Set(missing.map((i) => holders[i])) };
    };

    let included = C;
    let g = await gather(C, aliveSet);
    let recovered = false;
    if (g.missing.length > 0) {
      // A holder in C died before anyone fetched its shard: its own slice of that shard is gone, so
      // no shard can be the mean over C. Recompute every shard over C' = C minus the failed
      // holders: owners still hold every part of C' (C' ⊆ C ⊆ R_i), and the failed holders'
      // shards move to fallbacks. Every survivor that saw the same failures picks the same C'.
      const next = C.filter((p) => !g.failedHolders.has(p));
      const live = new Set(alive.filter((p) => !g.failedHolders.has(p)));
      if (next.length > 0 && next.length < C.length) {
        this.#log.warn(
          { round, failed: [...g.failedHolders], included: next.length },
          'recomputing without failed holders',
        );
        included = next;
        g = await gather(next, live);
        recovered = true;
      }
    }
    const tGather = performance.now();
    const phases = { ...phasesSoFar, gather: (tGather - tCommit) / 1000 };
    const base = {
      included,
      alive,
      digest: g.digest,
      phases,
      fallbackShards: [...fallbackShards].sort((a, b) => a - b),
      repairedShards,
      pulledShards: [...pulledShards].sort((a, b) => a - b),
      recovered,
    };
    if (g.missing.length > 0) {
      this.#log.warn(
        { round, missing: g.missing, included: included.length },
        'round failed: shards unavailable',
      );
      return report({ ...base, reason: `shards ${g.missing.join(',')} unavailable` });
    }
    return report({ ...base, ok: true, result: out });
  }

  /** Bytes sent/received for `round` so far (while its state is kept: this round and the previous). */
  traffic(round: number): PeerTraffic | undefined {
    const st = this.#states.get(round);
    if (!st) return undefined;
    let sent = 0;
    let received = 0;
    for (const t of st.traffic.values()) {
      sent += t.sent;
      received += t.received;
    }
    return { sent, received };
  }

  // ---- outgoing ----

  async #sendPart(
    st: RoundState,
    to: string,
    shard: number,
    v: Float32Array,
    fallback: boolean,
  ): Promise<void> {
    const k = st.group!.length;
    try {
      await this.#faults?.beforePartSend?.(shard, to);
      let codec = this.#sendCodecs.get(`${k}:${shard}`);
      if (!codec) {
        codec = this.#codecFactory();
        this.#sendCodecs.set(`${k}:${shard}`, codec);
      }
      const body = codec.encode(v);
      const header = {
        t: 'part',
        round: st.round,
        shard,
        group: st.groupDigest,
        length: st.length,
        fallback,
      };
      st.count(to, await this.#push(to, [encodeJson(header), body], this.#deadlineMs), 0);
      await this.#faults?.afterPartSent?.(shard, to);
    } catch (err) {
      this.#log.debug({ round: st.round, to, shard, err: (err as Error).message }, 'part not delivered');
    }
  }

  async #sendCommit(
    st: RoundState,
    to: string,
    shard: number,
    received: string[],
    reduced: Uint8Array | undefined,
  ): Promise<void> {
    try {
      const frames = reduced
        ? [
            encodeJson({ t: 'commit', round: st.round, shard, received, reduced: true, length: st.length }),
            reduced,
          ]
        : [encodeJson({ t: 'commit', round: st.round, shard, received })];
      st.count(to, await this.#push(to, frames, this.#graceMs + this.#deadlineMs), 0);
    } catch (err) {
      this.#log.debug({ round: st.round, to, err: (err as Error).message }, 'commit not delivered');
    }
  }

  /**
   * Writes `frames` (one message) on this peer's push stream to `to`, after any message already
   * queued for it. Opens the stream on first use and again when it closed, went idle, or failed
   * while reused (then the message is sent once more on a fresh stream: a duplicate is ignored by
   * the receiver, first copy wins). Returns the bytes written; throws when it could not be sent.
   */
  #push(to: string, frames: Uint8Array[], timeoutMs: number): Promise<number> {
    let ch = this.#channels.get(to);
    if (!ch) {
      ch = { stream: undefined, lastUsed: 0, tail: Promise.resolve() };
      this.#channels.set(to, ch);
    }
    const c = ch;
    const job = c.tail.then(async () => {
      const signal = AbortSignal.timeout(timeoutMs);
      for (let attempt = 0; ; attempt++) {
        let stream = c.stream;
        if (
          stream &&
          (stream.status !== 'open' ||
            stream.writeStatus !== 'writable' ||
            Date.now() - c.lastUsed > this.#idleMs / 2)
        ) {
          if (stream.status === 'open') void stream.close().catch(() => {});
          stream = c.stream = undefined;
        }
        const reused = stream !== undefined;
        try {
          if (!stream) {
            stream = await this.#host.newStream(to, this.#protocol, timeoutMs);
            c.stream = stream;
          }
          let n = 0;
          for (const f of frames) n += await writeFrame(stream, f, { signal });
          c.lastUsed = Date.now();
          return n;
        } catch (err) {
          if (c.stream === stream) c.stream = undefined;
          stream?.abort(err as Error);
          if (!reused || attempt > 0 || signal.aborted) throw err;
        }
      }
    });
    c.tail = job.catch(() => {});
    return job;
  }

  #dropChannel(peer: string): void {
    const ch = this.#channels.get(peer);
    if (!ch) return;
    this.#channels.delete(peer);
    if (ch.stream?.status === 'open') void ch.stream.close().catch(() => {});
  }

  /**
   * Asks every other live peer (in parallel) for shard `shard` aggregated over exactly `members`,
   * as a mirror: the copy `owner` pushed with its commit, or one a peer already fetched. Resolves
   * with the first copy, or undefined once every peer answered without one.
   */
  async #probeCommitted(
    st: RoundState,
    shard: number,
    owner: string,
    members: string[],
  ): Promise<Uint8Array | undefined> {
    const me = this.#host.peerId;
    const digest = setDigest(st.round, members);
    const deadline = Date.now() + this.#deadlineMs;
    const peers = st.group!.filter((p) => p !== me && p !== owner && !st.lost.has(p));
    if (peers.length === 0) return undefined;
    return new Promise((resolve) => {
      let pending = peers.length;
      for (const p of peers) {
        void this.#requestShard(st, p, shard, members, digest, true, deadline).then((bytes) => {
          pending--;
          if (bytes) resolve(bytes);
          else if (pending === 0) resolve(undefined);
        });
      }
    });
  }

  /**
   * What a mirror serves for `shard` over `members`: a copy it fetched, or the one the shard's
   * owner pushed with its commit. Answers once its view of the owner is final (the commit and the
   * pushed shard fully read, or the owner lost), so a copy still in flight is not denied.
   */
  async #mirrorCopy(
    st: RoundState,
    shard: number,
    members: string[],
    key: string,
    deadline: number,
  ): Promise<Uint8Array | undefined> {
    const owner = st.group![shard];
    await st.waitUntil(
      () =>
        st.results.has(key) || st.lost.has(owner) || (st.commits.has(owner) && !st.reducedPending.has(owner)),
      deadline,
    );
    const cached = st.results.get(key);
    return cached ? await cached : this.#pushedCopy(st, shard, members);
  }

  /** Whether `owner` committed a received set equal to `members` (canonical order). */
  #committedSet(st: RoundState, owner: string | undefined, members: string[]): boolean {
    const received = owner === undefined ? undefined : st.commits.get(owner);
    if (!received || received.length !== members.length) return false;
    return canonicalGroup(received).every((p, j) => p === members[j]);
  }

  /** The shard its owner pushed with its commit, if it is aggregated over exactly `members`. */
  #pushedCopy(st: RoundState, shard: number, members: string[]): Uint8Array | undefined {
    const owner = st.group?.[shard];
    return owner !== undefined && this.#committedSet(st, owner, members) ? st.reduced.get(owner) : undefined;
  }

  /**
   * The shard `holder` pushed with its commit, if `holder` owns `shard` and its received set is
   * exactly `members` (then these are the bytes a `get` would return); waits for it while it is
   * still arriving (bounded by `deadline`, or until the holder is lost).
   */
  async #pushedShard(
    st: RoundState,
    shard: number,
    holder: string,
    members: string[],
    deadline: number,
  ): Promise<Uint8Array | undefined> {
    if (st.group![shard] !== holder || !this.#committedSet(st, holder, members)) return undefined;
    await st.waitUntil(() => !st.reducedPending.has(holder) || st.lost.has(holder), deadline);
    return st.reduced.get(holder);
  }

  async #requestShard(
    st: RoundState,
    from: string,
    shard: number,
    members: string[],
    digest: string,
    mirrorOnly: boolean,
    deadline: number,
  ): Promise<Uint8Array | undefined> {
    if (st.lost.has(from) || !this.#host.isAuthorized(from)) return undefined;
    let stream: Stream | undefined;
    try {
      const remaining = Math.max(1, deadline - Date.now());
      stream = await this.#host.newStream(from, this.#protocol, remaining);
      const sent = await writeFrame(
        stream,
        encodeJson({ t: 'get', round: st.round, shard, members, mirrorOnly }),
      );
      st.count(from, sent, 0);
      const reader = new FrameReader(stream);
      const timeoutMs = Math.max(1, deadline - Date.now());
      const reply = parseMessage(
        shardReplySchema,
        decodeJson(await reader.expect({ maxBytes: MAX_CONTROL_BYTES, timeoutMs })),
      );
      if (!reply.ok) throw new Error(`bad reply: ${reply.reason}`);
      if (!reply.value.ok) {
        st.count(from, 0, reader.bytesRead);
        this.#log.debug({ round: st.round, from, shard, reason: reply.value.reason }, 'shard refused');
        await stream.close().catch(() => {});
        return undefined;
      }
      if (reply.value.digest !== digest) throw new Error('digest mismatch');
      const len = shardLength(st.length, st.group!.length, shard);
      const body = await reader.expect({
        maxBytes: this.#maxPartBytes(len),
        timeoutMs: Math.max(1, deadline - Date.now()),
      });
      st.count(from, 0, reader.bytesRead);
      await stream.close().catch(() => {});
      return body;
    } catch (err) {
      stream?.abort(err as Error);
      this.#log.debug({ round: st.round, from, shard, err: (err as Error).message }, 'shard request failed');
      return undefined;
    }
  }

  // ---- incoming ----

  /**
   * An inbound stream carries either one `get` (answered, then closed) or any number of pushed
   * `part` / `commit` messages, read until the sender closes it (or it idles `streamIdleMs`).
   */
  async #onStream(stream: Stream, peer: PeerInfo): Promise<void> {
    const reader = new FrameReader(stream);
    const from = peer.peerId;
    for (let first = true; ; first = false) {
      const mark = reader.bytesRead;
      let frame: Uint8Array | null;
      try {
        frame = await reader.next({
          maxBytes: MAX_CONTROL_BYTES,
          timeoutMs: first ? this.#deadlineMs : this.#idleMs,
        });
      } catch (err) {
        // A push stream idle between messages is simply retired (its sender reopens one).
        if (first || !(err instanceof FrameError) || err.reason !== 'timeout' || reader.bytesRead !== mark) {
          throw err;
        }
        this.#log.debug({ from, reason: 'idle' }, 'push stream closed');
        break;
      }
      if (frame === null) break;
      const parsed = parseMessage(allreduceRequestSchema, decodeJson(frame));
      if (!parsed.ok) throw new Error(`malformed request (${parsed.reason})`);
      const msg = parsed.value;
      if (msg.t === 'get') {
        if (!first) throw new Error('a get on a push stream');
        if (msg.round < this.#minRound) throw new Error(`stale round ${msg.round}`);
        const st = this.#state(msg.round);
        if (!st) throw new Error(`too many rounds in flight (round ${msg.round})`);
        await this.#onGet(st, stream, reader, from, msg);
        return;
      }
      if (msg.length !== undefined && msg.length > this.#maxElements) {
        throw new Error(`vector of ${msg.length} elements is over the limit`);
      }
      if (msg.t === 'commit' && msg.reduced && msg.length === undefined) {
        throw new Error('reduced shard without a vector length');
      }
      const st = msg.round < this.#minRound ? undefined : this.#state(msg.round);
      if (!st) {
        // Old or junk round: skip the message (and its tensor) and keep the stream.
        this.#log.warn(
          { round: msg.round, from, reason: 'stale round or too many rounds' },
          'skipped message',
        );
        if (msg.t === 'part' || msg.reduced === true) {
          await reader.expect({
            maxBytes: this.#maxPartBytes(msg.length ?? 0),
            timeoutMs: Math.max(1000, this.#deadlineMs),
          });
        }
        continue;
      }
      if (msg.t === 'part') await this.#onPart(st, reader, from, msg);
      else await this.#onCommit(st, reader, from, msg);
      st.count(from, 0, reader.bytesRead - mark);
    }
    await stream.close().catch(() => {});
  }

  async #onPart(
    st: RoundState,
    reader: FrameReader,
    from: string,
    msg: Extract<AllreduceRequest, { t: 'part' }>,
  ): Promise<void> {
    if (st.group && (msg.group !== st.groupDigest || msg.length !== st.length)) {
      // another view of the group (a peer rejoining as a round starts): discard the part, keep the
      // long-lived stream (its next messages may match)
      this.#log.warn(
        { round: st.round, from, reason: 'part for a different group or vector length' },
        'skipped part',
      );
      await reader.expect({
        maxBytes: this.#maxPartBytes(msg.length),
        timeoutMs: Math.max(1000, this.#deadlineMs),
      });
      return;
    }
    // Before the local round starts the group size is unknown: bound by the whole vector.
    const k = st.group?.length;
    const expected = k ? shardLength(msg.length, k, msg.shard) : undefined;
    if (k !== undefined && msg.shard >= k) throw new Error(`shard ${msg.shard} out of range`);
    // Nor is the shard range: before the round starts here a peer has one part to send us (ours;
    // fallback parts come after our commit), so more than two shards from one sender is junk.
    if (k === undefined && !st.parts.get(msg.shard)?.has(from)) {
      let held = 0;
      for (const m of st.parts.values()) if (m.has(from)) held++;
      if (held >= 2) throw new Error('too many parts before the round started');
    }
    const body = await reader.expect({
      maxBytes: this.#maxPartBytes(expected ?? msg.length),
      timeoutMs: Math.max(1000, this.#deadlineMs),
    });
    const v = this.#decodeShard(body, expected);
    if (!v) throw new Error('undecodable part');
    this.#storePart(st, msg.shard, from, { groupDigest: msg.group, length: msg.length, vector: v });
    if (st.group) this.#dropMismatchedParts(st);
  }

  async #onCommit(
    st: RoundState,
    reader: FrameReader,
    from: string,
    msg: Extract<AllreduceRequest, { t: 'commit' }>,
  ): Promise<void> {
    if ((st.group && st.group[msg.shard] !== from) || (msg.reduced && st.group && msg.length !== st.length)) {
      // another view of the group: discard the commit (and its shard), keep the stream
      this.#log.warn(
        { round: st.round, from, shard: msg.shard, reason: 'commit for another view of the group' },
        'skipped commit',
      );
      if (msg.reduced)
        await reader.expect({
          maxBytes: this.#maxPartBytes(msg.length ?? 0),
          timeoutMs: Math.max(1000, this.#deadlineMs),
        });
      return;
    }
    // First commit wins (a resend after a stream failure is a duplicate).
    const first = !st.commits.has(from);
    if (first) {
      st.commits.set(from, msg.received);
      st.commitShards.set(from, msg.shard);
      if (msg.reduced) st.reducedPending.add(from);
    }
    st.notify();
    if (!msg.reduced) return;
    const k = st.group?.length;
    const expected = k ? shardLength(st.length, k, msg.shard) : undefined;
    try {
      const body = await reader.expect({
        maxBytes: this.#maxPartBytes(expected ?? msg.length!),
        timeoutMs: Math.max(1000, this.#deadlineMs),
      });
      // Checked (decoded, length, finite) where it is used, in the gather.
      if (first) st.reduced.set(from, body);
    } finally {
      if (first) {
        st.reducedPending.delete(from);
        st.notify();
      }
    }
  }

  async #onGet(
    st: RoundState,
    stream: Stream,
    reader: FrameReader,
    from: string,
    msg: Extract<AllreduceRequest, { t: 'get' }>,
  ): Promise<void> {
    st.count(from, 0, reader.bytesRead);
    const deadline = Date.now() + this.#deadlineMs;
    // The requester may be ahead of us: wait (bounded) for our own round to start.
    await st.waitUntil(() => st.group !== undefined, deadline);
    let reply: { ok: true; bytes: Uint8Array; digest: string } | { ok: false; reason: string };
    if (!st.group) {
      reply = { ok: false, reason: 'round not started here' };
    } else if (msg.shard >= st.group.length || msg.members.some((p) => !st.group!.includes(p))) {
      reply = { ok: false, reason: 'members outside the group' };
    } else {
      const members = canonicalGroup(msg.members);
      const digest = setDigest(st.round, members);
      const bytes = await this.#serveShard(st, msg.shard, members, digest, msg.mirrorOnly, deadline);
      reply = bytes ? { ok: true, bytes, digest } : { ok: false, reason: 'shard unavailable' };
    }
    let n: number;
    if (reply.ok) {
      n = await writeFrame(stream, encodeJson({ t: 'shard', ok: true, digest: reply.digest }));
      n += await writeFrame(stream, reply.bytes);
    } else {
      n = await writeFrame(stream, encodeJson({ t: 'shard', ok: false, reason: reply.reason }));
    }
    st.count(from, n, 0);
    await stream.close().catch(() => {});
  }

  /**
   * The encoded aggregate of `shard` over exactly `members`, computed once per (shard, set) and
   * cached; waits until every member's part is here (bounded by `deadline`).
   */
  #serveShard(
    st: RoundState,
    shard: number,
    members: string[],
    digest: string,
    mirrorOnly: boolean,
    deadline: number,
  ): Promise<Uint8Array | undefined> {
    const key = `${shard}|${digest}`;
    const cached = st.results.get(key);
    if (cached) return cached;
    // A mirror also serves the copy the shard's owner pushed with its commit, if it is over
    // exactly `members` (a peer whose copy was cut off when the owner died gets it from here).
    if (mirrorOnly) return this.#mirrorCopy(st, shard, members, key, deadline);
    const p = (async () => {
      const have = () => members.every((m) => st.parts.get(shard)?.has(m));
      const ok = await st.waitUntil(
        () => have() || members.some((m) => st.lost.has(m) && !st.parts.get(shard)?.has(m)),
        deadline,
      );
      if (!ok || !have()) {
        st.results.delete(key);
        return undefined;
      }
      const parts = st.parts.get(shard)!;
      const agg = this.#aggregate(members.map((peer) => ({ peer, vector: parts.get(peer)!.vector })));
      return this.#resultCodec(st, shard, agg.length).encode(agg);
    })();
    st.results.set(key, p);
    return p;
  }

  // ---- helpers ----

  /**
   * The codec for aggregated shard `shard` of this round: the persistent one for the first
   * aggregate of that shard in a round; a fresh one for any further aggregate of it in the same
   * round (a recovery over a smaller set), so the carried residual is not spent twice.
   */
  #resultCodec(st: RoundState, shard: number, length: number): Codec {
    if (st.encodedShards.has(shard)) return this.#codecFactory();
    st.encodedShards.add(shard);
    const key = `${st.group!.length}:${shard}:${length}`;
    let codec = this.#resultCodecs.get(key);
    if (!codec) {
      codec = this.#codecFactory();
      this.#resultCodecs.set(key, codec);
    }
    return codec;
  }

  #state(round: number): RoundState | undefined {
    let st = this.#states.get(round);
    if (!st) {
      if (this.#states.size >= MAX_STATES) {
        // Evict the furthest round that has not started here (most likely junk), if any.
        const idle = [...this.#states.values()].filter((s) => !s.group).sort((a, b) => b.round - a.round);
        if (idle.length === 0 || idle[0].round < round) return undefined;
        this.#states.delete(idle[0].round);
        this.#log.warn({ round: idle[0].round, reason: 'too many rounds in flight' }, 'dropped round state');
      }
      st = new RoundState(round);
      this.#states.set(round, st);
    }
    return st;
  }

  #storePart(st: RoundState, shard: number, from: string, part: Part): void {
    let m = st.parts.get(shard);
    if (!m) {
      m = new Map();
      st.parts.set(shard, m);
    }
    if (!m.has(from)) m.set(from, part);
    st.notify();
  }

  /** Once the local round has started, commits from a peer for a shard it does not own are discarded. */
  #dropMismatchedCommits(st: RoundState): void {
    for (const [from, shard] of st.commitShards) {
      if (st.group![shard] === from) continue;
      st.commits.delete(from);
      st.commitShards.delete(from);
      st.reduced.delete(from);
      st.reducedPending.delete(from);
      this.#log.warn(
        { round: st.round, from, shard, reason: 'commit for a shard it does not own' },
        'dropped commit',
      );
    }
  }

  /** Once the local round has started, parts sent for another group or length are discarded. */
  #dropMismatchedParts(st: RoundState): void {
    for (const [shard, m] of st.parts) {
      for (const [from, p] of m) {
        const wrong =
          p.groupDigest !== st.groupDigest ||
          p.length !== st.length ||
          shard >= st.group!.length ||
          p.vector.length !== shardLength(st.length, st.group!.length, shard);
        if (wrong) {
          m.delete(from);
          this.#log.warn(
            { round: st.round, from, shard, reason: 'group or length mismatch' },
            'dropped part',
          );
        }
      }
    }
  }

  #maxPartBytes(elements: number): number {
    return 1024 + 9 * elements;
  }

  #decodeShard(bytes: Uint8Array, expected: number | undefined): Float32Array | undefined {
    try {
      // Codecs view payloads as typed arrays: they need a 4-byte-aligned buffer. Frames may be
      // Node Buffers (whose slice() is a view), so copy with the Uint8Array constructor.
      const v = this.#decoder.decode(bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes));
      if (expected !== undefined && v.length !== expected) {
        this.#log.warn({ reason: `shard has ${v.length} elements, expected ${expected}` }, 'dropped shard');
        return undefined;
      }
      for (let i = 0; i < v.length; i++) {
        if (!Number.isFinite(v[i])) {
          this.#log.warn({ reason: 'non-finite value' }, 'dropped shard');
          return undefined;
        }
      }
      return v;
    } catch (err) {
      this.#log.warn({ reason: (err as Error).message }, 'dropped shard');
      return undefined;
    }
  }
}
