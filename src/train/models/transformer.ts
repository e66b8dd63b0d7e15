/**
 * Decoder-only transformer LM (GPT-style, pre-LN, learned positional embeddings, exact GELU).
 *
 * Parameters, in flat order:
 *   tok_emb [V, D], pos_emb [T, D],
 *   per layer l: ln1.weight [D], ln1.bias [D], attn.qkv.weight [D, 3D], attn.qkv.bias [3D],
 *                attn.proj.weight [D, D], attn.proj.bias [D], ln2.weight [D], ln2.bias [D],
 *                mlp.fc.weight [D, F], mlp.fc.bias [F], mlp.proj.weight [F, D], mlp.proj.bias [D],
 *   ln_f.weight [D], ln_f.bias [D], head.weight [D, V] (absent when tied).
 * qkv columns are [q | k | v], each split into heads of D/H contiguous columns.
 * Init (GPT-2): matrices and embeddings N(0, 0.02), residual projections N(0, 0.02/√(2L)),
 * biases 0, LayerNorm weight 1 / bias 0.
 */
import { AgoraError } from '../../errors.ts';
import type { Graph, Value } from '../graph/graph.ts';
import {
  add,
  embedding,
  gelu,
  layerNorm,
  linear,
  matmul,
  reshape,
  scale,
  softmax,
  split,
  transpose,
} from '../graph/ops.ts';
import type { Model, ParamSpec, TransformerSpec } from './spec.ts';

export const LN_EPS = 1e-5;

export function transformerModel(spec: TransformerSpec): Model {
  const { vocabSize: V, context: T, layers: L, dModel: D, heads: H, dFF: F } = spec;
  for (const [k, v] of Object.entries({ vocabSize: V, context: T, layers: L, dModel: D, heads: H, dFF: F })) {
    if (!Number.isInteger(v) || v < 1) {
      throw new AgoraError('MODEL_BAD_SPEC', `transformer ${k} must be a positive integer, got ${v}`, {
        hint: 'e.g. { vocabSize: 256, context: 64, layers: 2, dModel: 128, heads: 4, dFF: 512 }',
      });
    }
  }
  if (D % H !== 0) {
    throw new AgoraError('MODEL_BAD_SPEC', `dModel ${D} is not divisible by heads ${H}`, {
      hint: 'choose heads that divide dModel',
    });
  }
  const dh = D / H;
  const tied = spec.tieEmbeddings === true;
  const std = 0.02;
  const projStd = 0.02 / Math.sqrt(2 * L);
  const w = (name: string, shape: number[], s = std): ParamSpec => ({
    name,
    shape,
    init: { kind: 'normal', std: s },
    decay: true,
  });
  const c = (name: string, shape: number[], value: number): ParamSpec => ({
    name,
    shape,
    init: { kind: 'const', value },
    decay: false,
  });
  const params: ParamSpec[] = [w('tok_emb', [V, D]), w('pos_emb', [T, D])];
  for (let l = 0; l < L; l++) {
    params.push(
      c(`h${l}.ln1.weight`, [D], 1),
      c(`h${l}.ln1.bias`, [D], 0),
      w(`h${l}.attn.qkv.weight`, [D, 3 * D]),
      c(`h${l}.attn.qkv.bias`, [3 * D], 0),
      w(`h${l}.attn.proj.weight`, [D, D], projStd),
      c(`h${l}.attn.proj.bias`, [D], 0),
      c(`h${l}.ln2.weight`, [D], 1),
      c(`h${l}.ln2.bias`, [D], 0),
      w(`h${l}.mlp.fc.weight`, [D, F]),
      c(`h${l}.mlp.fc.bias`, [F], 0),
      w(`h${l}.mlp.proj.weight`, [F, D], projStd),
      c(`h${l}.mlp.proj.bias`, [D], 0),
    );
  }
  params.push(c('ln_f.weight', [D], 1), c('ln_f.bias', [D], 0));
  if (!tied) params.push(w('head.weight', [D, V]));

  return {
    spec,
    params,
    classes: V,
    inputShape: (b) => ({ shape: [b, T], dtype: 'int32' }),
    targetShape: (b) => [b, T],
    outputShape: (b) => [b, T, V],
    forward(g: Graph, ps: readonly Value[], ids: Value): Value {
      const dt = ps[0].dtype;
      // Causal mask: 0 on and below the diagonal, -1e9 above (exp underflows to exactly 0).
      const maskData = dt === 'float64' ? new Float64Array(T * T) : new Float32Array(T * T);
      for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) maskData[i * T + j] = -1e9;
      const mask = g.constant(maskData, [T, T], dt);
      let x = add(g, embedding(g, ps[0], ids), ps[1]); // [B, T, D]
      x = reshape(g, x, [-1, D]); // [B·T, D]
      let k = 2;
      for (let l = 0; l < L; l++) {
        const [ln1w, ln1b, wqkv, bqkv, wo, bo, ln2w, ln2b, w1, b1, w2, b2] = ps.slice(k, k + 12);
        k += 12;
        const h = layerNorm(g, x, ln1w, ln1b, LN_EPS);
        const qkv = reshape(g, linear(g, h, wqkv, bqkv), [-1, T, 3, H, dh]);
        const [q5, k5, v5] = split(g, transpose(g, qkv, [2, 0, 3, 1, 4]), 0, [1, 1, 1]); // [1, B, H, T, dh]
        const q = scale(g, reshape(g, q5, [-1, H, T, dh]), 1 / Math.sqrt(dh));
        const kk = reshape(g, k5, [-1, H, T, dh]);
        const v = reshape(g, v5, [-1, H, T, dh]);
        const att = softmax(g, add(g, matmul(g, q, kk, false, true), mask), -1); // [B, H, T, T]
        const o = reshape(g, transpose(g, matmul(g, att, v), [0, 2, 1, 3]), [-1, D]); // [B·T, D]
        x = add(g, x, linear(g, o, wo, bo));
        const h2 = layerNorm(g, x, ln2w, ln2b, LN_EPS);
        x = add(g, x, linear(g, gelu(g, linear(g, h2, w1, b1)), w2, b2));
      }
      x = layerNorm(g, x, ps[k], ps[k + 1], LN_EPS);
      return tied ? matmul(g, x, ps[0], false, true) : linear(g, x, ps[k + 2]);
    },
  };
}
