/**
 * The tensor runtime interface: everything the DiLoCo loop, the node and the validator need from a
 * training engine. The ONNX Runtime implementation lives in `src/train/onnx/` (construct it with
 * `createRuntime` from `src/train/onnx/index.ts`); nothing outside `src/train/onnx` may depend on
 * onnxruntime directly. Design, flat parameter order and speed: docs/training-engine.md.
 */

/** One mini-batch. Shapes are fixed per compiled graph (graphs are cached by shape). */
export type TensorBatch = {
  /** Float features `[batchSize, features]` (MLP) or int token ids `[batchSize, context]` (LM). */
  inputs: Float32Array | Int32Array;
  /**
   * Integer targets: class labels `[batchSize]` or next-token ids `[batchSize, context]`; float
   * targets `[batchSize, outputs]` for a regression (`mse`) model.
   */
  targets: Int32Array | Float32Array;
  batchSize: number;
};

/** Inner optimizer: AdamW with linear warmup then cosine decay, and global-norm gradient clipping. */
export type InnerOptimizerConfig = {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient norm to this value; 0 or undefined disables clipping. */
  clipNorm?: number;
  warmupSteps: number;
  /** Steps over which the cosine schedule decays (after warmup). */
  totalSteps: number;
  /** Final lr as a fraction of `lr` (cosine floor). */
  minLrRatio: number;
};

export type TrainResult = {
  /** Loss of each step, before that step's update. */
  losses: number[];
  /** The optimizer step counter after this call. */
  step: number;
};

export type EvalResult = { loss: number; accuracy?: number; examples: number };

export interface Runtime {
  /** Number of float32 parameters in the flat vector. */
  readonly paramCount: number;
  /** Deterministic parameter init from `seed` (same seed → bit-identical params). Resets optimizer state. */
  init(seed: number): void;
  /** A copy of the flat parameter vector. */
  getParams(): Float32Array;
  /** Replaces the flat parameter vector (length must equal `paramCount`). Keeps optimizer state. */
  setParams(params: Float32Array): void;
  /** Zeroes AdamW moments and the step counter. */
  resetOptimizer(): void;
  /** Runs one optimizer step per batch, in order. */
  train(batches: readonly TensorBatch[]): Promise<TrainResult>;
  /** Mean loss (and accuracy for classifiers) over the batches, without updating anything. */
  evaluate(batches: readonly TensorBatch[]): Promise<EvalResult>;
  /** A standalone ONNX inference graph (inputs → logits) with the current parameters baked in. */
  exportInference(): Uint8Array;
  /** Releases native sessions. */
  dispose(): Promise<void>;
}

/**
 * Optional drift-correction extension of a `Runtime` (additive: a runtime without it trains as
 * before; `createRuntime` returns one with it). Every setting stays in force for all later
 * `train` calls until changed; `undefined` turns it off (then the default graphs run, bit-identical
 * to a runtime that never used the extension). Vectors are flat, `paramCount` long, and copied.
 *
 *  - `setGradientCorrection(o)`: every step uses g + o instead of the raw mini-batch gradient g
 *    (before clipping and AdamW's moments). SCAFFOLD's c − c_i in gradient space.
 *  - `setProximal(anchor, μ)`: every step adds μ·(θ − anchor), the gradient of μ/2‖θ − anchor‖²
 *    (FedProx), before clipping and AdamW.
 *  - `setUpdateCorrection(u)`: after each AdamW update, θ ← θ − lr_t·u, where lr_t is that step's
 *    scheduled lr (src/train/schedule.ts). A correction in AdamW's update space (SCAFFOLD-on-Adam,
 *    docs/drift-correction.md).
 *  - `setGradientAccumulation(true, maxSteps?)`: from then on, sum the raw (uncorrected) mini-batch
 *    gradients of every step (or only of the first ≥ maxSteps steps: whole unrolled calls are
 *    summed until the count reaches maxSteps); `takeGradientSum()` returns the sum and the number
 *    of steps summed and restarts it.
 */
export interface RuntimeCorrections {
  setGradientCorrection(offset: Float32Array | undefined): void;
  setProximal(anchor: Float32Array | undefined, mu?: number): void;
  setUpdateCorrection(offset: Float32Array | undefined): void;
  setGradientAccumulation(on: boolean, maxSteps?: number): void;
  takeGradientSum(): { sum: Float32Array; steps: number };
}

/** True if `rt` implements the `RuntimeCorrections` extension. */
export function hasCorrections(rt: Runtime): rt is Runtime & RuntimeCorrections {
  const r = rt as Partial<RuntimeCorrections>;
  return (
    typeof r.setGradientCorrection === 'function' &&
    typeof r.setProximal === 'function' &&
    typeof r.setUpdateCorrection === 'function' &&
    typeof r.setGradientAccumulation === 'function' &&
    typeof r.takeGradientSum === 'function'
  );
}

/**
 * Optional logit-adjustment extension of a `Runtime` (additive, like `RuntimeCorrections`;
 * `createRuntime` returns one with it). `setLogitAdjustment(o)` (o: `classes` values, copied) makes
 * every later training step minimize the cross-entropy of z + o instead of the model's logits z;
 * `evaluate` and `exportInference` keep raw z. With o = τ·log π (π = the local class frequencies)
 * this is the balanced-softmax / logit-adjusted loss for label-skewed shards
 * (src/train/diloco/drift/logit-adjust.ts, docs/drift-correction.md). `undefined` turns it off
 * (the default graphs run again).
 */
export interface RuntimeLogitAdjustment {
  /** Number of output classes (length of the offset vector). */
  readonly classes: number;
  setLogitAdjustment(offset: Float32Array | undefined): void;
}

/** True if `rt` implements the `RuntimeLogitAdjustment` extension. */
export function hasLogitAdjustment(rt: Runtime): rt is Runtime & RuntimeLogitAdjustment {
  return typeof (rt as Partial<RuntimeLogitAdjustment>).setLogitAdjustment === 'function';
}

/**
 * Optional parameter-freezing extension of a `Runtime` (additive; `createRuntime` returns one with
 * it). `setFrozenParams(flags)` (one flag per parameter tensor, `Model.params` order) makes later
 * training steps leave the flagged tensors and their AdamW moments unchanged (they still shape the
 * forward pass and the gradients of the others). `undefined` or all-false turns it off.
 */
export interface RuntimeFreezing {
  /** Number of parameter tensors (length of the flag list). */
  readonly paramTensors: number;
  setFrozenParams(frozen: readonly boolean[] | undefined): void;
}

/** True if `rt` implements the `RuntimeFreezing` extension. */
export function hasFreezing(rt: Runtime): rt is Runtime & RuntimeFreezing {
  return typeof (rt as Partial<RuntimeFreezing>).setFrozenParams === 'function';
}
