/**
 * Differentiable ops: each emits standard ONNX (opset 18) nodes and records a backward rule that is
 * itself written in primitive ONNX ops (stock ONNX Runtime has no *Grad kernels).
 */
import type { BackwardFn, DType, Graph, Shape, Value } from './graph.ts';
import { broadcastShape, float, int, ints, numel, sameShape, str } from './graph.ts';

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function elementwise(g: Graph, op: string, a: Value, b: Value, backward?: (y: Value) => BackwardFn): Value {
  if (a.dtype !== b.dtype) throw new Error(`internal: ${op} dtype mismatch ${a.dtype} vs ${b.dtype}`);
  const shape = broadcastShape(a.shape, b.shape);
  const name = g.fresh(op.toLowerCase());
  const bw = backward?.({ name, shape, dtype: a.dtype });
  return g.node(op, [a, b], [{ shape, dtype: a.dtype, name }], {}, { backward: bw })[0];
}

/** Sums `grad` over the axes along which a tensor of `shape` was broadcast, giving `shape`. */
export function unbroadcast(g: Graph, grad: Value, shape: Shape): Value {
  if (sameShape(grad.shape, shape)) return grad;
  const lead = grad.shape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < grad.shape.length; i++) {
    if (i < lead || (shape[i - lead] === 1 && grad.shape[i] !== 1)) axes.push(i);
  }
  const reduced = axes.length > 0 ? reduceSum(g, grad, axes, true) : grad;
  return sameShape(reduced.shape, shape) ? reduced : reshape(g, reduced, shape);
}

export function add(g: Graph, a: Value, b: Value): Value {
  return elementwise(g, 'Add', a, b, () => (d, needs) => [
    needs[0] && d[0] ? unbroadcast(g, d[0], a.shape) : null,
    needs[1] && d[0] ? unbroadcast(g, d[0], b.shape) : null,
  ]);
}

export function sub(g: Graph, a: Value, b: Value): Value {
  return elementwise(g, 'Sub', a, b, () => (d, needs) => [
    needs[0] && d[0] ? unbroadcast(g, d[0], a.shape) : null,
    needs[1] && d[0] ? unbroadcast(g, neg(g, d[0]), b.shape) : null,
  ]);
}

export function mul(g: Graph, a: Value, b: Value): Value {
  return elementwise(g, 'Mul', a, b, () => (d, needs) => [
    needs[0] && d[0] ? unbroadcast(g, mul(g, d[0], b), a.shape) : null,
    needs[1] && d[0] ? unbroadcast(g, mul(g, d[0], a), b.shape) : null,
  ]);
}

/** a / b (differentiable in both). */
export function div(g: Graph, a: Value, b: Value): Value {
  return elementwise(g, 'Div', a, b, (y) => (d, needs) => {
    if (!d[0]) return [null, null];
    const da = div(g, d[0], b);
    return [
      needs[0] ? unbroadcast(g, da, a.shape) : null,
      needs[1] ? unbroadcast(g, neg(g, mul(g, da, y)), b.shape) : null,
    ];
  });
}

/** Multiplies by a float constant. */
export function scale(g: Graph, x: Value, s: number): Value {
  return mul(g, x, g.scalar(s, x.dtype));
}

function unary(g: Graph, op: string, x: Value, backward?: (y: Value) => BackwardFn): Value {
  const name = g.fresh(op.toLowerCase());
  const y: Value = { name, shape: x.shape, dtype: x.dtype };
  return g.node(op, [x], [{ shape: x.shape, dtype: x.dtype, name }], {}, { backward: backward?.(y) })[0];
}

export function neg(g: Graph, x: Value): Value {
  return unary(g, 'Neg', x, () => (d) => [d[0] ? neg(g, d[0]) : null]);
}

export function exp(g: Graph, x: Value): Value {
  return unary(g, 'Exp', x, (y) => (d) => [d[0] ? mul(g, d[0], y) : null]);
}

export function sqrt(g: Graph, x: Value): Value {
  return unary(g, 'Sqrt', x, (y) => (d) => [d[0] ? div(g, scale(g, d[0], 0.5), y) : null]);
}

/** ReLU; gradient `dY * Sign(Y)` (Y ≥ 0, so Sign is the 0/1 mask). */
export function relu(g: Graph, x: Value): Value {
  return unary(g, 'Relu', x, (y) => (d) => [d[0] ? mul(g, d[0], unary(g, 'Sign', y)) : null]);
}

/**
 * Exact GELU, `x · Φ(x)` with `Φ(x) = ½(1 + erf(x/√2))` (PyTorch's default). Gradient from
 * primitives: `dY · (Φ(x) + x · φ(x))`, `φ(x) = exp(−x²/2)/√(2π)`, reusing Φ from the forward pass.
 */
export function gelu(g: Graph, x: Value): Value {
  const t = g.recording;
  g.recording = false;
  const u = scale(g, x, Math.SQRT1_2);
  const e = unary(g, 'Erf', u);
  const cdf = mul(g, add(g, e, g.scalar(1, x.dtype)), g.scalar(0.5, x.dtype));
  g.recording = t;
  const backward: BackwardFn = (d) => {
    if (!d[0]) return [null];
    // x·φ(x) = x · exp(ln(1/√(2π)) − u²) with u = x/√2 from the forward pass (6 passes in all).
    const uu = mul(g, u, u);
    const arg = g.node(
      'Sub',
      [g.scalar(-0.5 * Math.log(2 * Math.PI), x.dtype), uu],
      [{ shape: x.shape, dtype: x.dtype }],
    )[0];
    const xpdf = mul(g, x, exp(g, arg));
    return [mul(g, d[0], add(g, cdf, xpdf))];
  };
  return g.node('Mul', [x, cdf], [{ shape: x.shape, dtype: x.dtype }], {}, { backward, tapeInputs: [x] })[0];
}

export function reduceSum(g: Graph, x: Value, axes: readonly number[], keepdims: boolean): Value {
  return reduce(g, 'ReduceSum', x, axes, keepdims);
}

export function reduceMean(g: Graph, x: Value, axes: readonly number[], keepdims: boolean): Value {
  return reduce(g, 'ReduceMean', x, axes, keepdims);
}

function reduce(
  g: Graph,
  op: 'ReduceSum' | 'ReduceMean',
  x: Value,
  axes: readonly number[],
  keepdims: boolean,
) {
  const ax = axes.map((a) => normAxis(a, x.shape.length));
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const shape = keepdims ? kept : x.shape.filter((_, i) => !ax.includes(i));
  const count = ax.reduce((n, a) => n * x.shape[a], 1);
  const bw: BackwardFn = (d) => {
    if (!d[0]) return [null];
    let dy = d[0];
    if (!keepdims) dy = reshape(g, dy, kept);
    if (op === 'ReduceMean') dy = scale(g, dy, 1 / count);
    return [expand(g, dy, x.shape)];
  };
  return g.node(
    op,
    [x, g.int64s(ax)],
    [{ shape, dtype: x.dtype }],
    { keepdims: int(keepdims ? 1 : 0) },
    {
      backward: bw,
    },
  )[0];
}

/** Broadcasts to `shape` (gradient: sum over the broadcast axes). */
export function expand(g: Graph, x: Value, shape: Shape): Value {
  if (sameShape(x.shape, shape)) return x;
  return g.node(
    'Expand',
    [x, g.int64s(shape)],
    [{ shape, dtype: x.dtype }],
    {},
    {
      backward: (d) => [d[0] ? unbroadcast(g, d[0], x.shape) : null],
    },
  )[0];
}

/** Reshape to a static shape (or with 0 = copy the input dim, -1 = infer, for batch-agnostic export). */
export function reshape(g: Graph, x: Value, shape: readonly number[]): Value {
  const out = shape.map((d, i) => (d === 0 ? x.shape[i] : d));
  const known = out.filter((d) => d !== -1).reduce((n, d) => n * d, 1);
  const resolved = out.map((d) => (d === -1 ? numel(x.shape) / known : d));
  if (numel(resolved) !== numel(x.shape))
    throw new Error(`internal: cannot reshape [${x.shape}] to [${shape}]`);
  if (sameShape(resolved, x.shape)) return x;
  return g.node(
    'Reshape',
    [x, g.int64s(shape)],
    [{ shape: resolved, dtype: x.dtype }],
    {},
    {
      backward: (d) => [d[0] ? reshape(g, d[0], x.shape) : null],
    },
  )[0];
}

export function transpose(g: Graph, x: Value, perm: readonly number[]): Value {
  const shape = perm.map((p) => x.shape[p]);
  const inv = perm.map((_, i) => perm.indexOf(i));
  return g.node(
    'Transpose',
    [x],
    [{ shape, dtype: x.dtype }],
    { perm: ints(perm) },
    {
      backward: (d) => [d[0] ? transpose(g, d[0], inv) : null],
    },
  )[0];
}

/** Swaps the last two axes. */
export function transposeLast2(g: Graph, x: Value): Value {
  const r = x.shape.length;
  const perm = x.shape.map((_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return transpose(g, x, perm);
}

export function concat(g: Graph, xs: readonly Value[], axis: number): Value {
  const ax = normAxis(axis, xs[0].shape.length);
  const shape = [...xs[0].shape];
  shape[ax] = xs.reduce((n, x) => n + x.shape[ax], 0);
  const sizes = xs.map((x) => x.shape[ax]);
  return g.node(
    'Concat',
    xs,
    [{ shape, dtype: xs[0].dtype }],
    { axis: int(ax) },
    {
      backward: (d, needs) => {
        if (!d[0]) return xs.map(() => null);
        const parts = split(g, d[0], ax, sizes);
        return parts.map((p, i) => (needs[i] ? p : null));
      },
    },
  )[0];
}

export function split(g: Graph, x: Value, axis: number, sizes: readonly number[]): Value[] {
  const ax = normAxis(axis, x.shape.length);
  const outs = sizes.map((s) => {
    const shape = [...x.shape];
    shape[ax] = s;
    return { shape, dtype: x.dtype };
  });
  return g.node(
    'Split',
    [x, g.int64s(sizes)],
    outs,
    { axis: int(ax) },
    {
      backward: (d) => {
        if (d.every((v) => v === null)) return [null];
        const parts = d.map((v, i) => v ?? zeros(g, outs[i].shape, x.dtype));
        return [concat(g, parts, ax)];
      },
    },
  );
}

/** A zero tensor of the given shape (Expand of a scalar, so no large initializer). */
export function zeros(g: Graph, shape: Shape, dtype: DType): Value {
  return g.node('Expand', [g.scalar(0, dtype), g.int64s(shape)], [{ shape, dtype }])[0];
}

/**
 * Matrix product with NumPy batch broadcasting; `transA`/`transB` transpose the last two axes of an
 * operand. Rank-2 products emit Gemm (transposes as attributes); higher ranks emit Transpose+MatMul,
 * which ONNX Runtime fuses.
 */
export function matmul(g: Graph, a: Value, b: Value, transA = false, transB = false): Value {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) throw new Error('internal: matmul needs rank ≥ 2 operands');
  const [m, ka] = transA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
  const [kb, n] = transB ? [b.shape[rb - 1], b.shape[rb - 2]] : [b.shape[rb - 2], b.shape[rb - 1]];
  if (ka !== kb) throw new Error(`internal: matmul inner dims ${ka} vs ${kb}`);
  const batch = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const shape = [...batch, m, n];
  const bw: BackwardFn = (d, needs) => {
    const dy = d[0];
    if (!dy) return [null, null];
    let da: Value | null = null;
    let db: Value | null = null;
    if (needs[0]) {
      if (!transA) da = transB ? matmul(g, dy, b) : matmul(g, dy, b, false, true);
      else da = transB ? matmul(g, b, dy, true, true) : matmul(g, b, dy, false, true);
      da = unbroadcast(g, da, a.shape);
    }
    if (needs[1]) {
      if (!transB) db = transA ? matmul(g, a, dy) : matmul(g, a, dy, true, false);
      else db = transA ? matmul(g, dy, a, true, true) : matmul(g, dy, a, true, false);
      db = unbroadcast(g, db, b.shape);
    }
    return [da, db];
  };
  if (ra === 2 && rb === 2) {
    return g.node(
      'Gemm',
      [a, b],
      [{ shape, dtype: a.dtype }],
      { transA: int(transA ? 1 : 0), transB: int(transB ? 1 : 0) },
      {
        backward: bw,
      },
    )[0];
  }
  const t = g.recording;
  g.recording = false;
  const at = transA ? transposeLast2(g, a) : a;
  const bt = transB ? transposeLast2(g, b) : b;
  g.recording = t;
  return g.node('MatMul', [at, bt], [{ shape, dtype: a.dtype }], {}, { backward: bw, tapeInputs: [a, b] })[0];
}

/**
 * Fully connected layer `x·W + b` as one Gemm (x `[N, in]`, W `[in, out]`, b `[out]`).
 * Gradients: dx = dY·Wᵀ, dW = xᵀ·dY, db = Σ_rows dY.
 */
export function linear(g: Graph, x: Value, w: Value, b?: Value): Value {
  if (x.shape.length !== 2 || w.shape.length !== 2) throw new Error('internal: linear expects 2-D x and W');
  const shape = [x.shape[0], w.shape[1]];
  const inputs = b ? [x, w, b] : [x, w];
  return g.node(
    'Gemm',
    inputs,
    [{ shape, dtype: x.dtype }],
    {},
    {
      backward: (d, needs) => {
        const dy = d[0];
        if (!dy) return inputs.map(() => null);
        return [
          needs[0] ? matmul(g, dy, w, false, true) : null,
          needs[1] ? matmul(g, x, dy, true, false) : null,
          ...(b ? [needs[2] ? reduceSum(g, dy, [0], false) : null] : []),
        ];
      },
    },
  )[0];
}

/** Softmax over `axis`; gradient `Y ⊙ (dY − Σ(dY ⊙ Y))`. */
export function softmax(g: Graph, x: Value, axis = -1): Value {
  const ax = normAxis(axis, x.shape.length);
  const name = g.fresh('softmax');
  const y: Value = { name, shape: x.shape, dtype: x.dtype };
  return g.node(
    'Softmax',
    [x],
    [{ ...y }],
    { axis: int(ax) },
    {
      backward: (d) => {
        if (!d[0]) return [null];
        const s = reduceSum(g, mul(g, d[0], y), [ax], true);
        return [mul(g, y, sub(g, d[0], s))];
      },
    },
  )[0];
}

/** LogSoftmax over `axis`; gradient `dY − exp(Y) ⊙ Σ dY`. */
export function logSoftmax(g: Graph, x: Value, axis = -1): Value {
  const ax = normAxis(axis, x.shape.length);
  const name = g.fresh('logsoftmax');
  const y: Value = { name, shape: x.shape, dtype: x.dtype };
  return g.node(
    'LogSoftmax',
    [x],
    [{ ...y }],
    { axis: int(ax) },
    {
      backward: (d) => {
        if (!d[0]) return [null];
        return [sub(g, d[0], mul(g, exp(g, y), reduceSum(g, d[0], [ax], true)))];
      },
    },
  )[0];
}

/**
 * LayerNormalization over the last axis (one fused forward kernel). The backward pass reuses the
 * kernel's Mean and InvStdDev outputs: x̂ = (x − μ)·r, dγ = Σ dY⊙x̂, dβ = Σ dY,
 * dx = r · (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)) with g = dY ⊙ γ.
 */
export function layerNorm(g: Graph, x: Value, gamma: Value, beta: Value, eps = 1e-5): Value {
  const r = x.shape.length;
  const statShape = x.shape.map((d, i) => (i === r - 1 ? 1 : d));
  const outer = x.shape.slice(0, -1).map((_, i) => i);
  // ONNX Runtime's CPU kernel always stashes the statistics in float32 (cast up for float64 graphs).
  const yName = g.fresh('ln');
  const meanV: Value = { name: `${yName}_mean`, shape: statShape, dtype: 'float32' };
  const rstdV: Value = { name: `${yName}_rstd`, shape: statShape, dtype: 'float32' };
  return g.node(
    'LayerNormalization',
    [x, gamma, beta],
    [{ shape: x.shape, dtype: x.dtype, name: yName }, { ...meanV }, { ...rstdV }],
    { axis: int(-1), epsilon: float(eps) },
    {
      backward: (d, needs) => {
        const dy = d[0];
        if (!dy) return [null, null, null];
        const mean = x.dtype === 'float32' ? meanV : cast(g, meanV, x.dtype);
        const rstd = x.dtype === 'float32' ? rstdV : cast(g, rstdV, x.dtype);
        const xhat = mul(g, sub(g, x, mean), rstd);
        const dgamma = needs[1] ? reduceSum(g, mul(g, dy, xhat), outer, false) : null;
        const dbeta = needs[2] ? reduceSum(g, dy, outer, false) : null;
        let dx: Value | null = null;
        if (needs[0]) {
          const gg = mul(g, dy, gamma);
          const m1 = reduceMean(g, gg, [r - 1], true);
          const m2 = reduceMean(g, mul(g, gg, xhat), [r - 1], true);
          dx = mul(g, sub(g, sub(g, gg, m1), mul(g, xhat, m2)), rstd);
        }
        return [dx, dgamma, dbeta];
      },
    },
  )[0];
}

/** Embedding lookup `table[ids]` (Gather); gradient by scatter-add (ScatterND, reduction=add). */
export function embedding(g: Graph, table: Value, ids: Value): Value {
  const shape = [...ids.shape, ...table.shape.slice(1)];
  return g.node(
    'Gather',
    [table, ids],
    [{ shape, dtype: table.dtype }],
    { axis: int(0) },
    {
      backward: (d, needs) => {
        if (!d[0] || !needs[0]) return [null, null];
        let idx = ids.dtype === 'int64' ? ids : cast(g, ids, 'int64');
        idx = g.node('Unsqueeze', [idx, g.int64s([-1])], [{ shape: [...ids.shape, 1], dtype: 'int64' }])[0];
        const z = zeros(g, table.shape, table.dtype);
        const dt = g.node('ScatterND', [z, idx, d[0]], [{ shape: table.shape, dtype: table.dtype }], {
          reduction: str('add'),
        })[0];
        return [dt, null];
      },
    },
  )[0];
}

export function cast(g: Graph, x: Value, to: DType): Value {
  const code = { float32: 1, int32: 6, int64: 7, bool: 9, float64: 11 }[to];
  return g.node('Cast', [x], [{ shape: x.shape, dtype: to }], { to: int(code) })[0];
}

/**
 * Mean cross-entropy of `logits [N, C]` against integer `labels [N]`: LogSoftmax over the last axis
 * (fast path; ONNX's SoftmaxCrossEntropyLoss expands to a LogSoftmax over a middle axis, which is
 * slower), GatherElements of the label column, negated mean. Returns the scalar loss and the
 * log-probabilities. Gradient: (softmax − onehot) · dL / N, the one-hot subtraction done in place
 * by ScatterElements(reduction=add).
 */
export function crossEntropy(g: Graph, logits: Value, labels: Value): { loss: Value; logProb: Value } {
  if (logits.shape.length !== 2 || labels.shape.length !== 1) {
    throw new Error('internal: crossEntropy expects logits [N, C] and labels [N]');
  }
  const [n] = logits.shape;
  const was = g.recording;
  g.recording = false;
  const logProb = g.node('LogSoftmax', [logits], [{ shape: logits.shape, dtype: logits.dtype }], {
    axis: int(1),
  })[0];
  const idx = g.node('Unsqueeze', [labels, g.int64s([1])], [{ shape: [n, 1], dtype: labels.dtype }])[0];
  const picked = g.node('GatherElements', [logProb, idx], [{ shape: [n, 1], dtype: logits.dtype }], {
    axis: int(1),
  })[0];
  const mean = g.node('ReduceMean', [picked], [{ shape: [], dtype: logits.dtype }], { keepdims: int(0) })[0];
  g.recording = was;
  const backward: BackwardFn = (d) => {
    if (!d[0]) return [null];
    const p = exp(g, logProb);
    const minusOne = expand(g, g.scalar(-1, logits.dtype), [n, 1]);
    const diff = g.node(
      'ScatterElements',
      [p, idx, minusOne],
      [{ shape: logits.shape, dtype: logits.dtype }],
      {
        axis: int(1),
        reduction: str('add'),
      },
    )[0];
    return [mul(g, diff, mul(g, d[0], g.scalar(1 / n, logits.dtype)))];
  };
  const loss = g.node(
    'Neg',
    [mean],
    [{ shape: [], dtype: logits.dtype }],
    {},
    { backward, tapeInputs: [logits] },
  )[0];
  return { loss, logProb };
}

/**
 * Mean squared error of `pred` against `target` (same shape, float): mean over every element of
 * (pred − target)², the regression loss (PyTorch's `mse_loss`, reduction `mean`). One fused op on
 * the tape: forward Sub → Mul → ReduceMean; backward dL · 2(pred − target)/n to `pred`, and its
 * negation to `target` (n = element count), reusing the forward difference.
 */
export function mse(g: Graph, pred: Value, target: Value): Value {
  if (!sameShape(pred.shape, target.shape) || pred.dtype !== target.dtype) {
    throw new Error(
      `internal: mse expects pred and target of one shape and dtype, got ${pred.dtype}[${pred.shape}] and ${target.dtype}[${target.shape}]`,
    );
  }
  const n = numel(pred.shape);
  const was = g.recording;
  g.recording = false;
  const diff = g.node('Sub', [pred, target], [{ shape: pred.shape, dtype: pred.dtype }])[0];
  const sq = g.node('Mul', [diff, diff], [{ shape: pred.shape, dtype: pred.dtype }])[0];
  g.recording = was;
  const backward: BackwardFn = (d, needs) => {
    if (!d[0]) return [null, null];
    const dPred = mul(g, diff, mul(g, d[0], g.scalar(2 / n, pred.dtype)));
    return [needs[0] ? dPred : null, needs[1] ? neg(g, dPred) : null];
  };
  return g.node(
    'ReduceMean',
    [sq],
    [{ shape: [], dtype: pred.dtype }],
    { keepdims: int(0) },
    { backward, tapeInputs: [pred, target] },
  )[0];
}

/** Number of rows whose argmax equals the label, as a float scalar (no gradient). */
export function countCorrect(g: Graph, logits: Value, labels: Value): Value {
  const [n] = logits.shape;
  const am = g.node('ArgMax', [logits], [{ shape: [n], dtype: 'int64' }], {
    axis: int(1),
    keepdims: int(0),
  })[0];
  const lab = labels.dtype === 'int64' ? labels : cast(g, labels, 'int64');
  const eq = g.node('Equal', [am, lab], [{ shape: [n], dtype: 'bool' }])[0];
  return reduceSum(g, cast(g, eq, logits.dtype), [0], false);
}
