import { afterAll, describe, expect, it } from 'vitest';
import { Fp32Codec } from '../../../src/train/codecs/index.ts';
import { holdoutSplit, loadMnistNpm, shardIndices } from '../../../src/train/data/index.ts';
import {
  calibrateLdaHead,
  ldaClassMeans,
  ldaClassStats,
  ldaClassStatsLength,
  ldaHead,
  ldaScatter,
  mlpFeatures,
  packedLength,
} from '../../../src/train/diloco/drift/index.ts';
import { AllReduceSim, evaluateParams } from '../../../src/train/diloco/index.ts';
import { Rng } from '../../../src/train/models/prng.ts';
import { createRuntime } from '../../../src/train/onnx/index.ts';
import { innerConfig } from '../../../src/train/schedule.ts';

const OPT = innerConfig({ lr: 0.003, totalSteps: 10 });

describe('LDA head from feature statistics', () => {
  const rts: { dispose(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const r of rts) await r.dispose();
  });

  it('mlpFeatures is the body of the runtime MLP: its logits give the runtime loss', async () => {
    const sizes = [6, 5, 4, 3];
    const rt = createRuntime({ model: { kind: 'mlp', sizes }, optimizer: OPT });
    rts.push(rt);
    rt.init(3);
    const theta = rt.getParams();
    const rng = new Rng(5);
    const n = 16;
    const inputs = Float32Array.from({ length: n * 6 }, () => rng.normal());
    const targets = Int32Array.from({ length: n }, (_, i) => i % 3);
    const feats = mlpFeatures(theta, sizes, inputs);
    expect(feats.length).toBe(n * 4);
    expect(Math.min(...feats)).toBe(0); // ReLU
    const from = theta.length - 4 * 3 - 3;
    let loss = 0;
    for (let s = 0; s < n; s++) {
      const z = [0, 1, 2].map((c) => {
        let v = theta[from + 12 + c];
        for (let i = 0; i < 4; i++) v += feats[s * 4 + i] * theta[from + i * 3 + c];
        return v;
      });
      const m = Math.max(...z);
      const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
      loss += (lse - z[targets[s]]) / n;
    }
    const ev = await rt.evaluate([{ inputs, targets, batchSize: n }]);
    expect(ev.loss).toBeCloseTo(loss, 5);
    expect(() => mlpFeatures(theta.subarray(1), sizes, inputs)).toThrow(/values/);
  });

  it('ldaHead is Σ⁻¹μ_c and −½μ_cᵀΣ⁻¹μ_c + log π_c of the pooled within-class covariance', () => {
    // d = 2, C = 2, four points per class
    const xs = [
      [1, 0],
      [2, 1],
      [3, 0],
      [2, -1],
      [-1, 2],
      [0, 3],
      [-1, 4],
      [-2, 3],
    ];
    const ys = [0, 0, 0, 0, 1, 1, 1, 1];
    const x = Float32Array.from(xs.flat());
    const stats = ldaClassStats(x, ys, 2, 2);
    expect(stats.length).toBe(ldaClassStatsLength(2, 2));
    expect(Array.from(stats)).toEqual([4, 4, 8, 0, -4, 12]);
    const means = ldaClassMeans(stats, 2, 2);
    expect(Array.from(means[1])).toEqual([-1, 3]);
    const scatter = ldaScatter(x, ys, means, 2);
    // within-class scatter: class 0 [[2,0],[0,2]], class 1 [[2,0],[0,2]] → packed [4, 0, 4]
    expect(Array.from(scatter)).toEqual([4, 0, 4]);
    // Σ = I·4/8 = 0.5·I; w_c = 2μ_c, b_c = −½·2|μ_c|² + log ½.
    const { weight, bias } = ldaHead(stats, scatter, 2, 2, 0);
    expect(weight[0]).toBeCloseTo(4, 5); // w_0[0]
    expect(weight[2]).toBeCloseTo(0, 5); // w_0[1]
    expect(weight[1]).toBeCloseTo(-2, 5); // w_1[0]
    expect(weight[3]).toBeCloseTo(6, 5); // w_1[1]
    expect(bias[0]).toBeCloseTo(-4 + Math.log(0.5), 5);
    expect(bias[1]).toBeCloseTo(-10 + Math.log(0.5), 5);
    // a common scale of both statistics gives the same head (the all-reduce mean's 1/K)
    const h2 = ldaHead(
      stats.map((v) => v / 8),
      scatter.map((v) => v / 8),
      2,
      2,
      0,
    );
    for (let i = 0; i < 4; i++) expect(h2.weight[i]).toBeCloseTo(weight[i], 4);
    // a correlated covariance: Σ = [[1, .5], [.5, 1]]·s → w_0 = Σ⁻¹μ_0
    const h4 = ldaHead(stats, Float32Array.from([8, 4, 8]), 2, 2, 0); // Σ = [[1, .5], [.5, 1]]
    // Σ⁻¹ = (4/3)[[1, −.5], [−.5, 1]]; μ_0 = (2, 0) → (8/3, −4/3)
    expect(h4.weight[0]).toBeCloseTo(8 / 3, 5);
    expect(h4.weight[2]).toBeCloseTo(-4 / 3, 5);
    // a class without samples is never chosen
    const st3 = ldaClassStats(x, ys, 2, 3);
    const h3 = ldaHead(st3, ldaScatter(x, ys, ldaClassMeans(st3, 2, 3), 2), 2, 3, 0);
    expect(h3.bias[2]).toBe(-1e4);
    expect(() => ldaHead(stats, scatter, 2, 2, 0).weight).not.toThrow();
    expect(() => ldaHead(stats, Float32Array.from([0, 0, 0]), 2, 2, 0)).toThrow(/positive definite/);
  });

  it('the all-reduced statistics of the shards equal the pooled ones; bytes are the fp32 all-reduce', () => {
    const rng = new Rng(9);
    const d = 5;
    const parts = [7, 4, 9].map((n) => ({
      x: Float32Array.from({ length: n * d }, () => Math.max(0, rng.normal())),
      y: Int32Array.from({ length: n }, () => Math.floor(rng.uniform() * 3)),
    }));
    const allX = Float32Array.from(parts.flatMap((p) => Array.from(p.x)));
    const allY = Int32Array.from(parts.flatMap((p) => Array.from(p.y)));
    const pooled = ldaClassStats(allX, allY, d, 3);
    const sim = new AllReduceSim(3, () => new Fp32Codec());
    const { mean, bytesSent } = sim.run(parts.map((p) => ldaClassStats(p.x, p.y, d, 3)));
    for (let i = 0; i < pooled.length; i++) expect(3 * mean[i]).toBeCloseTo(pooled[i], 5);
    expect(Math.min(...bytesSent)).toBeGreaterThan((2 * 2 * 4 * pooled.length) / 3 - 1);
    const means = ldaClassMeans(pooled, d, 3);
    const pooledScatter = ldaScatter(allX, allY, means, d);
    expect(pooledScatter.length).toBe(packedLength(d));
    const sc = new AllReduceSim(3, () => new Fp32Codec()).run(
      parts.map((p) => ldaScatter(p.x, p.y, means, d)),
    );
    for (let i = 0; i < pooledScatter.length; i++) expect(3 * sc.mean[i]).toBeCloseTo(pooledScatter[i], 4);
  });

  it('on MNIST with a random body and a random head, the LDA head classifies far better; bytes counted', async () => {
    const ds = loadMnistNpm();
    const split = holdoutSplit(ds.size, 0.1, { seed: 3 });
    const shards = shardIndices(
      { indices: split.train.filter((_, i) => i % 4 === 0), labels: ds.labels, numClasses: 10 },
      4,
      { kind: 'label-skew', classesPerWorker: 3, seed: 1 },
    );
    const sizes = [784, 48, 10];
    const rt = createRuntime({ model: { kind: 'mlp', sizes }, optimizer: OPT });
    rts.push(rt);
    rt.init(2);
    const theta = rt.getParams();
    const evalBatches = [ds.getBatch(split.eval.subarray(0, 500))];
    const before = await evaluateParams(rt, theta, evalBatches);
    const workers = shards.map((s) => {
      const b = ds.getBatch(s);
      return { inputs: b.inputs as Float32Array, labels: b.targets };
    });
    const cal = calibrateLdaHead(theta, sizes, workers);
    // the body is untouched, only the head changed
    const from = theta.length - 48 * 10 - 10;
    expect(cal.theta.subarray(0, from)).toEqual(theta.subarray(0, from));
    expect(cal.theta.subarray(from)).not.toEqual(theta.subarray(from));
    const after = await evaluateParams(rt, cal.theta, evalBatches);
    expect(before.accuracy!).toBeLessThan(0.3);
    expect(after.accuracy!).toBeGreaterThan(0.7);
    // two fp32 all-reduces: ≈ 2·(K−1)/K·4 bytes per value, plus headers
    const len = ldaClassStatsLength(48, 10) + packedLength(48);
    for (const b of cal.bytesSent) {
      expect(b).toBeGreaterThanOrEqual((2 * 3 * 4 * len) / 4 - 8);
      expect(b).toBeLessThan((2 * 3 * 4 * len) / 4 + 400);
    }
  }, 30_000);
});
