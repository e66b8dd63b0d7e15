import { describe, expect, it } from 'vitest';
import { AgoraError } from '../../../src/errors.ts';
import { adamHyper } from '../../../src/train/graph/adamw.ts';
import { Rng } from '../../../src/train/models/prng.ts';
import { createRuntime } from '../../../src/train/onnx/index.ts';
import { OnnxSession } from '../../../src/train/onnx/session.ts';
import type { InnerOptimizerConfig, TensorBatch } from '../../../src/train/runtime.ts';

const OPT: InnerOptimizerConfig = {
  lr: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.01,
  clipNorm: 1,
  warmupSteps: 0,
  totalSteps: 100,
  minLrRatio: 1,
};

/** A learnable toy task: the label is the argmax of 3 fixed random projections of the input. */
function toyBatches(n: number, batchSize: number, seed: number): TensorBatch[] {
  const rng = new Rng(seed);
  const proj = new Rng(99);
  const w = Array.from({ length: 3 * 8 }, () => proj.normal());
  return Array.from({ length: n }, () => {
    const inputs = new Float32Array(batchSize * 8).map(() => rng.normal());
    const targets = new Int32Array(batchSize);
    for (let b = 0; b < batchSize; b++) {
      let best = 0;
      let bestV = -Infinity;
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let j = 0; j < 8; j++) s += w[c * 8 + j] * inputs[b * 8 + j];
        if (s > bestV) [best, bestV] = [c, s];
      }
      targets[b] = best;
    }
    return { inputs, targets, batchSize };
  });
}

const MLP = { kind: 'mlp', sizes: [8, 16, 3] } as const;

describe('OnnxRuntime', () => {
  it('init(seed) is deterministic and seed-dependent; paramCount matches the spec', () => {
    const a = createRuntime({ model: MLP, optimizer: OPT });
    const b = createRuntime({ model: MLP, optimizer: OPT });
    expect(a.paramCount).toBe(8 * 16 + 16 + 16 * 3 + 3);
    a.init(7);
    b.init(7);
    expect(a.getParams()).toEqual(b.getParams());
    b.init(8);
    expect(a.getParams()).not.toEqual(b.getParams());
    // PyTorch-style U(−1/√in, 1/√in) init for the first layer.
    const p = a.getParams().subarray(0, 128);
    expect(Math.max(...p.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(8));
  });

  it('rejects bad model specs and options with AgoraError', async () => {
    expect(() => createRuntime({ model: { kind: 'mlp', sizes: [8] }, optimizer: OPT })).toThrow(AgoraError);
    expect(() =>
      createRuntime({
        model: { kind: 'transformer', vocabSize: 16, context: 4, layers: 1, dModel: 10, heads: 3, dFF: 8 },
        optimizer: OPT,
      }),
    ).toThrow(/not divisible/);
    expect(() => createRuntime({ model: MLP, optimizer: OPT, stepsPerCall: 0 })).toThrow(AgoraError);
    const rt = createRuntime({ model: MLP, optimizer: OPT, threads: 0 });
    rt.init(1);
    await expect(rt.train(toyBatches(1, 4, 1))).rejects.toThrow(/threads must be a positive integer/);
  });

  it('setParams validates the length and round-trips', () => {
    const rt = createRuntime({ model: MLP, optimizer: OPT });
    const v = new Float32Array(rt.paramCount).map((_, i) => i / 1000);
    rt.setParams(v);
    expect(rt.getParams()).toEqual(v);
    expect(() => rt.setParams(new Float32Array(3))).toThrow(AgoraError);
  });

  it('trains a toy classifier (loss falls, accuracy rises) and rejects malformed batches', async () => {
    const rt = createRuntime({ model: MLP, optimizer: OPT, threads: 1, stepsPerCall: 4 });
    try {
      rt.init(1);
      const train = toyBatches(60, 32, 1);
      const test = toyBatches(4, 64, 2);
      const before = await rt.evaluate(test);
      const r = await rt.train(train);
      expect(r.losses).toHaveLength(60);
      expect(r.step).toBe(60);
      const after = await rt.evaluate(test);
      expect(after.examples).toBe(256);
      expect(after.loss).toBeLessThan(before.loss * 0.6);
      expect(after.accuracy).toBeGreaterThan(0.8);
      // Batches may be views into larger buffers (offsets are honoured).
      const big = new Float32Array(64 * 8 + 8);
      big.set(test[0].inputs, 8);
      const tgt = new Int32Array(64 + 3);
      tgt.set(test[0].targets, 3);
      const viaView = await rt.evaluate([
        { inputs: big.subarray(8), targets: tgt.subarray(3), batchSize: 64 },
      ]);
      expect(viaView.loss).toBe((await rt.evaluate([test[0]])).loss);
      await expect(
        rt.train([{ inputs: new Float32Array(5), targets: new Int32Array(32), batchSize: 32 }]),
      ).rejects.toThrow(AgoraError);
      await expect(
        rt.train([{ inputs: new Int32Array(256), targets: new Int32Array(32), batchSize: 32 }]),
      ).rejects.toThrow(/batch does not fit/);
      await expect(
        rt.train([{ inputs: new Float32Array(0), targets: new Int32Array(0), batchSize: 0 }]),
      ).rejects.toThrow(/batch size must be a positive integer/);
    } finally {
      await rt.dispose();
    }
  });

  it('unrolled steps (stepsPerCall 3, with a remainder) equal one step per call; resetOptimizer restarts', async () => {
    const batches = toyBatches(7, 16, 3);
    const a = createRuntime({ model: MLP, optimizer: OPT, threads: 1, stepsPerCall: 1 });
    const b = createRuntime({ model: MLP, optimizer: OPT, threads: 1, stepsPerCall: 3 });
    try {
      a.init(5);
      b.init(5);
      const ra = await a.train(batches);
      const rb = await b.train(batches);
      const pa = a.getParams();
      const pb = b.getParams();
      let md = 0;
      for (let i = 0; i < pa.length; i++) md = Math.max(md, Math.abs(pa[i] - pb[i]));
      expect(md).toBeLessThan(1e-6);
      for (const [i, l] of ra.losses.entries()) expect(rb.losses[i]).toBeCloseTo(l, 5);
      // After a reset, the same step from the same params reproduces step 1's update exactly.
      b.resetOptimizer();
      expect(b.stepCount).toBe(0);
      b.setParams(new Float32Array(pa.length));
      a.resetOptimizer();
      a.setParams(new Float32Array(pa.length));
      await a.train(batches.slice(0, 1));
      await b.train(batches.slice(0, 1));
      expect(a.getParams()).toEqual(b.getParams());
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it('the exported transformer takes any batch size (symbolic batch dimension)', async () => {
    const spec = {
      kind: 'transformer',
      vocabSize: 16,
      context: 6,
      layers: 1,
      dModel: 8,
      heads: 2,
      dFF: 16,
    } as const;
    const rt = createRuntime({ model: spec, optimizer: OPT, threads: 1 });
    rt.init(3);
    const bytes = rt.exportInference();
    await rt.dispose();
    const sess = await OnnxSession.create(bytes, { threads: 1 });
    const one = new Int32Array([1, 2, 3, 4, 5, 6]);
    const r1 = await sess.run({ input: { data: one, dims: [1, 6], dtype: 'int32' } });
    const three = new Int32Array([...one, 6, 5, 4, 3, 2, 1, ...one]);
    const r3 = await sess.run({ input: { data: three, dims: [3, 6], dtype: 'int32' } });
    await sess.release();
    expect(r1.logits.length).toBe(6 * 16);
    expect(r3.logits.length).toBe(3 * 6 * 16);
    const a = r1.logits as Float32Array;
    const c = (r3.logits as Float32Array).subarray(2 * 96);
    for (let i = 0; i < 96; i++) expect(c[i]).toBeCloseTo(a[i], 5);
    // Causality: changing the last token leaves earlier positions' logits unchanged.
    const alt = Int32Array.from(one);
    alt[5] = 0;
    const s2 = await OnnxSession.create(bytes, { threads: 1 });
    const r2 = (await s2.run({ input: { data: alt, dims: [1, 6], dtype: 'int32' } })).logits as Float32Array;
    await s2.release();
    for (let i = 0; i < 5 * 16; i++) expect(r2[i]).toBeCloseTo(a[i], 5);
    expect(r2.subarray(80).some((v, i) => Math.abs(v - a[80 + i]) > 1e-4)).toBe(true);
  });
});

describe('AdamW host scalars', () => {
  it('passes decay factor, bias-corrected step size and ε (second correction folded in)', () => {
    const hp = adamHyper({ ...OPT, weightDecay: 0.1 }, 0, 0.01);
    expect(hp[0]).toBeCloseTo(1 - 0.001, 7);
    expect(hp[1]).toBeCloseTo((0.01 * Math.sqrt(0.001)) / 0.1, 7);
    expect(hp[2]).toBeCloseTo(1e-8 * Math.sqrt(0.001), 12);
  });
});

describe('Rng', () => {
  it('is reproducible and produces standard normals', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 20000 }, () => a.normal());
    expect(Array.from({ length: 20000 }, () => b.normal())).toEqual(xs);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
    expect(new Rng(42, 1).nextU32()).not.toBe(new Rng(42, 0).nextU32());
  });
});
