/**
 * Finite-difference gradient checking of graph ops, run in float64 on ONNX Runtime: the loss is
 * Σ op(inputs) ⊙ R for a fixed random R; analytic gradients come from our autodiff, numeric ones
 * from central differences (step 1e-3) of the same forward graph.
 */
import { gradients } from '../../../src/train/graph/autodiff.ts';
import type { DType, Shape, Value } from '../../../src/train/graph/graph.ts';
import { Graph, numel } from '../../../src/train/graph/graph.ts';
import { mul, reduceSum } from '../../../src/train/graph/ops.ts';
import { Rng } from '../../../src/train/models/prng.ts';
import { encodeModel } from '../../../src/train/onnx/proto.ts';
import { type Feed, OnnxSession } from '../../../src/train/onnx/session.ts';

export type CheckInput = {
  name: string;
  shape: Shape;
  dtype?: DType;
  data?: Float64Array | Int32Array;
  diff?: boolean;
};

export async function gradCheck(
  inputs: readonly CheckInput[],
  build: (g: Graph, xs: Value[]) => Value,
  opts: {
    seed?: number;
    step?: number;
    dtype?: DType;
    /** Plain-TS float64 forward of `build` (for kernels without a float64 implementation in ORT). */
    reference?: (xs: Float64Array[]) => Float64Array;
  } = {},
): Promise<{ maxRelErr: number; maxAbsErr: number; checked: number }> {
  const dtype = opts.dtype ?? 'float64';
  const rng = new Rng(opts.seed ?? 1);
  const g = new Graph();
  const xs = inputs.map((i) => g.input(i.name, i.shape, i.dtype ?? dtype));
  const y = build(g, xs);
  const r = new Float64Array(numel(y.shape)).map(() => rng.normal());
  const rv = g.constant(dtype === 'float64' ? r : Float32Array.from(r), y.shape, dtype);
  const loss = reduceSum(
    g,
    mul(g, y, rv),
    y.shape.map((_, i) => i),
    false,
  );
  const diffIdx = inputs
    .map((inp, k) => ((inp.diff ?? (inp.dtype ?? dtype).startsWith('float')) ? k : -1))
    .filter((k) => k >= 0);
  const gs = gradients(
    g,
    loss,
    diffIdx.map((k) => xs[k]),
  );
  g.output(loss, 'loss');
  gs.forEach((gv, j) => {
    g.output(gv, `grad_${j}`);
  });
  const sess = await OnnxSession.create(encodeModel(g.toOnnxModel('gradcheck')), { threads: 1 });
  const data = inputs.map((inp) => {
    if (inp.data) return inp.data;
    const n = numel(inp.shape);
    const arr = new Float64Array(n).map(() => rng.normal());
    return arr;
  });
  const feeds = (): Record<string, Feed> => {
    const f: Record<string, Feed> = {};
    inputs.forEach((inp, k) => {
      const dt = inp.dtype ?? dtype;
      const d = data[k];
      f[inp.name] = { data: dt === 'float32' ? Float32Array.from(d) : d, dims: inp.shape, dtype: dt };
    });
    return f;
  };
  const base = await sess.run(feeds());
  const h = opts.step ?? 1e-3;
  let maxRelErr = 0;
  let maxAbsErr = 0;
  let checked = 0;
  for (let j = 0; j < diffIdx.length; j++) {
    const k = diffIdx[j];
    const x = data[k] as Float64Array;
    const analytic = base[`grad_${j}`] as Float64Array;
    for (let e = 0; e < x.length; e++) {
      const orig = x[e];
      const evalLoss = async () => {
        if (!opts.reference) return Number((await sess.run(feeds(), ['loss'])).loss[0]);
        const out = opts.reference(data as Float64Array[]);
        return out.reduce((acc, v, i) => acc + v * r[i], 0);
      };
      x[e] = orig + h;
      const lp = await evalLoss();
      x[e] = orig - h;
      const lm = await evalLoss();
      x[e] = orig;
      const num = (lp - lm) / (2 * h);
      const abs = Math.abs(num - analytic[e]);
      maxAbsErr = Math.max(maxAbsErr, abs);
      maxRelErr = Math.max(maxRelErr, abs / Math.max(1, Math.abs(num), Math.abs(analytic[e])));
      checked++;
    }
  }
  await sess.release();
  return { maxRelErr, maxAbsErr, checked };
}
