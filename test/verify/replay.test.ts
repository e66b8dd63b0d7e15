import { getAddress, type Hex, keccak256, toHex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng, mixSeed, normal } from '../../src/train/data/rng.ts';
import { BatchSampler } from '../../src/train/data/sampler.ts';
import { shardIndices } from '../../src/train/data/sharding.ts';
import { createRuntime } from '../../src/train/onnx/index.ts';
import type { InnerOptimizerConfig } from '../../src/train/runtime.ts';
import { evidenceFromReplay } from '../../src/verify/evidence.ts';
import {
  asReplayable,
  compareReplay,
  type InnerState,
  innerStateHash,
  type ReplayableRuntime,
  replayWindow,
  roundTraceHash,
  runTracedInnerSteps,
  selectReplayWindow,
} from '../../src/verify/replay.ts';
import { toyDataset } from './toy-data.ts';

const OPT: InnerOptimizerConfig = {
  lr: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.01,
  clipNorm: 1,
  warmupSteps: 4,
  totalSteps: 100,
  minLrRatio: 0.1,
};
const MODEL = { kind: 'mlp', sizes: [16, 32, 4] } as const;
const H = 12;
const W = 4;
const BATCH = 16;

const rt = (threads = 1, stepsPerCall = 1) =>
  asReplayable(createRuntime({ model: MODEL, optimizer: OPT, threads, stepsPerCall }));

describe('replay check with a real ONNX runtime', () => {
  const ds = toyDataset();
  const shards = shardIndices({ indices: Array.from({ length: ds.size }, (_, i) => i) }, 2, {
    kind: 'iid',
    seed: 1,
  });
  const workers = [
    getAddress('0x00000000000000000000000000000000000000a1'),
    getAddress('0x00000000000000000000000000000000000000a2'),
  ];
  const samplerSeed = (w: number) => mixSeed(77, w);
  const runtimes: ReplayableRuntime[] = [];
  const make = (threads = 1, k = 1) => {
    const r = rt(threads, k);
    runtimes.push(r);
    return r;
  };
  afterAll(async () => {
    for (const r of runtimes) await r.dispose();
  });

  /** Worker w's round 1 (after a round 0 of H steps, so moments and step are non-trivial). */
  async function workerRound(w: number, seedOverride?: number) {
    const r = make();
    r.init(5);
    const sampler = new BatchSampler(shards[w], BATCH, samplerSeed(w));
    await r.train(Array.from({ length: H }, () => ds.getBatch(sampler.next()))); // round 0
    const honestSampler =
      seedOverride === undefined ? sampler : new BatchSampler(shards[w], BATCH, seedOverride, sampler.state);
    const states: InnerState[] = [];
    const trace = await runTracedInnerSteps({
      runtime: r,
      dataset: ds,
      sampler: honestSampler,
      innerSteps: H,
      window: W,
      onCheckpoint: (k, s) => {
        states[k] = s;
      },
    });
    return { trace, states };
  }

  let honest: Awaited<ReturnType<typeof workerRound>>;
  beforeAll(async () => {
    honest = await workerRound(0);
  });

  async function validate(
    w: number,
    trace: { checkpoints: Hex[]; samplerStart: { epoch: number; position: number } },
    states: InnerState[],
    windowIndex: number,
    validator = make(),
    reportedEnd = states[windowIndex + 1],
  ) {
    const { end } = await replayWindow({
      runtime: validator,
      dataset: ds,
      shard: shards[w],
      batchSize: BATCH,
      samplerSeed: samplerSeed(w),
      samplerStart: trace.samplerStart,
      startStep: windowIndex * W,
      steps: W,
      start: states[windowIndex],
    });
    return compareReplay({
      start: states[windowIndex],
      replayed: end,
      reported: reportedEnd,
      committedStart: trace.checkpoints[windowIndex],
      committedEnd: trace.checkpoints[windowIndex + 1],
    });
  }

  it('selects windows deterministically and spreads the choice over workers and windows', () => {
    const pick = (s: string) =>
      selectReplayWindow({
        jobId: 1n,
        round: 3n,
        validatorSeed: keccak256(toHex(s)),
        workers,
        innerSteps: H,
        window: W,
      });
    expect(pick('a')).toEqual(pick('a'));
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const p = pick(`s${i}`);
      expect(p.steps).toBe(W);
      expect(p.startStep).toBe(p.windowIndex * W);
      seen.add(`${p.workerIndex}:${p.windowIndex}`);
    }
    expect(seen.size).toBe(2 * (H / W));
    expect(() =>
      selectReplayWindow({
        jobId: 1n,
        round: 0n,
        validatorSeed: keccak256('0x'),
        workers,
        innerSteps: 10,
        window: 4,
      }),
    ).toThrow(/does not divide/);
  });

  it('an honest worker passes every window; same-machine replay is bit-exact', async () => {
    expect(honest.trace.checkpoints.length).toBe(H / W + 1);
    expect(honest.states[0].step).toBe(H);
    for (let k = 0; k < H / W; k++) {
      const c = await validate(0, honest.trace, honest.states, k);
      expect(c.reasons).toEqual([]);
      expect(c.ok).toBe(true);
      expect(c.paramDistance).toBe(0);
      expect(c.momentDistance).toBe(0);
    }
  });

  it('replays within tolerance on a differently configured runtime (2 threads, 4 unrolled steps); measured', async () => {
    const c = await validate(0, honest.trace, honest.states, 1, make(2, 4));
    console.log(
      `replay distance, 2 threads + stepsPerCall 4 vs 1 thread: params ${c.paramDistance}, m ${c.momentDistance}`,
    );
    expect(c.ok).toBe(true);
    expect(c.paramDistance).toBeLessThan(1e-4);
  });

  it('fails a worker whose reported end params were perturbed (re-hashed or not)', async () => {
    const end = honest.states[2];
    const start = honest.states[1];
    let disp = 0;
    for (let i = 0; i < end.params.length; i++) disp += (end.params[i] - start.params[i]) ** 2;
    const rng = createRng(9);
    const scale = (0.01 * Math.sqrt(disp)) / Math.sqrt(end.params.length); // 1% of the window's displacement
    const perturbed = { ...end, params: end.params.map((x) => x + normal(rng) * scale) };
    // (a) consistent commitment: the worker committed the perturbed state's hash
    const cps = [...honest.trace.checkpoints];
    cps[2] = innerStateHash(perturbed);
    const c1 = await validate(0, { ...honest.trace, checkpoints: cps }, honest.states, 1, make(), perturbed);
    expect(c1.ok).toBe(false);
    expect(c1.endHashOk).toBe(true);
    expect(c1.paramDistance).toBeGreaterThan(5e-3);
    console.log(`1% perturbation: param distance ${c1.paramDistance}`);
    expect(c1.reasons.join()).toMatch(/params differ/);
    const trace = {
      jobId: 1n,
      round: 1n,
      worker: workers[0],
      innerSteps: H,
      window: W,
      batchSize: BATCH,
      samplerStart: honest.trace.samplerStart,
      checkpoints: cps,
    };
    const sel = { workerIndex: 0, worker: workers[0], windowIndex: 1, startStep: W, steps: W };
    const ev = evidenceFromReplay(c1, trace, sel);
    expect(ev.kind).toBe('replay-mismatch');
    expect(ev.hashes.endCheckpoint).toBe(cps[2]);
    expect(ev.hashes.trace).toBe(roundTraceHash(trace));
    expect(ev.details.paramDistance).toBe(c1.paramDistance);
    // (b) reported state does not match the commitment
    const c2 = await validate(0, honest.trace, honest.states, 1, make(), perturbed);
    expect(c2.endHashOk).toBe(false);
    expect(c2.ok).toBe(false);
    expect(evidenceFromReplay(c2, { ...trace, checkpoints: honest.trace.checkpoints }, sel).kind).toBe(
      'commitment-mismatch',
    );
  });

  it('fails a worker that trained on different samples', async () => {
    const cheat = await workerRound(0, 12345);
    const c = await validate(0, cheat.trace, cheat.states, 0);
    expect(c.startHashOk).toBe(true);
    expect(c.endHashOk).toBe(true);
    expect(c.ok).toBe(false);
    expect(c.paramDistance).toBeGreaterThan(0.1);
    console.log(`different samples: param distance ${c.paramDistance}`);
  });

  it('the round trace hash binds every field', () => {
    const t = {
      jobId: 1n,
      round: 1n,
      worker: workers[0],
      innerSteps: H,
      window: W,
      batchSize: BATCH,
      samplerStart: honest.trace.samplerStart,
      checkpoints: honest.trace.checkpoints,
    };
    const base = roundTraceHash(t);
    expect(roundTraceHash({ ...t, window: 3 })).not.toBe(base);
    expect(
      roundTraceHash({ ...t, samplerStart: { ...t.samplerStart, position: t.samplerStart.position + 1 } }),
    ).not.toBe(base);
    expect(roundTraceHash({ ...t, checkpoints: [...t.checkpoints].reverse() })).not.toBe(base);
  });
});
