import { describe, expect, it } from 'vitest';
import { FixedHead, fixedHeadFlags } from '../../../src/train/diloco/index.ts';
import { Rng } from '../../../src/train/models/prng.ts';
import { createRuntime, type OnnxRuntime } from '../../../src/train/onnx/index.ts';
import { hasFreezing, type InnerOptimizerConfig, type TensorBatch } from '../../../src/train/runtime.ts';

const OPT: InnerOptimizerConfig = {
  lr: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.1,
  clipNorm: 0,
  warmupSteps: 0,
  totalSteps: 100,
  minLrRatio: 1,
};
const MLP = { kind: 'mlp', sizes: [6, 8, 4] } as const;
// parameter tensors: fc0.weight [6,8], fc0.bias [8], fc1.weight [8,4], fc1.bias [4]
const HEAD_FROM = 6 * 8 + 8;

function batches(n: number, b: number, seed: number): TensorBatch[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => ({
    inputs: new Float32Array(b * 6).map(() => rng.normal()),
    targets: new Int32Array(b).map(() => Math.floor(rng.uniform() * 4)),
    batchSize: b,
  }));
}

describe('frozen parameters / FixedHead', () => {
  it('runtime: frozen tensors and their moments stay put; the first step of the others is unchanged', async () => {
    const a = createRuntime({ model: MLP, optimizer: OPT, stepsPerCall: 2 });
    const b = createRuntime({ model: MLP, optimizer: OPT, stepsPerCall: 2 });
    expect(hasFreezing(b)).toBe(true);
    expect(b.paramTensors).toBe(4);
    a.init(3);
    b.init(3);
    const p0 = b.getParams();
    const head = new FixedHead();
    head.beforeInner(0, b);
    const one = batches(1, 6, 1);
    await a.train(one);
    await b.train(one);
    const pa = a.getParams();
    const pb = b.getParams();
    for (let i = 0; i < HEAD_FROM; i++) expect(pb[i]).toBe(pa[i]);
    for (let i = HEAD_FROM; i < pb.length; i++) expect(pb[i]).toBe(p0[i]);
    expect(Math.max(...pa.slice(HEAD_FROM).map((v, i) => Math.abs(v - p0[HEAD_FROM + i])))).toBeGreaterThan(
      1e-3,
    );
    await b.train(batches(5, 6, 2));
    const p2 = b.getParams();
    for (let i = HEAD_FROM; i < p2.length; i++) expect(p2[i]).toBe(p0[i]);
    const st = (b as unknown as OnnxRuntime).getOptimizerState();
    for (let i = HEAD_FROM; i < p2.length; i++) expect(st.m[i]).toBe(0);
    // turned off: the default graph trains the head again, exactly like a fresh runtime
    b.setFrozenParams(undefined);
    a.setParams(p2);
    (a as unknown as OnnxRuntime).setOptimizerState(st);
    const more = batches(2, 6, 4);
    await a.train(more);
    await b.train(more);
    expect(b.getParams()).toEqual(a.getParams());
    expect(() => b.setFrozenParams([true])).toThrow(/one per parameter tensor/);
    expect(() => new FixedHead({ tensors: 4 }).beforeInner(0, b)).toThrow(/freeze 4 of 4/);
    expect(fixedHeadFlags(4)).toEqual([false, false, true, true]);
    expect(fixedHeadFlags(6, 1)).toEqual([false, false, false, false, false, true]);
    await a.dispose();
    await b.dispose();
  });
});
