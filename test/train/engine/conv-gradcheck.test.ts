import { describe, expect, it } from 'vitest';
import { gradients } from '../../../src/train/graph/autodiff.ts';
import { avgPool2d, conv2d, globalAvgPool, maxPool2d } from '../../../src/train/graph/conv.ts';
import { Graph } from '../../../src/train/graph/graph.ts';
import * as op from '../../../src/train/graph/ops.ts';
import { Rng } from '../../../src/train/models/prng.ts';
import { encodeModel } from '../../../src/train/onnx/proto.ts';
import { OnnxSession } from '../../../src/train/onnx/session.ts';
import { conv2dRef, poolRef } from './conv-reference.ts';
import { gradCheck } from './gradcheck.ts';

// ORT's Conv / ConvTranspose / AveragePool kernels are float32 only: those checks run the float32
// graph's autodiff against central differences of a float64 plain-TS forward (like GELU's check).
const TOL32 = 1e-5;
const TOL64 = 1e-7;

type ConvCase = {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  bias: boolean;
  stride: [number, number];
  pad: [number, number];
};

const convCases: ConvCase[] = [
  {
    name: '3×3, stride 1, padding 1 (same), bias',
    x: [2, 3, 6, 5],
    w: [4, 3, 3, 3],
    bias: true,
    stride: [1, 1],
    pad: [1, 1],
  },
  {
    name: '3×2, stride [2,1], padding [1,0], bias (a row the forward never reaches)',
    x: [2, 2, 8, 6],
    w: [3, 2, 3, 2],
    bias: true,
    stride: [2, 1],
    pad: [1, 0],
  },
  {
    name: '2×2, stride 3, no padding, no bias (dW sliced)',
    x: [1, 2, 9, 10],
    w: [2, 2, 2, 2],
    bias: false,
    stride: [3, 3],
    pad: [0, 0],
  },
  {
    name: '5×5, stride 2, padding 2, bias',
    x: [2, 1, 7, 7],
    w: [2, 1, 5, 5],
    bias: true,
    stride: [2, 2],
    pad: [2, 2],
  },
];

describe('conv2d / pooling gradients match central finite differences', () => {
  for (const c of convCases) {
    it(`conv2d ${c.name}`, async () => {
      const [n, ci, h, w] = c.x;
      const [co, , kh, kw] = c.w;
      const inputs = [
        { name: 'x', shape: c.x },
        { name: 'w', shape: c.w },
        ...(c.bias ? [{ name: 'b', shape: [co] }] : []),
      ];
      const r = await gradCheck(
        inputs,
        (g, [x, wt, b]) => conv2d(g, x, wt, b, { stride: c.stride, padding: c.pad }),
        {
          dtype: 'float32',
          reference: ([x, wt, b]) => conv2dRef(x, { n, c: ci, h, w }, wt, co, [kh, kw], b, c.stride, c.pad),
        },
      );
      expect(r.checked).toBe(n * ci * h * w + co * ci * kh * kw + (c.bias ? co : 0));
      expect(r.maxRelErr).toBeLessThan(TOL32);
    });
  }

  // Distinct, well-separated values so that a ±1e-3 step never changes which element is the maximum.
  const separated = (count: number, seed: number) => {
    const rng = new Rng(seed);
    const v = Float64Array.from({ length: count }, (_, i) => (i - count / 2) * 0.05);
    for (let i = count - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [v[i], v[j]] = [v[j], v[i]];
    }
    return v;
  };

  for (const [name, shape, kernel, stride, padding] of [
    ['2×2 stride 2', [2, 3, 6, 6], 2, 2, 0],
    ['2×2 stride 2 on an odd size (the last row and column are in no window)', [1, 2, 7, 5], 2, 2, 0],
    ['3×3 stride 2 padding 1 (overlapping windows)', [2, 2, 7, 7], 3, 2, 1],
    ['3×3 stride 1 (each input in up to 9 windows)', [1, 2, 5, 6], 3, 1, 0],
  ] as const) {
    it(`maxPool2d ${name} (float64; scatter-add of the Indices output)`, async () => {
      const count = shape.reduce((a: number, b: number) => a * b, 1);
      const r = await gradCheck([{ name: 'x', shape, data: separated(count, 7) }], (g, [x]) =>
        maxPool2d(g, x, { kernel, stride, padding }),
      );
      expect(r.checked).toBe(count);
      expect(r.maxRelErr).toBeLessThan(TOL64);
    });
    it(`maxPool2d ${name} (float32 against a float64 reference; MaxUnpool when windows are disjoint)`, async () => {
      const [n, c, h, w] = shape;
      const count = shape.reduce((a: number, b: number) => a * b, 1);
      const r = await gradCheck(
        [{ name: 'x', shape, data: separated(count, 8) }],
        (g, [x]) => maxPool2d(g, x, { kernel, stride, padding }),
        {
          dtype: 'float32',
          reference: ([x]) =>
            poolRef('max', x, { n, c, h, w }, [kernel, kernel], [stride, stride], [padding, padding]),
        },
      );
      expect(r.checked).toBe(count);
      expect(r.maxRelErr).toBeLessThan(TOL32);
    });
    it(`avgPool2d ${name}`, async () => {
      const [n, c, h, w] = shape;
      const r = await gradCheck(
        [{ name: 'x', shape }],
        (g, [x]) => avgPool2d(g, x, { kernel, stride, padding }),
        {
          dtype: 'float32',
          reference: ([x]) =>
            poolRef('avg', x, { n, c, h, w }, [kernel, kernel], [stride, stride], [padding, padding]),
        },
      );
      expect(r.maxRelErr).toBeLessThan(TOL32);
    });
  }

  it("maxPool2d routes a tied window's gradient to its first maximum only (PyTorch's choice)", async () => {
    const g = new Graph();
    const x = g.input('x', [1, 1, 4, 4], 'float64');
    const y = maxPool2d(g, x, { kernel: 2 });
    const r = g.constant(Float64Array.from([1, 2, 3, 4]), [1, 1, 2, 2], 'float64');
    const loss = op.reduceSum(g, op.mul(g, y, r), [0, 1, 2, 3], false);
    g.output(gradients(g, loss, [x])[0], 'dx');
    const sess = await OnnxSession.create(encodeModel(g.toOnnxModel('tie')), { threads: 1 });
    const out = await sess.run({
      x: { data: new Float64Array(16).fill(1), dims: [1, 1, 4, 4], dtype: 'float64' },
    });
    await sess.release();
    expect(Array.from(out.dx as Float64Array)).toEqual([1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0]);
  });

  it('globalAvgPool, then a small conv net end to end (conv → relu → maxpool → conv → gap → linear)', async () => {
    const r = await gradCheck(
      [
        { name: 'x', shape: [2, 1, 6, 6] },
        { name: 'w1', shape: [3, 1, 3, 3] },
        { name: 'b1', shape: [3] },
        { name: 'w2', shape: [4, 3, 2, 2] },
        { name: 'fc', shape: [4, 2] },
      ],
      (g, [x, w1, b1, w2, fc]) => {
        const h = maxPool2d(g, op.relu(g, conv2d(g, x, w1, b1, { padding: 1 })), { kernel: 2 });
        return op.linear(g, globalAvgPool(g, conv2d(g, h, w2, undefined)), fc);
      },
      { dtype: 'float32', step: 1e-2 },
    );
    // float32 central differences (no float64 reference for the whole net): a looser bound.
    expect(r.maxRelErr).toBeLessThan(2e-3);
  });
});
