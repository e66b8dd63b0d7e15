/**
 * Small real models for the fuzz targets, trained once per process (about 1 s in all) into one
 * temporary directory that is removed when the process exits: an exported tabular classifier
 * (clinic visits) and regressor (household energy), a byte-level LM, an image-folder CNN, and the
 * `mnist-mlp` classifier of the serving fast path.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainMnistModel } from '../../test/helpers/mnist-model.ts';
import {
  CLINIC_CSV,
  ENERGY_CSV,
  imageExport,
  tabularExport,
  textExport,
} from '../../test/helpers/task-models.ts';

export type FuzzModels = {
  /** Export directories (config.json, model.onnx). */
  cls: string;
  reg: string;
  lm: string;
  cnn: string;
  /** A job's `model.safetensors` directory (the MLP fast path), job 7. */
  mnist: string;
};

let built: Promise<FuzzModels> | undefined;

export function fuzzModels(): Promise<FuzzModels> {
  built ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agora-fuzz-models-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    // one after another: the machine may be busy, and each is short
    const cls = await tabularExport(CLINIC_CSV, 'triage', join(dir, 'clinic', 'export'), {
      jobId: '11',
      steps: 1,
    });
    const reg = await tabularExport(ENERGY_CSV, 'kwh', join(dir, 'energy', 'export'), {
      jobId: '12',
      steps: 1,
    });
    const lm = await textExport(join(dir, 'text', 'export'), { jobId: '13', steps: 1 });
    const cnn = await imageExport(join(dir, 'digits', 'export'), { jobId: '14', steps: 1 });
    const mnist = (await trainMnistModel(join(dir, 'mnist'), { steps: 5, holdout: 1, jobId: '7' })).dir;
    return { cls, reg, lm, cnn, mnist };
  })();
  return built;
}
