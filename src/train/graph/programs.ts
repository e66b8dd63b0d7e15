/**
 * The three graphs the engine compiles for a model, all static-shape and cached by the caller:
 *  - train: `steps` unrolled AdamW steps (forward, loss, backward, clip, update) in one graph;
 *  - eval: forward + mean loss + count of correct argmax predictions (classifiers; an `mse` model's
 *    eval graph has the mean loss only);
 *  - inference: forward only, parameters baked in as initializers, batch dimension symbolic.
 *
 * Train graph I/O names: inputs `p{i}`, `m{i}`, `v{i}` (parameter i, AdamW moments), per step k
 * `x{k}`, `y{k}`, `hp{k}` (see adamw.ts); outputs `P{i}`, `M{i}`, `V{i}` (after the last step) and
 * `loss{k}` (loss of step k before its update).
 *
 * Optional drift-correction features (`TrainGraphFeatures`; default graphs are unchanged), added
 * to every step of the call:
 *  - `gradOffset`: inputs `go{i}` (shape of parameter i), g ← g + go  (before clipping and Adam);
 *  - `proximal`: inputs `an{i}` (anchor, shape of parameter i) and `mu` [1], g ← g + μ·(p − an)
 *    (the gradient of μ/2‖θ − anchor‖², FedProx; before clipping and Adam);
 *  - `updateOffset`: inputs `uo{i}` and per step `lr{k}` [1], p ← p − lr_k·uo after the AdamW update
 *    (a drift correction in Adam's update space, used by SCAFFOLD-on-Adam; src/train/diloco/drift/);
 *  - `gradSum`: output `GS{i}` = Σ over the call's steps of the raw (uncorrected) mini-batch
 *    gradient of parameter i (SCAFFOLD's gradient-space control variates);
 *  - `logitOffset`: input `lo` [classes]; every step's loss is the cross-entropy of z + lo instead
 *    of the logits z (logit adjustment / balanced softmax for label shift, lo = τ·log π_local;
 *    src/train/diloco/drift/logit-adjust.ts). The eval and inference graphs keep raw z;
 *  - `frozen`: a per-parameter-tensor flag list; frozen tensors (and their moments) pass through
 *    unchanged (no AdamW update, no weight decay, not in the clipping norm). A fixed classifier head
 *    (src/train/diloco/drift/fixed-head.ts).
 */

import type { Model } from '../models/spec.ts';
import type { InnerOptimizerConfig } from '../runtime.ts';
import { emitAdamW } from './adamw.ts';
import { gradients } from './autodiff.ts';
import type { Value } from './graph.ts';
import { Graph } from './graph.ts';
import { add, countCorrect, crossEntropy, mse, reshape } from './ops.ts';

function lossOf(g: Graph, model: Model, params: readonly Value[], x: Value, y: Value, logitOffset?: Value) {
  const raw = model.forward(g, params, x);
  if (model.loss === 'mse') return { logits: raw, labels: y, loss: mse(g, raw, y), regression: true };
  const logits = logitOffset ? add(g, raw, logitOffset) : raw;
  const labels = y.shape.length === 1 ? y : reshape(g, y, [-1]);
  return { logits, labels, ...crossEntropy(g, logits, labels), regression: false };
}

/** The dtype of a model's targets: int32 labels, float32 for an `mse` model. */
export function targetDtype(model: Model): 'int32' | 'float32' {
  return model.loss === 'mse' ? 'float32' : 'int32';
}

/** Optional per-step correction terms of the train graph (all off by default). */
export type TrainGraphFeatures = {
  gradOffset?: boolean;
  proximal?: boolean;
  updateOffset?: boolean;
  gradSum?: boolean;
  logitOffset?: boolean;
  /** frozen[i]: parameter tensor i is not updated. */
  frozen?: readonly boolean[];
};

/** A short stable tag of the enabled features ('' when none), for graph cache keys. */
export function featureTag(f: TrainGraphFeatures | undefined): string {
  if (!f) return '';
  return `${f.gradOffset ? 'g' : ''}${f.proximal ? 'p' : ''}${f.updateOffset ? 'u' : ''}${f.gradSum ? 's' : ''}${f.logitOffset ? 'l' : ''}${
    f.frozen?.some(Boolean) ? `f${f.frozen.map((b) => (b ? 1 : 0)).join('')}` : ''
  }`;
}

/**
 * Adds the gradient correction terms to raw gradients: g_i + go_i + μ·(p_i − an_i) (each term only
 * if given). Emitted without autodiff recording (corrections are not differentiated further).
 */
export function correctGradients(
  g: Graph,
  grads: readonly Value[],
  params: readonly Value[],
  terms: { offsets?: readonly Value[]; anchors?: readonly Value[]; mu?: Value },
): Value[] {
  const was = g.recording;
  g.recording = false;
  const n = (op: string, ins: Value[], like: Value) =>
    g.node(op, ins, [{ shape: like.shape, dtype: like.dtype }])[0];
  const out = grads.map((gr, i) => {
    let c = gr;
    if (terms.offsets) c = n('Add', [c, terms.offsets[i]], gr);
    if (terms.anchors && terms.mu) {
      c = n('Add', [c, n('Mul', [n('Sub', [params[i], terms.anchors[i]], gr), terms.mu], gr)], gr);
    }
    return c;
  });
  g.recording = was;
  return out;
}

export function buildTrainGraph(
  model: Model,
  optimizer: InnerOptimizerConfig,
  batchSize: number,
  steps: number,
  features: TrainGraphFeatures = {},
): Graph {
  const g = new Graph();
  let state = model.params.map((p, i) => ({
    p: g.input(`p${i}`, p.shape),
    m: g.input(`m${i}`, p.shape),
    v: g.input(`v${i}`, p.shape),
  }));
  const offsets = features.gradOffset ? model.params.map((p, i) => g.input(`go${i}`, p.shape)) : undefined;
  const anchors = features.proximal ? model.params.map((p, i) => g.input(`an${i}`, p.shape)) : undefined;
  const mu = features.proximal ? g.input('mu', [1]) : undefined;
  const updOffsets = features.updateOffset
    ? model.params.map((p, i) => g.input(`uo${i}`, p.shape))
    : undefined;
  const logitOffset = features.logitOffset ? g.input('lo', [model.classes]) : undefined;
  const frozen = features.frozen?.some(Boolean) ? features.frozen : undefined;
  if (frozen && frozen.length !== model.params.length) {
    throw new Error(
      `internal: frozen flags for ${frozen.length} of ${model.params.length} parameter tensors`,
    );
  }
  const inSpec = model.inputShape(batchSize);
  const decay = model.params.map((p) => p.decay);
  let gradSums: Value[] | undefined;
  for (let k = 0; k < steps; k++) {
    const x = g.input(`x${k}`, inSpec.shape, inSpec.dtype);
    const y = g.input(`y${k}`, model.targetShape(batchSize), targetDtype(model));
    const hp = g.input(`hp${k}`, [3]);
    const lrK = updOffsets ? g.input(`lr${k}`, [1]) : undefined;
    const params = state.map((s) => s.p);
    const { loss } = lossOf(g, model, params, x, y, logitOffset);
    g.output(loss, `loss${k}`);
    let grads = gradients(g, loss, params);
    g.tape.length = 0;
    if (features.gradSum) {
      const raw = grads;
      gradSums = gradSums
        ? gradSums.map((acc, i) => g.node('Add', [acc, raw[i]], [{ shape: acc.shape, dtype: acc.dtype }])[0])
        : raw;
    }
    if (offsets || anchors) grads = correctGradients(g, grads, params, { offsets, anchors, mu });
    if (frozen) {
      const live = state.flatMap((_, i) => (frozen[i] ? [] : [i]));
      const next = emitAdamW(
        g,
        optimizer,
        live.map((i) => state[i]),
        live.map((i) => grads[i]),
        live.map((i) => decay[i]),
        hp,
      );
      const updated = [...state];
      live.forEach((i, j) => {
        updated[i] = next[j];
      });
      state = updated;
    } else {
      state = emitAdamW(g, optimizer, state, grads, decay, hp);
    }
    if (updOffsets && lrK) {
      const was = g.recording;
      g.recording = false;
      state = state.map((s, i) => {
        if (frozen?.[i]) return s;
        const shift = g.node('Mul', [updOffsets[i], lrK], [{ shape: s.p.shape, dtype: 'float32' }])[0];
        return { ...s, p: g.node('Sub', [s.p, shift], [{ shape: s.p.shape, dtype: 'float32' }])[0] };
      });
      g.recording = was;
    }
  }
  // A frozen tensor's state is still the graph input itself: outputs need their own value.
  const own = (v: Value) =>
    frozen && g.inputs.includes(v) ? g.node('Identity', [v], [{ shape: v.shape, dtype: v.dtype }])[0] : v;
  state.forEach((s, i) => {
    g.output(own(s.p), `P${i}`);
    g.output(own(s.m), `M${i}`);
    g.output(own(s.v), `V${i}`);
  });
  gradSums?.forEach((s, i) => {
    // A step-1 sum is the raw gradient value itself, which other nodes also read: copy it.
    const v = steps === 1 ? g.node('Identity', [s], [{ shape: s.shape, dtype: s.dtype }])[0] : s;
    g.output(v, `GS${i}`);
  });
  return g;
}

export function buildEvalGraph(model: Model, batchSize: number): Graph {
  const g = new Graph();
  g.recording = false;
  const params = model.params.map((p, i) => g.input(`p${i}`, p.shape));
  const inSpec = model.inputShape(batchSize);
  const x = g.input('x', inSpec.shape, inSpec.dtype);
  const y = g.input('y', model.targetShape(batchSize), targetDtype(model));
  const { loss, logits, labels, regression } = lossOf(g, model, params, x, y);
  g.output(loss, 'loss');
  if (!regression) g.output(countCorrect(g, logits, labels), 'correct');
  return g;
}

/** Forward-only graph: input `input` → output `logits` (model.outputShape), weights as initializers. */
export function buildInferenceGraph(model: Model, weights: readonly Float32Array[]): Graph {
  const g = new Graph();
  g.recording = false;
  const params = model.params.map((p, i) => g.constant(weights[i], p.shape, 'float32', p.name));
  const inSpec = model.inputShape(1);
  const x = g.input('input', inSpec.shape, inSpec.dtype);
  const logits = model.forward(g, params, x);
  const shaped = reshape(
    g,
    logits,
    model.outputShape(-1).map((d) => (d === -1 ? -1 : (d as number))),
  );
  g.output(shaped, 'logits');
  return g;
}
