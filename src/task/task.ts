/**
 * The `Task` interface: everything about a job that depends on its task kind, so the provider,
 * validator and coordinator code names no task. One implementation per kind, one file each
 * (src/task/image.ts, src/task/tabular.ts; registered in src/task/registry.ts):
 *  - `validate`: the kind's checks of a spec's `data`, `preprocessing`, `model`, metric and
 *    calibration (the common fields are checked by src/task/spec.ts);
 *  - `describe` / `mismatch`: the schema of a provider's local data (recorded in its dataset
 *    manifest) and why it does not satisfy a job's data schema;
 *  - `load`: the provider's data as the model sees it, record bytes = the registered records;
 *  - `windowDataset`: a validator's dataset of the records a worker served for a replay window;
 *  - `preparation`: statistics the swarm all-reduces before round 0 (tabular standardization), so
 *    every provider preprocesses alike without pooling data;
 *  - `evaluate`: the job's metric; `exportConfig` / `predict`: what a user needs to run the model.
 */

import type { RecordFormat } from '../data/records.ts';
import type { Dataset } from '../train/data/dataset.ts';
import type { TensorBatch } from '../train/runtime.ts';
import type { WindowRecord } from '../verify/trace-wire.ts';
import type { JobSpec } from './spec.ts';

/** Where a provider's data is and how to read it (`agora node start --data --format --label`). */
export type DataSource = {
  path: string;
  format: DataFormat;
  /** Tabular: the label column. */
  label?: string;
  /** Text from a JSONL file: the string field holding the text (`--text-field`, default `text`). */
  textField?: string;
  /** Text: bytes of context per training window (`--context`, default 64); records are context+1 bytes. */
  context?: number;
};

/** What a provider registers for a data source: the records `agora data add` would attest. */
export type AttestedSource = { path: string; format: RecordFormat; chunkBytes?: number };
export const DATA_FORMATS = ['idx', 'csv', 'jsonl', 'images', 'text'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];

/**
 * The schema of a provider's data as JSON (the `taskSchema` of its dataset manifest): `kind` is the
 * task kind that reads it, the rest is the kind's own description.
 */
export type DataDescription = { kind: string } & Record<string, unknown>;

/**
 * Statistics that must be the same on every node before round 0, computed by the swarm:
 * each provider's `local` vector is mean-all-reduced (fp32), and `fromReduced` turns the result into
 * the preprocessing state every node applies. The state travels in every checkpoint (`info.prep`),
 * so validators and late joiners read it from a committed model.
 */
export type Preparation = {
  /** Length of the statistics vector of `spec`. */
  length(spec: JobSpec): number;
  /**
   * The float64 statistics of the records [from, to) of `data`: one chunk of this provider's
   * statistics, which validators recompute from the chunk's records (src/verify/prep-stats.ts).
   */
  chunk(spec: JobSpec, data: Dataset, from: number, to: number): Float64Array;
  /** This provider's statistics vector over its data: f32 of the chunk-order sum of its chunks. */
  local(spec: JobSpec, data: Dataset): Float32Array;
  /** The preprocessing state from the mean of every provider's vector. */
  fromReduced(spec: JobSpec, reduced: Float32Array): PrepState;
};
/** A task's preprocessing state as JSON (what the checkpoints carry). */
export type PrepState = Record<string, unknown>;

export type Evaluation = { metric: string; value: number; extra?: Record<string, number> };

/** A prediction for one input: class probabilities, or a regression value. */
export type Prediction =
  | { label: string; classId: number; probabilities: Record<string, number> }
  | { value: number }
  /** A language model's continuation of a prompt. */
  | { prompt: string; text: string; tokens: number };

export interface Task {
  readonly kind: string;
  /** Data formats this task reads (`--format`). */
  readonly formats: readonly DataFormat[];
  /** Checks and normalizes the task part of a spec (throws `SPEC_INVALID` with the reason). */
  validate(spec: JobSpec): JobSpec;
  /** The schema of the data at `source` (throws `DATA_*` when it cannot be read). */
  describe(source: DataSource): DataDescription;
  /**
   * The records to register for `source` (default: the source itself in its format). `workDir` is
   * the node's own directory, for a derived file (e.g. the byte stream of a JSONL text field).
   */
  attested?(source: DataSource, workDir: string): AttestedSource;
  /** Why data described by `d` cannot serve `spec` (undefined: it can). */
  mismatch(spec: JobSpec, d: DataDescription): string | undefined;
  /** The provider's data for `spec`, preprocessed with `prep` (undefined before the swarm's statistics exist). */
  load(spec: JobSpec, source: DataSource, prep?: PrepState): Dataset;
  /** A dataset of a replay window's records, addressed by their dataset indices. */
  windowDataset(spec: JobSpec, records: readonly WindowRecord[], prep?: PrepState): Dataset;
  /** Swarm statistics before round 0 (undefined: the task needs none). */
  readonly preparation?: Preparation;
  /**
   * The job's metric of logits `[n, outputs]` against `targets` as the dataset's batches give them;
   * `prep`: the model's preprocessing state (a regression's RMSE is in the label's original units).
   */
  evaluate(
    spec: JobSpec,
    logits: Float32Array,
    targets: Int32Array | Float32Array,
    prep?: PrepState,
  ): Evaluation;
  /** Held-out batches a validator scores pseudo-gradients on (none: the task has no public data). */
  heldOut?(spec: JobSpec): TensorBatch[];
  /** The `config.json` of an exported model: architecture and preprocessing, to rebuild it elsewhere. */
  exportConfig(spec: JobSpec, prep?: PrepState): Record<string, unknown>;
  /** Model inputs for user rows (JSON objects or raw feature arrays), with the exported config. */
  encodeInputs(config: Record<string, unknown>, rows: readonly unknown[]): Float32Array;
  /** Predictions from the model's outputs `[n, outputs]`. */
  decodeOutputs(config: Record<string, unknown>, outputs: Float32Array, n: number): Prediction[];
}

/** The task's swarm statistics a checkpoint carries (`info.prep`), if any. */
export function prepOfInfo(info: Record<string, string> | undefined): PrepState | undefined {
  const raw = info?.prep;
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as PrepState) : undefined;
  } catch {
    return undefined;
  }
}

/** Shared helpers of classification tasks. */
export function softmaxRow(logits: Float32Array, off: number, k: number): Float32Array {
  let m = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < k; j++) m = Math.max(m, logits[off + j]);
  const out = new Float32Array(k);
  let s = 0;
  for (let j = 0; j < k; j++) {
    out[j] = Math.exp(logits[off + j] - m);
    s += out[j];
  }
  for (let j = 0; j < k; j++) out[j] /= s;
  return out;
}

/** Accuracy and macro-F1 of argmax(logits) against integer labels. */
export function classificationMetrics(
  logits: Float32Array,
  targets: ArrayLike<number>,
  classes: number,
): { accuracy: number; macroF1: number } {
  const n = targets.length;
  const tp = new Float64Array(classes);
  const fp = new Float64Array(classes);
  const fn = new Float64Array(classes);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < classes; j++) if (logits[i * classes + j] > logits[i * classes + best]) best = j;
    const y = targets[i];
    if (best === y) {
      correct++;
      tp[y]++;
    } else {
      fp[best]++;
      fn[y]++;
    }
  }
  let f1 = 0;
  let present = 0;
  for (let c = 0; c < classes; c++) {
    if (tp[c] + fn[c] === 0 && fp[c] === 0) continue;
    present++;
    const d = 2 * tp[c] + fp[c] + fn[c];
    f1 += d > 0 ? (2 * tp[c]) / d : 0;
  }
  return { accuracy: n > 0 ? correct / n : 0, macroF1: present > 0 ? f1 / present : 0 };
}
