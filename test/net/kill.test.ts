/**
 * Peers as separate processes; one is SIGKILLed in the middle of a round, after it delivered its
 * slice to one owner only. The survivors must finish that round (with an agreed contributor set
 * and the exact mean of it) and the next one.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, describe, expect, it } from 'vitest';
import { maxAbsDiff, meanOf, randomVector } from './helpers.ts';

const SCRIPT = fileURLToPath(new URL('./peer-process.ts', import.meta.url));
const DEADLINE_MS = 2500;

interface Child {
  proc: ChildProcess;
  peerId: string;
  addr: string;
  index: number;
}

function nextMessage<T>(p: ChildProcess, type: string, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${type}`)), timeoutMs);
    const on = (m: { type: string; message?: string }) => {
      if (m.type === type || m.type === 'error') {
        clearTimeout(t);
        p.off('message', on);
        if (m.type === 'error') reject(new Error(m.message));
        else resolve(m as T);
      }
    };
    p.on('message', on);
  });
}

type Report = {
  ok: boolean;
  reason?: string;
  included: string[];
  digest: string;
  seconds: number;
  result: string | null;
};

describe('all-reduce across processes', () => {
  const children: Child[] = [];
  afterAll(() => {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  });

  it('survives kill -9 of a peer mid-round and runs the next round', async () => {
    const n = 4;
    const keys = Array.from({ length: n }, () => generatePrivateKey());
    const participants = JSON.stringify(keys.map((k) => privateKeyToAccount(k).address));
    const procs = keys.map((key) =>
      fork(SCRIPT, [], {
        execPath: process.execPath,
        env: {
          ...process.env,
          AGORA_TEST_KEY: key,
          AGORA_TEST_PARTICIPANTS: participants,
          AGORA_TEST_DEADLINE_MS: String(DEADLINE_MS),
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    const ready = await Promise.all(
      procs.map((p) => nextMessage<{ peerId: string; addr: string }>(p, 'ready')),
    );
    for (const [index, r] of ready.entries()) {
      children.push({ proc: procs[index], peerId: r.peerId, addr: r.addr, index });
    }
    const addrs = ready.map((r) => r.addr);
    for (const c of children) c.proc.send({ type: 'connect', addrs, expect: n - 1 });
    await Promise.all(children.map((c) => nextMessage(c.proc, 'connected')));

    const length = 20_001;
    const seedOf = (round: number, index: number) => round * 1000 + index + 1;
    const members = children.map((c) => c.peerId);
    const victim = children[1];
    const survivors = children.filter((c) => c !== victim);

    // Round 1: the victim sends one slice, then stalls; the parent kills it with SIGKILL.
    const partial = nextMessage(victim.proc, 'partial');
    const reports1 = children
      .filter((c) => c !== victim)
      .map((c) => nextMessage<{ report: Report }>(c.proc, 'report', 60_000));
    const t0 = performance.now();
    for (const c of children) {
      c.proc.send({
        type: 'round',
        round: 1,
        members,
        length,
        seed: seedOf(1, c.index),
        stallAfterFirstPart: c === victim,
      });
    }
    await partial;
    victim.proc.kill('SIGKILL');
    const r1 = (await Promise.all(reports1)).map((m) => m.report);
    const wall = (performance.now() - t0) / 1000;
    console.log(
      `round 1 with a kill: wall ${wall.toFixed(2)} s, reports`,
      r1.map((r) => ({ seconds: r.seconds, fallback: (r as { fallbackShards?: number[] }).fallbackShards })),
    );
    const byPeer = new Map(children.map((c) => [c.peerId, c.index]));
    for (const r of r1) {
      expect(r.ok, r.reason).toBe(true);
      expect(r.included.sort()).toEqual(survivors.map((c) => c.peerId).sort());
      expect(r.digest).toBe(r1[0].digest);
      const want = meanOf(r.included.map((p) => randomVector(length, seedOf(1, byPeer.get(p)!))));
      const got = new Float32Array(new Uint8Array(Buffer.from(r.result!, 'base64')).buffer);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
    }
    // A dead peer costs at most about one deadline (plus the round itself).
    expect(wall).toBeLessThan((DEADLINE_MS * 2) / 1000 + 2);

    // Round 2 with the survivors only.
    const members2 = r1[0].included;
    const reports2 = survivors.map((c) => nextMessage<{ report: Report }>(c.proc, 'report', 60_000));
    for (const c of survivors) {
      c.proc.send({ type: 'round', round: 2, members: members2, length, seed: seedOf(2, c.index) });
    }
    const r2 = (await Promise.all(reports2)).map((m) => m.report);
    const want2 = meanOf(survivors.map((c) => randomVector(length, seedOf(2, c.index))));
    for (const r of r2) {
      expect(r.ok, r.reason).toBe(true);
      expect(r.included.length).toBe(n - 1);
      const got = new Float32Array(new Uint8Array(Buffer.from(r.result!, 'base64')).buffer);
      expect(maxAbsDiff(got, want2)).toBeLessThan(1e-6);
    }
    for (const c of survivors) c.proc.send({ type: 'stop' });
  }, 90_000);
});
