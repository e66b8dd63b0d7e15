import { afterAll, describe, expect, it } from 'vitest';
import type { AgoraHost } from '../../src/net/host.ts';
import { accounts, memoryLogger, startHosts } from './helpers.ts';

describe('AgoraHost', () => {
  const hosts: AgoraHost[] = [];
  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
  });

  it('authenticates participants via bootstrap and gossip announcements', async () => {
    const { logger } = memoryLogger();
    const accts = accounts(3);
    const hs = await startHosts(
      accts,
      accts.map((a) => a.address),
      logger,
      { announceIntervalMs: 300 },
    );
    hosts.push(...hs);
    // host 2 only bootstraps to host 0; it learns host 1 from host 1's announcement.
    await Promise.all(hs.map((h) => h.waitForPeers(2, 15_000)));
    for (const h of hs) {
      expect(
        h
          .authorizedPeers()
          .map((p) => p.address)
          .sort(),
      ).toEqual(
        accts
          .filter((a) => a.address !== h.address)
          .map((a) => a.address)
          .sort(),
      );
    }
  }, 30_000);
});
