import { describe, expect, it } from 'vitest';
import { createTaskRuntime, initTaskParams, taskAggregator } from '../../src/node/task-runtime.ts';
import { mnistMlpPreset } from '../../src/task/presets.ts';
import { modelSpecHash, TASK_AGGREGATORS, TASK_CALIBRATIONS, TASK_DRIFTS } from '../../src/task/spec.ts';
import { etfHeadWeights } from '../../src/train/diloco/drift/etf-head.ts';
import type { MlpSpec } from '../../src/train/models/spec.ts';

const taskSpec = (_: string, o: Parameters<typeof mnistMlpPreset>[0] = {}) => mnistMlpPreset(o);

describe('task specs and their drift corrections', () => {
  it('names each drift correction, aggregator and calibration by its own model spec hash', () => {
    const all = TASK_DRIFTS.flatMap((drift) =>
      TASK_AGGREGATORS.flatMap((aggregator) =>
        TASK_CALIBRATIONS.map((calibration) => mnistMlpPreset({ drift, aggregator, calibration })),
      ),
    );
    expect(new Set(all.map(modelSpecHash)).size).toBe(
      TASK_DRIFTS.length * TASK_AGGREGATORS.length * TASK_CALIBRATIONS.length,
    );
    expect(() => mnistMlpPreset({ drift: 'scaffold' })).toThrow(/unknown drift correction "scaffold"/);
    expect(() => mnistMlpPreset({ aggregator: 'krum' })).toThrow(/unknown aggregator "krum"/);
    expect(mnistMlpPreset()).toMatchObject({
      drift: 'fixed-head',
      aggregator: 'mean',
      calibration: 'lda-head',
    });
    expect(() => mnistMlpPreset({ calibration: 'platt' })).toThrow(/unknown calibration "platt"/);
  });

  it('each job aggregates with the aggregator its spec names', () => {
    // three honest slices near 1 and one scaled ×100: the mean follows the outlier, the robust
    // aggregators stay near the honest values
    const contributions = [1, 1.1, 0.9, 100].map((x, i) => ({
      peer: `p${i}`,
      vector: Float32Array.from({ length: 8 }, () => x),
    }));
    const out = (aggregator: string) =>
      taskAggregator(taskSpec('mnist-mlp', { aggregator }))(contributions)[0];
    expect(out('mean')).toBeCloseTo(25.75, 4);
    expect(Math.abs(out('centered-clip') - 1)).toBeLessThan(0.5);
    expect(Math.abs(out('trimmed-mean') - 1)).toBeLessThan(0.1);
  });

  it('etf-head: θ0 is the seeded init with the simplex-ETF head and a zero bias', async () => {
    const etf = taskSpec('mnist-mlp', { drift: 'etf-head' });
    const plain = taskSpec('mnist-mlp', { drift: 'fixed-head' });
    const a = createTaskRuntime(etf, { totalSteps: 1 });
    const b = createTaskRuntime(plain, { totalSteps: 1 });
    try {
      const withEtf = initTaskParams(etf, a);
      const seeded = initTaskParams(plain, b);
      const [features, classes] = (etf.model as MlpSpec).sizes.slice(-2);
      const w = etfHeadWeights(features, classes, etf.seed);
      const body = seeded.length - w.length - classes;
      expect(Array.from(withEtf.subarray(0, body))).toEqual(Array.from(seeded.subarray(0, body)));
      expect(Array.from(withEtf.subarray(body, body + w.length))).toEqual(Array.from(w));
      expect(Array.from(withEtf.subarray(body + w.length))).toEqual(new Array(classes).fill(0));
      // the runtime holds θ0 too (it trains from it)
      expect(a.getParams()).toEqual(withEtf);
      expect(Array.from(withEtf.subarray(body))).not.toEqual(Array.from(seeded.subarray(body)));
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });
});
