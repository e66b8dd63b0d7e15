/**
 * The small label-skewed DiLoCo simulation the drift tests share: 3 workers with 4 digits each
 * (every 6th training sample), 200 eval samples, an MLP 784-16-10 per worker, AdamW lr 3e-3.
 * The runtimes are disposed after the calling describe block.
 */
import { afterAll } from 'vitest';
import { holdoutSplit, loadMnistNpm, shardIndices } from '../../../src/train/data/index.ts';
import type { SimulationData } from '../../../src/train/diloco/index.ts';
import { createRuntime } from '../../../src/train/onnx/index.ts';
import type { InnerOptimizerConfig } from '../../../src/train/runtime.ts';
import { innerConfig } from '../../../src/train/schedule.ts';

export function skewSimulation(o: { totalSteps: number; stepsPerCall: number }): {
  data: SimulationData;
  optimizer: InnerOptimizerConfig;
  runtimes: ReturnType<typeof createRuntime>[];
} {
  const ds = loadMnistNpm();
  const split = holdoutSplit(ds.size, 0.1, { seed: 3 });
  const shards = shardIndices(
    { indices: split.train.filter((_, i) => i % 6 === 0), labels: ds.labels, numClasses: 10 },
    3,
    { kind: 'label-skew', classesPerWorker: 4, seed: 1 },
  );
  const data: SimulationData = {
    dataset: ds,
    shards,
    evalBatches: [ds.getBatch(split.eval.subarray(0, 200))],
  };
  const optimizer = innerConfig({ lr: 0.003, totalSteps: o.totalSteps });
  const runtimes = Array.from({ length: 3 }, () =>
    createRuntime({ model: { kind: 'mlp', sizes: [784, 16, 10] }, optimizer, stepsPerCall: o.stepsPerCall }),
  );
  afterAll(async () => {
    for (const r of runtimes) await r.dispose();
  });
  return { data, optimizer, runtimes };
}
