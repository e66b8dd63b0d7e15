import { describe, expect, it } from 'vitest';
import { type DriftContext, FedDyn, runDiloco, Scaffold } from '../../../src/train/diloco/index.ts';
import { Rng } from '../../../src/train/models/prng.ts';
import { createRuntime } from '../../../src/train/onnx/index.ts';
import type { InnerOptimizerConfig, TensorBatch } from '../../../src/train/runtime.ts';
import { skewSimulation } from './skew-simulation.ts';

const ctx = (paramCount: number, workers: number): DriftContext => ({
  workers,
  paramCount,
  innerSteps: 1,
  roundSteps: (r) => ({ fromStep: r - 1, steps: 1 }),
  lrSum: (_f, n) => n,
});

describe('FedDyn (zero-byte dynamic regularization)', () => {
  const OPT: InnerOptimizerConfig = {
    lr: 0.01,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: 0,
    clipNorm: 0,
    warmupSteps: 0,
    totalSteps: 10,
    minLrRatio: 1,
  };
  const MLP = { kind: 'mlp', sizes: [6, 5, 3] } as const;
  const rng = new Rng(2);
  const batch: TensorBatch = {
    inputs: new Float32Array(8 * 6).map(() => rng.normal()),
    targets: new Int32Array(8).map(() => Math.floor(rng.uniform() * 3)),
    batchSize: 8,
  };

  it('g_i accumulates α·Δ_i (clipped); the next round corrects the gradient by −g_i plus α(θ − θ_global)', async () => {
    const a = createRuntime({ model: MLP, optimizer: OPT, stepsPerCall: 1 });
    const b = createRuntime({ model: MLP, optimizer: OPT, stepsPerCall: 1 });
    a.init(1);
    const n = a.paramCount;
    const dyn = new FedDyn({ alpha: 0.5, clip: 0.8 });
    dyn.init(ctx(n, 2));
    const delta = Float32Array.from({ length: n }, (_, k) => (k % 3) - 1); // −1, 0, 1, …
    dyn.afterInner(1, a, a.getParams(), delta);
    for (let k = 0; k < n; k++) expect(dyn.g[1][k]).toBeCloseTo(0.5 * delta[k], 6);
    expect(Array.from(dyn.g[0])).toEqual(new Array(n).fill(0));
    dyn.afterInner(1, a, a.getParams(), delta);
    for (let k = 0; k < n; k++) expect(dyn.g[1][k]).toBeCloseTo(0.8 * delta[k], 6); // 1.0·Δ, clipped at 0.8
    // round 2, worker 1: the same step as a runtime with the correction −g_1 and the proximal term
    const anchor = a.getParams().map((v) => v + 0.05);
    b.init(1);
    dyn.beforeInner(1, a, anchor, 2);
    b.setGradientCorrection(dyn.g[1].map((v) => -v));
    b.setProximal(anchor, 0.5);
    await a.train([batch]);
    await b.train([batch]);
    expect(a.getParams()).toEqual(b.getParams());
    // round 1: no linear term yet (only the proximal one)
    a.init(1);
    b.init(1);
    dyn.beforeInner(0, a, anchor, 1);
    b.setGradientCorrection(undefined);
    await a.train([batch]);
    await b.train([batch]);
    expect(a.getParams()).toEqual(b.getParams());
    expect(() => new FedDyn({ alpha: 0 })).toThrow(/alpha/);
    await a.dispose();
    await b.dispose();
  });
});

describe('SCAFFOLD with variates every n-th round', () => {
  const { data, optimizer: OPT, runtimes: rts } = skewSimulation({ totalSteps: 50, stepsPerCall: 5 });
  const cfg = { innerSteps: 10, rounds: 5, batchSize: 16, codec: 'int8', seed: 4, chunk: 10 } as const;

  it('sends (and updates) the variates only in rounds 1, 1+n, …; the correction stays in force between', async () => {
    const plain = await runDiloco(rts, data, cfg);
    const every1 = new Scaffold();
    const all = await runDiloco(rts, data, { ...cfg, drift: every1, innerOptimizer: OPT });
    const s = new Scaffold({ every: 2 });
    expect(s.name).toBe('scaffold-grad(every 2)');
    const cs: Float32Array[] = [];
    const r = await runDiloco(rts, data, {
      ...cfg,
      drift: s,
      innerOptimizer: OPT,
      onPoint: () => cs.push(s.c.slice()),
    });
    // int8 sizes depend only on the length: one variate exchange costs one round's Δ bytes
    const perRound = plain.bytesPerWorker / 5;
    expect(all.bytesPerWorker).toBeCloseTo(2 * plain.bytesPerWorker, 6);
    expect(r.bytesPerWorker).toBeCloseTo(plain.bytesPerWorker + 3 * perRound, 6); // rounds 1, 3, 5
    // c changes after rounds 1, 3, 5 and not after 2, 4
    expect(cs.length).toBe(5);
    expect(cs[1]).toEqual(cs[0]);
    expect(cs[3]).toEqual(cs[2]);
    expect(cs[2]).not.toEqual(cs[1]);
    expect(cs[4]).not.toEqual(cs[3]);
    expect(r.params).not.toEqual(all.params);
    expect(() => new Scaffold({ every: 0 })).toThrow(/every/);
    expect(() => new Scaffold({ space: 'update', every: 2 })).toThrow(/gradient/);
  }, 30_000);
});
