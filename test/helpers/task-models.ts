/**
 * Small exported models of the non-image task kinds, trained in-process in a few seconds and
 * written the way `agora job model ID --out DIR` writes them: a tabular classifier or regressor
 * (examples/tabular, swarm statistics from this one provider), a small image-folder CNN and a tiny
 * byte-level LM.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createTaskRuntime, initTaskParams } from '../../src/node/task-runtime.ts';
import { exportJobModel } from '../../src/task/export.ts';
import { imageTask } from '../../src/task/image.ts';
import { imageFolderSpec } from '../../src/task/image-spec.ts';
import type { JobSpec } from '../../src/task/spec.ts';
import { tabularTask } from '../../src/task/tabular.ts';
import { tabularSpecFromFile } from '../../src/task/tabular-spec.ts';
import { textTask } from '../../src/task/text.ts';
import { textSpec } from '../../src/task/text-spec.ts';
import { writeCheckpointFile } from '../../src/train/checkpoint/files.ts';
import { encodeTrainingCheckpoint } from '../../src/train/checkpoint/training-checkpoint.ts';
import type { Dataset } from '../../src/train/data/dataset.ts';
import { BatchSampler } from '../../src/train/data/sampler.ts';

export const CLINIC_CSV = join(import.meta.dirname, '../../examples/tabular/clinic-visits.csv');
export const ENERGY_CSV = join(import.meta.dirname, '../../examples/tabular/household-energy.csv');
export const TEXT = join(import.meta.dirname, '../../examples/text/brown-news.txt');

/** Trains `steps` inner steps and exports the model to `dir` (with `jobId` in checkpoint and config). */
async function trainAndExport(
  spec: JobSpec,
  data: Dataset,
  dir: string,
  steps: number,
  jobId: string,
  prep?: Record<string, unknown>,
): Promise<string> {
  const rt = createTaskRuntime(spec, { totalSteps: steps });
  const ckPath = join(dir, '..', `${jobId}.safetensors`);
  mkdirSync(join(dir, '..'), { recursive: true });
  try {
    initTaskParams(spec, rt);
    const sampler = new BatchSampler(
      Int32Array.from({ length: data.size }, (_, i) => i),
      spec.batchSize,
      1,
    );
    await rt.train(Array.from({ length: steps }, () => data.getBatch(sampler.next())));
    const { bytes } = encodeTrainingCheckpoint({
      params: rt.getParams(),
      info: { task: spec.name, job: jobId, ...(prep ? { prep: JSON.stringify(prep) } : {}) },
    });
    writeCheckpointFile(ckPath, bytes);
  } finally {
    await rt.dispose();
  }
  await exportJobModel({ spec, checkpointPath: ckPath, dir, jobId: BigInt(jobId) });
  return dir;
}

/** A tabular model of `csv` predicting `label` (a classifier or a regressor, as the spec infers). */
export async function tabularExport(
  csv: string,
  label: string,
  dir: string,
  o: { steps?: number; jobId: string },
): Promise<string> {
  const spec = tabularSpecFromFile({ path: csv, label, innerSteps: 20, rounds: 2 });
  const source = { path: csv, format: 'csv' as const, label };
  const raw = tabularTask.load(spec, source);
  const prep = tabularTask.preparation!.fromReduced(spec, tabularTask.preparation!.local(spec, raw));
  const data = tabularTask.load(spec, source, prep);
  return trainAndExport(spec, data, dir, o.steps ?? 40, o.jobId, prep);
}

/** A tiny byte-level LM (d 32, one layer, context 64) on examples/text. */
export async function textExport(dir: string, o: { steps?: number; jobId: string }): Promise<string> {
  const spec = textSpec({ dModel: 32, layers: 1, innerSteps: 10, rounds: 2 });
  const data = textTask.load(spec, { path: TEXT, format: 'text' });
  return trainAndExport(spec, data, dir, o.steps ?? 10, o.jobId);
}

export const DIGITS = join(import.meta.dirname, '../../examples/images/digits');

/** A small CNN on the example image folder (digit PNGs). */
export async function imageExport(dir: string, o: { steps?: number; jobId: string }): Promise<string> {
  const spec = imageFolderSpec({ path: DIGITS, innerSteps: 10, rounds: 3 });
  const data = imageTask.load(spec, { path: DIGITS, format: 'images' });
  return trainAndExport(spec, data, dir, o.steps ?? 10, o.jobId);
}
