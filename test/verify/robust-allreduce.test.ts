import { afterAll, describe, expect, it } from 'vitest';
import { AllReduce } from '../../src/net/allreduce.ts';
import type { AgoraHost } from '../../src/net/host.ts';
import { createCodec } from '../../src/train/codecs/index.ts';
import { centeredClipAggregator, trimmedMeanAggregator } from '../../src/verify/robust-aggregate.ts';
import { accounts, fullMesh, memoryLogger, startHosts } from '../net/helpers.ts';
import { attack, honestDeltas, mean, relErr } from './byzantine.ts';

describe('robust aggregators inside the real butterfly all-reduce (libp2p on 127.0.0.1)', () => {
  const hosts: AgoraHost[] = [];
  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
  });

  it('5 peers, one sends ×100: every peer gets the same robust result, close to the honest mean', async () => {
    const { logger } = memoryLogger();
    const accts = accounts(5);
    hosts.push(
      ...(await startHosts(
        accts,
        accts.map((a) => a.address),
        logger,
      )),
    );
    await fullMesh(hosts);
    const members = hosts.map((h) => h.peerId);
    const vs = honestDeltas(5, 6001, 11);
    const honest = vs.slice(0, 4);
    vs[4] = attack('scaled', vs[4], 1);
    for (const [name, aggregator] of [
      ['centered-clip', centeredClipAggregator()],
      ['trimmed-mean', trimmedMeanAggregator(0.2)],
    ] as const) {
      const ars = hosts.map(
        (host) => new AllReduce({ host, logger, codec: () => createCodec('fp32'), aggregator }),
      );
      await Promise.all(ars.map((a) => a.start()));
      const round = name === 'centered-clip' ? 1 : 2;
      const reports = await Promise.all(ars.map((a, i) => a.run(round, vs[i], members)));
      for (const r of reports) {
        expect(r.ok, r.reason).toBe(true);
        expect(r.result).toEqual(reports[0].result);
      }
      const err = relErr(reports[0].result!, mean(honest));
      console.log(
        `${name} over the all-reduce: rel. error vs honest mean ${err.toFixed(3)} (plain mean: ${relErr(mean(vs), mean(honest)).toFixed(1)})`,
      );
      expect(err).toBeLessThan(0.3);
      await Promise.all(ars.map((a) => a.stop()));
    }
  }, 30_000);
});
