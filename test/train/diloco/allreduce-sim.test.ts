import { describe, expect, it } from 'vitest';
import { createCodec, HEADER_BYTES } from '../../../src/train/codecs/index.ts';
import { AllReduceSim, ddpBytesPerStep, sliceBounds } from '../../../src/train/diloco/index.ts';

function vec(n: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = Math.sin(seed * 13.7 + i * 0.91) * (1 + (i % 5));
  return v;
}

describe('byte accounting', () => {
  it('DDP ring all-reduce: 2·P·4·(K−1)/K per worker per step', () => {
    expect(ddpBytesPerStep(1000, 8)).toBe(7000);
    expect(ddpBytesPerStep(1000, 2)).toBe(4000);
    expect(ddpBytesPerStep(1000, 1)).toBe(0);
  });

  it('slices tile the vector with sizes within 1', () => {
    const b = [0, 1, 2].map((i) => sliceBounds(10, 3, i));
    expect(b).toEqual([
      [0, 4],
      [4, 7],
      [7, 10],
    ]);
  });
});

describe('AllReduceSim', () => {
  it('fp32: everyone gets the exact mean; bytes = scatter + gather messages, headers included', () => {
    const K = 4;
    const n = 103;
    const vs = [0, 1, 2, 3].map((s) => vec(n, s));
    const sim = new AllReduceSim(K, () => createCodec('fp32'));
    const { mean, bytesSent } = sim.run(vs);
    for (let i = 0; i < n; i++)
      expect(mean[i]).toBeCloseTo((vs[0][i] + vs[1][i] + vs[2][i] + vs[3][i]) / 4, 5);
    // worker w sends its 3 foreign slices, then its own mean slice to 3 peers
    const sizes = [0, 1, 2, 3].map((j) => sliceBounds(n, K, j)).map(([s, e]) => HEADER_BYTES + 4 * (e - s));
    for (let w = 0; w < K; w++) {
      const scatter = sizes.reduce((a, b, j) => a + (j === w ? 0 : b), 0);
      expect(bytesSent[w]).toBe(scatter + 3 * sizes[w]);
    }
    const total = bytesSent.reduce((a, b) => a + b, 0) / K;
    expect(total).toBeCloseTo(2 * (3 / 4) * (4 * n) + 6 * HEADER_BYTES, 0);
  });

  it('int8: the mean is within two quantization steps; one worker sends nothing', () => {
    const K = 3;
    const vs = [0, 1, 2].map((s) => vec(1000, s));
    const { mean, bytesSent } = new AllReduceSim(K, () => createCodec('int8', { blockSize: 64 })).run(vs);
    for (let i = 0; i < 1000; i++) {
      const exact = (vs[0][i] + vs[1][i] + vs[2][i]) / 3;
      expect(Math.abs(mean[i] - exact)).toBeLessThan((2 * 5) / 127);
    }
    expect(Math.max(...bytesSent)).toBeLessThan(2 * 1000 * 1.1);
    const one = new AllReduceSim(1, () => createCodec('int8')).run([vs[0]]);
    expect(one.bytesSent).toEqual([0]);
    expect(one.mean).toEqual(vs[0]);
  });

  it('top-k keeps a residual per (worker, slice): repeated rounds deliver the full sum', () => {
    const K = 2;
    const sim = new AllReduceSim(K, () => createCodec('topk', { fraction: 0.1 }));
    const v = [vec(200, 1), vec(200, 2)];
    const acc = new Float64Array(200);
    const rounds = 60;
    for (let r = 0; r < rounds; r++) {
      const { mean } = sim.run(v);
      for (let i = 0; i < 200; i++) acc[i] += mean[i];
    }
    // scatter and gather residuals carry everything unsent forward: the gap stays O(1) per entry
    let err = 0;
    let norm = 0;
    for (let i = 0; i < 200; i++) {
      const target = (rounds * (v[0][i] + v[1][i])) / 2;
      err += (acc[i] - target) ** 2;
      norm += target ** 2;
    }
    expect(Math.sqrt(err / norm)).toBeLessThan(0.15); // 0.54 with a fresh gather codec per round
  });
});
