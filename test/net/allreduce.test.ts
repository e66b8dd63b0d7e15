import { afterAll, describe, expect, it } from 'vitest';
import { AllReduce } from '../../src/net/allreduce.ts';
import type { AgoraHost } from '../../src/net/host.ts';
import { createCodec } from '../../src/train/codecs/index.ts';
import { accounts, fullMesh, maxAbsDiff, meanOf, memoryLogger, randomVector, startHosts } from './helpers.ts';

type Faulty = { index: number; hang?: Promise<void>; dieAfterCommit?: boolean };

async function group(n: number, codec: 'fp32' | 'int8', faulty?: Faulty) {
  const { logger } = memoryLogger();
  const accts = accounts(n);
  const hosts = await startHosts(
    accts,
    accts.map((a) => a.address),
    logger,
  );
  await fullMesh(hosts);
  const ars = hosts.map(
    (host, i) =>
      new AllReduce({
        host,
        logger,
        codec: () => createCodec(codec),
        deadlineMs: faulty ? 1500 : 5000,
        // The faulty peer stays connected but its parts never leave (a hung or very slow sender).
        faults:
          faulty?.index !== i
            ? undefined
            : {
                beforePartSend: faulty.hang ? () => faulty.hang : undefined,
                // Dies (closes every connection) right after its commit reached everyone,
                // i.e. while it is in C and about to serve its shard.
                afterCommit: faulty.dieAfterCommit ? () => host.stop() : undefined,
              },
      }),
  );
  await Promise.all(ars.map((a) => a.start()));
  return { hosts, ars };
}

describe('butterfly all-reduce', () => {
  const all: AgoraHost[] = [];
  afterAll(async () => {
    await Promise.all(all.map((h) => h.stop()));
  });

  for (const [n, codec, tol] of [
    [4, 'fp32', 1e-6],
    [8, 'fp32', 1e-6],
    [8, 'int8', 0.01],
  ] as const) {
    it(`${n} peers, ${codec}: every peer gets the mean`, async () => {
      const { hosts, ars } = await group(n, codec);
      all.push(...hosts);
      const len = 10_007;
      const members = hosts.map((h) => h.peerId);
      for (const round of [1, 2]) {
        const vs = hosts.map((_, i) => randomVector(len, 1000 * round + i + 1));
        const reports = await Promise.all(ars.map((a, i) => a.run(round, vs[i], members)));
        const want = meanOf(vs);
        console.log(
          `${n} peers ${codec} round ${round}: ${Math.max(...reports.map((r) => r.seconds)).toFixed(3)} s`,
        );
        for (const r of reports) {
          expect(r.ok, r.reason).toBe(true);
          expect(r.included.length).toBe(n);
          expect(maxAbsDiff(r.result!, want)).toBeLessThan(tol);
          // identical everywhere (same encoded bytes decoded)
          expect(maxAbsDiff(r.result!, reports[0].result!)).toBe(0);
          expect(r.digest).toBe(reports[0].digest);
        }
        if (codec === 'fp32') {
          // ≈ 2·size·(K−1)/K·4 bytes; control frames add a few percent at this small size.
          const ideal = (2 * len * (n - 1) * 4) / n;
          for (const r of reports) expect(r.bytesSent / ideal).toBeLessThan(1.3);
        }
      }
    }, 30_000);
  }

  it('a connected peer whose parts never arrive costs one deadline and is left out', async () => {
    let release!: () => void;
    const hang = new Promise<void>((r) => {
      release = r;
    });
    const { hosts, ars } = await group(4, 'fp32', { index: 2, hang });
    all.push(...hosts);
    const len = 4001;
    const vs = hosts.map((_, i) => randomVector(len, 500 + i));
    const members = hosts.map((h) => h.peerId);
    const t0 = performance.now();
    const reports = await Promise.all(ars.map((a, i) => a.run(1, vs[i], members)));
    const wall = (performance.now() - t0) / 1000;
    release();
    const want = meanOf(vs.filter((_, i) => i !== 2));
    for (const r of reports) {
      expect(r.ok, r.reason).toBe(true);
      expect(r.included.sort()).toEqual(members.filter((p) => p !== hosts[2].peerId).sort());
      expect(r.digest).toBe(reports[0].digest);
      expect(maxAbsDiff(r.result!, want)).toBeLessThan(1e-6); // the slow peer gets the result too
    }
    expect(wall).toBeGreaterThan(1.4); // waited for the deadline …
    expect(wall).toBeLessThan(1.5 + 1 + 2); // … once (deadline + grace + slack)
  }, 30_000);

  it('a holder in C that dies before serving its shard: survivors recompute without it', async () => {
    const { hosts, ars } = await group(4, 'fp32', { index: 1, dieAfterCommit: true });
    all.push(...hosts);
    const len = 4001;
    const vs = hosts.map((_, i) => randomVector(len, 900 + i));
    const members = hosts.map((h) => h.peerId);
    const reports = await Promise.all(ars.map((a, i) => a.run(1, vs[i], members)));
    const survivors = reports.filter((_, i) => i !== 1);
    console.log(
      'holder death:',
      survivors.map((r) => ({
        n: r.included.length,
        recovered: r.recovered,
        repaired: r.repairedShards,
        s: r.seconds,
      })),
    );
    for (const r of survivors) {
      expect(r.ok, r.reason).toBe(true);
      expect(r.digest).toBe(survivors[0].digest);
      const idx = r.included.map((p) => members.indexOf(p));
      expect(maxAbsDiff(r.result!, meanOf(idx.map((i) => vs[i])))).toBeLessThan(1e-6);
    }
    // Either someone fetched the dying peer's shard first (it stays in C, mirrors repair the
    // rest), or it is left out: by survivors that never got its commit directly, and by those that
    // did through the recovery attempt, so all end on the same set.
    const n = survivors[0].included.length;
    expect(n === 4 || (n === 3 && !survivors[0].included.includes(members[1]))).toBe(true);
    if (n === 3) {
      expect(survivors.every((r) => r.recovered || !r.alive.includes(members[1]))).toBe(true);
    }

    // The survivors carry on with the next round.
    const live = [0, 2, 3];
    const vs2 = live.map((i) => randomVector(len, 950 + i));
    const r2 = await Promise.all(
      live.map((i, j) =>
        ars[i].run(
          2,
          vs2[j],
          live.map((x) => members[x]),
        ),
      ),
    );
    for (const r of r2) {
      expect(r.ok, r.reason).toBe(true);
      expect(maxAbsDiff(r.result!, meanOf(vs2))).toBeLessThan(1e-6);
    }
  }, 30_000);
});
