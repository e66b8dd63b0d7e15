/**
 * The image-folder (CNN) and text (byte LM) task kinds without a chain: spec checks and refusals,
 * the data schema match, the loaders against the records `agora data add` attests (keccak of every
 * record the provider serves = the registered content hash), the validator's window decoding
 * against the provider's batches, and export + predict (ONNX vs the runtime, PyTorch vs ONNX for the
 * CNN when /usr/bin/python3 has torch, text generation and bits-per-byte scoring).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keccak256Bytes } from '../../src/data/keccak.ts';
import { readRecords } from '../../src/data/records.ts';
import { createTaskRuntime, initTaskParams } from '../../src/node/task-runtime.ts';
import { jobSpecFromCli } from '../../src/task/cli-spec.ts';
import { exportJobModel, predictFromDir, readExportConfig } from '../../src/task/export.ts';
import { ByteLm } from '../../src/task/generate.ts';
import { imageTask } from '../../src/task/image.ts';
import { imagePixels } from '../../src/task/image-folder-data.ts';
import { imageFolderSpec } from '../../src/task/image-spec.ts';
import { taskForFormat, validateJobSpec } from '../../src/task/registry.ts';
import { modelSpecHash } from '../../src/task/spec.ts';
import { textTask } from '../../src/task/text.ts';
import { textSpec } from '../../src/task/text-spec.ts';
import { writeCheckpointFile } from '../../src/train/checkpoint/files.ts';
import { decodeSafetensors } from '../../src/train/checkpoint/safetensors.ts';
import {
  decodeTrainingCheckpoint,
  encodeTrainingCheckpoint,
} from '../../src/train/checkpoint/training-checkpoint.ts';
import type { Dataset } from '../../src/train/data/dataset.ts';
import { BatchSampler } from '../../src/train/data/sampler.ts';
import { tempHome } from '../helpers/cli.ts';

const DIGITS = join(import.meta.dirname, '../../examples/images/digits');
const TEXT = join(import.meta.dirname, '../../examples/text/brown-news.txt');
const SCRIPT = join(import.meta.dirname, '../../docs/examples/load_pytorch.py');
const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

/** A small image folder: the first `n` images of some digit classes of the example. */
function smallFolder(dir: string, classes: string[], n: number): string {
  for (const c of classes) {
    mkdirSync(join(dir, c), { recursive: true });
    for (const f of readdirSync(join(DIGITS, c)).sort().slice(0, n))
      cpSync(join(DIGITS, c, f), join(dir, c, f));
  }
  return dir;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('image task on an image folder', () => {
  const spec = imageFolderSpec({ path: DIGITS, innerSteps: 10, rounds: 2 });

  it('makes a CNN spec from the folder and refuses inconsistent ones', () => {
    expect(spec.data).toEqual({
      format: 'images',
      channels: 1,
      height: 28,
      width: 28,
      classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    });
    expect(spec.model.kind).toBe('cnn');
    expect(spec.calibration).toBe('none');
    expect(validateJobSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
    expect(modelSpecHash(validateJobSpec(JSON.parse(JSON.stringify(spec))))).toBe(modelSpecHash(spec));
    const bad = (patch: Record<string, unknown>) => code(() => validateJobSpec({ ...spec, ...patch }));
    // a CNN whose input does not fit the data, a class count that does not, an unknown field
    expect(bad({ model: { ...spec.model, input: { channels: 3, height: 28, width: 28 } } })).toBe(
      'SPEC_INVALID',
    );
    expect(bad({ model: { ...spec.model, classes: 9 } })).toBe('SPEC_INVALID');
    expect(bad({ model: { ...spec.model, dropout: 0.5 } })).toBe('SPEC_INVALID');
    // a kernel that does not fit the map after pooling
    expect(
      bad({
        model: {
          ...spec.model,
          blocks: [
            { channels: 4, kernel: 3, padding: 0, pool: { kind: 'max', size: 8 } },
            { channels: 4, kernel: 5, padding: 0 },
          ],
        },
      }),
    ).toBe('SPEC_INVALID');
    expect(bad({ data: { ...spec.data, classes: ['a', 'a'] } })).toBe('SPEC_INVALID');
    expect(bad({ calibration: 'lda-head' })).toBe('SPEC_INVALID');
    expect(bad({ objective: 'lm' })).toBe('SPEC_INVALID');
  });

  it('describes a folder, matches it against specs, refuses stray files', () => {
    const home = tempHome();
    const d = imageTask.describe({ path: DIGITS, format: 'images' });
    expect(d).toMatchObject({
      kind: 'image',
      format: 'images',
      files: 1000,
      height: 28,
      width: 28,
      gray: true,
    });
    expect(imageTask.mismatch(spec, d)).toBeUndefined();
    const other = smallFolder(join(home, 'other'), ['1', '2'], 2);
    mkdirSync(join(other, 'cat'));
    cpSync(join(other, '1', readdirSync(join(other, '1'))[0]), join(other, 'cat', 'x.png'));
    expect(imageTask.mismatch(spec, imageTask.describe({ path: other, format: 'images' }))).toMatch(/cat/);
    writeFileSync(join(other, 'notes.txt'), 'hello');
    expect(code(() => imageTask.describe({ path: other, format: 'images' }))).toBe('DATA_BAD_SOURCE');
    expect(taskForFormat('images').kind).toBe('image');
    expect(taskForFormat('text').kind).toBe('text');
  });

  it('serves the attested records and the validator decodes them into the very same batches', () => {
    const home = tempHome();
    const root = smallFolder(join(home, 'shard'), ['0', '3', '8'], 6);
    const source = { path: root, format: 'images' as const };
    const data = imageTask.load(spec, source);
    const attested = readRecords(root, { format: 'images' });
    expect(attested.count).toBe(data.size);
    for (let i = 0; i < data.size; i++)
      expect(hex(keccak256Bytes(data.recordBytes(i)))).toBe(
        hex(attested.contentHashes.subarray(32 * i, 32 * i + 32)),
      );
    const idx = [0, 7, 17, 9];
    const window = imageTask.windowDataset(
      spec,
      idx.map((index) => ({ index, bytes: data.recordBytes(index), proof: [] })),
    );
    const a = data.getBatch(idx);
    const b = window.getBatch(idx);
    expect(Array.from(b.targets)).toEqual([0, 3, 8, 3]);
    expect(Array.from(b.targets)).toEqual(Array.from(a.targets));
    expect(hex(new Uint8Array((b.inputs as Float32Array).buffer))).toBe(
      hex(new Uint8Array((a.inputs as Float32Array).buffer)),
    );
    // a record whose label was changed does not decode as the same sample
    const forged = data.recordBytes(0).slice();
    forged[0] = '5'.charCodeAt(0);
    const w2 = imageTask.windowDataset(spec, [{ index: 0, bytes: forged, proof: [] }]);
    expect(Array.from(w2.getBatch([0]).targets)).toEqual([5]);
    expect(
      code(() => imageTask.windowDataset(spec, [{ index: 0, bytes: new Uint8Array([1, 2]), proof: [] }])),
    ).toBe('REPLAY_BAD_RECORD');
  });

  it('exports the CNN: torch-layout tensors, ONNX predictions = the runtime, PyTorch = ONNX within 1e-5', async () => {
    const home = tempHome();
    const small = imageFolderSpec({ path: DIGITS, innerSteps: 10, rounds: 3 });
    const data = imageTask.load(small, { path: DIGITS, format: 'images' });
    const dir = await trainAndExport(small, data, home, 30);
    const st = decodeSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))));
    expect([...st.tensors.keys()].sort()).toEqual([
      'conv0.bias',
      'conv0.weight',
      'conv1.bias',
      'conv1.weight',
      'fc0.bias',
      'fc0.weight',
      'fc1.bias',
      'fc1.weight',
    ]);
    expect(st.tensors.get('conv0.weight')!.shape).toEqual([8, 1, 3, 3]);
    expect(st.tensors.get('fc0.weight')!.shape).toEqual([64, 16 * 7 * 7]);
    expect(st.tensors.get('fc1.weight')!.shape).toEqual([10, 64]);
    const files = [
      '3/03133.png',
      ...['7', '9'].map((c) => `${c}/${readdirSync(join(DIGITS, c)).find((f) => f.endsWith('.jpg'))}`),
    ];
    const preds = await predictFromDir(
      dir,
      files.map((f) => ({ image: join(DIGITS, f) })),
    );
    expect(preds).toHaveLength(3);
    // the same images as pixel arrays give the same probabilities
    const g = { channels: 1 as const, height: 28, width: 28 };
    const pixels = files.map((f) =>
      Array.from(imagePixels(new Uint8Array(readFileSync(join(DIGITS, f))), f, g)),
    );
    const byPixels = await predictFromDir(dir, pixels);
    expect(byPixels).toEqual(preds);
    // ONNX agrees with the training runtime on the whole folder
    const rt = createTaskRuntime(small, { totalSteps: 30 });
    try {
      const ck = readExportConfig(dir);
      expect(ck.kind).toBe('image');
      const all = data.getBatch(Int32Array.from({ length: 200 }, (_, i) => i * 5));
      rt.setParams(decodeTrainingCheckpoint(readFileSync(join(dir, 'checkpoint.safetensors'))).params);
      const acc = (await rt.evaluate([all])).accuracy!;
      const rows = Array.from({ length: 200 }, (_, i) =>
        Array.from((all.inputs as Float32Array).subarray(i * 784, (i + 1) * 784), (x) => Math.round(x * 255)),
      );
      const p = await predictFromDir(dir, rows);
      const onnxAcc = p.filter((x, i) => 'classId' in x && x.classId === all.targets[i]).length / 200;
      expect(onnxAcc).toBeCloseTo(acc, 6);
      expect(acc).toBeGreaterThan(0.3); // 30 steps from θ0 (chance: 0.1)
    } finally {
      await rt.dispose();
    }
    if (!hasTorch) return;
    const input = join(home, 'rows.json');
    writeFileSync(input, JSON.stringify(pixels));
    const torch = JSON.parse(
      execFileSync('/usr/bin/python3', [SCRIPT, dir, input], { encoding: 'utf8' }),
    ) as {
      label: string;
      probabilities: Record<string, number>;
    }[];
    let worst = 0;
    preds.forEach((p, i) => {
      if (!('label' in p)) throw new Error('a class prediction');
      expect(torch[i].label).toBe(p.label);
      for (const [k, v] of Object.entries(p.probabilities))
        worst = Math.max(worst, Math.abs(v - torch[i].probabilities[k]));
    });
    expect(worst).toBeLessThan(1e-5);
  }, 120_000);
});

describe('text task', () => {
  const spec = textSpec({ dModel: 32, layers: 1, innerSteps: 10, rounds: 2 });

  it('makes a byte-LM spec and refuses inconsistent ones', () => {
    expect(spec.data).toEqual({ format: 'text', window: 65 });
    expect(spec.model).toMatchObject({ kind: 'transformer', vocabSize: 256, context: 64 });
    expect(spec.metric).toBe('bpb');
    expect(validateJobSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
    const bad = (patch: Record<string, unknown>) => code(() => validateJobSpec({ ...spec, ...patch }));
    expect(bad({ data: { format: 'text', window: 33 } })).toBe('SPEC_INVALID');
    expect(bad({ model: { ...spec.model, vocabSize: 512 } })).toBe('SPEC_INVALID');
    expect(bad({ model: { ...spec.model, heads: 5 } })).toBe('SPEC_INVALID');
    expect(bad({ metric: 'accuracy' })).toBe('SPEC_INVALID');
    expect(bad({ drift: 'fixed-head' })).toBe('SPEC_INVALID');
    // the command-line shortcuts (`agora job create|spec --task image|text`)
    expect(jobSpecFromCli({ task: 'text', H: '40', rounds: '3' })).toMatchObject({
      kind: 'text',
      innerSteps: 40,
      rounds: 3,
    });
    expect(jobSpecFromCli({ task: 'image', data: DIGITS }).model.kind).toBe('cnn');
    expect(code(() => jobSpecFromCli({ task: 'image' }))).toBe('BAD_OPTION');
  });

  it('registers whole windows (plain text and a JSONL field) and replays them into the same batches', () => {
    const home = tempHome();
    const text = readFileSync(TEXT).subarray(0, 65 * 40 + 17);
    const path = join(home, 'a.txt');
    writeFileSync(path, text);
    const source = { path, format: 'text' as const };
    const d = textTask.describe(source);
    expect(d).toMatchObject({ kind: 'text', window: 65, windows: 40, bytes: text.length });
    expect(textTask.mismatch(spec, d)).toBeUndefined();
    expect(textTask.mismatch(spec, textTask.describe({ ...source, context: 32 }))).toMatch(/--context 64/);
    const att = textTask.attested!(source, home);
    expect(att).toEqual({ path, format: 'text', chunkBytes: 65 });
    const records = readRecords(att.path, { format: 'text', chunkBytes: att.chunkBytes });
    const data = textTask.load(spec, source);
    expect(data.size).toBe(40);
    expect(records.count).toBe(41); // the partial tail is attested, never trained on
    for (let i = 0; i < data.size; i++)
      expect(hex(keccak256Bytes(data.recordBytes(i)))).toBe(
        hex(records.contentHashes.subarray(32 * i, 32 * i + 32)),
      );
    const idx = [3, 39, 0];
    const w = textTask.windowDataset(
      spec,
      idx.map((index) => ({ index, bytes: data.recordBytes(index), proof: [] })),
    );
    expect(Array.from(w.getBatch(idx).inputs)).toEqual(Array.from(data.getBatch(idx).inputs));
    expect(Array.from(w.getBatch(idx).targets)).toEqual(Array.from(data.getBatch(idx).targets));
    // JSONL: the field's documents joined with \n, registered as the extracted stream
    const jsonl = join(home, 'docs.jsonl');
    const docs = Array.from({ length: 30 }, (_, i) => ({
      id: i,
      body: `document ${i}: ${text.subarray(i * 80, i * 80 + 80).toString()}`,
    }));
    writeFileSync(jsonl, docs.map((x) => JSON.stringify(x)).join('\n'));
    const js = { path: jsonl, format: 'text' as const, textField: 'body' };
    const a2 = textTask.attested!(js, home);
    expect(readFileSync(a2.path, 'utf8')).toBe(docs.map((x) => x.body).join('\n'));
    const d2 = textTask.load(spec, js);
    const r2 = readRecords(a2.path, { format: 'text', chunkBytes: 65 });
    expect(hex(keccak256Bytes(d2.recordBytes(5)))).toBe(hex(r2.contentHashes.subarray(32 * 5, 32 * 6)));
    expect(code(() => textTask.describe({ ...js, textField: 'missing' }))).toBe('DATA_BAD_FILE');
  });

  it('exports the LM and generates text and scores bits per byte with model.onnx', async () => {
    const home = tempHome();
    const data = textTask.load(spec, { path: TEXT, format: 'text' });
    const dir = await trainAndExport(spec, data, home, 30);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(config.preprocessing).toMatchObject({ task: 'text', objective: 'lm', context: 64 });
    const [p] = await predictFromDir(dir, [{ prompt: 'The jury said', maxTokens: 30, temperature: 0 }]);
    expect(p).toMatchObject({ prompt: 'The jury said', tokens: 30 });
    expect(Buffer.byteLength((p as { text: string }).text)).toBeGreaterThan(0);
    const again = await predictFromDir(dir, [{ prompt: 'The jury said', maxTokens: 30, temperature: 0 }]);
    expect(again[0]).toEqual(p);
    const sampled = await predictFromDir(dir, [{ prompt: 'The jury', maxTokens: 20, seed: 3 }]);
    expect((await predictFromDir(dir, [{ prompt: 'The jury', maxTokens: 20, seed: 3 }]))[0]).toEqual(
      sampled[0],
    );
    // the score of held text equals the runtime's loss on the same windows
    const lm = await ByteLm.load(dir, readExportConfig(dir));
    const rt = createTaskRuntime(spec, { totalSteps: 30 });
    try {
      const w = data.recordBytes(100);
      const s = await lm.score(Buffer.from(w).toString('latin1'));
      rt.setParams(decodeTrainingCheckpoint(readFileSync(join(dir, 'checkpoint.safetensors'))).params);
      const ev = await rt.evaluate([data.getBatch([100])]);
      expect(s.bytes).toBe(64);
      expect(s.bitsPerByte).toBeCloseTo(ev.loss / Math.LN2, 4);
    } finally {
      await lm.dispose();
      await rt.dispose();
    }
    await expect(predictFromDir(dir, [{ text: 'no prompt' }])).rejects.toMatchObject({
      code: 'PREDICT_BAD_INPUT',
    });
  }, 60_000);
});

/** Trains `steps` inner steps from θ0 and exports the model; returns the export directory. */
async function trainAndExport(
  spec: ReturnType<typeof textSpec>,
  data: Dataset,
  home: string,
  steps: number,
): Promise<string> {
  const rt = createTaskRuntime(spec, { totalSteps: steps });
  try {
    initTaskParams(spec, rt);
    const sampler = new BatchSampler(
      Int32Array.from({ length: data.size }, (_, i) => i),
      spec.batchSize,
      1,
    );
    await rt.train(Array.from({ length: steps }, () => data.getBatch(sampler.next())));
    const { bytes } = encodeTrainingCheckpoint({ params: rt.getParams(), info: { task: spec.name } });
    writeCheckpointFile(join(home, 'ck.safetensors'), bytes);
  } finally {
    await rt.dispose();
  }
  const r = await exportJobModel({
    spec,
    checkpointPath: join(home, 'ck.safetensors'),
    dir: join(home, 'export'),
  });
  return r.dir;
}
