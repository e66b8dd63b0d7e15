/**
 * A tabular job spec made from a data file (`agora job create --task tabular --data FILE --label
 * COLUMN`, `agora devnet --task tabular`): the file's numeric columns become numeric features, its
 * other columns with at most 64 distinct values categorical features (their values, sorted), the
 * label column's distinct values the classes. Missing numeric values are imputed with the swarm's
 * mean; columns are standardized with the swarm's statistics. Defaults as `mnist-mlp`'s DiLoCo
 * settings (docs/tasks.md); edit the printed spec (`agora job spec`) for anything else.
 */
import { AgoraError } from '../errors.ts';
import { validateJobSpec } from './registry.ts';
import { defaultWarmup, JOB_SPEC_VERSION, type JobSpec } from './spec.ts';
import { tabularTask } from './tabular.ts';

export function tabularSpecFromFile(o: {
  path: string;
  label: string;
  format?: 'csv' | 'jsonl';
  objective?: 'classification' | 'regression';
  hidden?: number;
  innerSteps?: number;
  rounds?: number;
}): JobSpec {
  const format = o.format ?? (o.path.endsWith('.jsonl') || o.path.endsWith('.ndjson') ? 'jsonl' : 'csv');
  const d = tabularTask.describe({ path: o.path, format, label: o.label });
  const numeric = (d.numericColumns as string[]).filter((c) => c !== o.label);
  const categories = d.categories as Record<string, string[]>;
  const categorical = Object.keys(categories)
    .filter((c) => c !== o.label && !numeric.includes(c) && categories[c].length <= 64)
    .map((name) => ({ name, values: categories[name] }));
  const classes = d.labels as string[];
  if (classes.length < 2) {
    throw new AgoraError(
      'DATA_BAD_LABEL',
      `${o.path}: column ${o.label} has ${classes.length} distinct value(s); classification needs 2 or more`,
    );
  }
  const width = numeric.length + categorical.reduce((a, c) => a + c.values.length, 0);
  const innerSteps = o.innerSteps ?? 10;
  const rounds = o.rounds ?? 40;
  return validateJobSpec({
    version: JOB_SPEC_VERSION,
    name: 'tabular-mlp',
    kind: 'tabular',
    objective: o.objective ?? 'classification',
    data: {
      format,
      ...(format === 'csv' ? { columns: d.columns } : {}),
      label: o.label,
      numeric,
      categorical,
      classes,
      missing: { numeric: 'mean', categorical: 'zeros' },
    },
    preprocessing: { standardize: 'swarm' },
    model: { kind: 'mlp', sizes: [width, o.hidden ?? 64, classes.length] },
    innerSteps,
    rounds,
    batchSize: 32,
    lr: 3e-3,
    schedule: { kind: 'warmup-cosine', warmupSteps: defaultWarmup(rounds * innerSteps), minLrRatio: 0.1 },
    outer: { lr: 1, momentum: 0.7, nesterov: true },
    codec: 'int8',
    seed: 1,
    drift: 'fixed-head',
    aggregator: 'mean',
    calibration: 'lda-head',
    metric: 'accuracy',
    export: ['safetensors', 'onnx'],
  });
}
