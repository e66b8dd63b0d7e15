/**
 * Tabular regression: a numeric label becomes a regression job (one output, mean squared error on
 * the swarm-standardized target, RMSE in the label's units); the spec checks; the statistics
 * vector carries the target; a short training run beats predicting the mean; the exported model
 * predicts values in the label's units (ONNX = the runtime's RMSE; PyTorch within 1e-5 when
 * /usr/bin/python3 has torch).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTaskRuntime, initTaskParams } from '../../src/node/task-runtime.ts';
import { exportJobModel, predictFromDir } from '../../src/task/export.ts';
import { predictInputRows } from '../../src/task/predict-input.ts';
import { validateJobSpec } from '../../src/task/registry.ts';
import { type TabularDataset, type TabularPrep, tabularTask } from '../../src/task/tabular.ts';
import { tabularSpecFromFile } from '../../src/task/tabular-spec.ts';
import { writeCheckpointFile } from '../../src/train/checkpoint/files.ts';
import { encodeTrainingCheckpoint } from '../../src/train/checkpoint/training-checkpoint.ts';
import { BatchSampler } from '../../src/train/data/sampler.ts';
import type { MlpSpec } from '../../src/train/models/spec.ts';
import { tempHome } from '../helpers/cli.ts';

const CSV = join(import.meta.dirname, '../../examples/tabular/household-energy.csv');
const SCRIPT = join(import.meta.dirname, '../../docs/examples/load_pytorch.py');
const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const source = { path: CSV, format: 'csv' as const, label: 'kwh' };

describe('tabular regression', () => {
  const spec = tabularSpecFromFile({ path: CSV, label: 'kwh', innerSteps: 20, rounds: 15 });

  it('a numeric label with many values makes a regression spec: one mse output, rmse, no heads', () => {
    expect(spec.objective).toBe('regression');
    expect(spec.metric).toBe('rmse');
    expect(spec.model).toMatchObject({ kind: 'mlp', loss: 'mse' });
    expect((spec.model as MlpSpec).sizes.at(-1)).toBe(1);
    expect(spec.drift).toBe('none');
    expect(spec.calibration).toBe('none');
    expect(spec.data).not.toHaveProperty('classes');
    expect((spec.data as { numeric: string[] }).numeric).toEqual([
      'area_m2',
      'occupants',
      'building_age',
      'outdoor_temp_c',
    ]);
    // the clinic file's text label stays classification
    const clinic = join(import.meta.dirname, '../../examples/tabular/clinic-visits.csv');
    expect(tabularSpecFromFile({ path: clinic, label: 'triage' }).objective).toBe('classification');
    // --objective classification on a numeric label with few values, regression on it by choice
    expect(() => tabularSpecFromFile({ path: clinic, label: 'triage', objective: 'regression' })).toThrow(
      /not numeric/,
    );
  });

  it('refuses inconsistent regression specs with a clear reason', () => {
    expect(() => validateJobSpec({ ...spec, metric: 'accuracy' })).toThrow(/regression reports rmse/);
    expect(() => validateJobSpec({ ...spec, data: { ...spec.data, classes: ['a', 'b'] } })).toThrow(
      /declares no `classes`/,
    );
    const sizes = (spec.model as MlpSpec).sizes;
    expect(() => validateJobSpec({ ...spec, model: { kind: 'mlp', sizes } })).toThrow(/loss/);
    expect(() =>
      validateJobSpec({ ...spec, model: { ...spec.model, sizes: [...sizes.slice(0, -1), 2] } }),
    ).toThrow(/end with 1 output/);
    expect(() => validateJobSpec({ ...spec, drift: 'fixed-head' })).toThrow(/classification/);
    // a provider whose label column is text cannot serve it
    expect(tabularTask.mismatch(spec, { ...tabularTask.describe(source), labelNumeric: false })).toMatch(
      /not numeric/,
    );
    expect(tabularTask.mismatch(spec, tabularTask.describe(source))).toBeUndefined();
  });

  it('the statistics carry the target: its swarm mean and std standardize the batches', () => {
    const raw = tabularTask.load(spec, source) as TabularDataset;
    expect(raw.kind).toBe('regression');
    const v = tabularTask.preparation!.local(spec, raw);
    expect(v.length).toBe(3 * 4 + 3);
    const prep = tabularTask.preparation!.fromReduced(spec, v) as TabularPrep;
    const ys = Array.from((raw as { values: Float64Array }).values);
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    const std = Math.sqrt(ys.reduce((a, b) => a + (b - mean) ** 2, 0) / ys.length);
    expect(prep.target!.mean).toBeCloseTo(mean, 1);
    expect(prep.target!.std / std).toBeCloseTo(1, 4);
    const data = tabularTask.load(spec, source, prep);
    const b = data.getBatch([0, 1, 2]);
    expect(b.targets).toBeInstanceOf(Float32Array);
    expect(b.targets[0]).toBeCloseTo((ys[0] - prep.target!.mean) / prep.target!.std, 5);
  });

  it('trains below half the target std, and the export predicts kWh (ONNX = runtime, PyTorch ±1e-5)', async () => {
    const raw = tabularTask.load(spec, source);
    const prep = tabularTask.preparation!.fromReduced(spec, tabularTask.preparation!.local(spec, raw));
    const t = (prep as TabularPrep).target!;
    const data = tabularTask.load(spec, source, prep);
    const steps = 300;
    const rt = createTaskRuntime(spec, { totalSteps: steps, stepsPerCall: 5 });
    const home = tempHome();
    const test = Int32Array.from({ length: 240 }, (_, i) => data.size - 240 + i);
    let rmse: number;
    try {
      initTaskParams(spec, rt);
      const sampler = new BatchSampler(
        Int32Array.from({ length: data.size - 240 }, (_, i) => i),
        32,
        1,
      );
      const before = Math.sqrt((await rt.evaluate([data.getBatch(test)])).loss) * t.std;
      const r = await rt.train(Array.from({ length: steps }, () => data.getBatch(sampler.next())));
      expect(r.losses.at(-1)!).toBeLessThan(r.losses[0]);
      const ev = await rt.evaluate([data.getBatch(test)]);
      expect(ev.accuracy).toBeUndefined();
      rmse = Math.sqrt(ev.loss) * t.std;
      expect(rmse).toBeLessThan(before);
      expect(rmse).toBeLessThan(t.std / 2);
      const { bytes } = encodeTrainingCheckpoint({
        params: rt.getParams(),
        info: { task: spec.name, prep: JSON.stringify(prep) },
      });
      writeCheckpointFile(join(home, 'ck.safetensors'), bytes);
    } finally {
      await rt.dispose();
    }
    const dir = join(home, 'export');
    const r = await exportJobModel({ spec, checkpointPath: join(home, 'ck.safetensors'), dir });
    const config = JSON.parse(readFileSync(r.config, 'utf8'));
    expect(config.objective).toBe('regression');
    expect(config.metric).toBe('rmse');
    expect(config.preprocessing.target).toEqual({ name: 'kwh', mean: t.mean, std: t.std });
    expect(config.preprocessing).not.toHaveProperty('classes');
    const rows = (predictInputRows(CSV) as Record<string, string>[]).slice(data.size - 240);
    const preds = await predictFromDir(dir, rows);
    const values = preds.map((p) => {
      if (!('value' in p)) throw new Error('a regression prediction');
      return p.value;
    });
    const se = values.reduce((a, v, i) => a + (v - Number(rows[i].kwh)) ** 2, 0);
    expect(Math.sqrt(se / rows.length) / rmse).toBeCloseTo(1, 4);
    // the task's own metric of the model's outputs agrees
    const outputs = Float32Array.from(values, (v) => (v - t.mean) / t.std);
    const m = tabularTask.evaluate(spec, outputs, data.getBatch(test).targets, prep);
    expect(m.metric).toBe('rmse');
    expect(m.value / rmse).toBeCloseTo(1, 3);
    if (!hasTorch) return;
    const input = join(home, 'rows.json');
    const some = [...rows.slice(0, 30), { area_m2: '', region: 'mars' }, {}];
    writeFileSync(input, JSON.stringify(some));
    const torch = JSON.parse(
      execFileSync('/usr/bin/python3', [SCRIPT, dir, input], { encoding: 'utf8' }),
    ) as {
      value: number;
    }[];
    const ours = await predictFromDir(dir, some);
    expect(torch).toHaveLength(ours.length);
    let worst = 0;
    ours.forEach((p, i) => {
      if (!('value' in p)) throw new Error('a regression prediction');
      worst = Math.max(worst, Math.abs(p.value - torch[i].value) / Math.max(1, Math.abs(p.value)));
    });
    expect(worst).toBeLessThan(1e-5);
  }, 60_000);
});
