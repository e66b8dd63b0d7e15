/**
 * Differentiable 2-D convolution and pooling over NCHW tensors (PyTorch's layout), emitted as
 * standard ONNX opset-18 nodes with backward rules in primitive ops:
 *
 *  - `conv2d`: Conv (bias, stride, zero padding). dX = ConvTranspose(dY, W) with an output padding
 *    that restores H×W; dW = Conv(xᵀ, dYᵀ) with the forward stride as dilation (x as [C, N, H, W],
 *    dY as the kernel [Cout, N, Ho, Wo]), sliced to kh×kw and transposed back; db = Σ dY.
 *  - `maxPool2d`: MaxPool with its Indices output (flat positions into the input, first maximum
 *    on ties like PyTorch); dX = ScatterElements(zeros, indices, dY, reduction=add), so
 *    overlapping windows accumulate; MaxUnpool(dY, indices) when windows cannot overlap (float32).
 *  - `avgPool2d`: AveragePool (count_include_pad, PyTorch's default); dX = ConvTranspose of dY
 *    (one channel per image plane) with a constant 1/k² kernel.
 *  - `globalAvgPool`: ReduceMean over H and W, giving [N, C].
 *
 * Weights are [Cout, Cin, kh, kw] (PyTorch's Conv2d.weight). ONNX Runtime's CPU Conv,
 * ConvTranspose and AveragePool kernels are float32 only; MaxPool also runs float64.
 */
import type { BackwardFn, Graph, Value } from './graph.ts';
import { int, ints, numel, str } from './graph.ts';
import { reduceMean, reduceSum, reshape, transpose, zeros } from './ops.ts';

/** A size per spatial axis: one number for both, or [height, width]. */
export type Size2 = number | readonly [number, number];

export type Conv2dOptions = {
  /** Default 1. */
  stride?: Size2;
  /** Zero padding on each side; default 0. */
  padding?: Size2;
};

export type Pool2dOptions = {
  kernel: Size2;
  /** Default: the kernel size (non-overlapping windows). */
  stride?: Size2;
  /** Padding on each side (ignored by max, counted as zeros by average, as in PyTorch); default 0. */
  padding?: Size2;
};

function pair(s: Size2 | undefined, dflt: number): [number, number] {
  if (s === undefined) return [dflt, dflt];
  return typeof s === 'number' ? [s, s] : [s[0], s[1]];
}

/** Output size of a window of `k` with stride `s` and padding `p` on each side over `n` (floor). */
export function windowOut(n: number, k: number, s: number, p: number): number {
  return Math.floor((n + 2 * p - k) / s) + 1;
}

function checkGeom(what: string, x: Value, k: [number, number], s: [number, number], p: [number, number]) {
  if (x.shape.length !== 4) throw new Error(`internal: ${what} expects NCHW input, got [${x.shape}]`);
  const ok =
    [...k, ...s].every((v) => Number.isInteger(v) && v >= 1) && p.every((v) => Number.isInteger(v) && v >= 0);
  if (!ok) throw new Error(`internal: ${what} kernel ${k} stride ${s} padding ${p}`);
  const [h, w] = [x.shape[2], x.shape[3]];
  const ho = windowOut(h, k[0], s[0], p[0]);
  const wo = windowOut(w, k[1], s[1], p[1]);
  if (ho < 1 || wo < 1)
    throw new Error(`internal: ${what} window ${k} does not fit input ${h}×${w} (padding ${p})`);
  return { h, w, ho, wo };
}

/**
 * ConvTranspose of `dy` with kernel `w` ([Cout, Cin, kh, kw] read as ConvTranspose's [C_in, C_out/g, kh, kw]),
 * sized back to `outHW`: the adjoint of a strided, padded Conv.
 */
function convTransposeTo(
  g: Graph,
  dy: Value,
  w: Value,
  outHW: [number, number],
  s: [number, number],
  p: [number, number],
  k: [number, number],
): Value {
  const [ho, wo] = [dy.shape[2], dy.shape[3]];
  const opad = [
    outHW[0] - ((ho - 1) * s[0] - 2 * p[0] + k[0]),
    outHW[1] - ((wo - 1) * s[1] - 2 * p[1] + k[1]),
  ];
  return g.node('ConvTranspose', [dy, w], [{ shape: [dy.shape[0], w.shape[1], ...outHW], dtype: dy.dtype }], {
    kernel_shape: ints(k),
    strides: ints(s),
    pads: ints([p[0], p[1], p[0], p[1]]),
    output_padding: ints(opad),
  })[0];
}

/**
 * 2-D convolution (cross-correlation, like PyTorch): x [N, Cin, H, W], w [Cout, Cin, kh, kw],
 * optional bias [Cout] → [N, Cout, Ho, Wo], Ho = ⌊(H + 2p − kh)/s⌋ + 1.
 */
export function conv2d(g: Graph, x: Value, w: Value, b: Value | undefined, opts: Conv2dOptions = {}): Value {
  if (w.shape.length !== 4 || w.shape[1] !== x.shape[1]) {
    throw new Error(`internal: conv2d weight [${w.shape}] does not match input [${x.shape}]`);
  }
  if (b && (b.shape.length !== 1 || b.shape[0] !== w.shape[0])) {
    throw new Error(`internal: conv2d bias [${b.shape}] for ${w.shape[0]} output channels`);
  }
  const k: [number, number] = [w.shape[2], w.shape[3]];
  const s = pair(opts.stride, 1);
  const p = pair(opts.padding, 0);
  const { h, w: wd, ho, wo } = checkGeom('conv2d', x, k, s, p);
  const [n, cin] = [x.shape[0], x.shape[1]];
  const cout = w.shape[0];
  const inputs = b ? [x, w, b] : [x, w];
  const backward: BackwardFn = (d, needs) => {
    const dy = d[0];
    if (!dy) return inputs.map(() => null);
    let dx: Value | null = null;
    let dw: Value | null = null;
    if (needs[0]) dx = convTransposeTo(g, dy, w, [h, wd], s, p, k);
    if (needs[1]) {
      // dW[co, ci, i, j] = Σ_{n, y, x} dY[n, co, y, x] · X[n, ci, s·y + i − p, s·x + j − p]:
      // a Conv over X as [Cin, N, H, W] with dY as the kernel [Cout, N, Ho, Wo], dilated by s.
      const xt = transpose(g, x, [1, 0, 2, 3]);
      const dyt = transpose(g, dy, [1, 0, 2, 3]);
      const full = [h + 2 * p[0] - s[0] * (ho - 1), wd + 2 * p[1] - s[1] * (wo - 1)];
      // Rows/columns the forward never reached (when (H + 2p − kh) is not a multiple of s):
      // trim them with the end padding where it allows, else slice them off afterwards.
      const extra = [full[0] - k[0], full[1] - k[1]];
      const endPad = [Math.max(0, p[0] - extra[0]), Math.max(0, p[1] - extra[1])];
      const got = [full[0] - (p[0] - endPad[0]), full[1] - (p[1] - endPad[1])];
      let dwt = g.node('Conv', [xt, dyt], [{ shape: [cin, cout, got[0], got[1]], dtype: x.dtype }], {
        kernel_shape: ints([ho, wo]),
        dilations: ints(s),
        pads: ints([p[0], p[1], endPad[0], endPad[1]]),
      })[0];
      if (got[0] !== k[0] || got[1] !== k[1]) {
        dwt = g.node(
          'Slice',
          [dwt, g.int64s([0, 0]), g.int64s(k), g.int64s([2, 3])],
          [{ shape: [cin, cout, k[0], k[1]], dtype: x.dtype }],
        )[0];
      }
      dw = transpose(g, dwt, [1, 0, 2, 3]);
    }
    const db = b && needs[2] ? reduceSum(g, dy, [0, 2, 3], false) : null;
    return b ? [dx, dw, db] : [dx, dw];
  };
  return g.node(
    'Conv',
    inputs,
    [{ shape: [n, cout, ho, wo], dtype: x.dtype }],
    { kernel_shape: ints(k), strides: ints(s), pads: ints([p[0], p[1], p[0], p[1]]) },
    { backward },
  )[0];
}

/**
 * Max pooling over NCHW windows (padding never wins, as in PyTorch). Records the Indices output
 * only when the op is differentiated (the inference and eval graphs get the plain kernel).
 */
export function maxPool2d(g: Graph, x: Value, opts: Pool2dOptions): Value {
  const k = pair(opts.kernel, 1);
  const s = opts.stride === undefined ? k : pair(opts.stride, 1);
  const p = pair(opts.padding, 0);
  if (p[0] * 2 > k[0] || p[1] * 2 > k[1])
    throw new Error('internal: maxPool2d padding must be at most half the kernel');
  const { ho, wo } = checkGeom('maxPool2d', x, k, s, p);
  const shape = [x.shape[0], x.shape[1], ho, wo];
  const attrs = { kernel_shape: ints(k), strides: ints(s), pads: ints([p[0], p[1], p[0], p[1]]) };
  if (!g.recording) return g.node('MaxPool', [x], [{ shape, dtype: x.dtype }], attrs)[0];
  const idxName = g.fresh('maxpool_idx');
  const idx: Value = { name: idxName, shape, dtype: 'int64' };
  // Windows that cannot overlap have unique indices: MaxUnpool places dY exactly (measured ~2.5×
  // faster than the scatter-add on [64, 8, 28, 28]; float32 only in ORT, and it needs no padding).
  const disjoint = s[0] >= k[0] && s[1] >= k[1] && p[0] === 0 && p[1] === 0 && x.dtype === 'float32';
  const backward: BackwardFn = (d) => {
    if (!d[0]) return [null];
    if (disjoint) {
      return [
        g.node('MaxUnpool', [d[0], idx, g.int64s(x.shape)], [{ shape: x.shape, dtype: x.dtype }], {
          kernel_shape: ints(k),
          strides: ints(s),
        })[0],
      ];
    }
    const m = numel(shape);
    const flatIdx = reshape(g, idx, [m]);
    const flatDy = reshape(g, d[0], [m]);
    const z = zeros(g, [numel(x.shape)], x.dtype);
    const dx = g.node(
      'ScatterElements',
      [z, flatIdx, flatDy],
      [{ shape: [numel(x.shape)], dtype: x.dtype }],
      { axis: int(0), reduction: str('add') },
    )[0];
    return [reshape(g, dx, x.shape)];
  };
  return g.node('MaxPool', [x], [{ shape, dtype: x.dtype }, { ...idx }], attrs, { backward })[0];
}

/** Average pooling over NCHW windows; padded zeros count in the divisor (PyTorch's default). */
export function avgPool2d(g: Graph, x: Value, opts: Pool2dOptions): Value {
  const k = pair(opts.kernel, 1);
  const s = opts.stride === undefined ? k : pair(opts.stride, 1);
  const p = pair(opts.padding, 0);
  if (p[0] * 2 > k[0] || p[1] * 2 > k[1])
    throw new Error('internal: avgPool2d padding must be at most half the kernel');
  const { h, w, ho, wo } = checkGeom('avgPool2d', x, k, s, p);
  const [n, c] = [x.shape[0], x.shape[1]];
  const backward: BackwardFn = (d) => {
    if (!d[0]) return [null];
    const kern = new (x.dtype === 'float64' ? Float64Array : Float32Array)(k[0] * k[1]).fill(
      1 / (k[0] * k[1]),
    );
    const kv = g.constant(kern, [1, 1, k[0], k[1]], x.dtype);
    const planes = reshape(g, d[0], [n * c, 1, ho, wo]);
    return [reshape(g, convTransposeTo(g, planes, kv, [h, w], s, p, k), x.shape)];
  };
  return g.node(
    'AveragePool',
    [x],
    [{ shape: [n, c, ho, wo], dtype: x.dtype }],
    {
      kernel_shape: ints(k),
      strides: ints(s),
      pads: ints([p[0], p[1], p[0], p[1]]),
      count_include_pad: int(1),
    },
    { backward },
  )[0];
}

/** Global average pool: mean over H and W, [N, C, H, W] → [N, C]. */
export function globalAvgPool(g: Graph, x: Value): Value {
  if (x.shape.length !== 4) throw new Error(`internal: globalAvgPool expects NCHW input, got [${x.shape}]`);
  return reduceMean(g, x, [2, 3], false);
}
