import { describe, expect, it } from 'vitest';
import { createCodec, decodeAny } from '../../../src/train/codecs/index.ts';
import { AllReduceSim, ErrorFeedbackCodec } from '../../../src/train/diloco/index.ts';
import { Rng } from '../../../src/train/models/prng.ts';

const vec = (n: number, rng: Rng, scale = 1) => new Float32Array(n).map(() => scale * rng.normal());

describe('ErrorFeedbackCodec', () => {
  it('loses nothing over rounds: Σ decoded = Σ sent − residual; same bytes as the inner codec', () => {
    const rng = new Rng(1);
    const ef = new ErrorFeedbackCodec(createCodec('int4'));
    const plain = createCodec('int4');
    const n = 1000;
    const sumIn = new Float64Array(n);
    const sumOut = new Float64Array(n);
    for (let r = 0; r < 20; r++) {
      const v = vec(n, rng);
      const bytes = ef.encode(v);
      expect(bytes.byteLength).toBe(plain.encode(v).byteLength);
      const out = decodeAny(bytes);
      for (let i = 0; i < n; i++) {
        sumIn[i] += v[i];
        sumOut[i] += out[i];
      }
    }
    const e = ef.residual;
    let maxErr = 0;
    for (let i = 0; i < n; i++) maxErr = Math.max(maxErr, Math.abs(sumIn[i] - e[i] - sumOut[i]));
    expect(maxErr).toBeLessThan(1e-4);
  });

  it('a repeated vector is transmitted exactly on average; without feedback int4 keeps its bias', () => {
    const rng = new Rng(2);
    const n = 512;
    const v = vec(n, rng);
    const ef = new ErrorFeedbackCodec(createCodec('int4'));
    const plain = createCodec('int4');
    const R = 50;
    const meanEf = new Float64Array(n);
    const meanPlain = new Float64Array(n);
    for (let r = 0; r < R; r++) {
      const a = decodeAny(ef.encode(v));
      const b = decodeAny(plain.encode(v));
      for (let i = 0; i < n; i++) {
        meanEf[i] += a[i] / R;
        meanPlain[i] += b[i] / R;
      }
    }
    const err = (m: Float64Array) => Math.sqrt(m.reduce((s, x, i) => s + (x - v[i]) ** 2, 0) / n);
    expect(err(meanEf)).toBeLessThan(0.1 * err(meanPlain));
    expect(() => ef.encode(new Float32Array(3))).toThrow(/length changed/);
  });

  it('in the simulated all-reduce, feedback makes the running sum of means track the true sum', () => {
    const rng = new Rng(3);
    const K = 4;
    const n = 300;
    const withEf = new AllReduceSim(K, () => new ErrorFeedbackCodec(createCodec('int4')));
    const without = new AllReduceSim(K, () => createCodec('int4'));
    const trueSum = new Float64Array(n);
    const sEf = new Float64Array(n);
    const sPlain = new Float64Array(n);
    const bias = vec(n, rng, 0.3);
    for (let r = 0; r < 30; r++) {
      const vs = Array.from({ length: K }, () => vec(n, rng, 0.1).map((x, i) => x + bias[i]));
      for (let i = 0; i < n; i++) trueSum[i] += vs.reduce((a, v) => a + v[i], 0) / K;
      const a = withEf.run(vs);
      const b = without.run(vs);
      expect(a.bytesSent).toEqual(b.bytesSent);
      for (let i = 0; i < n; i++) {
        sEf[i] += a.mean[i];
        sPlain[i] += b.mean[i];
      }
    }
    const err = (s: Float64Array) => Math.max(...s.map((x, i) => Math.abs(x - trueSum[i])));
    expect(err(sEf)).toBeLessThan(0.5 * err(sPlain));
  });
});
