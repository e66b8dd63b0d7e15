import { afterAll, describe, expect, it } from 'vitest';
import { AllReduce } from '../../src/net/allreduce.ts';
import { CheckpointSync } from '../../src/net/ckpt-sync.ts';
import { AgoraHost } from '../../src/net/host.ts';
import {
  decodeTrainingCheckpoint,
  encodeTrainingCheckpoint,
} from '../../src/train/checkpoint/training-checkpoint.ts';
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

describe('checkpoint sync and late joiners', () => {
  const all: AgoraHost[] = [];
  afterAll(async () => {
    await Promise.all(all.map((h) => h.stop()));
  });

  it('a late joiner syncs the checkpoint, verifies it, and takes part in the next round', async () => {
    const { logger, lines } = memoryLogger();
    const accts = accounts(4);
    const participants = accts.map((a) => a.address);
    const hosts = await startHosts(accts.slice(0, 3), participants, logger, { announceIntervalMs: 250 });
    all.push(...hosts);
    await fullMesh(hosts);
    const mk = (host: AgoraHost) => ({
      host,
      ar: new AllReduce({ host, logger, codec: () => createCodec('fp32'), deadlineMs: 4000 }),
      ck: new CheckpointSync({ host, logger, chunkBytes: 64 * 1024 }),
    });
    const peers = hosts.map(mk);
    for (const p of peers) {
      await p.ar.start();
      await p.ck.start();
    }
    const len = 50_000;
    const r1 = await Promise.all(
      peers.map((p, i) =>
        p.ar.run(
          1,
          randomVector(len, 100 + i),
          hosts.map((h) => h.peerId),
        ),
      ),
    );
    expect(r1.every((r) => r.ok)).toBe(true);
    // Everyone "applies" the outer step and publishes the checkpoint of round 1.
    const ckpt = encodeTrainingCheckpoint({ params: r1[0].result!, info: { round: '1', job: JOB_ID } });
    for (const p of peers) expect(p.ck.setLatest(1, ckpt.bytes, { round: 1 })).toBe(ckpt.hash);

    // The late joiner only knows host 0; it discovers the others through gossip announcements.
    const late = new AgoraHost({
      account: accts[3],
      chainId: CHAIN_ID,
      jobId: JOB_ID,
      participants,
      logger,
      announceIntervalMs: 250,
      bootstrap: [hosts[0].multiaddrs()[0]],
    });
    all.push(late);
    await late.start();
    const lp = mk(late);
    await lp.ar.start();
    await lp.ck.start();
    await late.waitForPeers(3, 15_000);
    await Promise.all(hosts.map((h) => h.waitForPeers(3, 15_000)));

    const got = await lp.ck.fetchLatest();
    expect(got.round).toBe(1);
    expect(got.hash).toBe(ckpt.hash);
    expect(got.servedBy.length).toBeGreaterThan(1); // chunks spread over several peers
    const params = decodeTrainingCheckpoint(got.bytes).params;
    expect(maxAbsDiff(params, r1[0].result!)).toBe(0);

    // Round 2 with the joiner.
    const everyone = [...peers, lp];
    const vs = everyone.map((_, i) => randomVector(len, 200 + i));
    const r2 = await Promise.all(
      everyone.map((p, i) =>
        p.ar.run(
          2,
          vs[i],
          everyone.map((q) => q.host.peerId),
        ),
      ),
    );
    for (const r of r2) {
      expect(r.ok, r.reason).toBe(true);
      expect(r.included.length).toBe(4);
      expect(maxAbsDiff(r.result!, meanOf(vs))).toBeLessThan(1e-6);
    }

    // A peer serving corrupted bytes is caught by the hash check.
    const bad = new Uint8Array(ckpt.bytes);
    peers[0].ck.setLatest(3, bad);
    bad[bad.length - 1] ^= 0xff; // corrupt after the hash was computed
    await expect(lp.ck.fetchLatest([hosts[0].peerId])).rejects.toMatchObject({ code: 'CKPT_HASH_MISMATCH' });
    expect(lines.some((l) => l.msg === 'checkpoint synced')).toBe(true);
  }, 60_000);
});
