import { describe, expect, it } from 'vitest';
import { logitAdjustmentOffsets } from '../../../src/train/diloco/index.ts';
import { gradients } from '../../../src/train/graph/autodiff.ts';
import { Graph } from '../../../src/train/graph/graph.ts';
import { add, crossEntropy, matmul } from '../../../src/train/graph/ops.ts';
import { Rng } from '../../../src/train/models/prng.ts';
import { createRuntime } from '../../../src/train/onnx/index.ts';
import { encodeModel } from '../../../src/train/onnx/proto.ts';
import { OnnxSession } from '../../../src/train/onnx/session.ts';
import {
  hasLogitAdjustment,
  type InnerOptimizerConfig,
  type TensorBatch,
} from '../../../src/train/runtime.ts';

const OPT: InnerOptimizerConfig = {
  lr: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.01,
  clipNorm: 0,
  warmupSteps: 0,
  totalSteps: 100,
  minLrRatio: 1,
};
const MLP = { kind: 'mlp', sizes: [6, 8, 4] } as const;

function batches(n: number, b: number, seed: number): TensorBatch[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => ({
    inputs: new Float32Array(b * 6).map(() => rng.normal()),
    targets: new Int32Array(b).map(() => Math.floor(rng.uniform() * 4)),
    batchSize: b,
  }));
}

describe('logit adjustment (balanced softmax)', () => {
  it('offsets: τ·log of the smoothed local class frequencies, centered', () => {
    const o = logitAdjustmentOffsets([30, 10, 0, 60], { tau: 1, eps: 0.01 });
    const pi = [0.3, 0.1, 0, 0.6].map((p) => 0.99 * p + 0.01 / 4);
    const logs = pi.map(Math.log);
    const mean = logs.reduce((a, b) => a + b, 0) / 4;
    for (let c = 0; c < 4; c++) expect(o[c]).toBeCloseTo(logs[c] - mean, 5);
    expect(o.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 5);
    // τ scales the offsets; uniform counts give no adjustment
    const o2 = logitAdjustmentOffsets([30, 10, 0, 60], { tau: 0.5, eps: 0.01 });
    for (let c = 0; c < 4; c++) expect(o2[c]).toBeCloseTo(0.5 * o[c], 5);
    expect(Array.from(logitAdjustmentOffsets([5, 5, 5]))).toEqual([0, 0, 0]);
    expect(() => logitAdjustmentOffsets([0, 0])).toThrow(/≥ 1 sample/);
    expect(() => logitAdjustmentOffsets([1, -1])).toThrow(/not a count/);
  });

  it('gradient check: ∇ CE(xW + o) by the graph = finite differences (float64)', async () => {
    const rng = new Rng(7);
    const [N, F, C] = [5, 3, 4];
    const X = new Float64Array(N * F).map(() => rng.normal());
    const O = new Float64Array(C).map(() => 2 * rng.normal());
    const Y = Int32Array.from({ length: N }, (_, i) => i % C);
    const g = new Graph();
    const w = g.input('w', [F, C], 'float64');
    const x = g.constant(X, [N, F], 'float64');
    const o = g.input('o', [C], 'float64');
    const y = g.constant(Y, [N], 'int32');
    const { loss } = crossEntropy(g, add(g, matmul(g, x, w), o), y);
    const [dw] = gradients(g, loss, [w]);
    g.output(loss, 'L');
    g.output(dw, 'G');
    const sess = await OnnxSession.create(encodeModel(g.toOnnxModel('la')), { threads: 1 });
    const run = (W: Float64Array) =>
      sess.run({
        w: { data: W, dims: [F, C], dtype: 'float64' },
        o: { data: O, dims: [C], dtype: 'float64' },
      });
    const W0 = new Float64Array(F * C).map(() => rng.normal());
    const out = await run(W0);
    const G = out.G as Float64Array;
    // reference loss in plain JS: mean −log softmax(xW + o)[y]
    let ref = 0;
    for (let n = 0; n < N; n++) {
      const z = Array.from({ length: C }, (_, c) => {
        let s = O[c];
        for (let f = 0; f < F; f++) s += X[n * F + f] * W0[f * C + c];
        return s;
      });
      const m = Math.max(...z);
      const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
      ref += (lse - z[Y[n]]) / N;
    }
    expect(Number((out.L as Float64Array)[0])).toBeCloseTo(ref, 10);
    const h = 1e-5;
    let maxErr = 0;
    for (let i = 0; i < W0.length; i++) {
      const plus = W0.slice();
      const minus = W0.slice();
      plus[i] += h;
      minus[i] -= h;
      const num =
        (Number(((await run(plus)).L as Float64Array)[0]) -
          Number(((await run(minus)).L as Float64Array)[0])) /
        (2 * h);
      maxErr = Math.max(maxErr, Math.abs(num - G[i]));
    }
    await sess.release();
    expect(maxErr).toBeLessThan(1e-7);
  });

  it('runtime: training with offset o equals training with o folded into the last bias; eval uses raw logits', async () => {
    const a = createRuntime({ model: MLP, optimizer: OPT, stepsPerCall: 3 });
    const b = createRuntime({ model: MLP, optimizer: OPT, stepsPerCall: 3 });
    expect(hasLogitAdjustment(b)).toBe(true);
    expect(b.classes).toBe(4);
    b.init(11);
    const p0 = b.getParams();
    const o = new Float32Array([1.5, -2, 0.25, 0.25]);
    const biasAt = p0.length - 4; // the last parameter is fc1.bias [4]
    const shifted = p0.slice();
    for (let c = 0; c < 4; c++) shifted[biasAt + c] += o[c];
    a.init(11);
    a.setParams(shifted);
    b.setLogitAdjustment(o);
    const bs = batches(6, 5, 12);
    const ra = await a.train(bs);
    const rb = await b.train(bs);
    for (let k = 0; k < 6; k++) expect(rb.losses[k]).toBeCloseTo(ra.losses[k], 5);
    const pa = a.getParams();
    const pb = b.getParams();
    let maxErr = 0;
    for (let i = 0; i < pa.length; i++) {
      const expected = i >= biasAt ? pa[i] - o[i - biasAt] : pa[i];
      maxErr = Math.max(maxErr, Math.abs(pb[i] - expected));
    }
    expect(maxErr).toBeLessThan(1e-5);
    // The adjustment changes training (an unadjusted run differs) but not evaluation.
    const c = createRuntime({ model: MLP, optimizer: OPT, stepsPerCall: 3 });
    c.init(11);
    await c.train(bs);
    expect(Math.max(...c.getParams().map((v, i) => Math.abs(v - pb[i])))).toBeGreaterThan(1e-3);
    const ev = batches(1, 20, 13);
    const withOffset = await b.evaluate(ev);
    b.setLogitAdjustment(undefined);
    expect(await b.evaluate(ev)).toEqual(withOffset);
    // turned off: trains exactly like a runtime that never used it
    c.setParams(pb);
    c.resetOptimizer();
    b.resetOptimizer();
    await b.train(bs);
    await c.train(bs);
    expect(b.getParams()).toEqual(c.getParams());
    expect(() => b.setLogitAdjustment(new Float32Array(3))).toThrow(/expected 4/);
    expect(() => b.setLogitAdjustment(new Float32Array([0, 0, 0, Number.NEGATIVE_INFINITY]))).toThrow(
      /finite/,
    );
    for (const r of [a, b, c]) await r.dispose();
  });
});
