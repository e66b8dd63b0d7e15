import { describe, expect, it } from 'vitest';
import { gradients } from '../../../src/train/graph/autodiff.ts';
import { Graph } from '../../../src/train/graph/graph.ts';
import { exp, mul, reduceSum } from '../../../src/train/graph/ops.ts';
import { correctGradients } from '../../../src/train/graph/programs.ts';
import { Rng } from '../../../src/train/models/prng.ts';
import { createRuntime } from '../../../src/train/onnx/index.ts';
import { encodeModel } from '../../../src/train/onnx/proto.ts';
import { OnnxSession } from '../../../src/train/onnx/session.ts';
import type { InnerOptimizerConfig, TensorBatch } from '../../../src/train/runtime.ts';

const OPT: InnerOptimizerConfig = {
  lr: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  clipNorm: 0,
  warmupSteps: 0,
  totalSteps: 100,
  minLrRatio: 1,
};
const MLP = { kind: 'mlp', sizes: [6, 8, 3] } as const;

function batches(n: number, b: number, seed: number): TensorBatch[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => ({
    inputs: new Float32Array(b * 6).map(() => rng.normal()),
    targets: new Int32Array(b).map(() => Math.floor(rng.uniform() * 3)),
    batchSize: b,
  }));
}

describe('train-graph gradient corrections', () => {
  it('gradient check: corrected gradient = ∇[L(p) + ⟨o, p⟩ + μ/2‖p − a‖²] (finite differences, float64)', async () => {
    const rng = new Rng(3);
    const shape = [3, 4];
    const n = 12;
    const R = new Float64Array(n).map(() => rng.normal());
    const g = new Graph();
    const p = g.input('p', shape, 'float64');
    const o = g.input('o', shape, 'float64');
    const a = g.input('a', shape, 'float64');
    const mu = g.input('mu', [1], 'float64');
    const L = reduceSum(g, mul(g, exp(g, mul(g, p, p)), g.constant(R, shape, 'float64')), [0, 1], false);
    const [dp] = gradients(g, L, [p]);
    const [corrected] = correctGradients(g, [dp], [p], { offsets: [o], anchors: [a], mu });
    g.output(L, 'L');
    g.output(corrected, 'G');
    const sess = await OnnxSession.create(encodeModel(g.toOnnxModel('gc')), { threads: 1 });
    const P = new Float64Array(n).map(() => 0.5 * rng.normal());
    const O = new Float64Array(n).map(() => rng.normal());
    const A = new Float64Array(n).map(() => rng.normal());
    const M = 0.7;
    const run = (pv: Float64Array) =>
      sess.run({
        p: { data: pv, dims: shape, dtype: 'float64' },
        o: { data: O, dims: shape, dtype: 'float64' },
        a: { data: A, dims: shape, dtype: 'float64' },
        mu: { data: new Float64Array([M]), dims: [1], dtype: 'float64' },
      });
    const J = async (pv: Float64Array) => {
      let s = Number((await run(pv)).L[0]);
      for (let i = 0; i < n; i++) s += O[i] * pv[i] + (M / 2) * (pv[i] - A[i]) ** 2;
      return s;
    };
    const analytic = (await run(P)).G as Float64Array;
    const h = 1e-5;
    let maxErr = 0;
    for (let i = 0; i < n; i++) {
      const plus = P.slice();
      const minus = P.slice();
      plus[i] += h;
      minus[i] -= h;
      const num = ((await J(plus)) - (await J(minus))) / (2 * h);
      maxErr = Math.max(maxErr, Math.abs(num - analytic[i]) / Math.max(1, Math.abs(num)));
    }
    await sess.release();
    expect(maxErr).toBeLessThan(1e-6);
  });

  it('runtime: zero corrections train bit-identically to none; clearing restores the default graph', async () => {
    const a = createRuntime({ model: MLP, optimizer: OPT, stepsPerCall: 2 });
    const b = createRuntime({ model: MLP, optimizer: OPT, stepsPerCall: 2 });
    a.init(1);
    b.init(1);
    const zero = new Float32Array(a.paramCount);
    b.setGradientCorrection(zero);
    b.setUpdateCorrection(zero);
    const bs = batches(4, 5, 9);
    await a.train(bs);
    await b.train(bs);
    expect(b.getParams()).toEqual(a.getParams());
    b.setGradientCorrection(undefined);
    b.setUpdateCorrection(undefined);
    await a.train(bs);
    await b.train(bs);
    expect(b.getParams()).toEqual(a.getParams());
    expect(() => b.setGradientCorrection(new Float32Array(3))).toThrow(/expected/);
    await a.dispose();
    await b.dispose();
  });

  it('runtime: update correction shifts each step by −lr·u; proximal pulls toward the anchor; offsets steer Adam', async () => {
    const a = createRuntime({ model: MLP, optimizer: OPT });
    const b = createRuntime({ model: MLP, optimizer: OPT });
    a.init(2);
    b.init(2);
    const u = new Float32Array(a.paramCount).map((_, i) => (i % 3) - 1);
    b.setUpdateCorrection(u);
    const one = batches(1, 5, 4);
    await a.train(one);
    await b.train(one);
    const pa = a.getParams();
    const pb = b.getParams();
    let maxErr = 0;
    for (let i = 0; i < pa.length; i++) maxErr = Math.max(maxErr, Math.abs(pb[i] - (pa[i] - OPT.lr * u[i])));
    expect(maxErr).toBeLessThan(1e-6);

    // FedProx: a strong proximal term keeps θ near the anchor.
    const anchor = (() => {
      a.init(3);
      return a.getParams();
    })();
    b.init(3);
    b.setUpdateCorrection(undefined);
    b.setProximal(anchor, 50);
    const many = batches(30, 5, 5);
    await a.train(many);
    await b.train(many);
    const dist = (x: Float32Array) => Math.hypot(...x.map((v, i) => v - anchor[i]));
    expect(dist(b.getParams())).toBeLessThan(0.5 * dist(a.getParams()));

    // A large constant gradient offset dominates: Adam moves every coordinate by ≈ −lr·sign(offset) per step.
    b.init(3);
    b.setProximal(undefined);
    const off = new Float32Array(b.paramCount).map((_, i) => (i % 2 === 0 ? 1e3 : -1e3));
    b.setGradientCorrection(off);
    await b.train(batches(3, 5, 6));
    const moved = b.getParams();
    for (let i = 0; i < moved.length; i++) {
      expect(Math.sign(anchor[i] - moved[i])).toBe(i % 2 === 0 ? 1 : -1);
    }
    expect(() => b.setProximal(anchor, -1)).toThrow(/mu/);
    await a.dispose();
    await b.dispose();
  });

  it('runtime: gradient accumulation sums raw gradients, the same for 1 or 4 steps per call', async () => {
    const a = createRuntime({ model: MLP, optimizer: OPT, stepsPerCall: 1 });
    const b = createRuntime({ model: MLP, optimizer: OPT, stepsPerCall: 4 });
    a.init(5);
    b.init(5);
    const p0 = a.getParams();
    a.setGradientAccumulation(true);
    b.setGradientAccumulation(true);
    await a.train(batches(1, 7, 8));
    const first = a.takeGradientSum();
    expect(first.steps).toBe(1);
    // Adam's first step moves by ≈ lr·sign(g): the summed gradient's signs are the step's signs.
    const p1 = a.getParams();
    let agree = 0;
    let counted = 0;
    for (let i = 0; i < p1.length; i++) {
      if (Math.abs(first.sum[i]) < 1e-5) continue;
      counted++;
      if (Math.sign(p0[i] - p1[i]) === Math.sign(first.sum[i])) agree++;
    }
    expect(counted).toBeGreaterThan(20);
    expect(agree).toBe(counted);
    a.init(5);
    a.setGradientAccumulation(true);
    const bs = batches(4, 7, 8);
    await a.train(bs);
    await b.train(bs);
    const sa = a.takeGradientSum();
    const sb = b.takeGradientSum();
    expect(sa.steps).toBe(4);
    expect(sb.steps).toBe(4);
    let maxErr = 0;
    for (let i = 0; i < sa.sum.length; i++) maxErr = Math.max(maxErr, Math.abs(sa.sum[i] - sb.sum[i]));
    expect(maxErr).toBeLessThan(1e-4);
    expect(a.takeGradientSum().steps).toBe(0);
    await a.dispose();
    await b.dispose();
  });
});
