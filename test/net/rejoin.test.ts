/**
 * A peer that restarts under the same identity is let back in quickly. Its old connection may have
 * been closed mid-handshake (the process was killed), which the other side logs as a broken-off
 * handshake. That must not ban the identity for long: the restarted peer's handshake would then be
 * cut, it would ban back, and the two honest peers would refuse each other for good.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { afterAll, describe, expect, it } from 'vitest';
import { AgoraHost, TRANSIENT_DENY_MS } from '../../src/net/host.ts';
import { accounts, CHAIN_ID, JOB_ID, memoryLogger } from './helpers.ts';

describe('a restarted peer rejoins', () => {
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const s of stops) await s().catch(() => {});
  });

  it('after its old connection broke off mid-handshake, it is authenticated within seconds', async () => {
    const { logger, lines } = memoryLogger();
    const [a, b] = accounts(2);
    const participants = [a.address, b.address];
    const host = new AgoraHost({
      account: a,
      chainId: CHAIN_ID,
      jobId: JOB_ID,
      participants,
      logger,
      announceIntervalMs: 0,
      authTimeoutMs: 500,
      denyMs: 60_000,
    });
    await host.start();
    stops.push(() => host.stop());
    const key = await generateKeyPair('Ed25519');
    // the old process: connects under b's identity and dies before it authenticates
    const old = await createLibp2p({
      privateKey: key,
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: { denyDialMultiaddr: () => false },
    });
    await old.dial(multiaddr(host.multiaddrs()[0]));
    const peerId = old.peerId.toString();
    const deadline = Date.now() + 5000;
    while (!lines.some((l) => l.peer === peerId && l.reason === 'no authentication in time')) {
      if (Date.now() > deadline) throw new Error('the unauthenticated connection was not refused');
      await new Promise((r) => setTimeout(r, 50));
    }
    await old.stop();

    // the restarted process: same identity, a real Agora host
    const again = new AgoraHost({
      account: b,
      chainId: CHAIN_ID,
      jobId: JOB_ID,
      participants,
      logger,
      announceIntervalMs: 0,
      privateKey: key,
    });
    await again.start();
    stops.push(() => again.stop());
    expect(again.peerId).toBe(peerId);
    const t0 = Date.now();
    while (!host.isAuthorized(peerId) || !again.isAuthorized(host.peerId)) {
      if (Date.now() - t0 > 4 * TRANSIENT_DENY_MS + 5000) {
        throw new Error(`not authenticated after ${Date.now() - t0} ms`);
      }
      await again.dial(host.multiaddrs()[0]).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(Date.now() - t0).toBeLessThan(4 * TRANSIENT_DENY_MS + 5000);
  }, 30_000);
});
