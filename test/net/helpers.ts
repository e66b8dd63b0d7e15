/** Test helpers for src/net: real libp2p hosts on 127.0.0.1 with fresh wallet keys. */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';
import { AgoraHost, type AgoraHostOptions } from '../../src/net/host.ts';

export const CHAIN_ID = 31337;
export const JOB_ID = 'job-test';

/** A pino logger that keeps every record in memory (to assert on logged reasons). */
export function memoryLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: process.env.AGORA_TEST_LOG ?? 'info' }, dest), lines };
}

export function accounts(n: number): PrivateKeyAccount[] {
  return Array.from({ length: n }, () => privateKeyToAccount(generatePrivateKey()));
}

export async function startHosts(
  accts: PrivateKeyAccount[],
  participants: string[],
  logger: Logger,
  extra: Partial<AgoraHostOptions> = {},
): Promise<AgoraHost[]> {
  const hosts: AgoraHost[] = [];
  for (const account of accts) {
    const h = new AgoraHost({
      account,
      chainId: CHAIN_ID,
      jobId: JOB_ID,
      participants,
      logger,
      announceIntervalMs: 0,
      bootstrap: hosts.length > 0 ? [hosts[0].multiaddrs()[0]] : [],
      ...extra,
    });
    await h.start();
    hosts.push(h);
  }
  return hosts;
}

/** Connects every pair directly (full mesh) and waits until all are authenticated. */
export async function fullMesh(hosts: AgoraHost[]): Promise<void> {
  for (let i = 0; i < hosts.length; i++) {
    for (let j = i + 1; j < hosts.length; j++) {
      if (!hosts[i].isAuthorized(hosts[j].peerId)) await hosts[i].dial(hosts[j].multiaddrs()[0]);
    }
  }
  await Promise.all(hosts.map((h) => h.waitForPeers(hosts.length - 1, 15_000)));
}

/** Deterministic pseudo-random vector in [-1, 1). */
export function randomVector(n: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    v[i] = (s / 0x100000000) * 2 - 1;
  }
  return v;
}

export function meanOf(vs: Float32Array[]): Float64Array {
  const out = new Float64Array(vs[0].length);
  for (const v of vs) for (let i = 0; i < v.length; i++) out[i] += v[i];
  for (let i = 0; i < out.length; i++) out[i] /= vs.length;
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
