/**
 * The `tabular` task: classification from CSV or JSONL rows with declared numeric and categorical
 * feature columns and a label column (docs/tasks.md).
 *  - Records are the registered records: a CSV data row's raw bytes (the header excluded), or a
 *    JSONL line's bytes (src/data/records.ts), so validators decode exactly what providers trained on.
 *  - Missing values (empty, `NA`, `NaN`, `null`, `?`; JSONL null or absent): numeric ones are
 *    imputed by the declared rule (`mean`: the swarm's mean, `zero`); categorical ones, like values
 *    the spec does not declare, give an all-zero one-hot.
 *  - Standardization (`standardize: 'swarm'`): before round 0 each provider all-reduces its
 *    per-column count, sum and sum of squares (mean over providers, fp32; `preparation`); every node
 *    derives the same mean and standard deviation from the result, which travel in every checkpoint.
 *  - Features: standardized numeric columns, then one-hot categorical columns; an MLP on them.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AgoraError } from '../errors.ts';
import { type ClassificationDataset, checkIndex } from '../train/data/dataset.ts';
import { splitCsvLine } from '../train/data/tabular.ts';
import type { TensorBatch } from '../train/runtime.ts';
import type { WindowRecord } from '../verify/trace-wire.ts';
import { byIndex, checkMlp, decodeClasses } from './image.ts';
import { type JobSpec, zodProblems } from './spec.ts';
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
    /** Class names in id order (classification). */
    classes: z.array(z.string().max(128)).min(2).max(1000),
    missing: z.object({ numeric: z.enum(['mean', 'zero']), categorical: z.literal('zeros') }).strict(),
  })
  .strict();
const prepSchema = z.object({ standardize: z.enum(['swarm', 'none']) }).strict();

export type TabularData = z.infer<typeof dataSchema>;
/** The swarm's statistics: per numeric column, mean and standard deviation. */
export type TabularPrep = { mean: number[]; std: number[] };

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

function labelOf(v: unknown): string | undefined {
  if (isMissing(v)) return undefined;
  return typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : undefined;
}

/** Raw numeric values (NaN: missing), categorical value ids (-1: missing/undeclared), label ids. */
type Parsed = { numeric: Float64Array; categorical: Int32Array; labels: Int32Array };

function parseRows(spec: JobSpec, cells: readonly Cells[], where: string): Parsed {
  const d = spec.data as TabularData;
  const n = cells.length;
  const N = d.numeric.length;
  const C = d.categorical.length;
  const numeric = new Float64Array(n * N);
  const categorical = new Int32Array(n * C);
  const labels = new Int32Array(n);
  const classOf = new Map(d.classes.map((c, i) => [c, i]));
  const valueIds = d.categorical.map((c) => new Map(c.values.map((v, i) => [v, i])));
  for (let r = 0; r < n; r++) {
    const cell = cells[r];
    for (let j = 0; j < N; j++) {
      const v = cell(d.numeric[j]);
      const x = numberOf(v);
      if (x === undefined && !isMissing(v)) {
        throw new AgoraError(
          'DATA_BAD_FILE',
          `${where}: row ${r}: column ${d.numeric[j]} is "${String(v)}", not a number`,
        );
      }
      numeric[r * N + j] = x ?? Number.NaN;
    }
    for (let j = 0; j < C; j++) {
      const v = cell(d.categorical[j].name);
      const s = isMissing(v) ? undefined : String(v).trim();
      categorical[r * C + j] = s === undefined ? -1 : (valueIds[j].get(s) ?? -1);
    }
    const y = labelOf(cell(d.label));
    const id = y === undefined ? undefined : classOf.get(y);
    if (id === undefined) {
      throw new AgoraError(
        'DATA_BAD_LABEL',
        `${where}: row ${r}: label "${y ?? ''}" is ${y === undefined ? 'missing' : 'not one of the job’s classes'}`,
        { hint: `classes: ${d.classes.slice(0, 20).join(', ')}` },
      );
    }
    labels[r] = id;
  }
  return { numeric, categorical, labels };
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
type TabularDataset = ClassificationDataset & { readonly parsed: Parsed };

function makeDataset(
  spec: JobSpec,
  id: string,
  records: readonly Uint8Array[],
  p: Parsed,
  prep?: PrepState,
): TabularDataset {
  const d = spec.data as TabularData;
  const F = tabularWidth(d);
  const features = featuresOf(spec, p, prep as TabularPrep | undefined);
  const ds: TabularDataset = {
    kind: 'classification',
    id,
    size: records.length,
    featureShape: [F],
    numFeatures: F,
    numClasses: d.classes.length,
    classNames: d.classes,
    labels: p.labels,
    parsed: p,
    recordEncoding: d.format === 'csv' ? 'csv row bytes' : 'jsonl line bytes',
    recordBytes(index: number): Uint8Array {
      checkIndex(ds, index);
      return records[index].slice();
    },
    getBatch(indices: ArrayLike<number>): TensorBatch {
      const b = indices.length;
      const inputs = new Float32Array(b * F);
      const targets = new Int32Array(b);
      for (let r = 0; r < b; r++) {
        const i = indices[r];
        checkIndex(ds, i);
        inputs.set(features.subarray(i * F, (i + 1) * F), r * F);
        targets[r] = p.labels[i];
      }
      return { inputs, targets, batchSize: b };
    },
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
      if (distinct.size <= 256) distinct.add(String(v).trim());
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
  const allNumeric = sorted.every((l) => Number.isFinite(Number(l)));
  sorted.sort(allNumeric ? (a, b) => Number(a) - Number(b) : undefined);
  return {
    kind: 'tabular',
    format: source.format,
    columns,
    label,
    numericColumns,
    categories,
    labels: sorted.slice(0, 1000),
    rows: rows.records.length,
  };
}

export const tabularTask: Task = {
  kind: 'tabular',
  formats: ['csv', 'jsonl'],

  validate(spec: JobSpec): JobSpec {
    const data = parseSpecPart(dataSchema, spec.data, '`data`');
    parseSpecPart(prepSchema, spec.preprocessing, '`preprocessing`');
    if (spec.objective !== 'classification') {
      throw new AgoraError(
        'SPEC_INVALID',
        'invalid job spec `objective`: tabular jobs are classification in this version',
        {
          hint: 'regression needs a mean-squared-error loss in the engine (not yet); use a classification label',
        },
      );
    }
    if (spec.metric !== 'accuracy' && spec.metric !== 'macro-f1')
      throw new AgoraError(
        'SPEC_INVALID',
        'invalid job spec `metric`: tabular classification reports accuracy or macro-f1',
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
    const model = checkMlp(spec.model, tabularWidth(data), data.classes.length);
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
    const unknown = (d.labels as string[]).filter((l) => !want.classes.includes(l));
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
    local(spec: JobSpec, data): Float32Array {
      const d = spec.data as TabularData;
      const p = (data as TabularDataset).parsed;
      const N = d.numeric.length;
      const acc = new Float64Array(3 * N);
      for (let r = 0; r < p.labels.length; r++) {
        for (let j = 0; j < N; j++) {
          const x = p.numeric[r * N + j];
          if (Number.isNaN(x)) continue;
          acc[3 * j] += 1;
          acc[3 * j + 1] += x;
          acc[3 * j + 2] += x * x;
        }
      }
      return Float32Array.from(acc);
    },
    fromReduced(spec: JobSpec, v: Float32Array): PrepState {
      const d = spec.data as TabularData;
      const std = (spec.preprocessing as { standardize: string }).standardize === 'swarm';
      const mean: number[] = [];
      const sd: number[] = [];
      for (let j = 0; j < d.numeric.length; j++) {
        const n = v[3 * j];
        const m = n > 0 ? v[3 * j + 1] / n : 0;
        const variance = n > 0 ? v[3 * j + 2] / n - m * m : 1;
        mean.push(std || d.missing.numeric === 'mean' ? m : 0);
        sd.push(std && variance > 1e-12 ? Math.sqrt(variance) : 1);
      }
      return { mean, std: sd } satisfies TabularPrep;
    },
  },

  evaluate(spec: JobSpec, logits: Float32Array, targets: Int32Array | Float32Array): Evaluation {
    const m = classificationMetrics(logits, targets, (spec.data as TabularData).classes.length);
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
      classes: d.classes,
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
        classes: config.classes as string[],
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
    };
    cells.forEach((cell, r) => {
      d.numeric.forEach((c, j) => {
        const v = cell(c);
        const x = numberOf(v);
        if (x === undefined && !isMissing(v))
          throw new AgoraError(
            'PREDICT_BAD_INPUT',
            `input ${r}: column ${c} is "${String(v)}", not a number`,
          );
        parsed.numeric[r * d.numeric.length + j] = x ?? Number.NaN;
      });
      d.categorical.forEach((c, j) => {
        const v = cell(c.name);
        parsed.categorical[r * d.categorical.length + j] = isMissing(v)
          ? -1
          : c.values.indexOf(String(v).trim());
      });
    });
    return featuresOf(spec, parsed, { mean: numeric.map((c) => c.mean), std: numeric.map((c) => c.std) });
  },

  decodeOutputs(config: Record<string, unknown>, outputs: Float32Array, n: number): Prediction[] {
    return decodeClasses(config.classes as string[], outputs, n);
  },
};
