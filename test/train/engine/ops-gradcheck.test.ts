import { describe, expect, it } from 'vitest';
import * as op from '../../../src/train/graph/ops.ts';
import { gradCheck } from './gradcheck.ts';

const TOL = 1e-5;

describe('op gradients match central finite differences (float64, step 1e-3)', () => {
  it('Add / Sub / Mul / Div with broadcasting (gradient reduced over broadcast axes)', async () => {
    const r = await gradCheck(
      [
        { name: 'a', shape: [2, 3, 4] },
        { name: 'b', shape: [3, 1] },
        { name: 'c', shape: [4] },
      ],
      (g, [a, b, c]) =>
        op.div(
          g,
          op.mul(g, op.add(g, a, b), op.sub(g, c, b)),
          op.add(g, op.mul(g, c, c), g.scalar(1, 'float64')),
        ),
    );
    expect(r.checked).toBe(24 + 3 + 4);
    expect(r.maxRelErr).toBeLessThan(TOL);
  });

  it('Gemm linear layer (x, W, b)', async () => {
    const r = await gradCheck(
      [
        { name: 'x', shape: [3, 4] },
        { name: 'w', shape: [4, 5] },
        { name: 'b', shape: [5] },
      ],
      (g, [x, w, b]) => op.linear(g, x, w, b),
    );
    expect(r.maxRelErr).toBeLessThan(TOL);
  });

  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    it(`2-D matmul transA=${ta} transB=${tb}`, async () => {
      const r = await gradCheck(
        [
          { name: 'a', shape: ta ? [4, 3] : [3, 4] },
          { name: 'b', shape: tb ? [5, 4] : [4, 5] },
        ],
        (g, [a, b]) => op.matmul(g, a, b, ta, tb),
      );
      expect(r.maxRelErr).toBeLessThan(TOL);
    });
    it(`batched broadcast matmul transA=${ta} transB=${tb}`, async () => {
      const r = await gradCheck(
        [
          { name: 'a', shape: ta ? [2, 3, 4, 3] : [2, 3, 3, 4] },
          { name: 'b', shape: tb ? [3, 5, 4] : [3, 4, 5] },
        ],
        (g, [a, b]) => op.matmul(g, a, b, ta, tb),
      );
      expect(r.maxRelErr).toBeLessThan(TOL);
    });
  }

  it('ReLU (away from the kink)', async () => {
    const data = Float64Array.from({ length: 12 }, (_, i) => (i % 2 ? 1 : -1) * (0.1 + 0.07 * i));
    const r = await gradCheck([{ name: 'x', shape: [3, 4], data }], (g, [x]) => op.relu(g, x));
    expect(r.maxRelErr).toBeLessThan(TOL);
  });

  it('GELU (exact, erf): float32 graph against a float64 plain-TS reference', async () => {
    // ORT has no float64 Erf kernel, so the numeric side is a float64 GELU in TS.
    const r = await gradCheck([{ name: 'x', shape: [3, 5] }], (g, [x]) => op.gelu(g, x), {
      dtype: 'float32',
      reference: ([x]) => x.map((v) => 0.5 * v * (1 + erf64(v / Math.SQRT2))),
    });
    expect(r.checked).toBe(15);
    expect(r.maxRelErr).toBeLessThan(2e-6);
  });

  it('the float64 reference erf is accurate', () => {
    expect(erf64(0.5)).toBeCloseTo(0.5204998778130465, 14);
    expect(erf64(-1.7)).toBeCloseTo(-0.9837904585907746, 14);
  });

  it('Softmax and LogSoftmax over the last axis', async () => {
    const r1 = await gradCheck([{ name: 'x', shape: [2, 3, 5] }], (g, [x]) => op.softmax(g, x));
    const r2 = await gradCheck([{ name: 'x', shape: [4, 5] }], (g, [x]) => op.logSoftmax(g, x));
    expect(r1.maxRelErr).toBeLessThan(TOL);
    expect(r2.maxRelErr).toBeLessThan(TOL);
  });

  it('LayerNormalization (x, gamma, beta)', async () => {
    const r = await gradCheck(
      [
        { name: 'x', shape: [2, 3, 6] },
        { name: 'gamma', shape: [6] },
        { name: 'beta', shape: [6] },
      ],
      (g, [x, ga, be]) => op.layerNorm(g, x, ga, be, 1e-5),
    );
    expect(r.maxRelErr).toBeLessThan(1e-5);
  });

  it('embedding (Gather; scatter-add gradient with repeated ids)', async () => {
    const ids = Int32Array.from([1, 3, 1, 0, 3, 3]);
    const r = await gradCheck(
      [
        { name: 't', shape: [5, 4] },
        { name: 'ids', shape: [2, 3], dtype: 'int32', data: ids },
      ],
      (g, [t, i]) => op.embedding(g, t, i),
    );
    expect(r.checked).toBe(20);
    expect(r.maxRelErr).toBeLessThan(TOL);
  });

  it('cross-entropy on integer labels (mean) through a linear layer', async () => {
    const labels = Int32Array.from([2, 0, 4, 4]);
    const r = await gradCheck(
      [
        { name: 'x', shape: [4, 3] },
        { name: 'w', shape: [3, 5] },
        { name: 'y', shape: [4], dtype: 'int32', data: labels },
      ],
      (g, [x, w, y]) => op.crossEntropy(g, op.linear(g, x, w), y).loss,
    );
    expect(r.maxRelErr).toBeLessThan(TOL);
  });

  it('mean squared error through a linear layer (gradient to the prediction and to the target)', async () => {
    const r = await gradCheck(
      [
        { name: 'x', shape: [4, 3] },
        { name: 'w', shape: [3, 2] },
        { name: 't', shape: [4, 2] },
      ],
      (g, [x, w, t]) => op.mse(g, op.linear(g, x, w), t),
    );
    expect(r.checked).toBe(12 + 6 + 8);
    expect(r.maxRelErr).toBeLessThan(TOL);
  });

  it('mean squared error in float32 against its float64 definition', async () => {
    const r = await gradCheck(
      [
        { name: 'p', shape: [5, 1] },
        { name: 't', shape: [5, 1] },
      ],
      (g, [p, t]) => op.mse(g, p, t),
      {
        dtype: 'float32',
        reference: ([p, t]) => Float64Array.of(p.reduce((s, v, i) => s + (v - t[i]) ** 2, 0) / p.length),
      },
    );
    expect(r.maxRelErr).toBeLessThan(1e-2);
  });

  it('Reshape / Transpose / Split / Concat / ReduceSum / ReduceMean / Expand / Sqrt / Exp', async () => {
    const r = await gradCheck([{ name: 'x', shape: [2, 6, 4] }], (g, [x]) => {
      const t = op.transpose(g, op.reshape(g, x, [2, 3, 2, 4]), [0, 2, 1, 3]);
      const [p, q] = op.split(g, t, 3, [1, 3]);
      const c = op.concat(g, [op.exp(g, q), op.expand(g, op.reduceMean(g, p, [1], true), [2, 2, 3, 1])], 3);
      const s = op.reduceSum(g, op.mul(g, c, c), [2], false);
      return op.sqrt(g, op.add(g, s, g.scalar(1, 'float64')));
    });
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
});

/** erf by its Maclaurin series (double precision for |x| < 3, enough for normal test inputs). */
function erf64(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const t = term / (2 * n + 1);
    sum += t;
    if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

describe('the gradient check itself', () => {
  it('catches a wrong backward rule', async () => {
    // Neg with a deliberately wrong gradient (+dY instead of −dY) must fail the check.
    const r = await gradCheck(
      [{ name: 'x', shape: [2, 3] }],
      (g, [x]) =>
        g.node('Neg', [x], [{ shape: x.shape, dtype: x.dtype }], {}, { backward: (d) => [d[0]] })[0],
    );
    expect(r.maxRelErr).toBeGreaterThan(0.5);
  });
});
