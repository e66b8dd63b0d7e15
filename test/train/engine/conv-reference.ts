/**
 * Plain float64 TypeScript forward passes of conv2d / pooling (NCHW), the numeric side of the
 * gradient checks for kernels that ONNX Runtime only runs in float32 (Conv, ConvTranspose,
 * AveragePool).
 */
export type Geom = { n: number; c: number; h: number; w: number };

export function conv2dRef(
  x: Float64Array,
  xs: Geom,
  wt: Float64Array,
  cout: number,
  k: [number, number],
  bias: Float64Array | undefined,
  s: [number, number],
  p: [number, number],
): Float64Array {
  const ho = Math.floor((xs.h + 2 * p[0] - k[0]) / s[0]) + 1;
  const wo = Math.floor((xs.w + 2 * p[1] - k[1]) / s[1]) + 1;
  const out = new Float64Array(xs.n * cout * ho * wo);
  for (let n = 0; n < xs.n; n++)
    for (let co = 0; co < cout; co++)
      for (let y = 0; y < ho; y++)
        for (let xx = 0; xx < wo; xx++) {
          let acc = bias ? bias[co] : 0;
          for (let ci = 0; ci < xs.c; ci++)
            for (let i = 0; i < k[0]; i++)
              for (let j = 0; j < k[1]; j++) {
                const r = y * s[0] + i - p[0];
                const q = xx * s[1] + j - p[1];
                if (r < 0 || q < 0 || r >= xs.h || q >= xs.w) continue;
                acc +=
                  x[((n * xs.c + ci) * xs.h + r) * xs.w + q] * wt[((co * xs.c + ci) * k[0] + i) * k[1] + j];
              }
          out[((n * cout + co) * ho + y) * wo + xx] = acc;
        }
  return out;
}

export function poolRef(
  kind: 'max' | 'avg',
  x: Float64Array,
  xs: Geom,
  k: [number, number],
  s: [number, number],
  p: [number, number],
): Float64Array {
  const ho = Math.floor((xs.h + 2 * p[0] - k[0]) / s[0]) + 1;
  const wo = Math.floor((xs.w + 2 * p[1] - k[1]) / s[1]) + 1;
  const out = new Float64Array(xs.n * xs.c * ho * wo);
  for (let plane = 0; plane < xs.n * xs.c; plane++)
    for (let y = 0; y < ho; y++)
      for (let xx = 0; xx < wo; xx++) {
        let acc = kind === 'max' ? Number.NEGATIVE_INFINITY : 0;
        for (let i = 0; i < k[0]; i++)
          for (let j = 0; j < k[1]; j++) {
            const r = y * s[0] + i - p[0];
            const q = xx * s[1] + j - p[1];
            if (r < 0 || q < 0 || r >= xs.h || q >= xs.w) continue;
            const v = x[(plane * xs.h + r) * xs.w + q];
            acc = kind === 'max' ? Math.max(acc, v) : acc + v;
          }
        out[(plane * ho + y) * wo + xx] = kind === 'max' ? acc : acc / (k[0] * k[1]);
      }
  return out;
}
