/**
 * The job spec document (pure): what a requester asks the swarm to train, as a versioned JSON
 * document that every provider and validator reads from the chain (docs/tasks.md). It names the task
 * kind, the data schema every provider's data must satisfy, the preprocessing, the model, the
 * DiLoCo settings (H, rounds, batch, inner AdamW lr and schedule, outer optimizer, codec), the drift
 * correction, the all-reduce aggregator, the last round's calibration, the eval metric and the export
 * targets. keccak256 of its canonical JSON (sorted keys, no spaces, UTF-8) is the job's
 * `modelSpecHash` on chain; the document itself is published in a `JobSpecPublished` event whose
 * hash the contract computes (src/task/spec-source.ts).
 *
 * The common fields are checked here; the task-specific parts (`data`, `preprocessing`, `model`) by
 * the task kind's own schema (src/task/registry.ts), so a new task kind is one file.
 */
import { type Hex, keccak256, toBytes } from 'viem';
import { z } from 'zod';
import { AgoraError } from '../errors.ts';
import type { CodecName } from '../train/codec.ts';
import { buildModel } from '../train/models/index.ts';
import type { ModelSpec } from '../train/models/spec.ts';
import type { OuterOptimizerConfig } from '../train/outer-optimizer.ts';
import type { InnerOptimizerConfig } from '../train/runtime.ts';
import { innerConfig } from '../train/schedule.ts';

/** The document version this node reads and writes. */
export const JOB_SPEC_VERSION = 1;
/** Largest canonical spec document (bytes); the ComputeMarket refuses larger ones too. */
export const MAX_SPEC_BYTES = 16_384;

/** The drift corrections a job can ask for (`agora job create --drift`). */
export const TASK_DRIFTS = ['fixed-head', 'etf-head', 'none'] as const;
export type TaskDrift = (typeof TASK_DRIFTS)[number];
/** The all-reduce aggregators a job can ask for (`agora job create --aggregator`). */
export const TASK_AGGREGATORS = ['mean', 'centered-clip', 'trimmed-mean'] as const;
export type TaskAggregatorName = (typeof TASK_AGGREGATORS)[number];
/** What the last round does to the output layer (`agora job create --calibration`). */
export const TASK_CALIBRATIONS = ['lda-head', 'none'] as const;
export type TaskCalibration = (typeof TASK_CALIBRATIONS)[number];
export const TASK_METRICS = ['accuracy', 'macro-f1', 'rmse', 'bpb'] as const;
export type TaskMetric = (typeof TASK_METRICS)[number];
export const EXPORT_TARGETS = ['safetensors', 'onnx'] as const;
export const CODECS = ['fp32', 'fp16', 'int8', 'int4'] as const;

const posInt = (max: number) => z.number().int().min(1).max(max);
const finite = z.number().finite();

/** The common part of every job spec (the task's parts are checked by its kind's schemas). */
const commonSchema = z
  .object({
    version: z.literal(JOB_SPEC_VERSION),
    /** A short name (the preset's, or the requester's): shown in logs and exports. */
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lowercase letters, digits, . _ -, at most 64'),
    /** The task kind (`image`, `tabular`, …): which `Task` builds, loads and scores it. */
    kind: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/),
    objective: z.enum(['classification', 'regression', 'lm']),
    data: z.record(z.string(), z.unknown()),
    preprocessing: z.record(z.string(), z.unknown()),
    model: z.object({ kind: z.string() }).passthrough(),
    /** DiLoCo: inner steps per round (H), outer rounds, per-worker batch. Must equal the job's on chain. */
    innerSteps: posInt(100_000),
    rounds: posInt(100_000),
    batchSize: posInt(65_536),
    /** Inner AdamW peak learning rate and its schedule (linear warmup, cosine decay to minLrRatio·lr). */
    lr: finite.positive().max(10),
    schedule: z
      .object({
        kind: z.literal('warmup-cosine'),
        warmupSteps: z.number().int().min(0).max(10_000_000),
        minLrRatio: finite.min(0).max(1),
      })
      .strict(),
    outer: z
      .object({ lr: finite.positive().max(10), momentum: finite.min(0).max(0.999), nesterov: z.boolean() })
      .strict(),
    codec: z.enum(CODECS),
    /** Seeds the initial parameters and the providers' samplers (the same on every node). */
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1),
    drift: z.enum(TASK_DRIFTS),
    aggregator: z.enum(TASK_AGGREGATORS),
    calibration: z.enum(TASK_CALIBRATIONS),
    metric: z.enum(TASK_METRICS),
    export: z.array(z.enum(EXPORT_TARGETS)).max(EXPORT_TARGETS.length),
  })
  .strict();

/**
 * A job spec. `data`, `preprocessing` and `model` are the task kind's (their types are narrowed by
 * the task: `TabularData`, `MlpSpec`, …).
 */
export type JobSpec = {
  version: typeof JOB_SPEC_VERSION;
  name: string;
  kind: string;
  objective: 'classification' | 'regression' | 'lm';
  data: Record<string, unknown>;
  preprocessing: Record<string, unknown>;
  model: ModelSpec;
  innerSteps: number;
  rounds: number;
  batchSize: number;
  lr: number;
  schedule: { kind: 'warmup-cosine'; warmupSteps: number; minLrRatio: number };
  outer: OuterOptimizerConfig;
  codec: CodecName;
  seed: number;
  drift: TaskDrift;
  aggregator: TaskAggregatorName;
  calibration: TaskCalibration;
  metric: TaskMetric;
  export: ('safetensors' | 'onnx')[];
};
/** The name the node code knew the spec by. */
export type TaskSpec = JobSpec;

/** Canonical JSON (keys sorted recursively, no whitespace). */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  if (typeof v === 'number' && !Number.isFinite(v)) {
    throw new AgoraError('SPEC_INVALID', `the job spec holds a non-finite number (${v})`);
  }
  return JSON.stringify(v);
}

/** The canonical bytes of a spec: what is published on chain and hashed. */
export function specBytes(spec: JobSpec): Uint8Array {
  return toBytes(canonicalJson(spec));
}

/** The job's `modelSpecHash`: keccak256 of the spec's canonical JSON. */
export function modelSpecHash(spec: JobSpec): Hex {
  return keccak256(specBytes(spec));
}

/** Problems of a parsed zod result as one line each (path: message). */
export function zodProblems(e: z.ZodError): string[] {
  return e.issues.slice(0, 8).map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
}

/**
 * Checks the common part of a spec (types, ranges, versions, size). The task-specific checks are
 * `validateJobSpec` in src/task/registry.ts, which calls this first.
 */
export function checkCommon(input: unknown): JobSpec {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new AgoraError('SPEC_INVALID', 'a job spec is a JSON object', {
      hint: 'start from a preset: `agora job spec --preset mnist-mlp` prints one',
    });
  }
  const v = (input as { version?: unknown }).version;
  if (v !== undefined && v !== JOB_SPEC_VERSION) {
    throw new AgoraError(
      'SPEC_VERSION',
      `job spec version ${String(v)} is not supported (this node reads ${JOB_SPEC_VERSION})`,
      {
        hint: 'upgrade agora, or write the spec in version 1',
      },
    );
  }
  const r = commonSchema.safeParse(input);
  if (!r.success) {
    throw new AgoraError('SPEC_INVALID', `invalid job spec: ${zodProblems(r.error).join('; ')}`, {
      hint: 'see docs/tasks.md for the format; `agora job spec --preset mnist-mlp` prints a valid one',
    });
  }
  const spec = r.data as unknown as JobSpec;
  const size = specBytes(spec).byteLength;
  if (size > MAX_SPEC_BYTES) {
    throw new AgoraError(
      'SPEC_TOO_LARGE',
      `the job spec is ${size} bytes, over the ${MAX_SPEC_BYTES}-byte limit`,
      {
        hint: 'declare fewer columns or categorical values',
      },
    );
  }
  return spec;
}

/** Parses spec bytes (UTF-8 JSON) without checking the task part; size-capped before parsing. */
export function parseSpecJson(bytes: Uint8Array): unknown {
  if (bytes.byteLength > MAX_SPEC_BYTES) {
    throw new AgoraError(
      'SPEC_TOO_LARGE',
      `the job spec is ${bytes.byteLength} bytes, over the ${MAX_SPEC_BYTES}-byte limit`,
    );
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new AgoraError('SPEC_INVALID', `the job spec is not UTF-8 JSON: ${(e as Error).message}`, {
      hint: 'a spec file holds one JSON object (docs/tasks.md)',
    });
  }
}

/** The inner AdamW schedule for a whole job (`totalSteps` = rounds × H). */
export function innerOptimizerFor(spec: JobSpec, totalSteps: number): InnerOptimizerConfig {
  return innerConfig({
    lr: spec.lr,
    totalSteps,
    warmupSteps: spec.schedule.warmupSteps,
    minLrRatio: spec.schedule.minLrRatio,
  });
}

/** The default warmup of a job of `totalSteps` inner steps: 5%, at most 50 steps. */
export function defaultWarmup(totalSteps: number): number {
  return Math.min(50, Math.floor(totalSteps / 20));
}

/**
 * The DiLoCo settings of the built-in image, tabular and mnist-mlp specs for `innerSteps` (H) and
 * `rounds`: inner AdamW at lr 3e-3, batch 32, warmup-cosine to 10% with the default warmup; outer
 * Nesterov momentum 0.7 at lr 1; int8 pseudo-gradients; seed 1. (The text LM has its own.)
 */
export function defaultDilocoSettings(innerSteps: number, rounds: number) {
  return {
    innerSteps,
    rounds,
    batchSize: 32,
    lr: 3e-3,
    schedule: { kind: 'warmup-cosine', warmupSteps: defaultWarmup(rounds * innerSteps), minLrRatio: 0.1 },
    outer: { lr: 1, momentum: 0.7, nesterov: true },
    codec: 'int8',
    seed: 1,
  };
}

/** The number of parameters of a model spec (the provider's bounds compare it). */
export function parameterCount(model: ModelSpec): number {
  return buildModel(model).params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
}
