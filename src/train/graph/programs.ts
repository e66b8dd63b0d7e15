/**
 * The three graphs the engine compiles for a model, all static-shape and cached by the caller:
 *  - train: `steps` unrolled AdamW steps (forward, loss, backward, clip, update) in one graph;
 *  - eval: forward + mean loss + count of correct argmax predictions;
 *  - inference: forward only, parameters baked in as initializers, batch dimension symbolic.
 *
 * Train graph I/O names: inputs `p{i}`, `m{i}`, `v{i}` (parameter i, AdamW moments), per step k
 * `x{k}`, `y{k}`, `hp{k}` (see adamw.ts); outputs `P{i}`, `M{i}`, `V{i}` (after the last step) and
 * `loss{k}` (loss of step k before its update).
 */

import type { Model } from '../models/spec.ts';
import type { InnerOptimizerConfig } from '../runtime.ts';
import { emitAdamW } from './adamw.ts';
import { gradients } from './autodiff.ts';
import type { Value } from './graph.ts';
import { Graph } from './graph.ts';
import { countCorrect, crossEntropy, reshape } from './ops.ts';

function lossOf(g: Graph, model: Model, params: readonly Value[], x: Value, y: Value) {
  const logits = model.forward(g, params, x);
  const labels = y.shape.length === 1 ? y : reshape(g, y, [-1]);
  return { logits, labels, ...crossEntropy(g, logits, labels) };
}

export function buildTrainGraph(
  model: Model,
  optimizer: InnerOptimizerConfig,
  batchSize: number,
  steps: number,
): Graph {
  const g = new Graph();
  let state = model.params.map((p, i) => ({
    p: g.input(`p${i}`, p.shape),
    m: g.input(`m${i}`, p.shape),
    v: g.input(`v${i}`, p.shape),
  }));
  const inSpec = model.inputShape(batchSize);
  const decay = model.params.map((p) => p.decay);
  for (let k = 0; k < steps; k++) {
    const x = g.input(`x${k}`, inSpec.shape, inSpec.dtype);
    const y = g.input(`y${k}`, model.targetShape(batchSize), 'int32');
    const hp = g.input(`hp${k}`, [3]);
    const params = state.map((s) => s.p);
    const { loss } = lossOf(g, model, params, x, y);
    g.output(loss, `loss${k}`);
    const grads = gradients(g, loss, params);
    g.tape.length = 0;
    state = emitAdamW(g, optimizer, state, grads, decay, hp);
  }
  state.forEach((s, i) => {
    g.output(s.p, `P${i}`);
    g.output(s.m, `M${i}`);
    g.output(s.v, `V${i}`);
  });
  return g;
}

export function buildEvalGraph(model: Model, batchSize: number): Graph {
  const g = new Graph();
  g.recording = false;
  const params = model.params.map((p, i) => g.input(`p${i}`, p.shape));
  const inSpec = model.inputShape(batchSize);
  const x = g.input('x', inSpec.shape, inSpec.dtype);
  const y = g.input('y', model.targetShape(batchSize), 'int32');
  const { loss, logits, labels } = lossOf(g, model, params, x, y);
  g.output(loss, 'loss');
  g.output(countCorrect(g, logits, labels), 'correct');
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
