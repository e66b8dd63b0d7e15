import { afterAll, describe, expect, it } from 'vitest';
import { createCodec } from '../../../src/train/codecs/index.ts';
import { makeClassificationDataset } from '../../../src/train/data/dataset.ts';
import { createRng, mixSeed, normal } from '../../../src/train/data/rng.ts';
import { BatchSampler } from '../../../src/train/data/sampler.ts';
import { shardIndices } from '../../../src/train/data/sharding.ts';
import {
  ddpBytesPerStep,
  runDdp,
  runDiloco,
  type SimulationData,
  sliceBounds,
} from '../../../src/train/diloco/index.ts';
import { createRuntime } from '../../../src/train/onnx/index.ts';
import { FEDAVG_OUTER } from '../../../src/train/outer-optimizer.ts';
import type { Runtime } from '../../../src/train/runtime.ts';
import { innerConfig } from '../../../src/train/schedule.ts';

// A small synthetic task: 3 Gaussian clusters in 8 dimensions.
const F = 8;
const C = 3;
const N = 600;
const rng = createRng(7);
const centers = Array.from({ length: C }, () => Array.from({ length: F }, () => 2 * normal(rng)));
const feats = new Float32Array(N * F);
const labels = new Int32Array(N);
for (let i = 0; i < N; i++) {
  const y = i % C;
  labels[i] = y;
  for (let j = 0; j < F; j++) feats[i * F + j] = centers[y][j] + normal(rng);
}
const ds = makeClassificationDataset({
  id: 'blobs',
  featureShape: [F],
  features: { kind: 'f32', data: feats },
  labels,
  numClasses: C,
});
const trainIdx = Int32Array.from({ length: 500 }, (_, i) => i);
const evalBatches = [ds.getBatch(Int32Array.from({ length: 100 }, (_, i) => 500 + i))];

const made: Runtime[] = [];
function runtimes(k: number, totalSteps: number): Runtime[] {
  const rts = Array.from({ length: k }, () =>
    createRuntime({
      model: { kind: 'mlp', sizes: [F, 16, C] },
      optimizer: innerConfig({ lr: 0.01, totalSteps }),
      threads: 1,
    }),
  );
  made.push(...rts);
  return rts;
}
afterAll(async () => {
  for (const r of made) await r.dispose();
});

describe('DiLoCo loop on the ONNX runtime', () => {
  it('K=1 FedAvg with fp32 equals continuous training: inner AdamW state survives rounds', async () => {
    const data: SimulationData = { dataset: ds, shards: [trainIdx], evalBatches };
    const [rt] = runtimes(1, 15);
    const r = await runDiloco([rt], data, {
      method: 'fedavg',
      innerSteps: 5,
      rounds: 3,
      batchSize: 8,
      codec: 'fp32',
      seed: 3,
      outer: FEDAVG_OUTER,
    });
    expect(r.bytesPerWorker).toBe(0);
    expect(r.history.length).toBe(3);
    // reference: the same 15 batches in one go
    const [ref] = runtimes(1, 15);
    ref.init(3);
    const sampler = new BatchSampler(trainIdx, 8, mixSeed(3, 0));
    await ref.train(Array.from({ length: 15 }, () => ds.getBatch(sampler.next())));
    const p = ref.getParams();
    let maxDiff = 0;
    for (let i = 0; i < p.length; i++) maxDiff = Math.max(maxDiff, Math.abs(p[i] - r.params[i]));
    expect(maxDiff).toBeLessThan(1e-5);
    // and resetting the optimizer each round would not match
    const [reset] = runtimes(1, 15);
    reset.init(3);
    const s2 = new BatchSampler(trainIdx, 8, mixSeed(3, 0));
    for (let round = 0; round < 3; round++) {
      reset.resetOptimizer();
      await reset.train(Array.from({ length: 5 }, () => ds.getBatch(s2.next())));
    }
    const q = reset.getParams();
    let diff2 = 0;
    for (let i = 0; i < q.length; i++) diff2 = Math.max(diff2, Math.abs(q[i] - r.params[i]));
    expect(diff2).toBeGreaterThan(1e-3);
  });

  it('K=3 DiLoCo with int8 learns, and counts exactly the encoded bytes', async () => {
    const K = 3;
    const shards = shardIndices({ indices: trainIdx, labels, numClasses: C }, K, { kind: 'iid', seed: 1 });
    const data: SimulationData = { dataset: ds, shards, evalBatches };
    const rts = runtimes(K, 40);
    const rounds = 4;
    const r = await runDiloco(rts, data, { innerSteps: 10, rounds, batchSize: 8, codec: 'int8', seed: 5 });
    const init = runtimes(1, 1)[0];
    init.init(5);
    const before = await init.evaluate(evalBatches);
    expect(r.evalLoss).toBeLessThan(before.loss * 0.7);
    expect(r.evalAccuracy).toBeGreaterThan(0.8);
    expect(r.totalSamples).toBe(K * 8 * 40);
    // bytes: per round, worker w sends int8 messages of the 2 foreign slices + its mean slice to 2 peers
    const P = rts[0].paramCount;
    const size = (j: number) => {
      const [s, e] = sliceBounds(P, K, j);
      return createCodec('int8').encode(new Float32Array(e - s)).byteLength;
    };
    const perRound = [0, 1, 2].map((w) =>
      [0, 1, 2].reduce((a, j) => a + (j === w ? 2 * size(j) : size(j)), 0),
    );
    expect(r.bytesPerWorker).toBeCloseTo((rounds * perRound.reduce((a, b) => a + b, 0)) / K, 6);
    expect(r.history.map((h) => h.step)).toEqual([10, 20, 30, 40]);
  });

  it('DDP trains on the concatenated batches and counts ring all-reduce bytes', async () => {
    const K = 2;
    const shards = shardIndices({ indices: trainIdx }, K, { kind: 'iid', seed: 1 });
    const data: SimulationData = { dataset: ds, shards, evalBatches };
    const [rt] = runtimes(1, 20);
    const r = await runDdp(rt, data, { workers: K, steps: 20, batchSize: 8, seed: 5, evalEverySteps: 10 });
    expect(r.bytesPerWorker).toBe(20 * ddpBytesPerStep(rt.paramCount, K));
    expect(r.history.map((h) => h.step)).toEqual([10, 20]);
    expect(r.evalLoss).toBeLessThan(r.history[0].evalLoss + 1e-9);
    expect(r.totalSamples).toBe(2 * 8 * 20);
  });
});
