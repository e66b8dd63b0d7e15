/**
 * The tabular task without a network: schema description and matching, missing values, the swarm's
 * standardization (mean of the providers' count/sum/square vectors = the pooled statistics), record
 * bytes = the registered CSV rows, replay-window decoding = the provider's loader, and the devnet's
 * label-skewed split of a user's file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keccak256Bytes } from '../../src/data/keccak.ts';
import { readRecords } from '../../src/data/records.ts';
import { devnetData } from '../../src/node/devnet-data.ts';
import { tabularTask } from '../../src/task/tabular.ts';
import { tabularSpecFromFile } from '../../src/task/tabular-spec.ts';
import type { ClassificationDataset } from '../../src/train/data/dataset.ts';
import { tempHome } from '../helpers/cli.ts';

const CSV = join(import.meta.dirname, '../../examples/tabular/clinic-visits.csv');
const source = { path: CSV, format: 'csv' as const, label: 'triage' };

describe('tabular task', () => {
  const spec = tabularSpecFromFile({ path: CSV, label: 'triage' });

  it('describes a CSV (numeric, categorical, labels) and its records are the registered rows', () => {
    const d = tabularTask.describe(source);
    expect(d).toMatchObject({
      kind: 'tabular',
      label: 'triage',
      numericColumns: ['age', 'systolic_bp', 'glucose', 'bmi', 'heart_rate'],
      labels: ['follow-up', 'routine', 'urgent'],
      rows: 2400,
    });
    expect(tabularTask.mismatch(spec, d)).toBeUndefined();
    expect(tabularTask.mismatch({ ...spec, data: { ...spec.data, label: 'clinic' } }, d)).toMatch(
      /label column/,
    );
    const ds = tabularTask.load(spec, source);
    const reg = readRecords(CSV, { format: 'csv' });
    expect(reg.count).toBe(ds.size);
    for (const i of [0, 1, 777, ds.size - 1]) {
      expect(Array.from(keccak256Bytes(ds.recordBytes(i)))).toEqual(
        Array.from(reg.contentHashes.subarray(32 * i, 32 * i + 32)),
      );
    }
  });

  it('the swarm statistics of shards equal the pooled ones; missing values are imputed with the mean', () => {
    const pooled = tabularTask.load(spec, source) as ClassificationDataset;
    const prep = tabularTask.preparation!;
    const whole = prep.fromReduced(spec, prep.local(spec, pooled)) as { mean: number[]; std: number[] };
    // the mean of 4 providers' vectors (what the fp32 all-reduce computes), shards of unequal size
    const cuts = [0, 300, 1100, 1500, 2400];
    const vectors = cuts.slice(1).map((end, k) => {
      const sub = {
        ...pooled,
        parsed: sliceParsed(pooled, cuts[k], end),
      } as unknown as ClassificationDataset;
      return prep.local(spec, sub);
    });
    const mean = new Float32Array(vectors[0].length);
    for (const v of vectors) for (let i = 0; i < v.length; i++) mean[i] += v[i] / vectors.length;
    const swarm = prep.fromReduced(spec, mean) as { mean: number[]; std: number[] };
    for (let j = 0; j < whole.mean.length; j++) {
      expect(swarm.mean[j]).toBeCloseTo(whole.mean[j], 3);
      expect(swarm.std[j] / whole.std[j]).toBeCloseTo(1, 3);
    }
    // row 2 has an empty glucose: standardized, it is exactly 0 (the mean)
    const line = readFileSync(CSV, 'utf8').split('\n')[2];
    expect(line.split(',')[2]).toBe('');
    const ds = tabularTask.load(spec, source, swarm);
    const x = ds.getBatch([1]).inputs as Float32Array;
    expect(x[2]).toBe(0);
    // one-hot: clinic (4 values) then smoker (3 values)
    expect(Array.from(x.subarray(5))).toEqual([0, 0, 0, 1, 0, 0, 1]);
  });

  it('a replay window decodes served records exactly as the provider loads them', () => {
    const prep = { mean: [40, 130, 110, 26, 75], std: [12, 14, 20, 4, 6] };
    const ds = tabularTask.load(spec, source, prep);
    const idx = [5, 99, 2000];
    const records = idx.map((index) => ({ index, bytes: ds.recordBytes(index), proof: [] }));
    const w = tabularTask.windowDataset(spec, records, prep);
    expect(w.getBatch(idx)).toEqual(ds.getBatch(idx));
    expect(() => w.getBatch([6])).toThrow(/not served/);
  });

  it('the devnet splits the file: 10% held out, label-skewed shards with the header, a pooled baseline', () => {
    const home = tempHome();
    const dd = devnetData({
      task: 'tabular',
      data: CSV,
      label: 'triage',
      providers: 4,
      home,
      innerSteps: 10,
      rounds: 4,
    });
    expect(dd.sources).toHaveLength(4);
    let rows = 0;
    for (const s of dd.sources) {
      const d = tabularTask.describe(s);
      expect(tabularTask.mismatch(dd.spec, d)).toBeUndefined();
      expect((d.labels as string[]).length).toBe(2); // label skew: 2 of the 3 classes each
      rows += d.rows as number;
    }
    expect(rows).toBe(2400 - 240);
    const c = dd.central();
    expect(c.dataset.size).toBe(rows);
    expect(dd.testBatches(c.prep)[0].batchSize).toBe(240);
  });
});

function sliceParsed(ds: ClassificationDataset, a: number, b: number) {
  const p = (
    ds as unknown as { parsed: { numeric: Float64Array; categorical: Int32Array; labels: Int32Array } }
  ).parsed;
  const N = p.numeric.length / p.labels.length;
  const C = p.categorical.length / p.labels.length;
  return {
    numeric: p.numeric.subarray(a * N, b * N),
    categorical: p.categorical.subarray(a * C, b * C),
    labels: p.labels.subarray(a, b),
  };
}
