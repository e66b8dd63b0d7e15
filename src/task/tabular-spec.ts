/**
 * A tabular job spec made from a data file (`agora job create --task tabular --data FILE --label
 * COLUMN`, `agora devnet --task tabular`): the file's numeric columns become numeric features, its
 * other columns with at most 64 distinct values categorical features (their values, sorted), the
 * label column's distinct values the classes. Missing numeric values are imputed with the swarm's
 * mean; columns are standardized with the swarm's statistics. Defaults as `mnist-mlp`'s DiLoCo
 * settings (docs/tasks.md); edit the printed spec (`agora job spec`) for anything else.
 *
 * Regression (`objective: 'regression'`, or inferred: a numeric label column with a non-integer
 * value or more than `MAX_NUMERIC_CLASSES` distinct values): one output trained with mean squared
 * error on the swarm-standardized target, metric RMSE, no drift head and no LDA head.
 */
import { AgoraError } from '../errors.ts';
import { validateJobSpec } from './registry.ts';
import { defaultDilocoSettings, JOB_SPEC_VERSION, type JobSpec } from './spec.ts';
import { tabularTask } from './tabular.ts';

/** A numeric label with more distinct values than this (or any non-integer one) is a regression target. */
export const MAX_NUMERIC_CLASSES = 20;

/** The objective a label column suggests when none is given (see the module docs). */
export function inferObjective(d: Record<string, unknown>): 'classification' | 'regression' {
  if (d.labelNumeric !== true) return 'classification';
  const labels = (d.labels as string[]) ?? [];
  const distinct = typeof d.distinctLabels === 'number' ? d.distinctLabels : labels.length;
  return distinct > MAX_NUMERIC_CLASSES || labels.some((l) => !Number.isInteger(Number(l)))
    ? 'regression'
    : 'classification';
}

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
  const objective = o.objective ?? inferObjective(d);
  const classes = d.labels as string[];
  const width = numeric.length + categorical.reduce((a, c) => a + c.values.length, 0);
  const innerSteps = o.innerSteps ?? 10;
  const rounds = o.rounds ?? 40;
  const common = {
    version: JOB_SPEC_VERSION,
    kind: 'tabular',
    ...defaultDilocoSettings(innerSteps, rounds),
    aggregator: 'mean',
    export: ['safetensors', 'onnx'],
  };
  const dataCommon = {
    format,
    ...(format === 'csv' ? { columns: d.columns } : {}),
    label: o.label,
    numeric,
    categorical,
    missing: { numeric: 'mean', categorical: 'zeros' },
  };
  if (objective === 'regression') {
    if (d.labelNumeric !== true)
      throw new AgoraError('DATA_BAD_LABEL', `${o.path}: column ${o.label} is not numeric in every row`, {
        hint: 'a regression target is a number in every row; use --objective classification for labels',
      });
    return validateJobSpec({
      ...common,
      name: 'tabular-mlp-regression',
      objective: 'regression',
      data: dataCommon,
      preprocessing: { standardize: 'swarm' },
      model: { kind: 'mlp', sizes: [width, o.hidden ?? 64, 1], loss: 'mse' },
      drift: 'none',
      calibration: 'none',
      metric: 'rmse',
    });
  }
  if (classes.length < 2) {
    throw new AgoraError(
      'DATA_BAD_LABEL',
      `${o.path}: column ${o.label} has ${classes.length} distinct value(s); classification needs 2 or more`,
    );
  }
  return validateJobSpec({
    version: JOB_SPEC_VERSION,
    name: 'tabular-mlp',
    kind: 'tabular',
    objective,
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
    ...defaultDilocoSettings(innerSteps, rounds),
    drift: 'fixed-head',
    aggregator: 'mean',
    calibration: 'lda-head',
    metric: 'accuracy',
    export: ['safetensors', 'onnx'],
  });
}
