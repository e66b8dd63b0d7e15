/**
 * What `agora serve` serves: a trained model read from disk, with the facts a buyer checks it by
 * (model hash, job id, provenance manifest). Model loading is `loadModelDir`: a job's raw
 * `model.safetensors` (an Agora training checkpoint of a preset task) + its provenance manifest, or an
 * export directory (`agora job model ID --out DIR`: config.json, model.onnx, checkpoint.safetensors)
 * of any task kind. MLP image classifiers on raw pixels (the `mnist-mlp` preset) keep the batching
 * fast path; every other model runs the export's own encoding and ONNX graph (src/task/export.ts).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Hex } from 'viem';
import { type ProvenanceManifest, parseProvenanceManifest } from '../data/provenance.ts';
import { provenanceManifestPath } from '../data/store.ts';
import { AgoraError } from '../errors.ts';
import { type ExportConfig, readExportConfig } from '../task/export.ts';
import { presetSpec } from '../task/presets.ts';
import { validateJobSpec } from '../task/registry.ts';
import type { JobSpec } from '../task/spec.ts';
import { readCheckpointFile } from '../train/checkpoint/files.ts';
import { decodeTrainingCheckpoint } from '../train/checkpoint/training-checkpoint.ts';
import { buildModel } from '../train/models/index.ts';
import type { MlpSpec } from '../train/models/spec.ts';

/** What a served model answers: classes (predict), values (predict) or text (generate, score). */
export type ServedKind = 'classifier' | 'regressor' | 'lm';

type ServedCommon = {
  /** URL-safe id: the job id when known, else `m-` + the first 12 hex digits of the model hash. */
  id: string;
  /** keccak256 of the checkpoint file: the final model hash on chain. */
  modelHash: Hex;
  jobId: string | null;
  /** The job spec's name, e.g. `mnist-mlp`. */
  task: string;
  /** The task kind: `image`, `tabular`, `text`. */
  taskKind: string;
  kind: ServedKind;
  /** The job's metric (`accuracy`, `rmse`, `bpb`, …). */
  metric: string;
  /** How inputs are encoded, for the OpenAPI document and error messages. */
  inputDescription: string;
  manifest: ProvenanceManifest | null;
  /** Where it was read from. */
  source: string;
};

/**
 * An MLP image classifier on raw features (the `mnist-mlp` preset): served by the batching ONNX
 * fast path (`BatchingClassifier`) on 784 floats in [0, 1] per row.
 */
export type MlpServedModel = ServedCommon & {
  engine: 'mlp';
  kind: 'classifier';
  spec: MlpSpec;
  /** One array per parameter tensor, in the model's parameter order. */
  weights: Float32Array[];
  inputSize: number;
  classes: number;
};

/**
 * Any other exported model (tabular classifier or regressor, image-folder CNN, byte-level LM): run
 * from its export directory with the task's own encoding, exactly as `agora model predict` runs it.
 */
export type ExportServedModel = ServedCommon & {
  engine: 'export';
  /** The export directory (config.json, model.onnx). */
  dir: string;
  config: ExportConfig;
};

export type ServedModel = MlpServedModel | ExportServedModel;

const INPUT_DESCRIPTIONS: Record<string, string> = {
  'mnist-mlp': '784 floats in [0, 1]: a 28×28 grayscale digit, row-major, pixel / 255 (white digit on black)',
};

/** The fast path serves MLP image classifiers on raw pixels (the IDX presets), as it always has. */
function isFastMlp(spec: JobSpec): spec is JobSpec & { model: MlpSpec } {
  return (
    spec.kind === 'image' &&
    spec.model.kind === 'mlp' &&
    spec.objective === 'classification' &&
    (spec.data as { format?: string }).format === 'idx'
  );
}

function kindOf(objective: string | undefined): ServedKind {
  return objective === 'lm' ? 'lm' : objective === 'regression' ? 'regressor' : 'classifier';
}

/** The input format of an exported model in words (from its config.json preprocessing). */
function describeExportInput(config: ExportConfig): string {
  const p = config.preprocessing as Record<string, unknown>;
  if (config.objective === 'lm') {
    return `text (UTF-8 bytes, context ${String(p.context)}): generate {"prompt", "maxTokens"?, "temperature"?, "topK"?, "seed"?}; score {"text"}`;
  }
  if (config.kind === 'tabular') {
    const numeric = (p.numeric as { name: string }[]).map((c) => c.name);
    const categorical = (p.categorical as { name: string; values: string[] }[]).map(
      (c) => `${c.name} (${c.values.join('|')})`,
    );
    return (
      `a JSON object of column values per row: numeric ${numeric.join(', ') || '-'}; categorical ${categorical.join(', ') || '-'}; ` +
      `missing: null, absent or one of ${JSON.stringify(p.missingTokens ?? [])}` +
      (config.objective === 'regression' ? `; predicts ${String(p.label)} in its own units` : '')
    );
  }
  const input = p.input as { shape: number[]; scale: number } | undefined;
  const shape = input?.shape ?? config.onnx.inputShape.slice(1);
  const size = shape.reduce((a, b) => Number(a) * Number(b), 1);
  return `${size} pixel values 0..255 per row (${shape.join('×')}, row-major${shape.length >= 3 ? ', CHW' : ''}; scaled by ${input?.scale ?? 1 / 255} inside)`;
}

/** The architecture of a preset task's model (a job's raw checkpoint records its spec name). */
function specOfTask(task: string): JobSpec {
  try {
    return presetSpec(task);
  } catch (e) {
    throw new AgoraError(
      'SERVE_UNKNOWN_TASK',
      `the model was trained for task "${task}", which this node cannot serve`,
      {
        hint: 'export the model with `agora job model ID --out DIR` (its config.json holds the spec) and serve DIR',
        cause: e,
      },
    );
  }
}

/** Splits a flat parameter vector into one array per tensor of the model. */
export function splitParams(spec: MlpSpec, flat: Float32Array): Float32Array[] {
  const model = buildModel(spec);
  const sizes = model.params.map((p) => p.shape.reduce((a, b) => a * b, 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (flat.length !== total) {
    throw new AgoraError(
      'SERVE_BAD_MODEL',
      `the checkpoint has ${flat.length} parameters; a ${spec.sizes.join('-')} MLP has ${total}`,
      { hint: 'the checkpoint does not belong to this task: re-export the model of the job' },
    );
  }
  let off = 0;
  return sizes.map((n) => {
    const p = flat.slice(off, off + n);
    off += n;
    return p;
  });
}

/**
 * Loads a model from a file or directory: `DIR/model.safetensors` (or the file itself) and its
 * provenance manifest beside it, if any. The one place that knows model file formats.
 */
export function loadModelDir(pathOrDir: string): ServedModel {
  if (!existsSync(pathOrDir)) {
    throw new AgoraError('SERVE_NO_MODEL', `no model at ${pathOrDir}`, {
      hint: 'pass a directory written by `agora job model ID --out DIR`, or use --job ID',
    });
  }
  const isDir = statSync(pathOrDir).isDirectory();
  // An export (`agora job model`): config.json carries the job spec, checkpoint.safetensors the
  // committed checkpoint (its hash is the model hash on chain). Else a raw job checkpoint.
  const exported = isDir && existsSync(join(pathOrDir, 'config.json'));
  const file = exported
    ? join(pathOrDir, 'checkpoint.safetensors')
    : isDir
      ? join(pathOrDir, 'model.safetensors')
      : pathOrDir;
  if (!existsSync(file)) {
    throw new AgoraError(
      'SERVE_NO_MODEL',
      `${pathOrDir} has no ${exported ? 'checkpoint' : 'model'}.safetensors`,
      {
        hint: 'write it with `agora job model ID --out DIR`',
      },
    );
  }
  const { bytes, hash } = readCheckpointFile(file);
  const ck = decodeTrainingCheckpoint(bytes);
  const manifestPath = provenanceManifestPath(file);
  const manifest = existsSync(manifestPath)
    ? parseProvenanceManifest(readFileSync(manifestPath, 'utf8'), manifestPath)
    : null;
  if (manifest && manifest.modelHash.toLowerCase() !== hash.toLowerCase()) {
    throw new AgoraError(
      'SERVE_MANIFEST_MISMATCH',
      `${manifestPath} describes model ${manifest.modelHash}, but ${file} hashes to ${hash}`,
      { hint: 'the manifest belongs to another model: export the job model again' },
    );
  }
  const config = exported ? readExportConfig(pathOrDir) : undefined;
  const jobSpec = config
    ? validateJobSpec((config as unknown as { spec: unknown }).spec)
    : specOfTask(ck.info?.task ?? 'mnist-mlp');
  const jobId = manifest?.jobId ?? ck.info?.job ?? config?.jobId ?? null;
  const common = {
    id: jobId ?? `m-${hash.slice(2, 14)}`,
    modelHash: hash.toLowerCase() as Hex,
    jobId,
    task: jobSpec.name,
    taskKind: jobSpec.kind,
    metric: jobSpec.metric,
    manifest,
    source: file,
  };
  if (isFastMlp(jobSpec)) {
    const spec = jobSpec.model;
    return {
      ...common,
      engine: 'mlp',
      kind: 'classifier',
      spec,
      weights: splitParams(spec, ck.params),
      inputSize: spec.sizes[0],
      classes: spec.sizes[spec.sizes.length - 1],
      inputDescription: INPUT_DESCRIPTIONS[jobSpec.name] ?? `${spec.sizes[0]} floats in [0, 1] (pixel / 255)`,
    };
  }
  if (!config) {
    throw new AgoraError(
      'SERVE_UNSUPPORTED_MODEL',
      `${file} is a raw ${jobSpec.kind} checkpoint; only exported models of this kind can be served`,
      { hint: 'export it with `agora job model ID --out DIR` and serve DIR' },
    );
  }
  return {
    ...common,
    engine: 'export',
    kind: kindOf(config.objective ?? jobSpec.objective),
    dir: pathOrDir,
    config,
    inputDescription: describeExportInput(config),
  };
}
