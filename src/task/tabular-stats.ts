/**
 * The tabular task's swarm statistics (pure): what each provider all-reduces before round 0 and the
 * preprocessing state every node derives from the reduced vector (src/task/tabular.ts).
 *
 * The vector, float64 sums over the provider's rows (per chunk of its records in record order, the
 * chunks summed in order: src/verify/prep-stats.ts), rounded once to fp32:
 *   for each numeric column j: [count of present values, Σx, Σx²]   (3·N values)
 *   regression only, the label: [count, Σy, Σy²]                     (3 more)
 * The mean all-reduce of these vectors gives the pooled mean and variance (the count factors out).
 * The chunk statistics are the validators' recomputation (src/verify/prep-stats.ts): a pure function
 * of the chunk's registered records, bit-exact on every machine.
 */
import { localFromPartials, prepChunks } from '../verify/prep-stats.ts';
import type { JobSpec } from './spec.ts';
import type { Parsed, TabularData, TabularPrep } from './tabular.ts';

/** Length of a spec's statistics vector. */
export function tabularStatsLength(spec: JobSpec): number {
  const d = spec.data as TabularData;
  return 3 * d.numeric.length + (spec.objective === 'regression' ? 3 : 0);
}

/**
 * The float64 statistics of rows [from, to) in record order (see the module docs for the layout):
 * one chunk of a provider's statistics (src/verify/prep-stats.ts).
 */
export function tabularStatsPartial(spec: JobSpec, p: Parsed, from: number, to: number): Float64Array {
  const d = spec.data as TabularData;
  const N = d.numeric.length;
  const acc = new Float64Array(tabularStatsLength(spec));
  for (let r = from; r < to; r++) {
    for (let j = 0; j < N; j++) {
      const x = p.numeric[r * N + j];
      if (Number.isNaN(x)) continue;
      acc[3 * j] += 1;
      acc[3 * j + 1] += x;
      acc[3 * j + 2] += x * x;
    }
  }
  if (spec.objective === 'regression') {
    for (let r = from; r < to; r++) {
      const y = p.values[r];
      acc[3 * N] += 1;
      acc[3 * N + 1] += y;
      acc[3 * N + 2] += y * y;
    }
  }
  return acc;
}

/**
 * A provider's all-reduce input over its parsed rows: the chunk statistics (`prepChunks` of its
 * rows) summed in chunk order, rounded once to fp32 (src/verify/prep-stats.ts).
 */
export function tabularStatsVector(spec: JobSpec, p: Parsed): Float32Array {
  const partials = prepChunks(p.labels.length).map((c) => tabularStatsPartial(spec, p, c.from, c.to));
  return localFromPartials(partials, tabularStatsLength(spec));
}

/** Mean and standard deviation from [count, Σ, Σ²] at `at` (none present: 0 and 1). */
function moments(v: Float32Array, at: number): { mean: number; variance: number } {
  const n = v[at];
  const mean = n > 0 ? v[at + 1] / n : 0;
  return { mean, variance: n > 0 ? v[at + 2] / n - mean * mean : 1 };
}

/** The preprocessing state every node derives from the reduced vector. */
export function tabularPrepFromReduced(spec: JobSpec, v: Float32Array): TabularPrep {
  const d = spec.data as TabularData;
  const standardize = (spec.preprocessing as { standardize: string }).standardize === 'swarm';
  const mean: number[] = [];
  const sd: number[] = [];
  for (let j = 0; j < d.numeric.length; j++) {
    const m = moments(v, 3 * j);
    mean.push(standardize || d.missing.numeric === 'mean' ? m.mean : 0);
    sd.push(standardize && m.variance > 1e-12 ? Math.sqrt(m.variance) : 1);
  }
  if (spec.objective !== 'regression') return { mean, std: sd };
  const t = moments(v, 3 * d.numeric.length);
  return {
    mean,
    std: sd,
    target: standardize
      ? { mean: t.mean, std: t.variance > 1e-12 ? Math.sqrt(t.variance) : 1 }
      : { mean: 0, std: 1 },
  };
}
