import { describe, expect, it } from 'vitest';
import {
  ComposedDrift,
  createDriftCorrection,
  EtfHead,
  etfHeadWeights,
  runDiloco,
  Scaffold,
} from '../../../src/train/diloco/index.ts';
import { skewSimulation } from './skew-simulation.ts';

describe('etf-head+scaffold', () => {
  const { data, optimizer: OPT, runtimes: rts } = skewSimulation({ totalSteps: 50, stepsPerCall: 5 });
  const cfg = { innerSteps: 10, rounds: 5, batchSize: 16, codec: 'int8', seed: 4, chunk: 10 } as const;

  it('keeps the seeded ETF head fixed, sends variates in rounds 1, 3, 5 only (bytes counted)', async () => {
    const plain = await runDiloco(rts, data, cfg);
    const etfOnly = await runDiloco(rts, data, {
      ...cfg,
      drift: createDriftCorrection('etf-head', { headFeatures: 16 }),
      innerOptimizer: OPT,
    });
    const drift = createDriftCorrection('etf-head+scaffold', { headFeatures: 16, every: 2 });
    expect(drift).toBeInstanceOf(ComposedDrift);
    const parts = (drift as ComposedDrift).parts;
    expect(parts[0]).toBeInstanceOf(EtfHead);
    expect(parts[1]).toBeInstanceOf(Scaffold);
    expect(drift?.name).toBe('etf-head+scaffold-grad(every 2)');
    const r = await runDiloco(rts, data, { ...cfg, drift, innerOptimizer: OPT });
    const perRound = plain.bytesPerWorker / 5;
    expect(r.bytesPerWorker).toBeCloseTo(plain.bytesPerWorker + 3 * perRound, 6);
    expect(etfOnly.bytesPerWorker).toBe(plain.bytesPerWorker);
    const headFrom = 784 * 16 + 16;
    expect(r.params.subarray(headFrom, headFrom + 160)).toEqual(etfHeadWeights(16, 10, 4));
    expect(Array.from(r.params.subarray(headFrom + 160))).toEqual(new Array(10).fill(0));
    // the variates change the body's training
    expect(r.params.subarray(0, headFrom)).not.toEqual(etfOnly.params.subarray(0, headFrom));
    expect(() => createDriftCorrection('etf-head+scaffold')).toThrow(/headFeatures/);
  }, 30_000);
});
