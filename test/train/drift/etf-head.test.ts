import { describe, expect, it } from 'vitest';
import {
  applyEtfHead,
  createDriftCorrection,
  EtfHead,
  etfHeadWeights,
  runDiloco,
} from '../../../src/train/diloco/index.ts';
import { skewSimulation } from './skew-simulation.ts';

function column(w: Float32Array, C: number, c: number): number[] {
  return Array.from({ length: w.length / C }, (_, i) => w[i * C + c]);
}
const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);

describe('ETF head', () => {
  it('C class vectors of norm `scale`, all pairwise cosines −1/(C−1), derived from the seed', () => {
    const d = 32;
    const C = 10;
    const w = etfHeadWeights(d, C, 7, 2.5);
    expect(w.length).toBe(d * C);
    const cols = Array.from({ length: C }, (_, c) => column(w, C, c));
    for (let a = 0; a < C; a++) {
      expect(Math.sqrt(dot(cols[a], cols[a]))).toBeCloseTo(2.5, 5);
      for (let b = a + 1; b < C; b++) {
        expect(dot(cols[a], cols[b]) / 2.5 ** 2).toBeCloseTo(-1 / (C - 1), 5);
      }
    }
    // the columns sum to 0 (a simplex centered at the origin)
    for (let i = 0; i < d; i++) expect(Math.abs(cols.reduce((s, col) => s + col[i], 0))).toBeLessThan(1e-5);
    expect(etfHeadWeights(d, C, 7, 2.5)).toEqual(w);
    expect(etfHeadWeights(d, C, 8, 2.5)).not.toEqual(w);
    expect(() => etfHeadWeights(5, 10, 1)).toThrow(/classes ≤ features/);
    expect(() => etfHeadWeights(16, 10, 1, 0)).toThrow(/scale/);
  });

  it('applyEtfHead writes the last weight and a zero bias at the end of θ, nothing else', () => {
    const theta = new Float32Array(100 + 16 * 4 + 4).fill(0.5);
    applyEtfHead(theta, { features: 16, classes: 4, seed: 3 });
    expect(Array.from(theta.subarray(0, 100))).toEqual(new Array(100).fill(0.5));
    expect(theta.subarray(100, 100 + 64)).toEqual(etfHeadWeights(16, 4, 3));
    expect(Array.from(theta.subarray(164))).toEqual([0, 0, 0, 0]);
  });

  const { data, optimizer: OPT, runtimes: rts } = skewSimulation({ totalSteps: 60, stepsPerCall: 4 });

  it('in runDiloco: the global head is the seeded ETF head from start to end; the body trains; no extra bytes', async () => {
    const cfg = { innerSteps: 20, rounds: 3, batchSize: 16, codec: 'int8', seed: 4, chunk: 20 } as const;
    const plain = await runDiloco(rts, data, cfg);
    const etf = createDriftCorrection('etf-head', { headFeatures: 16, headScale: 2 });
    expect(etf).toBeInstanceOf(EtfHead);
    const r = await runDiloco(rts, data, { ...cfg, drift: etf, innerOptimizer: OPT });
    expect(r.bytesPerWorker).toBe(plain.bytesPerWorker);
    const headFrom = 784 * 16 + 16;
    expect(r.params.subarray(headFrom, headFrom + 160)).toEqual(etfHeadWeights(16, 10, 4, 2));
    expect(Array.from(r.params.subarray(headFrom + 160))).toEqual(new Array(10).fill(0));
    rts[0].init(4);
    const init = rts[0].getParams();
    let moved = 0;
    for (let i = 0; i < headFrom; i++) moved = Math.max(moved, Math.abs(r.params[i] - init[i]));
    expect(moved).toBeGreaterThan(0.01);
    expect(r.evalAccuracy!).toBeGreaterThan(0.3);
    expect(() => createDriftCorrection('etf-head')).toThrow(/headFeatures/);
  }, 30_000);
});
