/**
 * Unauthorized peers (valid signature but not a participant; forged signature; replayed proof; no
 * handshake at all) are refused on every protocol, and malformed/oversized frames are dropped with
 * a logged reason while the node keeps working.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Stream } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p, type Libp2p } from 'libp2p';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLREDUCE_PROTOCOL, AllReduce } from '../../src/net/allreduce.ts';
import { authMessage } from '../../src/net/auth.ts';
import { CheckpointSync, CKPT_PROTOCOL } from '../../src/net/ckpt-sync.ts';
import { decodeJson, encodeJson, FrameReader, writeFrame } from '../../src/net/framing.ts';
import { type AgoraHost, AUTH_PROTOCOL } from '../../src/net/host.ts';
import { createCodec } from '../../src/train/codecs/index.ts';
import {
  accounts,
  CHAIN_ID,
  fullMesh,
  JOB_ID,
  maxAbsDiff,
  meanOf,
  memoryLogger,
  randomVector,
  startHosts,
} from './helpers.ts';

async function rawNode(): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
  });
}

/** True when the stream was refused: aborted/reset before any reply frame. */
async function refused(s: Stream): Promise<boolean> {
  try {
    const f = await new FrameReader(s).next({ maxBytes: 1 << 20, timeoutMs: 5000 });
    return f === null;
  } catch {
    return true;
  }
}

describe('network security', () => {
  const { logger, lines } = memoryLogger();
  const accts = accounts(4);
  const participants = accts.slice(0, 3).map((a) => a.address); // accts[3] is an outsider
  let hosts: AgoraHost[] = [];
  let ars: AllReduce[] = [];
  const raws: Libp2p[] = [];
  const logged = (pred: (l: Record<string, unknown>) => boolean) => lines.some(pred);

  beforeAll(async () => {
    hosts = await startHosts(accts.slice(0, 3), participants, logger, {
      authTimeoutMs: 1500,
      streamRate: { perSec: 10, burst: 20 },
    });
    await fullMesh(hosts);
    ars = hosts.map(
      (host) => new AllReduce({ host, logger, codec: () => createCodec('int8'), deadlineMs: 3000 }),
    );
    for (const a of ars) await a.start();
    for (const h of hosts) await new CheckpointSync({ host: h, logger }).start();
  }, 30_000);

  afterAll(async () => {
    await Promise.all([...hosts.map((h) => h.stop()), ...raws.map((r) => r.stop())]);
  });

  it('refuses a peer with a valid signature that is not a participant', async () => {
    // The outsider lists the target as a participant, so only the target's check can refuse it.
    const [outsider] = await startHosts([accts[3]], [...participants, accts[3].address], logger);
    try {
      await expect(outsider.dial(hosts[0].multiaddrs()[0], 5000)).rejects.toThrow();
      expect(hosts[0].isAuthorized(outsider.peerId)).toBe(false);
      expect(logged((l) => l.msg === 'peer refused' && l.reason === 'not a participant of this job')).toBe(
        true,
      );
      // And it stays refused at the connection gater.
      await expect(
        outsider.libp2p.dialProtocol(multiaddr(hosts[0].multiaddrs()[0]), ALLREDUCE_PROTOCOL),
      ).rejects.toThrow();
    } finally {
      await outsider.stop();
    }
  });

  it('refuses forged and replayed signatures', async () => {
    const raw = await rawNode();
    raws.push(raw);
    const target = multiaddr(hosts[1].multiaddrs()[0]);
    // Forged: claims participant 0's address, signed by the outsider's key.
    const forged = {
      chainId: CHAIN_ID,
      jobId: JOB_ID,
      peerId: raw.peerId.toString(),
      address: accts[0].address,
      signature: await accts[3].signMessage({
        message: authMessage({ chainId: CHAIN_ID, jobId: JOB_ID }, raw.peerId.toString()),
      }),
    };
    const s = await raw.dialProtocol(target, AUTH_PROTOCOL);
    await writeFrame(s, encodeJson({ t: 'auth', proof: forged }));
    const reply = decodeJson(await new FrameReader(s).expect({ maxBytes: 4096, timeoutMs: 5000 })) as {
      t: string;
    };
    expect(reply.t).toBe('auth-deny');
    expect(logged((l) => l.msg === 'peer refused' && l.reason === 'forged signature')).toBe(true);
    expect(hosts[1].isAuthorized(raw.peerId.toString())).toBe(false);

    // Replayed: a participant's genuine proof, presented by another PeerId.
    const raw2 = await rawNode();
    raws.push(raw2);
    const genuine = {
      chainId: CHAIN_ID,
      jobId: JOB_ID,
      peerId: hosts[0].peerId,
      address: accts[0].address,
      signature: await accts[0].signMessage({
        message: authMessage({ chainId: CHAIN_ID, jobId: JOB_ID }, hosts[0].peerId),
      }),
    };
    const s2 = await raw2.dialProtocol(target, AUTH_PROTOCOL);
    await writeFrame(s2, encodeJson({ t: 'auth', proof: genuine }));
    await new FrameReader(s2).next({ maxBytes: 4096, timeoutMs: 5000 }).catch(() => null);
    expect(logged((l) => l.msg === 'peer refused' && l.reason === 'proof is for another PeerId')).toBe(true);
    expect(hosts[1].isAuthorized(raw2.peerId.toString())).toBe(false);
  });

  it('refuses Agora protocol streams from a peer that never authenticated', async () => {
    const raw = await rawNode();
    raws.push(raw);
    const target = multiaddr(hosts[2].multiaddrs()[0]);
    for (const proto of [ALLREDUCE_PROTOCOL, CKPT_PROTOCOL]) {
      // Either the stream is refused, or (after the auth timeout) the connection itself is.
      const s = await raw.dialProtocol(target, proto).catch(() => undefined);
      if (!s) continue;
      await writeFrame(s, encodeJson({ t: 'ckpt-head' })).catch(() => {});
      expect(await refused(s)).toBe(true);
    }
    expect(logged((l) => l.msg === 'refused stream' && l.reason === 'unauthorized')).toBe(true);
  });

  it('drops malformed, oversized and wrong-schema frames and keeps working', async () => {
    const [a, b] = hosts;
    const open = () => b.newStream(a.peerId, ALLREDUCE_PROTOCOL);
    const reasons: string[] = [];
    const dropped = () => lines.filter((l) => l.msg === 'dropped stream').map((l) => String(l.reason));

    // 1. A length prefix announcing ~4 GB.
    let s = await open();
    s.send(new Uint8Array([0xff, 0xff, 0xff, 0xf0, 1, 2, 3]));
    expect(await refused(s)).toBe(true);
    // 2. Not JSON.
    s = await open();
    await writeFrame(s, new TextEncoder().encode('{not json'));
    expect(await refused(s)).toBe(true);
    // 3. JSON of the wrong shape.
    s = await open();
    await writeFrame(s, encodeJson({ t: 'part', round: -1, shard: 'x' }));
    expect(await refused(s)).toBe(true);
    // 4. A valid part header followed by an undecodable tensor.
    s = await open();
    await writeFrame(
      s,
      encodeJson({ t: 'part', round: 1, shard: 0, group: '0'.repeat(32), length: 100, fallback: false }),
    );
    await writeFrame(s, new Uint8Array(64).fill(7));
    expect(await refused(s)).toBe(true);
    // 5. Truncated frame, then the writer closes.
    s = await open();
    s.send(new Uint8Array([0, 0, 1, 0, 1, 2, 3]));
    await s.close();
    await new Promise((r) => setTimeout(r, 200));
    // 6. Checkpoint: chunk of an unknown hash is refused politely (a reply, not a crash).
    const c = await b.newStream(a.peerId, CKPT_PROTOCOL);
    await writeFrame(c, encodeJson({ t: 'ckpt-chunk', hash: `0x${'ab'.repeat(32)}`, offset: 0, length: 10 }));
    const reply = decodeJson(await new FrameReader(c).expect({ maxBytes: 4096, timeoutMs: 5000 })) as {
      ok: boolean;
    };
    expect(reply.ok).toBe(false);

    await new Promise((r) => setTimeout(r, 200));
    reasons.push(...dropped());
    expect(reasons.some((r) => r.startsWith('oversized'))).toBe(true);
    expect(reasons.some((r) => r.startsWith('malformed: control frame is not valid JSON'))).toBe(true);
    expect(reasons.some((r) => r.startsWith('malformed request (schema'))).toBe(true);
    expect(reasons.some((r) => r === 'undecodable part')).toBe(true);
    expect(reasons.some((r) => r.startsWith('truncated'))).toBe(true);

    // The node still works: a full round among the three participants.
    const len = 3001;
    const vs = hosts.map((_, i) => randomVector(len, 77 + i));
    const reports = await Promise.all(
      ars.map((ar, i) =>
        ar.run(
          10,
          vs[i],
          hosts.map((h) => h.peerId),
        ),
      ),
    );
    for (const r of reports) {
      expect(r.ok, r.reason).toBe(true);
      expect(maxAbsDiff(r.result!, meanOf(vs))).toBeLessThan(0.01);
    }
  });

  it('rate-limits a peer that opens too many streams', async () => {
    const [a, b] = hosts;
    const streams = await Promise.all(
      Array.from({ length: 60 }, () => b.newStream(a.peerId, CKPT_PROTOCOL).catch(() => undefined)),
    );
    await Promise.all(
      streams.map(async (s) => {
        if (!s) return;
        await writeFrame(s, encodeJson({ t: 'ckpt-head' })).catch(() => {});
        await new FrameReader(s).next({ maxBytes: 4096, timeoutMs: 3000 }).catch(() => null);
      }),
    );
    expect(logged((l) => l.msg === 'refused stream' && l.reason === 'rate limit')).toBe(true);
  });
});
