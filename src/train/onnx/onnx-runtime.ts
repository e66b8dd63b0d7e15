/**
 * `OnnxRuntime`: the `Runtime` implementation on ONNX Runtime. Parameters and AdamW moments live in
 * JS typed arrays (one per parameter tensor); each `session.run` executes `stepsPerCall` unrolled
 * training steps and returns the new state (ONNX Runtime always copies outputs, so unrolling
 * amortizes that copy). Graphs are compiled once per (kind, batch size, steps) and cached.
 */
import { AgoraError } from '../../errors.ts';
import { adamHyper } from '../graph/adamw.ts';
import type { Graph } from '../graph/graph.ts';
import { buildEvalGraph, buildInferenceGraph, buildTrainGraph } from '../graph/programs.ts';
import { initParams } from '../models/init.ts';
import type { Model } from '../models/spec.ts';
import type { EvalResult, InnerOptimizerConfig, Runtime, TensorBatch, TrainResult } from '../runtime.ts';
import { encodeModel } from './proto.ts';
import { type Feed, OnnxSession, type SessionConfig } from './session.ts';

export type OnnxRuntimeOptions = SessionConfig & {
  /** Training steps unrolled into one graph (one `session.run`); default 1. */
  stepsPerCall?: number;
};

export class OnnxRuntime implements Runtime {
  readonly model: Model;
  readonly paramCount: number;
  readonly stepsPerCall: number;
  private readonly optimizer: InnerOptimizerConfig;
  private readonly sessionConfig: SessionConfig;
  private readonly sizes: number[];
  private params: Float32Array[];
  private m: Float32Array[];
  private v: Float32Array[];
  private step = 0;
  private busy = false;
  private readonly sessions = new Map<string, Promise<OnnxSession>>();

  constructor(model: Model, optimizer: InnerOptimizerConfig, options: OnnxRuntimeOptions = {}) {
    this.model = model;
    this.optimizer = optimizer;
    this.sessionConfig = {
      threads: options.threads,
      executionProviders: options.executionProviders,
      spinning: options.spinning,
    };
    this.stepsPerCall = options.stepsPerCall ?? 1;
    if (!Number.isInteger(this.stepsPerCall) || this.stepsPerCall < 1) {
      throw new AgoraError(
        'RUNTIME_BAD_OPTION',
        `stepsPerCall must be a positive integer, got ${this.stepsPerCall}`,
        {
          hint: 'use 1 (default) to 8',
        },
      );
    }
    this.sizes = model.params.map((p) => p.shape.reduce((a, b) => a * b, 1));
    this.paramCount = this.sizes.reduce((a, b) => a + b, 0);
    this.params = this.sizes.map((n) => new Float32Array(n));
    this.m = this.sizes.map((n) => new Float32Array(n));
    this.v = this.sizes.map((n) => new Float32Array(n));
  }

  /** The optimizer step counter (number of updates taken since the last reset). */
  get stepCount(): number {
    return this.step;
  }

  init(seed: number): void {
    this.params = initParams(this.model.params, seed);
    this.resetOptimizer();
  }

  getParams(): Float32Array {
    const out = new Float32Array(this.paramCount);
    let off = 0;
    for (const p of this.params) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  setParams(params: Float32Array): void {
    if (params.length !== this.paramCount) {
      throw new AgoraError(
        'RUNTIME_BAD_PARAMS',
        `expected ${this.paramCount} parameters, got ${params.length}`,
        {
          hint: 'parameter vectors must come from a runtime with the same model spec',
        },
      );
    }
    let off = 0;
    this.params = this.sizes.map((n) => {
      const p = params.slice(off, off + n);
      off += n;
      return p;
    });
  }

  resetOptimizer(): void {
    this.m = this.sizes.map((n) => new Float32Array(n));
    this.v = this.sizes.map((n) => new Float32Array(n));
    this.step = 0;
  }

  async train(batches: readonly TensorBatch[]): Promise<TrainResult> {
    return this.exclusive(async () => {
      const losses: number[] = [];
      let i = 0;
      while (i < batches.length) {
        const b = batches[i].batchSize;
        let k = 1;
        while (k < this.stepsPerCall && i + k < batches.length && batches[i + k].batchSize === b) k++;
        const chunk = batches.slice(i, i + k);
        losses.push(...(await this.trainChunk(chunk)));
        i += k;
      }
      return { losses, step: this.step };
    });
  }

  private async trainChunk(chunk: readonly TensorBatch[]): Promise<number[]> {
    const b = chunk[0].batchSize;
    const k = chunk.length;
    const session = await this.session(`train:${b}:${k}`, () =>
      buildTrainGraph(this.model, this.optimizer, b, k),
    );
    const feeds: Record<string, Feed> = {};
    this.model.params.forEach((p, i) => {
      feeds[`p${i}`] = { data: this.params[i], dims: p.shape, dtype: 'float32' };
      feeds[`m${i}`] = { data: this.m[i], dims: p.shape, dtype: 'float32' };
      feeds[`v${i}`] = { data: this.v[i], dims: p.shape, dtype: 'float32' };
    });
    chunk.forEach((batch, j) => {
      this.batchFeeds(batch, feeds, `x${j}`, `y${j}`);
      feeds[`hp${j}`] = { data: adamHyper(this.optimizer, this.step + j), dims: [3], dtype: 'float32' };
    });
    const out = await session.run(feeds);
    this.params = this.params.map((_, i) => out[`P${i}`] as Float32Array);
    this.m = this.m.map((_, i) => out[`M${i}`] as Float32Array);
    this.v = this.v.map((_, i) => out[`V${i}`] as Float32Array);
    this.step += k;
    return chunk.map((_, j) => (out[`loss${j}`] as Float32Array)[0]);
  }

  async evaluate(batches: readonly TensorBatch[]): Promise<EvalResult> {
    return this.exclusive(async () => {
      let lossSum = 0;
      let correct = 0;
      let examples = 0;
      let predictions = 0;
      for (const batch of batches) {
        const b = batch.batchSize;
        const session = await this.session(`eval:${b}`, () => buildEvalGraph(this.model, b));
        const feeds: Record<string, Feed> = {};
        this.model.params.forEach((p, i) => {
          feeds[`p${i}`] = { data: this.params[i], dims: p.shape, dtype: 'float32' };
        });
        this.batchFeeds(batch, feeds, 'x', 'y');
        const out = await session.run(feeds);
        lossSum += (out.loss as Float32Array)[0] * b;
        correct += (out.correct as Float32Array)[0];
        examples += b;
        predictions += batch.targets.length;
      }
      if (examples === 0) return { loss: Number.NaN, examples: 0 };
      // Accuracy: fraction of correct argmax predictions (per token for language models).
      return { loss: lossSum / examples, accuracy: correct / predictions, examples };
    });
  }

  exportInference(): Uint8Array {
    const g = buildInferenceGraph(this.model, this.params);
    const inName = g.inputs[0].name;
    const outName = g.outputs[0].name;
    const symbolic = new Map<string, (number | string)[]>([
      [inName, ['batch', ...g.inputs[0].shape.slice(1)]],
      [outName, this.model.outputShape('batch')],
    ]);
    return encodeModel(g.toOnnxModel('agora_inference', { symbolicDims: symbolic }));
  }

  async dispose(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s).release();
  }

  private batchFeeds(batch: TensorBatch, feeds: Record<string, Feed>, xName: string, yName: string): void {
    const inSpec = this.model.inputShape(batch.batchSize);
    const tShape = this.model.targetShape(batch.batchSize);
    const nIn = inSpec.shape.reduce((a, c) => a * c, 1);
    const nT = tShape.reduce((a, c) => a * c, 1);
    const wantInt = inSpec.dtype === 'int32';
    if (
      batch.inputs.length !== nIn ||
      batch.targets.length !== nT ||
      (wantInt ? !(batch.inputs instanceof Int32Array) : !(batch.inputs instanceof Float32Array))
    ) {
      throw new AgoraError(
        'RUNTIME_BAD_BATCH',
        `batch does not fit the model: inputs ${batch.inputs.constructor.name}(${batch.inputs.length}) for ` +
          `${inSpec.dtype}[${inSpec.shape}], targets (${batch.targets.length}) for int32[${tShape}]`,
        { hint: 'inputs/targets must be flat arrays of batchSize × the model input/target shape' },
      );
    }
    feeds[xName] = { data: batch.inputs, dims: inSpec.shape, dtype: inSpec.dtype };
    feeds[yName] = { data: batch.targets, dims: tShape, dtype: 'int32' };
  }

  private session(key: string, build: () => Graph): Promise<OnnxSession> {
    let s = this.sessions.get(key);
    if (!s) {
      const bytes = encodeModel(build().toOnnxModel(key.replace(/:/g, '_')));
      s = OnnxSession.create(bytes, this.sessionConfig);
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key));
    }
    return s;
  }

  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busy) {
      throw new AgoraError('RUNTIME_BUSY', 'the runtime is already running train/evaluate', {
        hint: 'await the previous call before starting another',
      });
    }
    this.busy = true;
    try {
      return await fn();
    } finally {
      this.busy = false;
    }
  }
}
