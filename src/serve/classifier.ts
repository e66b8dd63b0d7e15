/**
 * Classifier inference on ONNX Runtime with request batching: concurrent `predict` calls are queued
 * and run together in one `session.run` (up to `maxBatchRows` rows). While a run is in flight new
 * requests accumulate, so under load batches grow by themselves and an idle server answers at once.
 */
import { AgoraError } from '../errors.ts';
import { buildInferenceGraph } from '../train/graph/programs.ts';
import { buildModel } from '../train/models/index.ts';
import { encodeModel } from '../train/onnx/proto.ts';
import { OnnxSession } from '../train/onnx/session.ts';
import type { MlpServedModel } from './model.ts';

export type Prediction = { class: number; probabilities: number[] };

export type ClassifierStats = { runs: number; rows: number; maxBatchRows: number };

type Pending = {
  x: Float32Array;
  rows: number;
  resolve: (p: Prediction[]) => void;
  reject: (e: unknown) => void;
};

/** The ONNX bytes of a classifier's forward pass (weights as initializers, symbolic batch dimension). */
export function inferenceOnnx(m: MlpServedModel): Uint8Array {
  const model = buildModel(m.spec);
  const g = buildInferenceGraph(model, m.weights);
  const symbolic = new Map<string, (number | string)[]>([
    [g.inputs[0].name, ['batch', ...g.inputs[0].shape.slice(1)]],
    [g.outputs[0].name, model.outputShape('batch')],
  ]);
  return encodeModel(g.toOnnxModel('agora_serve', { symbolicDims: symbolic }));
}

function softmaxRow(logits: Float32Array, off: number, k: number): Prediction {
  let max = Number.NEGATIVE_INFINITY;
  let arg = 0;
  for (let j = 0; j < k; j++) {
    const v = logits[off + j];
    if (v > max) {
      max = v;
      arg = j;
    }
  }
  const p = new Array<number>(k);
  let sum = 0;
  for (let j = 0; j < k; j++) {
    p[j] = Math.exp(logits[off + j] - max);
    sum += p[j];
  }
  for (let j = 0; j < k; j++) p[j] = Math.round((p[j] / sum) * 1e6) / 1e6;
  return { class: arg, probabilities: p };
}

export class BatchingClassifier {
  readonly model: MlpServedModel;
  readonly maxBatchRows: number;
  readonly #session: OnnxSession;
  readonly #inputName: string;
  #queue: Pending[] = [];
  #running = false;
  #closed = false;
  readonly stats: ClassifierStats = { runs: 0, rows: 0, maxBatchRows: 0 };

  private constructor(model: MlpServedModel, session: OnnxSession, inputName: string, maxBatchRows: number) {
    this.model = model;
    this.#session = session;
    this.#inputName = inputName;
    this.maxBatchRows = maxBatchRows;
  }

  static async create(
    model: MlpServedModel,
    opts: { threads?: number; maxBatchRows?: number } = {},
  ): Promise<BatchingClassifier> {
    const session = await OnnxSession.create(inferenceOnnx(model), { threads: opts.threads ?? 1 });
    return new BatchingClassifier(model, session, 'input', opts.maxBatchRows ?? 256);
  }

  /** Predicts `rows` inputs laid out row-major in `x` (rows × inputSize floats). */
  predict(x: Float32Array, rows: number): Promise<Prediction[]> {
    if (this.#closed) {
      return Promise.reject(
        new AgoraError('SERVE_CLOSED', 'the model is shutting down', { hint: 'retry on a running server' }),
      );
    }
    if (x.length !== rows * this.model.inputSize) {
      return Promise.reject(
        new AgoraError('SERVE_BAD_INPUT', `${x.length} values for ${rows} rows of ${this.model.inputSize}`),
      );
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ x, rows, resolve, reject });
      // Start after the current I/O phase, so requests parsed in the same turn share one run.
      if (!this.#running) {
        this.#running = true;
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch: Pending[] = [];
        let rows = 0;
        while (
          this.#queue.length > 0 &&
          (batch.length === 0 || rows + this.#queue[0].rows <= this.maxBatchRows)
        ) {
          const p = this.#queue.shift()!;
          batch.push(p);
          rows += p.rows;
        }
        await this.#run(batch, rows);
      }
    } finally {
      this.#running = false;
    }
  }

  async #run(batch: Pending[], rows: number): Promise<void> {
    const n = this.model.inputSize;
    const k = this.model.classes;
    let x: Float32Array;
    if (batch.length === 1) x = batch[0].x;
    else {
      x = new Float32Array(rows * n);
      let off = 0;
      for (const p of batch) {
        x.set(p.x, off);
        off += p.x.length;
      }
    }
    try {
      const out = await this.#session.run({
        [this.#inputName]: { data: x, dims: [rows, n], dtype: 'float32' },
      });
      const logits = out.logits as Float32Array;
      this.stats.runs++;
      this.stats.rows += rows;
      if (rows > this.stats.maxBatchRows) this.stats.maxBatchRows = rows;
      let r = 0;
      for (const p of batch) {
        const preds: Prediction[] = [];
        for (let i = 0; i < p.rows; i++, r++) preds.push(softmaxRow(logits, r * k, k));
        p.resolve(preds);
      }
    } catch (e) {
      const err = new AgoraError('SERVE_INFERENCE_FAILED', `inference failed: ${(e as Error).message}`, {
        hint: 'the model could not run on this input; report it with the model hash',
        cause: e,
      });
      for (const p of batch) p.reject(err);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    while (this.#running) await new Promise((r) => setTimeout(r, 5));
    await this.#session.release();
  }
}
