/**
 * AdamW in graph form (PyTorch semantics) with global-norm gradient clipping. The lr schedule is
 * `lrAt` (src/train/schedule.ts); the per-step scalars are graph inputs, so a new lr never requires
 * rebuilding the graph:
 *   hp = [1 − lr·wd, lr·√(1 − β2^t) / (1 − β1^t), ε·√(1 − β2^t)]  (computed in float64 on the host),
 * which folds the second bias correction into the step size and ε (one pass less per parameter).
 * Update, for each parameter (decay only where the parameter allows it):
 *   s = min(1, clip / (‖g‖ + 1e-6))               (s = 1 without clipping)
 *   m ← β1·m + (1 − β1)·s·g,  v ← β2·v + (1 − β2)·s²·g²
 *   p ← p·(1 − lr·wd) − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε)
 */
import type { InnerOptimizerConfig } from '../runtime.ts';
import { lrAt } from '../schedule.ts';
import type { Graph, Value } from './graph.ts';
import { int } from './graph.ts';

/** The per-step hyper-parameter vector fed to the graph for update number `step` (0-based). */
export function adamHyper(cfg: InnerOptimizerConfig, step: number, lr = lrAt(step, cfg)): Float32Array {
  const t = step + 1;
  const bc2 = Math.sqrt(1 - cfg.beta2 ** t);
  return new Float32Array([1 - lr * cfg.weightDecay, (lr * bc2) / (1 - cfg.beta1 ** t), cfg.eps * bc2]);
}

export type AdamState = { p: Value; m: Value; v: Value };

/** Emits one AdamW update of all parameters; returns the new (p, m, v) values. */
export function emitAdamW(
  g: Graph,
  cfg: Pick<InnerOptimizerConfig, 'beta1' | 'beta2' | 'eps' | 'weightDecay' | 'clipNorm'>,
  state: readonly AdamState[],
  grads: readonly Value[],
  decay: readonly boolean[],
  hp: Value,
): AdamState[] {
  const was = g.recording;
  g.recording = false;
  const n = (op: string, ins: Value[], like: Value, attrs = {}) =>
    g.node(op, ins, [{ shape: like.shape, dtype: like.dtype }], attrs)[0];
  const scalarShape = { shape: [1], dtype: 'float32' as const };
  const [decayF, stepSize, epsHat] = g.node(
    'Split',
    [hp, g.int64s([1, 1, 1])],
    [scalarShape, scalarShape, scalarShape],
    {
      axis: int(0),
    },
  );
  let coefA = g.scalar(1 - cfg.beta1);
  let coefB = g.scalar(1 - cfg.beta2);
  if (cfg.clipNorm !== undefined && cfg.clipNorm > 0) {
    let total: Value | undefined;
    for (const gr of grads) {
      const ss = g.node('ReduceSumSquare', [gr], [{ shape: [], dtype: 'float32' }], { keepdims: int(0) })[0];
      total = total ? n('Add', [total, ss], ss) : ss;
    }
    const norm = n('Sqrt', [total!], total!);
    const ratio = n('Div', [g.scalar(cfg.clipNorm), n('Add', [norm, g.scalar(1e-6)], norm)], norm);
    const s = n('Min', [ratio, g.scalar(1)], norm);
    coefA = n('Mul', [s, coefA], s);
    coefB = n('Mul', [n('Mul', [s, s], s), coefB], s);
  }
  const b1 = g.scalar(cfg.beta1);
  const b2 = g.scalar(cfg.beta2);
  const out = state.map(({ p, m, v }, i) => {
    const gr = grads[i];
    const m1 = n('Add', [n('Mul', [m, b1], m), n('Mul', [gr, coefA], m)], m);
    const v1 = n('Add', [n('Mul', [v, b2], v), n('Mul', [n('Mul', [gr, gr], v), coefB], v)], v);
    const denom = n('Add', [n('Sqrt', [v1], v), epsHat], v);
    const upd = n('Mul', [n('Div', [m1, denom], m), stepSize], m);
    const pd = decay[i] && cfg.weightDecay !== 0 ? n('Mul', [p, decayF], p) : p;
    const p1 = n('Sub', [pd, upd], p);
    return { p: p1, m: m1, v: v1 };
  });
  g.recording = was;
  return out;
}
