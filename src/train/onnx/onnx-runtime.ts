/**
 * `OnnxRuntime`: the `Runtime` implementation on ONNX Runtime. Parameters and AdamW moments live in
 * JS typed arrays (one per parameter tensor); each `session.run` executes `stepsPerCall` unrolled
 * training steps and returns the new state (ONNX Runtime always copies outputs, so unrolling
 * amortizes that copy). Graphs are compiled once per (kind, batch size, steps) and cached.
 */
import { AgoraError } from '../../errors.ts';
import { adamHyper } from '../graph/adamw.ts';
import type { Graph } from '../graph/graph.ts';
import {
  buildEvalGraph,
  buildInferenceGraph,
  buildTrainGraph,
  featureTag,
  type TrainGraphFeatures,
  targetDtype,
} from '../graph/programs.ts';
import { initParams } from '../models/init.ts';
import type { Model } from '../models/spec.ts';
import type {
  EvalResult,
  InnerOptimizerConfig,
  Runtime,
  RuntimeCorrections,
  RuntimeFreezing,
  RuntimeLogitAdjustment,
  TensorBatch,
  TrainResult,
} from '../runtime.ts';
import { lrAt } from '../schedule.ts';
import { encodeModel } from './proto.ts';
import { type Feed, OnnxSession, type SessionConfig } from './session.ts';

export type OnnxRuntimeOptions = SessionConfig & {
  /** Training steps unrolled into one graph (one `session.run`); default 1. */
  stepsPerCall?: number;
};

export class OnnxRuntime implements Runtime, RuntimeCorrections, RuntimeLogitAdjustment, RuntimeFreezing {
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
  /** Drift-correction terms (RuntimeCorrections), split per parameter tensor; undefined = off. */
  private gradOffset: Float32Array[] | undefined;
  private proxAnchor: Float32Array[] | undefined;
  private proxMu = 0;
  private updOffset: Float32Array[] | undefined;
  private gradAcc: Float64Array[] | undefined;
  private gradAccSteps = 0;
  private gradAccMax = Number.POSITIVE_INFINITY;
  /** Logit adjustment (RuntimeLogitAdjustment), `classes` values; undefined = off. */
  private logitOffset: Float32Array | undefined;
  /** Frozen parameter tensors (RuntimeFreezing); undefined = none. */
  private frozen: boolean[] | undefined;
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

  /** Number of output classes (vocabulary size for a language model). */
  get classes(): number {
    return this.model.classes;
  }

  /** Number of parameter tensors. */
  get paramTensors(): number {
    return this.model.params.length;
  }

  setFrozenParams(frozen: readonly boolean[] | undefined): void {
    if (frozen !== undefined && frozen.length !== this.model.params.length) {
      throw new AgoraError(
        'RUNTIME_BAD_PARAMS',
        `frozen flags: expected ${this.model.params.length} (one per parameter tensor), got ${frozen.length}`,
        { hint: 'flags follow the model’s parameter order (e.g. MLP: fc0.weight, fc0.bias, …)' },
      );
    }
    this.frozen = frozen?.some(Boolean) ? [...frozen] : undefined;
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

  setGradientCorrection(offset: Float32Array | undefined): void {
    this.gradOffset = offset === undefined ? undefined : this.split(offset, 'gradient correction');
  }

  setProximal(anchor: Float32Array | undefined, mu = 0): void {
    if (anchor !== undefined && !(Number.isFinite(mu) && mu >= 0)) {
      throw new AgoraError('RUNTIME_BAD_OPTION', `proximal mu must be a finite number ≥ 0, got ${mu}`, {
        hint: 'FedProx uses mu around 1e-3 to 1',
      });
    }
    this.proxAnchor = anchor === undefined || mu === 0 ? undefined : this.split(anchor, 'proximal anchor');
    this.proxMu = mu;
  }

  setLogitAdjustment(offset: Float32Array | undefined): void {
    if (offset === undefined) {
      this.logitOffset = undefined;
      return;
    }
    if (offset.length !== this.model.classes || !offset.every(Number.isFinite)) {
      throw new AgoraError(
        'RUNTIME_BAD_PARAMS',
        `logit adjustment: expected ${this.model.classes} finite values, got ${offset.length}`,
        { hint: 'one offset per output class, e.g. τ·log of the local class frequencies' },
      );
    }
    this.logitOffset = offset.slice();
  }

  setUpdateCorrection(offset: Float32Array | undefined): void {
    this.updOffset = offset === undefined ? undefined : this.split(offset, 'update correction');
  }

  setGradientAccumulation(on: boolean, maxSteps = Number.POSITIVE_INFINITY): void {
    if (on && !(maxSteps >= 1)) {
      throw new AgoraError('RUNTIME_BAD_OPTION', `maxSteps must be ≥ 1, got ${maxSteps}`);
    }
    this.gradAcc = on ? this.sizes.map((n) => new Float64Array(n)) : undefined;
    this.gradAccSteps = 0;
    this.gradAccMax = maxSteps;
  }

  takeGradientSum(): { sum: Float32Array; steps: number } {
    const sum = new Float32Array(this.paramCount);
    const steps = this.gradAccSteps;
    if (this.gradAcc) {
      let off = 0;
      for (const a of this.gradAcc) {
        for (let j = 0; j < a.length; j++) sum[off + j] = a[j];
        off += a.length;
        a.fill(0);
      }
    }
    this.gradAccSteps = 0;
    return { sum, steps };
  }

  private split(v: Float32Array, what: string): Float32Array[] {
    if (v.length !== this.paramCount) {
      throw new AgoraError(
        'RUNTIME_BAD_PARAMS',
        `${what}: expected ${this.paramCount} values, got ${v.length}`,
        {
          hint: 'correction vectors are flat, in the same order as getParams()',
        },
      );
    }
    let off = 0;
    return this.sizes.map((n) => {
      const p = v.slice(off, off + n);
      off += n;
      return p;
    });
  }

  resetOptimizer(): void {
    this.m = this.sizes.map((n) => new Float32Array(n));
    this.v = this.sizes.map((n) => new Float32Array(n));
    this.step = 0;
  }

  /** Copies of the AdamW moments (flat, parameter order) and the step counter (validator replay). */
  getOptimizerState(): { m: Float32Array; v: Float32Array; step: number } {
    const flat = (parts: Float32Array[]) => {
      const out = new Float32Array(this.paramCount);
      let off = 0;
      for (const p of parts) {
        out.set(p, off);
        off += p.length;
      }
      return out;
    };
    return { m: flat(this.m), v: flat(this.v), step: this.step };
  }

  /** Restores moments and step counter saved by `getOptimizerState` (parameters are unchanged). */
  setOptimizerState(s: { m: Float32Array; v: Float32Array; step: number }): void {
    if (
      s.m.length !== this.paramCount ||
      s.v.length !== this.paramCount ||
      !(Number.isInteger(s.step) && s.step >= 0)
    ) {
      throw new AgoraError(
        'RUNTIME_BAD_PARAMS',
        `optimizer state must have ${this.paramCount} moments each and a step ≥ 0`,
        {
          hint: 'optimizer state must come from a runtime with the same model spec',
        },
      );
    }
    const split = (flat: Float32Array) => {
      let off = 0;
      return this.sizes.map((n) => {
        const p = flat.slice(off, off + n);
        off += n;
        return p;
      });
    };
    this.m = split(s.m);
    this.v = split(s.v);
    this.step = s.step;
  }

  async train(batches: readonly TensorBatch[]): Promise<TrainResult> {
    checkBatchSizes(batches);
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
    const features: TrainGraphFeatures = {
      gradOffset: this.gradOffset !== undefined,
      proximal: this.proxAnchor !== undefined,
      updateOffset: this.updOffset !== undefined,
      gradSum: this.gradAcc !== undefined && this.gradAccSteps < this.gradAccMax,
      logitOffset: this.logitOffset !== undefined,
      ...(this.frozen ? { frozen: this.frozen } : {}),
    };
    const tag = featureTag(features);
    const session = await this.session(`train:${b}:${k}${tag ? `:${tag}` : ''}`, () =>
      buildTrainGraph(this.model, this.optimizer, b, k, features),
    );
    const feeds: Record<string, Feed> = {};
    this.model.params.forEach((p, i) => {
      feeds[`p${i}`] = { data: this.params[i], dims: p.shape, dtype: 'float32' };
      feeds[`m${i}`] = { data: this.m[i], dims: p.shape, dtype: 'float32' };
      feeds[`v${i}`] = { data: this.v[i], dims: p.shape, dtype: 'float32' };
      if (this.gradOffset) feeds[`go${i}`] = { data: this.gradOffset[i], dims: p.shape, dtype: 'float32' };
      if (this.proxAnchor) feeds[`an${i}`] = { data: this.proxAnchor[i], dims: p.shape, dtype: 'float32' };
      if (this.updOffset) feeds[`uo${i}`] = { data: this.updOffset[i], dims: p.shape, dtype: 'float32' };
    });
    if (this.logitOffset) {
      feeds.lo = { data: this.logitOffset, dims: [this.model.classes], dtype: 'float32' };
    }
    if (this.proxAnchor) feeds.mu = { data: new Float32Array([this.proxMu]), dims: [1], dtype: 'float32' };
    chunk.forEach((batch, j) => {
      this.batchFeeds(batch, feeds, `x${j}`, `y${j}`);
      const lr = lrAt(this.step + j, this.optimizer);
      feeds[`hp${j}`] = { data: adamHyper(this.optimizer, this.step + j, lr), dims: [3], dtype: 'float32' };
      if (this.updOffset) feeds[`lr${j}`] = { data: new Float32Array([lr]), dims: [1], dtype: 'float32' };
    });
    const out = await session.run(feeds);
    this.params = this.params.map((_, i) => out[`P${i}`] as Float32Array);
    this.m = this.m.map((_, i) => out[`M${i}`] as Float32Array);
    this.v = this.v.map((_, i) => out[`V${i}`] as Float32Array);
    this.step += k;
    if (features.gradSum && this.gradAcc) {
      this.gradAcc.forEach((acc, i) => {
        const gs = out[`GS${i}`] as Float32Array;
        for (let j = 0; j < acc.length; j++) acc[j] += gs[j];
      });
      this.gradAccSteps += k;
    }
    return chunk.map((_, j) => (out[`loss${j}`] as Float32Array)[0]);
  }

  async evaluate(batches: readonly TensorBatch[]): Promise<EvalResult> {
    checkBatchSizes(batches);
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
        if (out.correct) correct += (out.correct as Float32Array)[0];
        examples += b;
        predictions += batch.targets.length;
      }
      if (examples === 0) return { loss: Number.NaN, examples: 0 };
      // A regression (mse) model: the mean squared error is the loss, there is no accuracy.
      if (this.model.loss === 'mse') return { loss: lossSum / examples, examples };
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
    const tDtype = targetDtype(this.model);
    if (
      batch.inputs.length !== nIn ||
      batch.targets.length !== nT ||
      !(tDtype === 'int32' ? batch.targets instanceof Int32Array : batch.targets instanceof Float32Array) ||
      (wantInt ? !(batch.inputs instanceof Int32Array) : !(batch.inputs instanceof Float32Array))
    ) {
      throw new AgoraError(
        'RUNTIME_BAD_BATCH',
        `batch does not fit the model: inputs ${batch.inputs.constructor.name}(${batch.inputs.length}) for ` +
          `${inSpec.dtype}[${inSpec.shape}], targets ${batch.targets.constructor.name}(${batch.targets.length}) for ${tDtype}[${tShape}]`,
        { hint: 'inputs/targets must be flat arrays of batchSize × the model input/target shape' },
      );
    }
    feeds[xName] = { data: batch.inputs, dims: inSpec.shape, dtype: inSpec.dtype };
    feeds[yName] = { data: batch.targets, dims: tShape, dtype: tDtype };
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

/** Every batch needs at least one sample (a graph is compiled per batch size; 0 is not a size). */
function checkBatchSizes(batches: readonly TensorBatch[]): void {
  for (const b of batches) {
    if (!(Number.isInteger(b.batchSize) && b.batchSize >= 1)) {
      throw new AgoraError('RUNTIME_BAD_BATCH', `batch size must be a positive integer, got ${b.batchSize}`, {
        hint: 'drop empty batches (e.g. the tail of an epoch) before train/evaluate',
      });
    }
  }
}
