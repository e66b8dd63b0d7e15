/**
 * Classification data from CSV or JSONL files.
 *
 * Schema: one label column/field, plus either numeric feature columns/fields (all other columns
 * by default) or one text column/field. Labels are mapped to class ids by sorting the distinct
 * label strings (numeric labels numerically), so the mapping is deterministic; `classNames` keeps it.
 * Text is turned into `textFeatures` (default 1024) hashed bag-of-words features: lowercase words
 * (`[a-z0-9']+`), FNV-1a hash mod textFeatures, counts scaled by 1/sqrt(word count).
 * Global index = order of data rows in the file (header excluded, blank lines skipped).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { AgoraError } from '../../errors.ts';
import { type ClassificationDataset, makeClassificationDataset } from './dataset.ts';

export type TabularSchema = {
  /** Label column name (CSV with header, JSONL) or 0-based column number (CSV). */
  label: string | number;
  /** Numeric feature columns/fields; default: every column except the label (CSV only). */
  features?: (string | number)[];
  /** A text column/field instead of numeric features. */
  text?: string | number;
  /** Size of the hashed bag-of-words feature vector for text (default 1024). */
  textFeatures?: number;
  /** CSV only: the first line is a header (default true). */
  header?: boolean;
  /** CSV only: the field delimiter (default ','). */
  delimiter?: string;
};

function fileError(file: string, line: number, what: string, hint: string): AgoraError {
  return new AgoraError('DATA_BAD_FILE', `${file}:${line}: ${what}`, { hint });
}

/** Splits one CSV line (RFC 4180 quoting: "a,b" and "" escapes; no embedded newlines). */
export function splitCsvLine(line: string, delimiter: string, file: string, lineNo: number): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let s = '';
      i++;
      for (;;) {
        if (i >= line.length) {
          throw fileError(
            file,
            lineNo,
            'unterminated quoted field.',
            'Close the quote ("") on the same line.',
          );
        }
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            s += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += line[i++];
      }
      out.push(s);
      if (i >= line.length) return out;
      if (line.startsWith(delimiter, i)) {
        i += delimiter.length;
        continue;
      }
      throw fileError(
        file,
        lineNo,
        `unexpected character after a quoted field at column ${i + 1}.`,
        'Quote whole fields.',
      );
    }
    const j = line.indexOf(delimiter, i);
    if (j < 0) {
      out.push(line.slice(i));
      return out;
    }
    out.push(line.slice(i, j));
    i = j + delimiter.length;
  }
}

const WORD = /[a-z0-9']+/g;

/** Hashed bag-of-words features of `text` into `out` (length = feature count). */
export function hashTextFeatures(text: string, out: Float32Array): void {
  const words = text.toLowerCase().match(WORD) ?? [];
  for (const w of words) {
    let h = 0x811c9dc5;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 0x01000193);
    out[(h >>> 0) % out.length] += 1;
  }
  if (words.length > 0) {
    const s = 1 / Math.sqrt(words.length);
    for (let i = 0; i < out.length; i++) out[i] *= s;
  }
}

type Row = { line: number; label: string; features?: number[]; text?: string };

function finish(
  file: string,
  rows: Row[],
  schema: TabularSchema,
  featureNames: number,
): ClassificationDataset {
  if (rows.length === 0) {
    throw new AgoraError('DATA_EMPTY', `${file}: no data rows.`, {
      hint: 'The file must contain at least one sample.',
    });
  }
  const distinct = [...new Set(rows.map((r) => r.label))];
  const numeric = distinct.every((l) => l.trim() !== '' && Number.isFinite(Number(l)));
  distinct.sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
  const classOf = new Map(distinct.map((l, i) => [l, i]));
  const labels = Int32Array.from(rows, (r) => classOf.get(r.label)!);
  const id = `file:${basename(file)}`;
  if (schema.text !== undefined) {
    const F = schema.textFeatures ?? 1024;
    const data = new Float32Array(rows.length * F);
    rows.forEach((r, i) => {
      hashTextFeatures(r.text!, data.subarray(i * F, (i + 1) * F));
    });
    return makeClassificationDataset({
      id,
      featureShape: [F],
      features: { kind: 'f32', data },
      labels,
      numClasses: distinct.length,
      classNames: distinct,
      texts: rows.map((r) => r.text!),
    });
  }
  const data = new Float32Array(rows.length * featureNames);
  rows.forEach((r, i) => {
    data.set(r.features!, i * featureNames);
  });
  return makeClassificationDataset({
    id,
    featureShape: [featureNames],
    features: { kind: 'f32', data },
    labels,
    numClasses: distinct.length,
    classNames: distinct,
  });
}

function parseNumber(s: string, file: string, line: number, col: string): number {
  const x = s.trim() === '' ? Number.NaN : Number(s);
  if (!Number.isFinite(x)) {
    throw fileError(
      file,
      line,
      `column ${col} is "${s}", not a finite number.`,
      'Feature columns must be numeric.',
    );
  }
  return x;
}

/** Loads a CSV classification file. `text` is the CSV content (default: read from `file`). */
export function loadCsvClassification(
  file: string,
  schema: TabularSchema,
  text?: string,
): ClassificationDataset {
  const content = text ?? readText(file);
  const delim = schema.delimiter ?? ',';
  const lines = content.split(/\r?\n/);
  const hasHeader = schema.header ?? true;
  let header: string[] | undefined;
  let first = 0;
  if (hasHeader) {
    while (first < lines.length && lines[first].trim() === '') first++;
    if (first >= lines.length) throw new AgoraError('DATA_EMPTY', `${file}: the file is empty.`);
    header = splitCsvLine(lines[first], delim, file, first + 1).map((h) => h.trim());
    first++;
  }
  const colIndex = (c: string | number, what: string): number => {
    if (typeof c === 'number') return c;
    const i = header?.indexOf(c) ?? -1;
    if (i < 0) {
      throw new AgoraError(
        'DATA_BAD_SCHEMA',
        `${file}: ${what} column "${c}" not found${header ? ` (columns: ${header.join(', ')})` : ' (the file has no header)'}.`,
        { hint: 'Name an existing column, or pass a 0-based column number.' },
      );
    }
    return i;
  };
  const labelCol = colIndex(schema.label, 'label');
  const textCol = schema.text === undefined ? undefined : colIndex(schema.text, 'text');
  let featureCols: number[] | undefined = schema.features?.map((f) => colIndex(f, 'feature'));
  const rows: Row[] = [];
  for (let li = first; li < lines.length; li++) {
    if (lines[li].trim() === '') continue;
    const lineNo = li + 1;
    const cells = splitCsvLine(lines[li], delim, file, lineNo);
    if (featureCols === undefined && textCol === undefined) {
      featureCols = cells.map((_, i) => i).filter((i) => i !== labelCol);
    }
    const need = Math.max(labelCol, textCol ?? 0, ...(featureCols ?? [0]));
    if (cells.length <= need) {
      throw fileError(
        file,
        lineNo,
        `has ${cells.length} fields; column ${need + 1} is needed.`,
        'Every row needs every column.',
      );
    }
    const row: Row = { line: lineNo, label: cells[labelCol].trim() };
    if (textCol !== undefined) row.text = cells[textCol];
    else
      row.features = featureCols!.map((c) => parseNumber(cells[c], file, lineNo, header?.[c] ?? String(c)));
    rows.push(row);
  }
  return finish(file, rows, schema, featureCols?.length ?? 0);
}

/**
 * Loads a JSONL classification file: one JSON object per line. `features` names numeric fields,
 * or one field holding a number array (`features: ['pixels']`).
 */
export function loadJsonlClassification(
  file: string,
  schema: TabularSchema,
  text?: string,
): ClassificationDataset {
  const content = text ?? readText(file);
  if (typeof schema.label !== 'string') {
    throw new AgoraError('DATA_BAD_SCHEMA', `${file}: JSONL label must be a field name.`, {
      hint: 'e.g. { label: "y" }',
    });
  }
  if (schema.text === undefined && (schema.features === undefined || schema.features.length === 0)) {
    throw new AgoraError('DATA_BAD_SCHEMA', `${file}: JSONL needs feature fields or a text field.`, {
      hint: 'e.g. { label: "y", features: ["x1", "x2"] } or { label: "y", text: "body" }',
    });
  }
  const rows: Row[] = [];
  let width = -1;
  const lines = content.split(/\r?\n/);
  for (let li = 0; li < lines.length; li++) {
    const l = lines[li].trim();
    if (l === '') continue;
    const lineNo = li + 1;
    let obj: unknown;
    try {
      obj = JSON.parse(l);
    } catch (e) {
      throw fileError(
        file,
        lineNo,
        `invalid JSON (${(e as Error).message}).`,
        'Each line must be one JSON object.',
      );
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw fileError(file, lineNo, 'is not a JSON object.', 'Each line must be one JSON object.');
    }
    const o = obj as Record<string, unknown>;
    const lab = o[schema.label];
    if (typeof lab !== 'string' && typeof lab !== 'number') {
      throw fileError(
        file,
        lineNo,
        `field "${schema.label}" is missing or not a string/number.`,
        'Every row needs a label.',
      );
    }
    const row: Row = { line: lineNo, label: String(lab) };
    if (schema.text !== undefined) {
      const t = o[String(schema.text)];
      if (typeof t !== 'string') {
        throw fileError(
          file,
          lineNo,
          `text field "${schema.text}" is missing or not a string.`,
          'Every row needs text.',
        );
      }
      row.text = t;
    } else {
      const feats: number[] = [];
      for (const f of schema.features!) {
        const v = o[String(f)];
        const push = (x: unknown) => {
          if (typeof x !== 'number' || !Number.isFinite(x)) {
            throw fileError(
              file,
              lineNo,
              `field "${f}" has a non-numeric value.`,
              'Features must be finite numbers.',
            );
          }
          feats.push(x);
        };
        if (Array.isArray(v)) v.forEach(push);
        else push(v);
      }
      if (width >= 0 && feats.length !== width) {
        throw fileError(
          file,
          lineNo,
          `has ${feats.length} features; earlier rows have ${width}.`,
          'All rows need the same width.',
        );
      }
      width = feats.length;
      row.features = feats;
    }
    rows.push(row);
  }
  return finish(file, rows, schema, Math.max(width, 0));
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new AgoraError('DATA_FILE_UNREADABLE', `Cannot read ${file}: ${(e as Error).message}`, {
      hint: 'Check the path.',
      cause: e,
    });
  }
}
