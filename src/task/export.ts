/**
 * A job's model as files people can use elsewhere (`agora job model ID --out DIR`, docs/tasks.md):
 *  - `model.safetensors`: the weights as named tensors, no optimizer state. MLP layers follow
 *    PyTorch's `nn.Linear` layout: `layers.{i}.weight` [out, in] and `layers.{i}.bias` [out]; other
 *    model kinds keep the engine's parameter names and shapes;
 *  - `config.json`: the architecture and the preprocessing (class names, column statistics,
 *    one-hot vocabularies, pixel scale), enough to rebuild and feed the model without agora;
 *  - `model.onnx`: the inference graph (input `input` [batch, features] float32 → output `logits`);
 *  - `checkpoint.safetensors`: the committed training checkpoint itself (its keccak256 is the job's
 *    final model hash on chain) with its provenance manifest beside it.
 * `predictFromDir` runs the exported ONNX model on user rows (`agora model predict`).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Hex } from 'viem';
import { AgoraError } from '../errors.ts';
import { readCheckpointFile } from '../train/checkpoint/files.ts';
import { encodeSafetensors, type Tensor, tensorFrom } from '../train/checkpoint/safetensors.ts';
import { decodeTrainingCheckpoint } from '../train/checkpoint/training-checkpoint.ts';
import { buildModel } from '../train/models/index.ts';
import { createRuntime } from '../train/onnx/index.ts';
import { OnnxSession } from '../train/onnx/session.ts';
import { ByteLm, generateRequestOf } from './generate.ts';
import { taskOf } from './registry.ts';
import { innerOptimizerFor, type JobSpec, modelSpecHash } from './spec.ts';
import { type Prediction, prepOfInfo } from './task.ts';

export const EXPORT_FORMAT = 'agora-model-v1';

export type ExportedModel = {
  dir: string;
  model: string;
  config: string;
  onnx: string;
  checkpoint: string;
  provenanceManifest: string | null;
};

/** The weights of a flat parameter vector as named tensors (see the module docs for the layout). */
export function namedTensors(spec: JobSpec, params: Float32Array): Record<string, Tensor> {
  const model = buildModel(spec.model);
  const out: Record<string, Tensor> = {};
  let off = 0;
  for (const p of model.params) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const v = params.subarray(off, off + n);
    off += n;
    const m = /^fc(\d+)\.(weight|bias)$/.exec(p.name);
    // dense layers in torch's nn.Linear layout: MLP `layers.{i}.*`, CNN `fc{j}.*`
    const name = m ? (spec.model.kind === 'mlp' ? `layers.${m[1]}.${m[2]}` : p.name) : p.name;
    if ((spec.model.kind === 'mlp' || spec.model.kind === 'cnn') && m && m[2] === 'weight') {
      const [rows, cols] = p.shape; // engine: [in, out]; torch: [out, in]
      const t = new Float32Array(n);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = v[i * cols + j];
      out[name] = tensorFrom('F32', [cols, rows], t);
    } else out[name] = tensorFrom('F32', p.shape, v.slice());
  }
  if (off !== params.length) {
    throw new AgoraError(
      'EXPORT_SHAPE',
      `the checkpoint has ${params.length} parameters, the spec's model ${off}`,
    );
  }
  return out;
}

/** Writes the exported model of `spec` from a committed training checkpoint file into `dir`. */
export async function exportJobModel(o: {
  spec: JobSpec;
  checkpointPath: string;
  provenanceManifest?: string;
  dir: string;
  jobId?: bigint;
}): Promise<ExportedModel> {
  const { spec, dir } = o;
  const file = readCheckpointFile(o.checkpointPath);
  const ck = decodeTrainingCheckpoint(file.bytes);
  const prep = prepOfInfo(ck.info);
  const task = taskOf(spec.kind);
  mkdirSync(dir, { recursive: true });
  const checkpoint = join(dir, 'checkpoint.safetensors');
  copyFileSync(o.checkpointPath, checkpoint);
  let provenanceManifest: string | null = null;
  if (o.provenanceManifest && existsSync(o.provenanceManifest)) {
    provenanceManifest = `${checkpoint}.provenance.json`;
    copyFileSync(o.provenanceManifest, provenanceManifest);
  }
  const meta = {
    format: EXPORT_FORMAT,
    modelSpecHash: modelSpecHash(spec),
    checkpointHash: file.hash,
    ...(o.jobId !== undefined ? { jobId: o.jobId.toString() } : {}),
  };
  const model = join(dir, 'model.safetensors');
  writeFileSync(model, encodeSafetensors(namedTensors(spec, ck.params), meta));
  const m = buildModel(spec.model);
  const inputs = m.inputShape(1);
  const config = {
    ...meta,
    name: spec.name,
    kind: spec.kind,
    objective: spec.objective,
    metric: spec.metric,
    architecture: architectureOf(spec),
    preprocessing: task.exportConfig(spec, prep),
    onnx: {
      file: 'model.onnx',
      input: 'input',
      inputShape: ['batch', ...inputs.shape.slice(1)],
      output: 'logits',
    },
    spec,
  };
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  const rt = createRuntime({ model: spec.model, optimizer: innerOptimizerFor(spec, 1), threads: 1 });
  const onnx = join(dir, 'model.onnx');
  try {
    rt.setParams(ck.params);
    writeFileSync(onnx, rt.exportInference());
  } finally {
    await rt.dispose();
  }
  return { dir, model, config: configPath, onnx, checkpoint, provenanceManifest };
}

/** The `architecture` of config.json: the spec's model with its tensor layout in words. */
function architectureOf(spec: JobSpec): Record<string, unknown> {
  const m = spec.model;
  if (m.kind === 'mlp') {
    return {
      ...m,
      activation: m.activation ?? 'relu',
      layout:
        'layers.{i}.weight [out, in], layers.{i}.bias [out]; activation between layers, none after the last',
    };
  }
  if (m.kind === 'cnn') {
    return {
      ...m,
      layout:
        'input [batch, C·H·W] reshaped to [batch, C, H, W]; per block i: conv{i}.weight [out, in, k, k] + conv{i}.bias (padding "same" = k//2), ReLU, then the pool (max or avg, stride = size unless given); flatten (or "gap": mean over H×W); fc{j}.weight [out, in] + fc{j}.bias, ReLU between dense layers, none after the last',
    };
  }
  return {
    ...m,
    layout:
      'tok_emb [256, D], pos_emb [T, D]; per layer l: h{l}.ln1.*, h{l}.attn.qkv.weight [D, 3D] (x @ W, columns q|k|v, heads contiguous), h{l}.attn.proj.weight [D, D], h{l}.ln2.*, h{l}.mlp.fc.weight [D, F], h{l}.mlp.proj.weight [F, D] (exact GELU); pre-LN residual blocks, causal attention; ln_f.*; logits = x @ tok_emb.T when tieEmbeddings',
  };
}

export type ExportConfig = {
  format: string;
  /** The job spec's name (e.g. `clinic-visits`). */
  name?: string;
  kind: string;
  /** `classification`, `regression` or `lm`. */
  objective?: string;
  metric?: string;
  jobId?: string;
  modelSpecHash: Hex;
  preprocessing: Record<string, unknown>;
  onnx: { file: string; input: string; inputShape: (string | number)[]; output: string };
};

/** The `config.json` of an exported model directory. */
export function readExportConfig(dir: string): ExportConfig {
  const path = join(dir, 'config.json');
  let c: ExportConfig;
  try {
    c = JSON.parse(readFileSync(path, 'utf8')) as ExportConfig;
  } catch (e) {
    throw new AgoraError('MODEL_DIR_INVALID', `cannot read ${path}: ${(e as Error).message}`, {
      hint: 'export a model with `agora job model ID --out DIR` first',
    });
  }
  if (c.format !== EXPORT_FORMAT) {
    throw new AgoraError('MODEL_DIR_INVALID', `${path} is not an agora model export (${String(c.format)})`);
  }
  return c;
}

/**
 * An exported classifier or regressor loaded once: the task's own input encoding, `model.onnx`, the
 * task's own decoding. `agora model predict` (`predictFromDir`) and `agora serve` both run exported
 * models through this class, so a served prediction is the same computation as a local one.
 */
export class RowModel {
  readonly config: ExportConfig;
  readonly #task: ReturnType<typeof taskOf>;
  readonly #session: OnnxSession;
  readonly width: number;

  private constructor(config: ExportConfig, session: OnnxSession) {
    this.config = config;
    this.#task = taskOf(config.kind);
    this.#session = session;
    this.width = Number(config.onnx.inputShape[1]);
  }

  static async open(dir: string, config = readExportConfig(dir), threads = 1): Promise<RowModel> {
    if (config.objective === 'lm') {
      throw new AgoraError('PREDICT_BAD_INPUT', 'a text model generates text: pass {"prompt": "..."}');
    }
    taskOf(config.kind); // an unknown kind fails before the session is made
    const session = await OnnxSession.create(new Uint8Array(readFileSync(join(dir, config.onnx.file))), {
      threads,
    });
    return new RowModel(config, session);
  }

  /** Model inputs [rows, width] for user rows (throws PREDICT_BAD_INPUT saying which row is wrong). */
  encode(rows: readonly unknown[]): Float32Array {
    return this.#task.encodeInputs(this.config.preprocessing, rows);
  }

  /** Predictions for `n` encoded rows. */
  async run(inputs: Float32Array, n: number): Promise<Prediction[]> {
    const { input, output } = this.config.onnx;
    const out = await this.#session.run(
      { [input]: { data: inputs, dims: [n, this.width], dtype: 'float32' } },
      [output],
    );
    return this.#task.decodeOutputs(this.config.preprocessing, out[output] as Float32Array, n);
  }

  predict(rows: readonly unknown[]): Promise<Prediction[]> {
    return this.run(this.encode(rows), rows.length);
  }

  async dispose(): Promise<void> {
    await this.#session.release();
  }
}

/** Predictions of the exported model in `dir` for user rows (objects of columns, or feature arrays). */
export async function predictFromDir(dir: string, rows: readonly unknown[]): Promise<Prediction[]> {
  const config = readExportConfig(dir);
  if (config.objective === 'lm') {
    const lm = await ByteLm.load(dir, config);
    try {
      const out: Prediction[] = [];
      for (const [i, r] of rows.entries()) out.push(await lm.generate(generateRequestOf(r, i)));
      return out;
    } finally {
      await lm.dispose();
    }
  }
  const model = await RowModel.open(dir, config);
  try {
    return await model.predict(rows);
  } finally {
    await model.dispose();
  }
}
