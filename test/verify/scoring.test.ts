import { getAddress } from 'viem';
import { afterAll, describe, expect, it } from 'vitest';
import { splitRewards } from '../../src/market/rewards.ts';
import { mixSeed } from '../../src/train/data/rng.ts';
import { BatchSampler } from '../../src/train/data/sampler.ts';
import { shardIndices } from '../../src/train/data/sharding.ts';
import { createRuntime } from '../../src/train/onnx/index.ts';
import type { InnerOptimizerConfig } from '../../src/train/runtime.ts';
import { checkContributions, cosine } from '../../src/verify/contribution-checks.ts';
import { providerContributions, validateRound } from '../../src/verify/round-validator.ts';
import { scoreByLossReduction } from '../../src/verify/scoring.ts';
import { attack } from './byzantine.ts';
import { toyDataset } from './toy-data.ts';

const OPT: InnerOptimizerConfig = {
  lr: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  warmupSteps: 0,
  totalSteps: 100,
  minLrRatio: 1,
};

describe('loss-reduction scoring (real runtime)', () => {
  const rt = createRuntime({ model: { kind: 'mlp', sizes: [16, 32, 4] }, optimizer: OPT, threads: 1 });
  afterAll(() => rt.dispose());

  it('scores honest workers by held-out loss reduction; flagged and useless workers get 0; feeds the split', async () => {
    const ds = toyDataset();
    const all = Array.from({ length: ds.size }, (_, i) => i);
    const heldOut = [ds.getBatch(all.slice(500, 600))];
    const shards = shardIndices({ indices: all.slice(0, 500) }, 4, { kind: 'iid', seed: 2 });
    rt.init(1);
    const theta = rt.getParams();
    // workers 0–2 honest (worker 2 does only 15 steps: less work, less reduction), 3 trains then sign-flips
    const steps = [30, 30, 15, 30];
    const deltas: Float32Array[] = [];
    for (let w = 0; w < 4; w++) {
      rt.setParams(theta);
      rt.resetOptimizer();
      const s = new BatchSampler(shards[w], 16, mixSeed(1, w));
      await rt.train(Array.from({ length: steps[w] }, () => ds.getBatch(s.next())));
      const p = rt.getParams();
      deltas.push(theta.map((x, i) => x - p[i]));
    }
    deltas[3] = attack('sign-flip', deltas[3], 1);
    const contributions = [
      ...deltas.map((delta, w) => ({ worker: `w${w}`, delta })),
      { worker: 'w4', delta: new Float32Array(theta.length) },
    ];
    const verdicts = checkContributions({ current: contributions });
    const byzantine = new Set(verdicts.filter((v) => v.byzantine).map((v) => v.worker));
    expect([...byzantine].sort()).toEqual(['w3', 'w4']);
    const r = await scoreByLossReduction({ runtime: rt, theta, contributions, heldOut, byzantine });
    console.log(
      `base loss ${r.baseLoss.toFixed(4)};`,
      r.scores
        .map(
          (s) =>
            `${s.worker}: loss ${s.loss.toFixed(4)} reduction ${s.reduction.toFixed(4)} weight ${s.weight.toFixed(3)}`,
        )
        .join('; '),
    );
    const by = Object.fromEntries(r.scores.map((s) => [s.worker, s]));
    expect(by.w0.reduction).toBeGreaterThan(0.05);
    expect(by.w1.reduction).toBeGreaterThan(0.05);
    expect(by.w2.reduction).toBeGreaterThan(0);
    expect(by.w2.weight).toBeLessThan(by.w0.weight);
    expect(by.w3.reduction).toBeLessThan(0); // sign flip makes the model worse
    expect(by.w3.weight).toBe(0);
    expect(by.w4.reduction).toBe(0);
    expect(by.w4.weight).toBe(0);
    expect(r.scores.reduce((a, s) => a + s.weight, 0)).toBeCloseTo(1, 12);
    // evaluation restores nothing magic: θ itself scores the base loss
    rt.setParams(theta);
    expect((await rt.evaluate(heldOut)).loss).toBe(r.baseLoss);
    // → reward split
    const addr = (w: string) => getAddress(`0x${(Number(w.slice(1)) + 1).toString(16).padStart(40, '0')}`);
    const split = splitRewards({
      funded: 1_000_000n,
      providers: r.scores.map((s) => ({ account: addr(s.worker), score: s.weight, byzantine: s.byzantine })),
      datasets: [],
      validators: [],
    });
    expect(split.total).toBe(1_000_000n);
    expect(split.entries.map((e) => e.account)).toEqual(['w0', 'w1', 'w2'].map(addr));
  });

  it('rejects empty held-out data and shape mismatches', async () => {
    rt.init(1);
    const theta = rt.getParams();
    await expect(
      scoreByLossReduction({ runtime: rt, theta, contributions: [], heldOut: [] }),
    ).rejects.toThrow(/held-out/);
    await expect(
      scoreByLossReduction({
        runtime: rt,
        theta,
        contributions: [{ worker: 'x', delta: new Float32Array(3) }],
        heldOut: [toyDataset().getBatch([0, 1])],
      }),
    ).rejects.toThrow(/expected/);
  });
});

describe('validateRound + providerContributions (real runtime)', () => {
  const rt = createRuntime({ model: { kind: 'mlp', sizes: [16, 32, 4] }, optimizer: OPT, threads: 1 });
  afterAll(() => rt.dispose());

  it('two rounds: evidence for each flagged worker, scores folded per job, split pays only honest ones', async () => {
    const ds = toyDataset();
    const all = Array.from({ length: ds.size }, (_, i) => i);
    const heldOut = [ds.getBatch(all.slice(500, 600))];
    const shards = shardIndices({ indices: all.slice(0, 500) }, 4, { kind: 'iid', seed: 3 });
    const addr = (w: number) => getAddress(`0x${(w + 1).toString(16).padStart(40, '0')}`);
    const samplers = shards.map((s, w) => new BatchSampler(s, 16, mixSeed(2, w)));
    rt.init(2);
    let theta = rt.getParams();
    let previous: { worker: `0x${string}`; delta: Float32Array }[] | undefined;
    const rounds = [];
    for (let round = 0n; round < 2n; round++) {
      const current: { worker: `0x${string}`; delta: Float32Array }[] = [];
      for (let w = 0; w < 4; w++) {
        rt.setParams(theta);
        rt.resetOptimizer();
        await rt.train(Array.from({ length: 20 }, () => ds.getBatch(samplers[w].next())));
        const p = rt.getParams();
        current.push({ worker: addr(w), delta: theta.map((x, i) => x - p[i]) });
      }
      // worker 3: scaled ×100 in round 0, replays its round-0 update in round 1
      if (round === 0n) current[3].delta = attack('scaled', current[3].delta, 0);
      else current[3].delta = previous![3].delta.slice();
      if (previous) {
        const cross = [0, 1, 2].map((w) => cosine(previous![w].delta, current[w].delta));
        console.log(`honest cross-round cosines (same worker): ${cross.map((c) => c.toFixed(3)).join(', ')}`);
        expect(Math.max(...cross)).toBeLessThan(0.99);
      }
      const v = await validateRound({ jobId: 7n, round, current, previous, theta, runtime: rt, heldOut });
      expect(v.evidence.map((e) => [e.worker, e.kind])).toEqual([
        [addr(3), round === 0n ? 'scaled' : 'replay'],
      ]);
      expect(v.evidence[0].jobId).toBe('7');
      rounds.push(v);
      previous = current;
      // plain FedAvg over the honest ones to move θ on
      const next = theta.slice();
      for (const c of current.slice(0, 3)) for (let i = 0; i < next.length; i++) next[i] -= c.delta[i] / 3;
      theta = next;
    }
    const providers = providerContributions(rounds);
    expect(providers.map((p) => p.byzantine)).toEqual([false, false, false, true]);
    for (const p of providers.slice(0, 3)) expect(p.score).toBeGreaterThan(0.3); // ≈ 2/3 over two rounds
    const split = splitRewards({ funded: 10n ** 18n, providers, datasets: [], validators: [] });
    expect(split.total).toBe(10n ** 18n);
    expect(split.entries.map((e) => e.account)).toEqual([0, 1, 2].map(addr));
    // a replay failure listed separately also zeroes a worker
    expect(providerContributions(rounds, new Set([addr(0)]))[0].byzantine).toBe(true);
  });
});
