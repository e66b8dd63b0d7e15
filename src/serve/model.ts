/**
 * What `agora serve` serves: a trained model read from disk, with the facts a buyer checks it by
 * (model hash, job id, provenance manifest). Model loading stays behind `loadModelDir` so another
 * export format (named-tensor safetensors + config.json + model.onnx) slots in beside today's
 * `model.safetensors` (an Agora training checkpoint) + `model.safetensors.provenance.json`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Hex } from 'viem';
import { type ProvenanceManifest, parseProvenanceManifest } from '../data/provenance.ts';
import { provenanceManifestPath } from '../data/store.ts';
import { AgoraError } from '../errors.ts';
import { presetSpec } from '../task/presets.ts';
import { validateJobSpec } from '../task/registry.ts';
import type { JobSpec } from '../task/spec.ts';
import { readCheckpointFile } from '../train/checkpoint/files.ts';
import { decodeTrainingCheckpoint } from '../train/checkpoint/training-checkpoint.ts';
import { buildModel } from '../train/models/index.ts';
import type { MlpSpec } from '../train/models/spec.ts';

/** A classifier ready for inference: its architecture, weights in parameter order, and identity. */
export type ServedModel = {
  /** URL-safe id: the job id when known, else `m-` + the first 12 hex digits of the model hash. */
  id: string;
  /** keccak256 of the checkpoint file: the final model hash on chain. */
  modelHash: Hex;
  jobId: string | null;
  /** e.g. `mnist-mlp`. */
  task: string;
  kind: 'classifier';
  spec: MlpSpec;
  /** One array per parameter tensor, in the model's parameter order. */
  weights: Float32Array[];
  inputSize: number;
  classes: number;
  /** How inputs are encoded, for the OpenAPI document and error messages. */
  inputDescription: string;
  manifest: ProvenanceManifest | null;
  /** Where it was read from. */
  source: string;
};

const INPUT_DESCRIPTIONS: Record<string, string> = {
  'mnist-mlp': '784 floats in [0, 1]: a 28×28 grayscale digit, row-major, pixel / 255 (white digit on black)',
};

/** The MLP classifier a job spec describes (served models are MLP classifiers today). */
function mlpOf(spec: JobSpec): MlpSpec {
  if (spec.model.kind !== 'mlp' || spec.objective !== 'classification') {
    throw new AgoraError(
      'SERVE_UNSUPPORTED_MODEL',
      `the model of "${spec.name}" is a ${spec.model.kind} ${spec.objective} model; agora serve serves MLP classifiers today`,
      { hint: 'run it locally with `agora model predict DIR --input …`' },
    );
  }
  return spec.model;
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
  const jobSpec = exported
    ? validateJobSpec(
        (JSON.parse(readFileSync(join(pathOrDir, 'config.json'), 'utf8')) as { spec: unknown }).spec,
      )
    : specOfTask(ck.info?.task ?? 'mnist-mlp');
  const task = jobSpec.name;
  const spec = mlpOf(jobSpec);
  const jobId = manifest?.jobId ?? ck.info?.job ?? null;
  const classes = spec.sizes[spec.sizes.length - 1];
  return {
    id: jobId ?? `m-${hash.slice(2, 14)}`,
    modelHash: hash.toLowerCase() as Hex,
    jobId,
    task,
    kind: 'classifier',
    spec,
    weights: splitParams(spec, ck.params),
    inputSize: spec.sizes[0],
    classes,
    inputDescription: INPUT_DESCRIPTIONS[task] ?? `${spec.sizes[0]} floats`,
    manifest,
    source: file,
  };
}
