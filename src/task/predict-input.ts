/**
 * The rows `agora model predict --input` takes: inline JSON (one object or array, or an array of
 * them), or a file: `.json` (the same), `.jsonl` (one per line) or `.csv` (header + rows, cells as
 * strings; empty cells are missing values), or a PNG/JPEG image (`{ image: PATH }`, decoded by the
 * image task with the model's input size). A text model takes `{"prompt": "…", "maxTokens"?: n}`.
 */
import { readFileSync, statSync } from 'node:fs';
import { AgoraError } from '../errors.ts';
import { splitCsvLine } from '../train/data/tabular.ts';

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new AgoraError('PREDICT_BAD_INPUT', `${where} is not valid JSON: ${(e as Error).message}`, {
      hint: 'pass a JSON object of column values, an array of them, or a .csv/.jsonl/.json file',
    });
  }
}

/** Whether `path` is a file one can read as input (a directory threw EISDIR from readFileSync). */
export function isInputFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * One row, or a list of rows (a list of numbers is one row of features). Also how `agora serve`
 * reads the `input` of a predict request.
 */
export function rowsOfJson(v: unknown): unknown[] {
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number')) return [v];
  return Array.isArray(v) ? v : [v];
}

export function predictInputRows(input: string): unknown[] {
  const t = input.trim();
  if (t.startsWith('{') || t.startsWith('[')) return rowsOfJson(parseJson(t, '--input'));
  if (!isInputFile(input)) {
    throw new AgoraError('PREDICT_BAD_INPUT', `--input ${input} is neither JSON nor a file`, {
      hint: 'e.g. --input \'{"age": 52, "clinic": "north"}\' or --input rows.csv',
    });
  }
  if (/\.(png|jpe?g)$/i.test(input)) return [{ image: input }];
  const text = readFileSync(input, 'utf8');
  if (/\.jsonl$|\.ndjson$/.test(input)) {
    return text
      .split(/\r?\n/)
      .filter((l) => l.trim() !== '')
      .map((l, i) => parseJson(l, `${input}:${i + 1}`));
  }
  if (/\.csv$/.test(input)) {
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
    const header = splitCsvLine(lines[0] ?? '', ',', input, 1).map((h) => h.trim());
    return lines.slice(1).map((l, i) => {
      const cells = splitCsvLine(l, ',', input, i + 2);
      return Object.fromEntries(header.map((h, j) => [h, cells[j] ?? '']));
    });
  }
  return rowsOfJson(parseJson(text, input));
}
