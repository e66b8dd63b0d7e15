/**
 * The validator's proof-based round checks against real providers: a real embedded chain (datasets,
 * offers, a job), two `ProviderNode`s training one round over real libp2p (ONNX runtime), one of
 * them sending sign-flipped pseudo-gradients (`byzantine`), and a validator host on 127.0.0.1 that
 * fetches trace states, Δs and window samples over `/agora/round/1` and runs `checkWorkerRound`.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getAddress } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataRegistryClient } from '../../src/chain/data-registry.ts';
import { planMnistShards, writeShardIdx } from '../../src/node/shard-data.ts';
import { pruneRoundFiles } from '../../src/node/trace-files.ts';
import { mnistMlpPreset } from '../../src/task/presets.ts';
import { expectHonestCheck, type RoundZero, startRoundZero } from '../helpers/round-zero.ts';

const H = 10;
const ROUNDS = 2;

describe('validator round checks (link + replay) against real providers', () => {
  let fx: RoundZero;
  const spec = mnistMlpPreset({ innerSteps: H, rounds: ROUNDS });

  beforeAll(async () => {
    const plan = planMnistShards(2, 5);
    fx = await startRoundZero({
      spec,
      H,
      rounds: ROUNDS,
      shards: (home) => [0, 1].map((i) => writeShardIdx(plan.pool, plan.shards[i], join(home, `shard-${i}`))),
      byzantine: (i) => i === 1,
    });
  }, 180_000);

  afterAll(() => fx?.stop());

  it('persists the signed trace with the round, before the record is sent', () => {
    for (const [i, p] of fx.providers.entries()) {
      const row = p.store.getRound(fx.jobId, 0)!;
      expect(row.data.trace).toEqual(fx.results[i].trace);
      expect(row.data.traceSignature).toBe(fx.results[i].traceSignature);
      expect(fx.results[i].trace.window).toBe(2);
      expect(fx.results[i].trace.checkpoints).toHaveLength(6);
    }
  });

  it('an honest provider passes the samples, link and every window replay (distance 0)', async () => {
    const c = await fx.check(0);
    expectHonestCheck(c);
    const ms = c.replays.map((r) => r.replayMs!.toFixed(1)).join(', ');
    console.log(
      `honest check: ${c.bytesFetched} bytes fetched (6 states + 5 windows), replay ms per window ${ms}`,
    );
  });

  it('a sign-flipping provider fails the link check with provable evidence', async () => {
    const c = await fx.check(1);
    expect(c.samples.status).toBe('pass');
    expect(c.link.status).toBe('fail');
    expect(c.link.cosine).toBeCloseTo(-1, 5);
    expect(c.evidence).toMatchObject({
      kind: 'commitment-mismatch',
      worker: getAddress(fx.providers[1].address),
    });
    expect((c.evidence!.details as { check: string }).check).toBe('link');
    expect(c.evidence!.hashes.pseudoGradient).toBe(fx.results[1].record.pseudoGradientHash);
  });

  it('records that are not in the registered dataset make a replay unverifiable, not a report', async () => {
    const otherRoot = (await dataRegistryClient(fx.conn, fx.contracts.registry).getDataset(2n)).root;
    const c = await fx.check(0, { root: otherRoot });
    expect(c.link.status).toBe('pass');
    expect(c.replays[0]).toMatchObject({ status: 'unverifiable' });
    expect(c.replays[0].reason).toMatch(/not in the registered dataset/);
    expect(c.replays.slice(1).every((r) => r.status === 'skipped')).toBe(true);
    expect(c.evidence).toBeUndefined();
  });

  it('a retried all-reduce keeps the round trace', async () => {
    const members = fx.providers.map((p) => p.peerId);
    const again = await Promise.all(fx.providers.map((p) => p.retryRound(0, 1, members)));
    for (const [i, r] of again.entries()) {
      expect(r.trace).toEqual(fx.results[i].trace);
      expect(r.traceSignature).toBe(fx.results[i].traceSignature);
    }
  });
});

describe('round files retention', () => {
  it('prunes .trace and .delta files of rounds before the kept ones, and nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agora-prune-'));
    for (let r = 0; r < 12; r++) {
      for (const ext of ['trace', 'delta', 'safetensors']) writeFileSync(join(dir, `round-${r}.${ext}`), 'x');
    }
    expect(pruneRoundFiles(dir, 12 - 8)).toBe(8);
    const left = readdirSync(dir);
    expect(left.filter((f) => f.endsWith('.safetensors'))).toHaveLength(12);
    expect(left.filter((f) => f.endsWith('.trace')).sort()).toEqual(
      [4, 5, 6, 7, 8, 9, 10, 11].map((r) => `round-${r}.trace`).sort(),
    );
  });
});
