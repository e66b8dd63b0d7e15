/**
 * Model specifications and the model contract the training engine compiles. A model declares its
 * parameters (name, shape, init, weight decay) in a fixed order — the order of the flat parameter
 * vector — and emits its forward pass into a graph.
 */
import type { DType, Graph, Value } from '../graph/graph.ts';

/** A multi-layer perceptron classifier: `sizes = [inputs, hidden..., classes]`, float inputs. */
export type MlpSpec = {
  kind: 'mlp';
  sizes: readonly number[];
  /** Hidden activation; default `relu`. */
  activation?: 'relu' | 'gelu';
  /**
   * Training loss: `cross-entropy` over `classes` outputs (default), or `mse` (regression: the last
   * size is the number of float targets per sample).
   */
  loss?: ModelLoss;
};

/** The loss a model trains with: cross-entropy on integer labels, or mean squared error on float targets. */
export type ModelLoss = 'cross-entropy' | 'mse';

/** A decoder-only (GPT-style, pre-LN) transformer language model over a small vocabulary (bytes). */
export type TransformerSpec = {
  kind: 'transformer';
  /** e.g. 256 for bytes. */
  vocabSize: number;
  /** Sequence length T (learned positional embeddings of length T). */
  context: number;
  layers: number;
  dModel: number;
  heads: number;
  /** FFN hidden width (commonly 4·dModel). */
  dFF: number;
  /** Share the token embedding with the output projection; default false. */
  tieEmbeddings?: boolean;
};

/** One convolution block of a `CnnSpec`: Conv2d (+bias) → ReLU → optional pooling. */
export type CnnBlock = {
  /** Output channels. */
  channels: number;
  /** Square kernel size. */
  kernel: number;
  /** Default 1. */
  stride?: number;
  /** Zero padding on each side; default `'same'` = ⌊kernel/2⌋ (keeps H×W at stride 1 for odd kernels). */
  padding?: number | 'same';
  /** Pooling after the ReLU; default none. `stride` defaults to `size`. */
  pool?: { kind: 'max' | 'avg'; size: number; stride?: number };
};

/**
 * A small convolutional image classifier over NCHW images. Inputs are flat float rows of
 * `channels·height·width` values in CHW order (planar, like PyTorch's ToTensor), reshaped inside
 * the graph; so batches look exactly like the MLP's `[batch, features]`.
 */
export type CnnSpec = {
  kind: 'cnn';
  input: { channels: number; height: number; width: number };
  blocks: readonly CnnBlock[];
  /** After the blocks: `'flatten'` (default) or `'gap'` (global average pool to [N, C]). */
  reduce?: 'flatten' | 'gap';
  /** Hidden widths of the dense layers after the blocks (ReLU); default none. */
  hidden?: readonly number[];
  classes: number;
};

export type ModelSpec = MlpSpec | TransformerSpec | CnnSpec;

export type ParamInit =
  | { kind: 'uniform'; bound: number }
  | { kind: 'normal'; std: number }
  | { kind: 'const'; value: number };

export type ParamSpec = {
  name: string;
  shape: readonly number[];
  init: ParamInit;
  /** Whether AdamW weight decay applies (matrices and embeddings yes; biases and norms no). */
  decay: boolean;
};

export interface Model {
  readonly spec: ModelSpec;
  /** Parameters in flat-vector order. */
  readonly params: readonly ParamSpec[];
  /** Number of output classes (vocabulary size for a language model; float outputs for `mse`). */
  readonly classes: number;
  /** Training loss; undefined = cross-entropy on int32 targets. `mse`: float32 targets `[batch, classes]`. */
  readonly loss?: ModelLoss;
  /** Input tensor shape/dtype for a batch. */
  inputShape(batchSize: number): { shape: number[]; dtype: DType };
  /** Target tensor shape for a batch (int32; float32 for an `mse` model). */
  targetShape(batchSize: number): number[];
  /**
   * Emits the forward pass; returns logits flattened to `[N, classes]` (N = batch for classifiers,
   * batch·context for language models). Reshapes use -1 for the batch so an exported graph can take
   * any batch size.
   */
  forward(g: Graph, params: readonly Value[], input: Value): Value;
  /** Reshapes flat logits `[N, classes]` to the model's natural output shape (for export). */
  outputShape(batchSize: number | string): (number | string)[];
}
