/**
 * The Agora libp2p host (adapter): TCP + Noise + Yamux, identify, ping, gossipsub. It
 *  - listens on 127.0.0.1 by default and dials a bootstrap list;
 *  - announces itself on a per-job gossip topic (small signed announcements only; tensors go on
 *    streams) and dials peers it learns about there;
 *  - runs the `/agora/auth/1` handshake on every new connection: each side proves its Ethereum
 *    account by a signature over its PeerId (see auth.ts); peers whose account is not a participant
 *    of the job, or whose proof is forged, are disconnected and refused by the connection gater;
 *  - wraps every Agora protocol handler (`handle`) so that each inbound stream is checked against the
 *    authorized set and a per-peer rate limit before the handler sees it.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { type GossipSub, gossipsub } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import type { Connection, PeerId, PrivateKey, Startable, Stream } from '@libp2p/interface';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p, type Libp2p } from 'libp2p';
import type { Logger } from 'pino';
import type { Address, LocalAccount } from 'viem';
import { AgoraError } from '../errors.ts';
import { type AuthContext, type AuthProof, participantSet, signAuthProof, verifyAuthProof } from './auth.ts';
import { decodeJson, encodeJson, FrameError, FrameReader, writeFrame } from './framing.ts';
import {
  announceSchema,
  authHelloSchema,
  authReplySchema,
  MAX_CONTROL_BYTES,
  parseMessage,
} from './messages.ts';
import { RateLimiter } from './rate-limit.ts';

export const AUTH_PROTOCOL = '/agora/auth/1';
/** How long a peer whose handshake broke off (timeout, closed stream) is refused. */
export const TRANSIENT_DENY_MS = 2000;

export interface AgoraHostOptions {
  /** The wallet account that signs this node's PeerId (never logged). */
  account: LocalAccount;
  chainId: number;
  jobId: string;
  /** Accounts allowed to talk to this node for this job. */
  participants: readonly string[];
  logger: Logger;
  /** libp2p identity; a fresh Ed25519 key when omitted. */
  privateKey?: PrivateKey;
  /** default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[];
  /** multiaddrs (with /p2p/<PeerId>) dialed at start */
  bootstrap?: string[];
  /** time a new connection has to authenticate before it is closed (default 10 s) */
  authTimeoutMs?: number;
  /** how often the node re-announces itself on the job topic (default 5 s; 0 = only at start) */
  announceIntervalMs?: number;
  /** inbound streams per peer per protocol: refill rate and burst (default 200/s, burst 400) */
  streamRate?: { perSec: number; burst: number };
  /** inbound connections accepted per second per remote IP (default 100) */
  inboundConnectionsPerSec?: number;
  /** how long a peer that failed authentication stays refused (default 60 s) */
  denyMs?: number;
  /**
   * Reads the job's participants anew (from the chain) when a correctly signed peer is not in the
   * list, before refusing it: a job that has just started may have a participant this host has not
   * heard of yet.
   */
  refreshParticipants?: () => Promise<readonly string[]>;
}

export interface PeerInfo {
  peerId: string;
  address: Address;
}

/** Handler for an authenticated inbound stream. Throwing is fine: the host logs and aborts. */
export type AgoraStreamHandler = (stream: Stream, peer: PeerInfo) => Promise<void>;

/** Events: `peer:authorized` (CustomEvent<PeerInfo>), `peer:lost` (CustomEvent<string>, a PeerId). */

export class AgoraHost extends EventTarget implements Startable {
  readonly #opts: AgoraHostOptions;
  readonly #log: Logger;
  readonly #ctx: AuthContext;
  #participants: Set<string>;
  #node: Libp2p<{ pubsub: GossipSub }> | undefined;
  #proof: AuthProof | undefined;
  readonly #authorized = new Map<string, Address>();
  readonly #pending = new Map<string, Promise<boolean>>();
  readonly #denied = new Map<string, number>();
  readonly #limiter: RateLimiter;
  readonly #protocols: string[] = [];
  #announceTimer: NodeJS.Timeout | undefined;
  #started = false;

  constructor(opts: AgoraHostOptions) {
    super();
    this.#opts = opts;
    this.#log = opts.logger.child({ mod: 'net/host' });
    this.#ctx = { chainId: opts.chainId, jobId: opts.jobId };
    this.#participants = participantSet(opts.participants);
    const r = opts.streamRate ?? { perSec: 200, burst: 400 };
    this.#limiter = new RateLimiter({ ratePerSec: r.perSec, burst: r.burst });
  }

  get topic(): string {
    return `/agora/job/${this.#opts.jobId}/announce/1`;
  }

  get peerId(): string {
    return this.#libp2p().peerId.toString();
  }

  get address(): Address {
    return this.#opts.account.address;
  }

  get libp2p(): Libp2p {
    return this.#libp2p();
  }

  /** Multiaddrs others can dial (with /p2p/<PeerId>). */
  multiaddrs(): string[] {
    return this.#libp2p()
      .getMultiaddrs()
      .map((m) => m.toString());
  }

  isStarted(): boolean {
    return this.#started;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    const o = this.#opts;
    const node = await createLibp2p({
      ...(o.privateKey ? { privateKey: o.privateKey } : {}),
      addresses: { listen: o.listen ?? ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      // A ping queued behind megabytes of tensor data on the same TCP connection can exceed the
      // monitor's timeout; aborting the connection then would kill the round it is serving.
      // Liveness comes from TCP (a dead process resets its connections) and the round deadlines.
      connectionMonitor: { abortConnectionOnPingFailure: false },
      // libp2p's default (5 inbound connections/s per IP, 10 pending) resets dials when a whole
      // group behind one address (a lab, a NAT, loopback tests) connects at once.
      connectionManager: {
        inboundConnectionThreshold: o.inboundConnectionsPerSec ?? 100,
        maxIncomingPendingConnections: 64,
      },
      connectionGater: {
        denyDialMultiaddr: () => false,
        denyDialPeer: (p: PeerId) => this.#isDenied(p.toString()),
        denyInboundEncryptedConnection: (p: PeerId) => this.#isDenied(p.toString()),
        denyOutboundEncryptedConnection: (p: PeerId) => this.#isDenied(p.toString()),
      },
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false }),
      },
    });
    this.#node = node;
    this.#proof = await signAuthProof(o.account, this.#ctx, node.peerId.toString());

    await node.handle(AUTH_PROTOCOL, (stream, conn) => this.#onAuthStream(stream, conn), {
      maxInboundStreams: 4,
    });
    node.addEventListener('connection:open', (e) => this.#onConnection(e.detail));
    node.addEventListener('peer:disconnect', (e) => {
      const id = e.detail.toString();
      if (this.#authorized.delete(id)) {
        this.dispatchEvent(new CustomEvent('peer:lost', { detail: id }));
        this.#log.info({ peer: id }, 'peer disconnected');
      }
    });
    node.services.pubsub.addEventListener('message', (e) => {
      void this.#onGossip(e.detail.topic, e.detail.data);
    });
    node.services.pubsub.subscribe(this.topic);
    this.#started = true;
    this.#log.info({ peer: this.peerId, addrs: this.multiaddrs(), account: this.address }, 'host started');

    for (const addr of o.bootstrap ?? []) {
      void this.dial(addr).catch((err) =>
        this.#log.warn({ addr, err: (err as Error).message }, 'bootstrap dial failed'),
      );
    }
    void this.announce();
    const every = o.announceIntervalMs ?? 5000;
    if (every > 0) {
      this.#announceTimer = setInterval(() => void this.announce(), every);
      this.#announceTimer.unref();
    }
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    clearInterval(this.#announceTimer);
    await this.#node?.stop();
    this.#authorized.clear();
    this.#log.info('host stopped');
  }

  /** Replaces the job's participant list; connected peers that are no longer listed are dropped. */
  setParticipants(addresses: readonly string[]): void {
    this.#participants = participantSet(addresses);
    for (const [peer, addr] of this.#authorized) {
      if (!this.#participants.has(addr)) {
        this.#authorized.delete(peer);
        void this.#hangUp(peer, 'no longer a participant');
      }
    }
  }

  /** Dials a multiaddr; resolves once the remote is authenticated (or rejects). */
  async dial(addr: string, timeoutMs = 10_000): Promise<PeerInfo> {
    const node = this.#libp2p();
    const conn = await node.dial(multiaddr(addr), { signal: AbortSignal.timeout(timeoutMs) });
    const peer = conn.remotePeer.toString();
    if (!(await this.waitAuthorized(peer, timeoutMs))) {
      throw new AgoraError('NET_AUTH_FAILED', `Peer ${peer} at ${addr} did not authenticate.`, {
        hint: 'Check that its account is a participant of this job and that it runs the same job id and chain id.',
      });
    }
    return { peerId: peer, address: this.#authorized.get(peer)! };
  }

  /** Authenticated peers currently connected. */
  authorizedPeers(): PeerInfo[] {
    return [...this.#authorized].map(([peerId, address]) => ({ peerId, address }));
  }

  isAuthorized(peerId: string): boolean {
    return this.#authorized.has(peerId);
  }

  /** Waits until `peerId` is authenticated; false on timeout or failed authentication. */
  async waitAuthorized(peerId: string, timeoutMs: number): Promise<boolean> {
    if (this.#authorized.has(peerId)) return true;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const pending = this.#pending.get(peerId);
      if (pending) {
        if (await pending) return true;
      }
      if (this.#authorized.has(peerId)) return true;
      if (this.#isDenied(peerId)) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.#authorized.has(peerId);
  }

  /** Waits until at least `n` peers are authenticated. */
  async waitForPeers(n: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#authorized.size < n) {
      if (Date.now() > deadline) {
        throw new AgoraError('NET_PEERS_TIMEOUT', `Only ${this.#authorized.size} of ${n} peers connected.`, {
          hint: 'Check the bootstrap addresses and that the other peers are participants of this job.',
        });
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /**
   * Registers an Agora protocol. Every inbound stream is checked: unauthenticated peers and peers
   * over their rate limit are refused (stream aborted, reason logged); handler errors are logged.
   */
  async handle(
    protocol: string,
    handler: AgoraStreamHandler,
    opts: { maxInboundStreams?: number; authWaitMs?: number } = {},
  ): Promise<void> {
    const node = this.#libp2p();
    const log = this.#log.child({ protocol });
    this.#protocols.push(protocol);
    await node.handle(
      protocol,
      async (stream, conn) => {
        const peer = conn.remotePeer.toString();
        // A stream can race the handshake on a fresh connection: give it a moment.
        const ok =
          this.#authorized.has(peer) ||
          (await this.waitAuthorized(
            peer,
            opts.authWaitMs ?? Math.min(2000, (this.#opts.authTimeoutMs ?? 10_000) / 2),
          ));
        if (!ok) {
          log.warn({ peer, reason: 'unauthorized' }, 'refused stream');
          stream.abort(new Error('unauthorized'));
          return;
        }
        if (!this.#limiter.take(`${protocol} ${peer}`)) {
          log.warn({ peer, reason: 'rate limit' }, 'refused stream');
          stream.abort(new Error('rate limited'));
          return;
        }
        try {
          await handler(stream, { peerId: peer, address: this.#authorized.get(peer)! });
        } catch (err) {
          const reason = err instanceof FrameError ? `${err.reason}: ${err.message}` : (err as Error).message;
          log.warn({ peer, reason }, 'dropped stream');
          stream.abort(err instanceof Error ? err : new Error(String(err)));
        }
      },
      { maxInboundStreams: opts.maxInboundStreams ?? 64, maxOutboundStreams: 256 },
    );
  }

  /** Opens a stream to an authenticated peer. */
  async newStream(peerId: string, protocol: string, timeoutMs = 10_000): Promise<Stream> {
    if (!this.#authorized.has(peerId)) {
      throw new AgoraError('NET_NOT_AUTHORIZED', `Peer ${peerId} is not an authenticated participant.`, {
        hint: 'Wait for the peer to connect and authenticate (waitForPeers) before talking to it.',
      });
    }
    const node = this.#libp2p();
    const conns = node.getConnections(this.#peerIdObj(peerId));
    const signal = AbortSignal.timeout(timeoutMs);
    if (conns.length > 0) {
      return conns[0].newStream(protocol, { signal, maxOutboundStreams: 256 });
    }
    return node.dialProtocol(this.#peerIdObj(peerId), protocol, { signal, maxOutboundStreams: 256 });
  }

  /** Publishes this node's signed announcement on the job topic. */
  async announce(): Promise<void> {
    if (!this.#started || !this.#proof) return;
    const msg = { t: 'announce', proof: this.#proof, addrs: this.multiaddrs().slice(0, 16) };
    try {
      await this.#libp2p().services.pubsub.publish(this.topic, encodeJson(msg));
    } catch (err) {
      this.#log.debug({ err: (err as Error).message }, 'announce not published');
    }
  }

  // ---- internals ----

  #libp2p(): Libp2p<{ pubsub: GossipSub }> {
    if (!this.#node) {
      throw new AgoraError('NET_NOT_STARTED', 'The network host is not started.', {
        hint: 'Call start() first.',
      });
    }
    return this.#node;
  }

  #peerIdObj(peerId: string): PeerId {
    for (const c of this.#libp2p().getConnections()) {
      if (c.remotePeer.toString() === peerId) return c.remotePeer;
    }
    for (const p of this.#libp2p().getPeers()) if (p.toString() === peerId) return p;
    throw new AgoraError('NET_NOT_CONNECTED', `Peer ${peerId} is not connected.`, {
      hint: 'The peer may have left; it will be skipped for this round.',
    });
  }

  #isDenied(peerId: string): boolean {
    const until = this.#denied.get(peerId);
    if (until === undefined) return false;
    if (Date.now() > until) {
      this.#denied.delete(peerId);
      return false;
    }
    return true;
  }

  /**
   * Refuses a peer for `denyMs` (a bad or unauthorized proof), or for TRANSIENT_DENY_MS after a
   * handshake that merely broke off (timeout, closed stream); hangs up now unless the caller still
   * has a reply to send. A long ban for a broken-off handshake would be mirrored: the banned side
   * sees its next handshake cut and bans back, and two honest peers then refuse each other for good.
   */
  #deny(peerId: string, reason: string, hangUp = true, transient = false): void {
    const ms = this.#opts.denyMs ?? 60_000;
    this.#denied.set(peerId, Date.now() + (transient ? Math.min(ms, TRANSIENT_DENY_MS) : ms));
    this.#authorized.delete(peerId);
    this.#log.warn({ peer: peerId, reason }, 'peer refused');
    if (hangUp) void this.#hangUp(peerId, reason);
  }

  async #hangUp(peerId: string, reason: string): Promise<void> {
    try {
      await this.#libp2p().hangUp(this.#peerIdObj(peerId));
    } catch (err) {
      this.#log.debug({ peer: peerId, reason, err: (err as Error).message }, 'hang up failed');
    }
  }

  #onConnection(conn: Connection): void {
    const peer = conn.remotePeer.toString();
    if (this.#isDenied(peer)) {
      void conn.close().catch(() => {});
      return;
    }
    if (this.#authorized.has(peer) || this.#pending.has(peer)) return;
    if (conn.direction === 'outbound') {
      const p = this.#authenticateOutbound(conn).finally(() => this.#pending.delete(peer));
      this.#pending.set(peer, p);
    } else {
      // The dialer starts the handshake; close the connection if it never completes.
      const t = setTimeout(() => {
        if (!this.#authorized.has(peer) && !this.#pending.has(peer) && this.#started) {
          this.#deny(peer, 'no authentication in time', true, true);
        }
      }, this.#opts.authTimeoutMs ?? 10_000);
      t.unref();
    }
  }

  async #authenticateOutbound(conn: Connection): Promise<boolean> {
    const peer = conn.remotePeer.toString();
    const timeoutMs = this.#opts.authTimeoutMs ?? 10_000;
    let stream: Stream | undefined;
    try {
      stream = await conn.newStream(AUTH_PROTOCOL, { signal: AbortSignal.timeout(timeoutMs) });
      await writeFrame(stream, encodeJson({ t: 'auth', proof: this.#proof }));
      const reader = new FrameReader(stream);
      const reply = parseMessage(
        authReplySchema,
        decodeJson(await reader.expect({ maxBytes: MAX_CONTROL_BYTES, timeoutMs })),
      );
      await stream.close().catch(() => {});
      if (!reply.ok) {
        this.#deny(peer, `malformed auth reply (${reply.reason})`);
        return false;
      }
      if (reply.value.t === 'auth-deny') {
        this.#deny(peer, `remote refused our authentication: ${reply.value.reason}`);
        return false;
      }
      return await this.#accept(peer, reply.value.proof as AuthProof);
    } catch (err) {
      stream?.abort(err as Error);
      this.#deny(peer, `handshake failed: ${(err as Error).message}`, true, true);
      return false;
    }
  }

  async #onAuthStream(stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString();
    const timeoutMs = this.#opts.authTimeoutMs ?? 10_000;
    let resolve!: (ok: boolean) => void;
    const p = new Promise<boolean>((r) => {
      resolve = r;
    });
    if (!this.#pending.has(peer)) this.#pending.set(peer, p);
    let ok = false;
    try {
      const reader = new FrameReader(stream);
      const hello = parseMessage(
        authHelloSchema,
        decodeJson(await reader.expect({ maxBytes: MAX_CONTROL_BYTES, timeoutMs })),
      );
      if (!hello.ok) {
        this.#deny(peer, `malformed auth hello (${hello.reason})`, false);
        await writeFrame(stream, encodeJson({ t: 'auth-deny', reason: 'malformed hello' })).catch(() => {});
        await stream.close({ signal: AbortSignal.timeout(1000) }).catch(() => {});
        void this.#hangUp(peer, 'malformed hello');
        return;
      }
      ok = await this.#accept(peer, hello.value.proof as AuthProof, false);
      if (ok) {
        await writeFrame(stream, encodeJson({ t: 'auth', proof: this.#proof }));
        await stream.close();
      } else {
        // Tell the remote why (generic reason), then hang up.
        await writeFrame(stream, encodeJson({ t: 'auth-deny', reason: 'not authorized' })).catch(() => {});
        await stream.close({ signal: AbortSignal.timeout(1000) }).catch(() => {});
        void this.#hangUp(peer, 'not authorized');
      }
    } catch (err) {
      stream.abort(err as Error);
      this.#deny(peer, `handshake failed: ${(err as Error).message}`, true, true);
    } finally {
      resolve(ok);
      if (this.#pending.get(peer) === p) this.#pending.delete(peer);
    }
  }

  async #accept(peer: string, proof: AuthProof, hangUpOnFailure = true): Promise<boolean> {
    let verdict = await verifyAuthProof(proof, this.#ctx, peer, this.#participants);
    if (!verdict.ok && verdict.reason === 'not a participant of this job' && this.#opts.refreshParticipants) {
      const fresh = await this.#opts.refreshParticipants().catch(() => undefined);
      if (fresh) {
        this.setParticipants(fresh);
        verdict = await verifyAuthProof(proof, this.#ctx, peer, this.#participants);
      }
    }
    if (!verdict.ok) {
      this.#deny(peer, verdict.reason, hangUpOnFailure);
      return false;
    }
    const isNew = !this.#authorized.has(peer);
    this.#authorized.set(peer, verdict.address);
    if (isNew) {
      this.#log.info({ peer, account: verdict.address }, 'peer authenticated');
      this.dispatchEvent(
        new CustomEvent('peer:authorized', { detail: { peerId: peer, address: verdict.address } }),
      );
    }
    return true;
  }

  async #onGossip(topic: string, data: Uint8Array): Promise<void> {
    if (topic !== this.topic || !this.#started) return;
    if (data.byteLength > 8192) {
      this.#log.warn({ reason: 'oversized announcement', bytes: data.byteLength }, 'dropped gossip');
      return;
    }
    let parsed: ReturnType<typeof parseMessage<{ proof: unknown; addrs: string[] }>>;
    try {
      parsed = parseMessage(announceSchema, decodeJson(data));
    } catch (err) {
      this.#log.warn({ reason: (err as Error).message }, 'dropped gossip');
      return;
    }
    if (!parsed.ok) {
      this.#log.warn({ reason: parsed.reason }, 'dropped gossip');
      return;
    }
    const proof = parsed.value.proof as AuthProof;
    const peer = proof.peerId;
    if (peer === this.peerId || this.#authorized.has(peer) || this.#pending.has(peer) || this.#isDenied(peer))
      return;
    if (!this.#limiter.take(`announce ${peer}`)) return;
    const verdict = await verifyAuthProof(proof, this.#ctx, peer, this.#participants);
    if (!verdict.ok) {
      this.#log.warn({ peer, reason: verdict.reason }, 'ignored announcement');
      return;
    }
    for (const addr of parsed.value.addrs) {
      try {
        const ma = multiaddr(addr);
        if (ma.getComponents().at(-1)?.value !== peer) continue;
        await this.dial(addr);
        return;
      } catch (err) {
        this.#log.debug({ peer, addr, err: (err as Error).message }, 'dial from announcement failed');
      }
    }
  }
}
