/**
 * Exported models: named weights without optimizer state, config.json, model.onnx; `predictFromDir`
 * (what `agora model predict` runs) against the task's own evaluation, and against PyTorch loading
 * model.safetensors + config.json with docs/examples/load_pytorch.py (when /usr/bin/python3 has torch).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTaskRuntime, initTaskParams } from '../../src/node/task-runtime.ts';
import { exportJobModel, predictFromDir } from '../../src/task/export.ts';
import { predictInputRows } from '../../src/task/predict-input.ts';
import { tabularTask } from '../../src/task/tabular.ts';
import { tabularSpecFromFile } from '../../src/task/tabular-spec.ts';
import { writeCheckpointFile } from '../../src/train/checkpoint/files.ts';
import { decodeSafetensors, tensorToFloat32 } from '../../src/train/checkpoint/safetensors.ts';
import { encodeTrainingCheckpoint } from '../../src/train/checkpoint/training-checkpoint.ts';
import { BatchSampler } from '../../src/train/data/sampler.ts';
import { tempHome } from '../helpers/cli.ts';

const CSV = join(import.meta.dirname, '../../examples/tabular/clinic-visits.csv');
const SCRIPT = join(import.meta.dirname, '../../docs/examples/load_pytorch.py');
const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

describe('model export', () => {
  it('a tabular model: named tensors, config, ONNX predictions equal PyTorch’s within 1e-5', async () => {
    const spec = tabularSpecFromFile({ path: CSV, label: 'triage', innerSteps: 20, rounds: 2 });
    const source = { path: CSV, format: 'csv' as const, label: 'triage' };
    const raw = tabularTask.load(spec, source);
    const prep = tabularTask.preparation!.fromReduced(spec, tabularTask.preparation!.local(spec, raw));
    const data = tabularTask.load(spec, source, prep);
    const rt = createTaskRuntime(spec, { totalSteps: 40 });
    const home = tempHome();
    let evalAcc: number;
    try {
      initTaskParams(spec, rt);
      const sampler = new BatchSampler(
        Int32Array.from({ length: data.size }, (_, i) => i),
        32,
        1,
      );
      await rt.train(Array.from({ length: 40 }, () => data.getBatch(sampler.next())));
      const all = data.getBatch(Int32Array.from({ length: 200 }, (_, i) => i));
      evalAcc = (await rt.evaluate([all])).accuracy!;
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
    // named weights, torch layout, nothing else
    const st = decodeSafetensors(new Uint8Array(readFileSync(r.model)));
    const sizes = (spec.model as unknown as { sizes: number[] }).sizes;
    expect([...st.tensors.keys()].sort()).toEqual([
      'layers.0.bias',
      'layers.0.weight',
      'layers.1.bias',
      'layers.1.weight',
    ]);
    expect(st.tensors.get('layers.0.weight')!.shape).toEqual([sizes[1], sizes[0]]);
    expect(st.metadata?.format).toBe('agora-model-v1');
    const config = JSON.parse(readFileSync(r.config, 'utf8'));
    expect(config.architecture).toMatchObject({ kind: 'mlp', sizes, activation: 'relu' });
    expect(config.preprocessing.classes).toEqual(['follow-up', 'routine', 'urgent']);
    expect(config.preprocessing.numeric[0]).toMatchObject({
      name: 'age',
      mean: (prep as { mean: number[] }).mean[0],
      std: (prep as { std: number[] }).std[0],
    });
    // the ONNX model on the file's rows agrees with the runtime's accuracy on the same rows
    const rows = predictInputRows(CSV).slice(0, 200) as Record<string, string>[];
    const preds = await predictFromDir(dir, rows);
    const acc = preds.filter((p, i) => 'label' in p && p.label === rows[i].triage).length / rows.length;
    expect(acc).toBeCloseTo(evalAcc, 6);
    expect(acc).toBeGreaterThan(0.6);
    expect(tensorToFloat32(st.tensors.get('layers.1.bias')!).length).toBe(3);
    if (!hasTorch) return;
    const input = join(home, 'rows.json');
    const some = [...rows.slice(0, 30), { age: '', clinic: 'mars' }, {}];
    writeFileSync(input, JSON.stringify(some));
    const torch = JSON.parse(
      execFileSync('/usr/bin/python3', [SCRIPT, dir, input], { encoding: 'utf8' }),
    ) as {
      label: string;
      probabilities: Record<string, number>;
    }[];
    const ours = await predictFromDir(dir, some);
    expect(torch).toHaveLength(ours.length);
    let worst = 0;
    ours.forEach((p, i) => {
      if (!('label' in p)) throw new Error('a classification prediction');
      expect(torch[i].label).toBe(p.label);
      for (const [k, v] of Object.entries(p.probabilities))
        worst = Math.max(worst, Math.abs(v - torch[i].probabilities[k]));
    });
    expect(worst).toBeLessThan(1e-5);
  }, 60_000);
});
