/**
 * Golden tests against PyTorch (float64 autograd + torch.optim.AdamW + clip_grad_norm_), values
 * committed in test/fixtures/engine-golden.json by test/fixtures/gen_engine_golden.py.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gradients } from '../../../src/train/graph/autodiff.ts';
import { Graph } from '../../../src/train/graph/graph.ts';
import { crossEntropy, mse, reshape } from '../../../src/train/graph/ops.ts';
import { targetDtype } from '../../../src/train/graph/programs.ts';
import { buildModel } from '../../../src/train/models/index.ts';
import type { ModelSpec } from '../../../src/train/models/spec.ts';
import { createRuntime } from '../../../src/train/onnx/index.ts';
import { encodeModel } from '../../../src/train/onnx/proto.ts';
import { OnnxSession } from '../../../src/train/onnx/session.ts';
import type { InnerOptimizerConfig, TensorBatch } from '../../../src/train/runtime.ts';

type GoldenCase = {
  name: string;
  spec: ModelSpec;
  batchSize: number;
  optimizer: InnerOptimizerConfig;
  paramNames: string[];
  params0: number[];
  batches: { inputs: number[]; targets: number[] }[];
  loss0: number;
  grad0: number[];
  losses: number[];
  paramsAfter: number[];
  evalLossAfter: number;
  logitsAfterBatch0: number[];
};

const golden = JSON.parse(
  readFileSync(new URL('../../fixtures/engine-golden.json', import.meta.url), 'utf8'),
) as { cases: GoldenCase[] };

function toBatch(c: GoldenCase, b: { inputs: number[]; targets: number[] }): TensorBatch {
  return {
    inputs: c.spec.kind === 'transformer' ? Int32Array.from(b.inputs) : Float32Array.from(b.inputs),
    targets:
      c.spec.kind === 'mlp' && c.spec.loss === 'mse'
        ? Float32Array.from(b.targets)
        : Int32Array.from(b.targets),
    batchSize: c.batchSize,
  };
}

/** max |a − b| / (atol + rtol·|b|) — ≤ 1 means within tolerance. */
function worst(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number): number {
  expect(a.length).toBe(b.length);
  let w = 0;
  for (let i = 0; i < b.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i])));
  return w;
}

describe.each(golden.cases)('golden vs PyTorch: $name', (c) => {
  const model = buildModel(c.spec);
  const batches = c.batches.map((b) => toBatch(c, b));

  it('uses the documented flat parameter order', () => {
    expect(model.params.map((p) => p.name)).toEqual(c.paramNames);
  });

  it('loss and every gradient at the initial parameters match', async () => {
    const g = new Graph();
    const ps = model.params.map((p, i) => g.input(`p${i}`, p.shape));
    const inSpec = model.inputShape(c.batchSize);
    const x = g.input('x', inSpec.shape, inSpec.dtype);
    const y = g.input('y', model.targetShape(c.batchSize), targetDtype(model));
    const out0 = model.forward(g, ps, x);
    const loss =
      model.loss === 'mse'
        ? mse(g, out0, y)
        : crossEntropy(g, out0, y.shape.length === 1 ? y : reshape(g, y, [-1])).loss;
    const grads = gradients(g, loss, ps);
    g.output(loss, 'loss');
    grads.forEach((gr, i) => {
      g.output(gr, `g${i}`);
    });
    const sess = await OnnxSession.create(encodeModel(g.toOnnxModel('grad')), { threads: 1 });
    const flat = Float32Array.from(c.params0);
    let off = 0;
    const feeds: Parameters<OnnxSession['run']>[0] = {};
    model.params.forEach((p, i) => {
      const n = p.shape.reduce((a, b) => a * b, 1);
      feeds[`p${i}`] = { data: flat.slice(off, off + n), dims: p.shape, dtype: 'float32' };
      off += n;
    });
    feeds.x = { data: batches[0].inputs, dims: inSpec.shape, dtype: inSpec.dtype };
    feeds.y = { data: batches[0].targets, dims: model.targetShape(c.batchSize), dtype: targetDtype(model) };
    const out = await sess.run(feeds);
    await sess.release();
    expect((out.loss as Float32Array)[0]).toBeCloseTo(c.loss0, 5);
    const ours = model.params.flatMap((_, i) => Array.from(out[`g${i}`] as Float32Array));
    expect(worst(ours, c.grad0, 2e-6, 1e-4)).toBeLessThan(1);
  });

  for (const stepsPerCall of [1, 2]) {
    it(`${c.batches.length} AdamW steps (warmup+cosine, clipping, decay) with stepsPerCall=${stepsPerCall}`, async () => {
      const rt = createRuntime({ model: c.spec, optimizer: c.optimizer, threads: 1, stepsPerCall });
      try {
        rt.setParams(Float32Array.from(c.params0));
        const r = await rt.train(batches);
        expect(r.step).toBe(c.batches.length);
        expect(worst(r.losses, c.losses, 1e-5, 1e-5)).toBeLessThan(1);
        expect(worst(rt.getParams(), c.paramsAfter, 2e-5, 1e-4)).toBeLessThan(1);
        const ev = await rt.evaluate([batches[0]]);
        expect(ev.loss).toBeCloseTo(c.evalLossAfter, 4);
      } finally {
        await rt.dispose();
      }
    });
  }

  it('exportInference() loads standalone and reproduces the logits and the eval loss', async () => {
    const rt = createRuntime({ model: c.spec, optimizer: c.optimizer, threads: 1 });
    rt.setParams(Float32Array.from(c.paramsAfter));
    const ev = await rt.evaluate([batches[0]]);
    const bytes = rt.exportInference();
    await rt.dispose();
    const sess = await OnnxSession.create(bytes, { threads: 1 });
    const inSpec = model.inputShape(c.batchSize);
    const out = await sess.run({
      input: { data: batches[0].inputs, dims: inSpec.shape, dtype: inSpec.dtype },
    });
    await sess.release();
    const logits = out.logits as Float32Array;
    expect(worst(logits, c.logitsAfterBatch0, 1e-5, 1e-4)).toBeLessThan(1);
    // The loss recomputed from the exported outputs equals the training engine's eval loss.
    const C = model.classes;
    const t = batches[0].targets;
    if (model.loss === 'mse') {
      const se = logits.reduce((s, v, i) => s + (v - t[i]) ** 2, 0);
      expect(se / logits.length).toBeCloseTo(ev.loss, 5);
      expect(ev.accuracy).toBeUndefined();
      return;
    }
    let ce = 0;
    for (let r = 0; r < t.length; r++) {
      const row = logits.subarray(r * C, (r + 1) * C);
      const mx = Math.max(...row);
      const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
      ce += lse - row[t[r]];
    }
    expect(ce / t.length).toBeCloseTo(ev.loss, 5);
  });
});
