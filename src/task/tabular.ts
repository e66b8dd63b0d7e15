/**
 * The `tabular` task: classification or regression from CSV or JSONL rows with declared numeric and
 * categorical feature columns and a label column (docs/tasks.md).
 *  - Records are the registered records: a CSV data row's raw bytes (the header excluded), or a
 *    JSONL line's bytes (src/data/records.ts), so validators decode exactly what providers trained on.
 *  - Missing values (empty, `NA`, `NaN`, `null`, `?`; JSONL null or absent): numeric ones are
 *    imputed by the declared rule (`mean`: the swarm's mean, `zero`); categorical ones, like values
 *    the spec does not declare, give an all-zero one-hot.
 *  - Standardization (`standardize: 'swarm'`): before round 0 each provider all-reduces its
 *    per-column count, sum and sum of squares (mean over providers, fp32; `preparation`); every node
 *    derives the same mean and standard deviation from the result, which travel in every checkpoint.
 *  - Features: standardized numeric columns, then one-hot categorical columns; an MLP on them.
 *  - Regression (`objective: 'regression'`): the label column is numeric; the MLP has one output
 *    and trains with mean squared error on the target standardized with the swarm's statistics of
 *    the label (the same all-reduce); the metric is RMSE in the label's original units.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AgoraError } from '../errors.ts';
import { type ClassificationDataset, checkIndex, type RegressionDataset } from '../train/data/dataset.ts';
import { splitCsvLine } from '../train/data/tabular.ts';
import type { TensorBatch } from '../train/runtime.ts';
import type { WindowRecord } from '../verify/trace-wire.ts';
import { byIndex, checkMlp, decodeClasses, mlpSchema } from './image.ts';
import { type JobSpec, zodProblems } from './spec.ts';
import {
  tabularPrepFromReduced,
  tabularStatsLength,
  tabularStatsPartial,
  tabularStatsVector,
} from './tabular-stats.ts';
import {
  classificationMetrics,
  type DataDescription,
  type DataSource,
  type Evaluation,
  type Prediction,
  type PrepState,
  type Task,
} from './task.ts';

const name = z.string().min(1).max(128);
const dataSchema = z
  .object({
    format: z.enum(['csv', 'jsonl']),
    /** CSV: the header, in order (every provider's file must have exactly it). */
    columns: z.array(name).max(1024).optional(),
    label: name,
    numeric: z.array(name).max(1024),
    categorical: z
      .array(z.object({ name, values: z.array(z.string().max(128)).min(1).max(256) }).strict())
      .max(256),
    /** Class names in id order (classification; absent for regression). */
    classes: z.array(z.string().max(128)).min(2).max(1000).optional(),
    missing: z.object({ numeric: z.enum(['mean', 'zero']), categorical: z.literal('zeros') }).strict(),
  })
  .strict();
const prepSchema = z.object({ standardize: z.enum(['swarm', 'none']) }).strict();

export type TabularData = z.infer<typeof dataSchema>;
/**
 * The swarm's statistics: per numeric column, mean and standard deviation; for regression also the
 * target's (the model trains on (y − mean)/std and its outputs are mapped back).
 */
export type TabularPrep = { mean: number[]; std: number[]; target?: { mean: number; std: number } };

/** The regression MLP: one output, mean squared error. */
const regressionMlpSchema = mlpSchema.extend({ loss: z.literal('mse') }).strict();

function isRegression(spec: JobSpec): boolean {
  return spec.objective === 'regression';
}

const MISSING = new Set(['', 'na', 'nan', 'null', 'none', '?']);

function isMissing(v: unknown): boolean {
  return v === null || v === undefined || (typeof v === 'string' && MISSING.has(v.trim().toLowerCase()));
}

/** One row as cells by column name (strings, numbers or null for missing). */
type Cells = (col: string) => unknown;

/** The data rows of a file: each row's record bytes and a cell reader. */
type Rows = { header?: string[]; records: Uint8Array[]; cells: Cells[] };

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

function csvCells(line: string, header: readonly string[], file: string, lineNo: number): Cells {
  const f = splitCsvLine(line, ',', file, lineNo);
  if (f.length !== header.length) {
    throw new AgoraError(
      'DATA_BAD_FILE',
      `${file}:${lineNo}: ${f.length} fields, the header has ${header.length}`,
      {
        hint: 'every row needs the header’s columns (quoted fields may not span lines for training)',
      },
    );
  }
  const at = new Map(header.map((h, i) => [h, i]));
  return (col) => {
    const i = at.get(col);
    return i === undefined ? null : f[i];
  };
}

function jsonCells(line: string, file: string, lineNo: number): Cells {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch (e) {
    throw new AgoraError('DATA_BAD_FILE', `${file}:${lineNo}: invalid JSON (${(e as Error).message})`);
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    throw new AgoraError('DATA_BAD_FILE', `${file}:${lineNo}: not a JSON object`);
  }
  const r = o as Record<string, unknown>;
  return (col) => (Object.hasOwn(r, col) ? r[col] : null);
}

/** Splits file content into rows the way src/data/records.ts cuts records (empty lines skipped). */
function rowsOf(content: string, format: 'csv' | 'jsonl', file: string): Rows {
  const lines = content.split('\n');
  const out: Rows = { records: [], cells: [] };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (line.length === 0) continue;
    if (format === 'csv' && !out.header) {
      out.header = splitCsvLine(line, ',', file, i + 1).map((h) => h.trim());
      continue;
    }
    out.records.push(enc.encode(line));
    out.cells.push(
      format === 'csv' ? csvCells(line, out.header!, file, i + 1) : jsonCells(line, file, i + 1),
    );
  }
  if (out.records.length === 0) throw new AgoraError('DATA_EMPTY', `${file}: no data rows`);
  return out;
}

function readRows(source: DataSource): Rows {
  if (source.format !== 'csv' && source.format !== 'jsonl') {
    throw new AgoraError(
      'DATA_BAD_FORMAT',
      `the tabular task reads --format csv or jsonl, not ${source.format}`,
    );
  }
  let content: string;
  try {
    content = readFileSync(source.path, 'utf8');
  } catch (e) {
    throw new AgoraError('DATA_FILE_UNREADABLE', `cannot read ${source.path}: ${(e as Error).message}`);
  }
  return rowsOf(content, source.format, source.path);
}

function numberOf(v: unknown): number | undefined {
  if (isMissing(v)) return undefined;
  const x = typeof v === 'number' ? v : typeof v === 'string' ? Number(v.trim()) : Number.NaN;
  return Number.isFinite(x) ? x : undefined;
}

/**
 * A cell as text, for messages and categorical lookups. A JSON object's own `toString` is data, not a
 * method (`{"toString": 1}` made `String(v)` throw a TypeError).
 */
function cellText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v !== 'object' || v === null) return String(v);
  try {
    return JSON.stringify(v) ?? typeof v;
  } catch {
    return typeof v;
  }
}

function labelOf(v: unknown): string | undefined {
  if (isMissing(v)) return undefined;
  return typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : undefined;
}

/**
 * Raw numeric values (NaN: missing), categorical value ids (-1: missing/undeclared), label ids
 * (classification; 0 for regression) and target values (regression; NaN for classification).
 */
export type Parsed = {
  numeric: Float64Array;
  categorical: Int32Array;
  labels: Int32Array;
  values: Float64Array;
};

function parseRows(spec: JobSpec, cells: readonly Cells[], where: string): Parsed {
  const d = spec.data as TabularData;
  const n = cells.length;
  const N = d.numeric.length;
  const C = d.categorical.length;
  const numeric = new Float64Array(n * N);
  const categorical = new Int32Array(n * C);
  const labels = new Int32Array(n);
  const values = new Float64Array(n).fill(Number.NaN);
  const regression = isRegression(spec);
  const classOf = new Map((d.classes ?? []).map((c, i) => [c, i]));
  const valueIds = d.categorical.map((c) => new Map(c.values.map((v, i) => [v, i])));
  for (let r = 0; r < n; r++) {
    const cell = cells[r];
    for (let j = 0; j < N; j++) {
      const v = cell(d.numeric[j]);
      const x = numberOf(v);
      if (x === undefined && !isMissing(v)) {
        throw new AgoraError(
          'DATA_BAD_FILE',
          `${where}: row ${r}: column ${d.numeric[j]} is "${cellText(v)}", not a number`,
        );
      }
      numeric[r * N + j] = x ?? Number.NaN;
    }
    for (let j = 0; j < C; j++) {
      const v = cell(d.categorical[j].name);
      const s = isMissing(v) ? undefined : cellText(v).trim();
      categorical[r * C + j] = s === undefined ? -1 : (valueIds[j].get(s) ?? -1);
    }
    if (regression) {
      const v = cell(d.label);
      const y = numberOf(v);
      if (y === undefined) {
        throw new AgoraError(
          'DATA_BAD_LABEL',
          `${where}: row ${r}: target ${d.label} is ${isMissing(v) ? 'missing' : `"${cellText(v)}", not a number`}`,
          { hint: 'a regression label column holds a number in every row; drop rows without one' },
        );
      }
      values[r] = y;
      continue;
    }
    const y = labelOf(cell(d.label));
    const id = y === undefined ? undefined : classOf.get(y);
    if (id === undefined) {
      throw new AgoraError(
        'DATA_BAD_LABEL',
        `${where}: row ${r}: label "${y ?? ''}" is ${y === undefined ? 'missing' : 'not one of the job’s classes'}`,
        { hint: `classes: ${(d.classes ?? []).slice(0, 20).join(', ')}` },
      );
    }
    labels[r] = id;
  }
  return { numeric, categorical, labels, values };
}

export function tabularWidth(d: TabularData): number {
  return d.numeric.length + d.categorical.reduce((a, c) => a + c.values.length, 0);
}

/** Model inputs from parsed rows under the preprocessing state (the same on every node). */
function featuresOf(spec: JobSpec, p: Parsed, prep: TabularPrep | undefined): Float32Array {
  const d = spec.data as TabularData;
  const n = p.labels.length;
  const N = d.numeric.length;
  const C = d.categorical.length;
  const F = tabularWidth(d);
  const out = new Float32Array(n * F);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < N; j++) {
      const x = p.numeric[r * N + j];
      const mean = prep?.mean[j] ?? 0;
      const std = prep?.std[j] ?? 1;
      const filled = Number.isNaN(x) ? (d.missing.numeric === 'mean' ? mean : 0) : x;
      out[r * F + j] = (filled - mean) / std;
    }
    let off = N;
    for (let j = 0; j < C; j++) {
      const v = p.categorical[r * C + j];
      if (v >= 0) out[r * F + off + v] = 1;
      off += d.categorical[j].values.length;
    }
  }
  return out;
}

/** A tabular dataset: parsed rows, features under `prep`, record bytes = the registered records. */
export type TabularDataset = (ClassificationDataset | RegressionDataset) & { readonly parsed: Parsed };

/** A regression target as the model sees it: standardized with the swarm's statistics of the label. */
function scaledTarget(y: number, prep: TabularPrep | undefined): number {
  return (y - (prep?.target?.mean ?? 0)) / (prep?.target?.std ?? 1);
}

function makeDataset(
  spec: JobSpec,
  id: string,
  records: readonly Uint8Array[],
  p: Parsed,
  prep?: PrepState,
): TabularDataset {
  const d = spec.data as TabularData;
  const F = tabularWidth(d);
  const tp = prep as TabularPrep | undefined;
  const features = featuresOf(spec, p, tp);
  const regression = isRegression(spec);
  const common = {
    id,
    size: records.length,
    featureShape: [F],
    numFeatures: F,
    parsed: p,
    recordEncoding: d.format === 'csv' ? 'csv row bytes' : 'jsonl line bytes',
    recordBytes(index: number): Uint8Array {
      checkIndex(ds, index);
      return records[index].slice();
    },
    getBatch(indices: ArrayLike<number>): TensorBatch {
      const b = indices.length;
      const inputs = new Float32Array(b * F);
      const targets = regression ? new Float32Array(b) : new Int32Array(b);
      for (let r = 0; r < b; r++) {
        const i = indices[r];
        checkIndex(ds, i);
        inputs.set(features.subarray(i * F, (i + 1) * F), r * F);
        targets[r] = regression ? scaledTarget(p.values[i], tp) : p.labels[i];
      }
      return { inputs, targets, batchSize: b };
    },
  };
  const ds: TabularDataset = regression
    ? { ...common, kind: 'regression', values: p.values }
    : {
        ...common,
        kind: 'classification',
        numClasses: d.classes!.length,
        classNames: d.classes!,
        labels: p.labels,
      };
  return ds;
}

function parseSpecPart<T>(schema: z.ZodType<T>, v: unknown, what: string): T {
  const r = schema.safeParse(v);
  if (!r.success) {
    throw new AgoraError('SPEC_INVALID', `invalid job spec ${what}: ${zodProblems(r.error).join('; ')}`, {
      hint: 'see docs/tasks.md (tabular)',
    });
  }
  return r.data;
}

/** The distinct labels, numeric columns and columns of a file (what `describe` records). */
function describeRows(source: DataSource, rows: Rows): DataDescription {
  const label = source.label;
  if (!label) throw new AgoraError('BAD_OPTION', 'tabular data needs its label column (--label COLUMN)');
  let columns: string[];
  if (rows.header) columns = rows.header;
  else {
    const keys = new Set<string>();
    for (const line of rows.records) for (const k of Object.keys(JSON.parse(dec.decode(line)))) keys.add(k);
    columns = [...keys].sort();
  }
  if (!columns.includes(label)) {
    throw new AgoraError(
      'DATA_BAD_SCHEMA',
      `${source.path}: no label column "${label}" (columns: ${columns.join(', ')})`,
    );
  }
  const numericColumns: string[] = [];
  const categories: Record<string, string[]> = {};
  for (const c of columns) {
    if (c === label) continue;
    let numeric = true;
    const distinct = new Set<string>();
    for (const cell of rows.cells) {
      const v = cell(c);
      if (isMissing(v)) continue;
      if (numberOf(v) === undefined) numeric = false;
      if (distinct.size <= 256) distinct.add(cellText(v).trim());
    }
    if (numeric) numericColumns.push(c);
    else if (distinct.size <= 256) categories[c] = [...distinct].sort();
  }
  const labels = new Set<string>();
  rows.cells.forEach((cell, r) => {
    const y = labelOf(cell(label));
    if (y === undefined) {
      throw new AgoraError('DATA_BAD_LABEL', `${source.path}: row ${r} has no label in column "${label}"`, {
        hint: 'drop rows without a label before registering the file',
      });
    }
    labels.add(y);
  });
  const sorted = [...labels];
  const allNumeric = sorted.every((l) => numberOf(l) !== undefined);
  sorted.sort(allNumeric ? (a, b) => Number(a) - Number(b) : undefined);
  return {
    kind: 'tabular',
    format: source.format,
    columns,
    label,
    numericColumns,
    categories,
    labels: sorted.slice(0, 1000),
    /** Every label is a number (the column can be a regression target). */
    labelNumeric: allNumeric,
    /** Distinct labels (the list above keeps the first 1000). */
    distinctLabels: sorted.length,
    rows: rows.records.length,
  };
}

export const tabularTask: Task = {
  kind: 'tabular',
  formats: ['csv', 'jsonl'],

  validate(spec: JobSpec): JobSpec {
    const data = parseSpecPart(dataSchema, spec.data, '`data`');
    parseSpecPart(prepSchema, spec.preprocessing, '`preprocessing`');
    if (spec.objective !== 'classification' && spec.objective !== 'regression') {
      throw new AgoraError(
        'SPEC_INVALID',
        'invalid job spec `objective`: tabular jobs are classification or regression',
      );
    }
    const regression = isRegression(spec);
    if (regression ? spec.metric !== 'rmse' : spec.metric !== 'accuracy' && spec.metric !== 'macro-f1')
      throw new AgoraError(
        'SPEC_INVALID',
        regression
          ? 'invalid job spec `metric`: tabular regression reports rmse'
          : 'invalid job spec `metric`: tabular classification reports accuracy or macro-f1',
      );
    if (regression ? data.classes !== undefined : data.classes === undefined)
      throw new AgoraError(
        'SPEC_INVALID',
        regression
          ? 'invalid job spec `data`: a regression job declares no `classes`'
          : 'invalid job spec `data`: a classification job declares its `classes`',
      );
    const names = [data.label, ...data.numeric, ...data.categorical.map((c) => c.name)];
    if (new Set(names).size !== names.length)
      throw new AgoraError(
        'SPEC_INVALID',
        'invalid job spec `data`: a column is declared twice (label, numeric, categorical)',
      );
    if (data.format === 'csv' && data.columns && names.some((c) => !data.columns!.includes(c)))
      throw new AgoraError('SPEC_INVALID', 'invalid job spec `data`: a declared column is not in `columns`');
    if (tabularWidth(data) === 0)
      throw new AgoraError('SPEC_INVALID', 'invalid job spec `data`: no feature columns');
    if (regression) {
      const model = parseSpecPart(regressionMlpSchema, spec.model, '`model`');
      const s = model.sizes;
      if (s[0] !== tabularWidth(data) || s[s.length - 1] !== 1)
        throw new AgoraError(
          'SPEC_INVALID',
          `invalid job spec \`model\`: a regression MLP's sizes start with the ${tabularWidth(data)} inputs the data gives and end with 1 output, not [${s.join(', ')}]`,
        );
      return { ...spec, data, model };
    }
    const model = checkMlp(spec.model, tabularWidth(data), data.classes!.length);
    return { ...spec, data, model };
  },

  describe(source: DataSource): DataDescription {
    return describeRows(source, readRows(source));
  },

  mismatch(spec: JobSpec, d: DataDescription): string | undefined {
    const want = spec.data as TabularData;
    if (d.kind !== 'tabular') return `the job trains on tabular data; this provider's data is ${d.kind}`;
    if (d.format !== want.format)
      return `the job reads ${want.format}, this provider has ${String(d.format)}`;
    if (d.label !== want.label)
      return `the job's label column is ${want.label}, this provider's is ${String(d.label)}`;
    const columns = d.columns as string[];
    if (want.format === 'csv' && want.columns && columns.join(',') !== want.columns.join(','))
      return `the job's CSV header is ${want.columns.join(',')}, this provider's is ${columns.join(',')}`;
    const absent = [...want.numeric, ...want.categorical.map((c) => c.name)].filter(
      (c) => !columns.includes(c),
    );
    if (absent.length) return `this provider's data has no column ${absent.join(', ')}`;
    const numeric = new Set(d.numericColumns as string[]);
    const notNumeric = want.numeric.filter((c) => !numeric.has(c));
    if (notNumeric.length) return `column ${notNumeric.join(', ')} is not numeric in this provider's data`;
    if (isRegression(spec)) {
      const numericLabel =
        d.labelNumeric !== undefined
          ? d.labelNumeric === true
          : (d.labels as string[]).every((l) => numberOf(l) !== undefined);
      return numericLabel
        ? undefined
        : `the job's target ${want.label} is not numeric in this provider's data`;
    }
    const classes = want.classes ?? [];
    const unknown = (d.labels as string[]).filter((l) => !classes.includes(l));
    if (unknown.length)
      return `this provider has labels the job does not declare: ${unknown.slice(0, 5).join(', ')}`;
    return undefined;
  },

  load(spec: JobSpec, source: DataSource, prep?: PrepState) {
    const rows = readRows(source);
    return makeDataset(
      spec,
      `${source.format}:${source.path}`,
      rows.records,
      parseRows(spec, rows.cells, source.path),
      prep,
    );
  },

  windowDataset(spec: JobSpec, records: readonly WindowRecord[], prep?: PrepState) {
    const d = spec.data as TabularData;
    const header = d.columns ?? [];
    const cells = records.map((r, k) => {
      let line: string;
      try {
        line = dec.decode(r.bytes);
      } catch {
        throw new AgoraError('REPLAY_BAD_RECORD', `record ${r.index} is not UTF-8`);
      }
      return d.format === 'csv'
        ? csvCells(line, header, `record ${r.index}`, k)
        : jsonCells(line, `record ${r.index}`, k);
    });
    const ds = makeDataset(
      spec,
      'replay-window',
      records.map((r) => r.bytes),
      parseRows(spec, cells, 'window'),
      prep,
    );
    return byIndex(ds, new Map(records.map((r, k) => [r.index, k])));
  },

  preparation: {
    length: tabularStatsLength,
    chunk(spec: JobSpec, data, from: number, to: number): Float64Array {
      return tabularStatsPartial(spec, (data as TabularDataset).parsed, from, to);
    },
    local(spec: JobSpec, data): Float32Array {
      return tabularStatsVector(spec, (data as TabularDataset).parsed);
    },
    fromReduced(spec: JobSpec, v: Float32Array): PrepState {
      return tabularPrepFromReduced(spec, v);
    },
  },

  evaluate(
    spec: JobSpec,
    logits: Float32Array,
    targets: Int32Array | Float32Array,
    prep?: PrepState,
  ): Evaluation {
    if (isRegression(spec)) {
      // outputs and targets are standardized: the error in the label's units is std × theirs
      const t = (prep as TabularPrep | undefined)?.target ?? { mean: 0, std: 1 };
      let se = 0;
      let ae = 0;
      for (let i = 0; i < targets.length; i++) {
        const e = (logits[i] - targets[i]) * t.std;
        se += e * e;
        ae += Math.abs(e);
      }
      const n = Math.max(1, targets.length);
      return { metric: 'rmse', value: Math.sqrt(se / n), extra: { mae: ae / n } };
    }
    const m = classificationMetrics(logits, targets, (spec.data as TabularData).classes!.length);
    return spec.metric === 'macro-f1'
      ? { metric: 'macro-f1', value: m.macroF1, extra: { accuracy: m.accuracy } }
      : { metric: 'accuracy', value: m.accuracy, extra: { macroF1: m.macroF1 } };
  },

  exportConfig(spec: JobSpec, prep?: PrepState): Record<string, unknown> {
    const d = spec.data as TabularData;
    const p = prep as TabularPrep | undefined;
    return {
      task: 'tabular',
      objective: spec.objective,
      label: d.label,
      numeric: d.numeric.map((name, j) => ({ name, mean: p?.mean[j] ?? 0, std: p?.std[j] ?? 1 })),
      categorical: d.categorical,
      missing: d.missing,
      missingTokens: [...MISSING],
      ...(isRegression(spec)
        ? { target: { name: d.label, mean: p?.target?.mean ?? 0, std: p?.target?.std ?? 1 } }
        : { classes: d.classes }),
    };
  },

  encodeInputs(config: Record<string, unknown>, rows: readonly unknown[]): Float32Array {
    const numeric = config.numeric as { name: string; mean: number; std: number }[];
    const categorical = config.categorical as { name: string; values: string[] }[];
    const missing = config.missing as TabularData['missing'];
    const spec = {
      data: {
        format: 'jsonl',
        label: String(config.label),
        numeric: numeric.map((c) => c.name),
        categorical,
        missing,
      },
    } as unknown as JobSpec;
    const cells = rows.map((r, i) => {
      if (r === null || typeof r !== 'object' || Array.isArray(r))
        throw new AgoraError('PREDICT_BAD_INPUT', `input ${i} must be a JSON object of column values`);
      const o = r as Record<string, unknown>;
      return (col: string) => (Object.hasOwn(o, col) ? o[col] : null);
    });
    const d = spec.data as TabularData;
    const parsed: Parsed = {
      numeric: new Float64Array(rows.length * d.numeric.length),
      categorical: new Int32Array(rows.length * d.categorical.length),
      labels: new Int32Array(rows.length),
      values: new Float64Array(rows.length),
    };
    cells.forEach((cell, r) => {
      d.numeric.forEach((c, j) => {
        const v = cell(c);
        const x = numberOf(v);
        if (x === undefined && !isMissing(v))
          throw new AgoraError(
            'PREDICT_BAD_INPUT',
            `input ${r}: column ${c} is "${cellText(v)}", not a number`,
          );
        parsed.numeric[r * d.numeric.length + j] = x ?? Number.NaN;
      });
      d.categorical.forEach((c, j) => {
        const v = cell(c.name);
        parsed.categorical[r * d.categorical.length + j] = isMissing(v)
          ? -1
          : c.values.indexOf(cellText(v).trim());
      });
    });
    const out = featuresOf(spec, parsed, {
      mean: numeric.map((c) => c.mean),
      std: numeric.map((c) => c.std),
    });
    // a finite number can still standardize past float32 (1e39, "0xfff…"): the model would answer NaN
    const F = out.length / Math.max(rows.length, 1);
    const bad = out.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) {
      const c = numeric[bad % F];
      throw new AgoraError(
        'PREDICT_BAD_INPUT',
        `input ${Math.floor(bad / F)}: column ${c?.name ?? bad % F} is out of the model's range`,
        { hint: `give ${c?.name ?? 'it'} in its own units, near ${c?.mean ?? 0}` },
      );
    }
    return out;
  },

  decodeOutputs(config: Record<string, unknown>, outputs: Float32Array, n: number): Prediction[] {
    if (config.objective === 'regression') {
      const t = config.target as { mean: number; std: number };
      return Array.from({ length: n }, (_, i) => ({ value: outputs[i] * t.std + t.mean }));
    }
    return decodeClasses(config.classes as string[], outputs, n);
  },
};
