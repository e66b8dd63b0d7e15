/**
 * Splitting a data source into records, and the canonical bytes of each record (whose keccak256 is
 * the record's `contentHash`, a leaf of the dataset's Merkle tree). Formats (docs/provenance.md):
 *
 * - `idx`   IDX files (MNIST-style, optionally .gz: hashes cover the uncompressed bytes). With
 *           `IMAGES,LABELS`, record i = item i of IMAGES ‖ item i of LABELS, each item exactly its
 *           bytes in the file (big-endian elements). With one file, record i = its item i.
 * - `jsonl` one record per line: the line's bytes without the terminator (`\n` or `\r\n`); each
 *           line must be valid JSON; empty lines are skipped (they get no index).
 * - `csv`   the first row is the header (not a record; it goes into the schema); one record per
 *           following row: the row's raw bytes without the terminator. Quoted fields may contain
 *           commas and newlines (RFC 4180); every row must have the header's number of fields.
 *           Empty lines are skipped.
 * - `text`  one record per line (bytes without `\n`/`\r\n`, empty lines skipped), or with
 *           `chunk: N` fixed N-byte chunks of the file (the last one may be shorter).
 * - `dir`   one record per regular file under the directory (recursively), ordered by relative
 *           path (`/`-separated, compared as UTF-8 bytes); record bytes = the file's contents.
 * - `images` a labelled image folder (`root/<label>/<file>`, the ImageFolder convention): files
 *           ordered as for `dir`, every file exactly one folder deep; record bytes = the label
 *           (its folder name, UTF-8) ‖ 0x00 ‖ the file's contents, so the label is attested too.
 *
 * Sources are read whole into memory (fine up to about 1 GB). Disk I/O is isolated here: every
 * splitter below works on bytes and is pure.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, relative, sep } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { AgoraError } from '../errors.ts';
import { keccak256Into } from './keccak.ts';

export const RECORD_FORMATS = ['idx', 'jsonl', 'csv', 'text', 'dir', 'images'] as const;
export type RecordFormat = (typeof RECORD_FORMATS)[number];

/** Format-specific facts that go into the manifest's `schema` (what a record is, exactly). */
export type RecordSchema =
  | {
      format: 'idx';
      /** Per input file: element type, dimensions (first = item count), bytes per item. */
      files: { name: string; dtype: string; dims: number[]; itemBytes: number }[];
      record: string;
    }
  | { format: 'jsonl'; record: string }
  | { format: 'csv'; header: string; columns: number; record: string }
  | { format: 'text'; mode: 'lines' | 'chunks'; chunkBytes?: number; record: string }
  | { format: 'dir'; files: string[]; record: string }
  | { format: 'images'; files: string[]; classes: string[]; record: string };

export type RecordSet = {
  schema: RecordSchema;
  count: number;
  /** Sum of the canonical record byte lengths. */
  bytes: number;
  /** count × 32 bytes: keccak256 of each record's canonical bytes, in index order. */
  contentHashes: Uint8Array;
};

export type SourceOptions = {
  format?: RecordFormat;
  /** text only: fixed chunk size in bytes instead of lines. */
  chunkBytes?: number;
  onProgress?: (message: string) => void;
};

/** Receives each record's canonical bytes as `src[off .. off+len]` (valid only during the call). */
export type RecordSink = { add(src: Uint8Array, off: number, len: number): void };

/** Collects content hashes of records as they are produced (grows a flat buffer). */
class HashCollector implements RecordSink {
  hashes = new Uint8Array(32 * 1024);
  count = 0;
  bytes = 0;
  add(src: Uint8Array, off: number, len: number): void {
    if ((this.count + 1) * 32 > this.hashes.length) {
      const next = new Uint8Array(this.hashes.length * 2);
      next.set(this.hashes);
      this.hashes = next;
    }
    keccak256Into(src, off, len, this.hashes, this.count * 32);
    this.count++;
    this.bytes += len;
  }
  result(schema: RecordSchema): RecordSet {
    return {
      schema,
      count: this.count,
      bytes: this.bytes,
      contentHashes: this.hashes.slice(0, this.count * 32),
    };
  }
}

// ------------------------------------------------------------------------------------------ idx

const IDX_TYPES: Record<number, { dtype: string; size: number }> = {
  8: { dtype: 'u8', size: 1 },
  9: { dtype: 'i8', size: 1 },
  11: { dtype: 'i16', size: 2 },
  12: { dtype: 'i32', size: 4 },
  13: { dtype: 'f32', size: 4 },
  14: { dtype: 'f64', size: 8 },
};

type IdxView = { name: string; dtype: string; dims: number[]; itemBytes: number; data: Uint8Array };

/** Parses an IDX header; `data` is the element bytes after it. */
export function parseIdxHeader(raw: Uint8Array, name: string): IdxView {
  const bad = (why: string) =>
    new AgoraError('DATA_BAD_FILE', `${name} is not a valid IDX file: ${why}`, {
      hint: 'IDX files start with 0x00 0x00, a type byte (0x08 u8 … 0x0e f64) and the number of dimensions',
    });
  if (raw.length < 4 || raw[0] !== 0 || raw[1] !== 0) throw bad('bad magic number');
  const t = IDX_TYPES[raw[2]];
  if (!t) throw bad(`unknown element type 0x${raw[2].toString(16)}`);
  const nd = raw[3];
  if (nd < 1) throw bad('zero dimensions');
  const headerLen = 4 + 4 * nd;
  if (raw.length < headerLen) throw bad('truncated header');
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < nd; i++) dims.push(dv.getUint32(4 + 4 * i, false));
  const itemBytes = dims.slice(1).reduce((a, b) => a * b, 1) * t.size;
  const expected = headerLen + dims[0] * itemBytes;
  if (raw.length !== expected) {
    throw bad(`dimensions ${dims.join('×')} need ${expected} bytes, the file has ${raw.length}`);
  }
  return { name, dtype: t.dtype, dims, itemBytes, data: raw.subarray(headerLen) };
}

/** Records of one IDX file, or of an (images, labels) pair of IDX files with equal item counts. */
export function idxRecords(files: IdxView[], out: RecordSink): RecordSchema {
  if (files.length < 1 || files.length > 2) {
    throw new AgoraError('DATA_BAD_SOURCE', 'idx takes one IDX file or IMAGES,LABELS');
  }
  const n = files[0].dims[0];
  if (files.length === 2 && files[1].dims[0] !== n) {
    throw new AgoraError(
      'DATA_BAD_SOURCE',
      `${files[0].name} has ${n} items but ${files[1].name} has ${files[1].dims[0]}: they do not pair up`,
      { hint: 'give the matching images and labels files as IMAGES,LABELS' },
    );
  }
  const [a, b] = files;
  // u8 images + 1-D u8 labels (MNIST-style): the training loaders' encoding (src/train/data), so the
  // registered content hashes equal what training hashes: label as u32 little-endian ‖ image bytes.
  const labelled = b !== undefined && a.dtype === 'u8' && b.dtype === 'u8' && b.dims.length === 1;
  if (labelled) {
    const rec = new Uint8Array(4 + a.itemBytes);
    for (let i = 0; i < n; i++) {
      rec[0] = b.data[i];
      rec.set(a.data.subarray(i * a.itemBytes, (i + 1) * a.itemBytes), 4);
      out.add(rec, 0, rec.length);
    }
  }
  const rec = new Uint8Array(a.itemBytes + (b?.itemBytes ?? 0));
  for (let i = 0; i < n && !labelled; i++) {
    if (b) {
      rec.set(a.data.subarray(i * a.itemBytes, (i + 1) * a.itemBytes), 0);
      rec.set(b.data.subarray(i * b.itemBytes, (i + 1) * b.itemBytes), a.itemBytes);
      out.add(rec, 0, rec.length);
    } else out.add(a.data, i * a.itemBytes, a.itemBytes);
  }
  return {
    format: 'idx',
    files: files.map((f) => ({ name: f.name, dtype: f.dtype, dims: f.dims, itemBytes: f.itemBytes })),
    record: labelled
      ? 'label i of the second file as u32 little-endian, then item i of the first file (label:u32le,features:u8[…])'
      : files.length === 2
        ? 'item i of the first file followed by item i of the second, raw big-endian element bytes as stored'
        : 'item i of the file, raw big-endian element bytes as stored',
  };
}

// --------------------------------------------------------------------------------- line formats

/** Calls `fn(start, end, lineNo)` for each non-empty line (end excludes `\n` and a trailing `\r`). */
function forEachLine(buf: Uint8Array, fn: (start: number, end: number, lineNo: number) => void): void {
  let start = 0;
  let lineNo = 1;
  while (start < buf.length) {
    let nl = buf.indexOf(0x0a, start);
    if (nl < 0) nl = buf.length;
    let end = nl;
    if (end > start && buf[end - 1] === 0x0d) end--;
    if (end > start) fn(start, end, lineNo);
    start = nl + 1;
    lineNo++;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function jsonlRecords(buf: Uint8Array, name: string, out: RecordSink): RecordSchema {
  forEachLine(buf, (s, e, lineNo) => {
    let text: string;
    try {
      text = utf8.decode(buf.subarray(s, e));
      JSON.parse(text);
    } catch (err) {
      throw new AgoraError(
        'DATA_BAD_FILE',
        `${name} line ${lineNo} is not valid JSON: ${(err as Error).message}`,
        {
          hint: 'every non-empty line of a .jsonl file must be one JSON value; fix the line or pick --format text',
        },
      );
    }
    out.add(buf, s, e - s);
  });
  return {
    format: 'jsonl',
    record: 'one non-empty line, its UTF-8 bytes without the line terminator (\\n or \\r\\n)',
  };
}

export function textRecords(buf: Uint8Array, chunkBytes: number | undefined, out: RecordSink): RecordSchema {
  if (chunkBytes !== undefined) {
    if (!Number.isInteger(chunkBytes) || chunkBytes < 1) {
      throw new AgoraError('BAD_OPTION', `--chunk must be a positive number of bytes, not ${chunkBytes}`);
    }
    for (let o = 0; o < buf.length; o += chunkBytes) out.add(buf, o, Math.min(chunkBytes, buf.length - o));
    return {
      format: 'text',
      mode: 'chunks',
      chunkBytes,
      record: `bytes [i·${chunkBytes}, (i+1)·${chunkBytes}) of the file (the last chunk may be shorter)`,
    };
  }
  forEachLine(buf, (s, e) => out.add(buf, s, e - s));
  return {
    format: 'text',
    mode: 'lines',
    record: 'one non-empty line, its bytes without the line terminator (\\n or \\r\\n)',
  };
}

/**
 * CSV rows (RFC 4180 quoting): calls `fn(start, end, fields, rowNo)` for each non-empty row, `end`
 * excluding the terminator. Throws on an unterminated quote.
 */
function forEachCsvRow(
  buf: Uint8Array,
  name: string,
  fn: (start: number, end: number, fields: number, rowNo: number) => void,
): void {
  let start = 0;
  let rowNo = 1;
  while (start < buf.length) {
    let i = start;
    let quoted = false;
    let fields = 1;
    for (; i < buf.length; i++) {
      const c = buf[i];
      if (quoted) {
        if (c === 0x22) {
          if (buf[i + 1] === 0x22) i++;
          else quoted = false;
        }
      } else if (c === 0x22) quoted = true;
      else if (c === 0x2c) fields++;
      else if (c === 0x0a) break;
    }
    if (quoted) {
      throw new AgoraError('DATA_BAD_FILE', `${name} row ${rowNo} has an unterminated quoted field`, {
        hint: 'close every " in the CSV (a literal quote inside a quoted field is written "")',
      });
    }
    let end = i;
    if (end > start && buf[end - 1] === 0x0d) end--;
    if (end > start) {
      fn(start, end, fields, rowNo);
      rowNo++;
    }
    start = i + 1;
  }
}

export function csvRecords(buf: Uint8Array, name: string, out: RecordSink): RecordSchema {
  let header: string | undefined;
  let columns = 0;
  forEachCsvRow(buf, name, (s, e, fields, rowNo) => {
    if (header === undefined) {
      try {
        header = utf8.decode(buf.subarray(s, e));
      } catch {
        throw new AgoraError('DATA_BAD_FILE', `${name}: the header row is not valid UTF-8`);
      }
      columns = fields;
      return;
    }
    if (fields !== columns) {
      throw new AgoraError(
        'DATA_BAD_FILE',
        `${name} row ${rowNo} has ${fields} fields but the header has ${columns}`,
        { hint: 'quote fields that contain commas; every row needs the header’s number of columns' },
      );
    }
    out.add(buf, s, e - s);
  });
  if (header === undefined) {
    throw new AgoraError(
      'DATA_BAD_FILE',
      `${name} is empty: a CSV needs a header row and at least one data row`,
    );
  }
  return {
    format: 'csv',
    header,
    columns,
    record: 'one data row (the header row is excluded), its raw bytes without the terminator (\\n or \\r\\n)',
  };
}

// ------------------------------------------------------------------------------------- adapters

function readSourceFile(path: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new AgoraError(
      'DATA_NOT_FOUND',
      code === 'ENOENT' ? `${path} does not exist` : `cannot read ${path}: ${(e as Error).message}`,
      { hint: 'check the path', cause: e },
    );
  }
  if (path.endsWith('.gz')) {
    try {
      raw = gunzipSync(raw);
    } catch (e) {
      throw new AgoraError('DATA_BAD_FILE', `${path} ends in .gz but is not valid gzip`, { cause: e });
    }
  }
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
}

/** Regular files under `dir`, as `/`-separated relative paths sorted by their UTF-8 bytes. */
export function listDirFiles(dir: string): string[] {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const ent of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (ent.isFile()) files.push(relative(dir, p).split(sep).join('/'));
    }
  };
  walk(dir);
  return files.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/**
 * The files of an image folder (`ROOT/<label>/<image>`) in record order, as `listDirFiles`:
 * DATA_NOT_FOUND when it cannot be listed, DATA_EMPTY when it holds no files (unless `allowEmpty`).
 * The one listing behind `--format images`, the image task's data and the engine's image loader.
 */
export function listImageFolder(root: string, opts: { allowEmpty?: boolean } = {}): string[] {
  let files: string[];
  try {
    files = listDirFiles(root);
  } catch (e) {
    throw new AgoraError('DATA_NOT_FOUND', `cannot list image folder ${root}: ${(e as Error).message}`, {
      hint: 'pass a directory laid out as ROOT/<label>/<image>.png|jpg',
      cause: e,
    });
  }
  if (files.length === 0 && !opts.allowEmpty) {
    throw new AgoraError('DATA_EMPTY', `image folder ${root} holds no files`, {
      hint: 'lay images out as ROOT/<label>/<image>.png|jpg',
    });
  }
  return files;
}

/** The label (class folder) of each file of an image folder, or an error naming a misplaced file. */
export function imageFolderLabels(root: string, files: readonly string[]): string[] {
  return files.map((f) => {
    const parts = f.split('/');
    if (parts.length !== 2 || parts[0].includes('\0')) {
      throw new AgoraError(
        'DATA_BAD_SOURCE',
        `${join(root, f)} is not a file in a class folder (ROOT/<label>/<file>)`,
        { hint: 'an image folder holds only ROOT/<label>/<image> files: move or delete the others' },
      );
    }
    return parts[0];
  });
}

/** Bytes of an `images` record: label UTF-8 ‖ 0x00 ‖ file bytes. */
export function labelledRecord(label: string, file: Uint8Array): Uint8Array {
  const l = new TextEncoder().encode(label);
  const out = new Uint8Array(l.length + 1 + file.length);
  out.set(l, 0);
  out.set(file, l.length + 1);
  return out;
}

/** The label and the file bytes of an `images` record (undefined: not one). */
export function splitLabelledRecord(bytes: Uint8Array): { label: string; file: Uint8Array } | undefined {
  const z = bytes.indexOf(0);
  if (z < 1) return undefined;
  try {
    const label = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, z));
    return { label, file: bytes.subarray(z + 1) };
  } catch {
    return undefined;
  }
}

function imageFolderRecords(root: string, sink: RecordSink, progress: (m: string) => void): RecordSchema {
  // an empty folder is left to readRecords' DATA_EMPTY (no records), like every other format
  const files = listImageFolder(root, { allowEmpty: true });
  const labels = imageFolderLabels(root, files);
  progress(`hashing ${files.length} labelled files…`);
  files.forEach((f, i) => {
    const r = labelledRecord(labels[i], readFileSync(join(root, ...f.split('/'))));
    sink.add(r, 0, r.length);
  });
  return {
    format: 'images',
    files,
    classes: [...new Set(labels)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    record: "label (the file's folder, UTF-8) ‖ 0x00 ‖ the file's contents; files ordered by relative path",
  };
}

/** Guesses the format from the path: `A,B` idx, a directory dir, else by extension. */
export function detectFormat(path: string): RecordFormat {
  if (path.includes(',')) return 'idx';
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    throw new AgoraError('DATA_NOT_FOUND', `${path} does not exist`, { hint: 'check the path', cause: e });
  }
  if (isDir) return 'dir';
  const name = basename(path).toLowerCase().replace(/\.gz$/, '');
  const ext = extname(name);
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.csv') return 'csv';
  if (ext === '.txt' || ext === '.md' || ext === '.text') return 'text';
  if (ext === '.idx' || /-ubyte$|\.idx\d-ubyte$|idx\d/.test(name)) return 'idx';
  throw new AgoraError('DATA_FORMAT_UNKNOWN', `cannot tell the format of ${path} from its name`, {
    hint: `pass --format ${RECORD_FORMATS.join('|')}`,
  });
}

/** Splits a source (file, `IMAGES,LABELS`, or directory) into records, feeding `sink`. */
export function splitSource(path: string, sink: RecordSink, opts: SourceOptions = {}): RecordSchema {
  const format = opts.format ?? detectFormat(path);
  if (!RECORD_FORMATS.includes(format)) {
    throw new AgoraError('BAD_OPTION', `unknown --format "${format}"`, {
      hint: `use ${RECORD_FORMATS.join('|')}`,
    });
  }
  if (opts.chunkBytes !== undefined && format !== 'text') {
    throw new AgoraError('BAD_OPTION', '--chunk only applies to --format text');
  }
  const progress = opts.onProgress ?? (() => {});
  const name = basename(path);
  switch (format) {
    case 'idx': {
      const parts = path.split(',').filter((p) => p.length > 0);
      const views = parts.map((p) => parseIdxHeader(readSourceFile(p), basename(p)));
      progress(`hashing ${views[0].dims[0]} idx records…`);
      return idxRecords(views, sink);
    }
    case 'jsonl':
      return jsonlRecords(readSourceFile(path), name, sink);
    case 'csv':
      return csvRecords(readSourceFile(path), name, sink);
    case 'text':
      return textRecords(readSourceFile(path), opts.chunkBytes, sink);
    case 'dir': {
      let files: string[];
      try {
        files = listDirFiles(path);
      } catch (e) {
        throw new AgoraError('DATA_NOT_FOUND', `cannot list directory ${path}: ${(e as Error).message}`, {
          cause: e,
        });
      }
      progress(`hashing ${files.length} files…`);
      for (const f of files) {
        const bytes = readFileSync(join(path, ...f.split('/')));
        sink.add(bytes, 0, bytes.length);
      }
      return { format: 'dir', files, record: 'the contents of one file; files ordered by relative path' };
    }
    case 'images':
      return imageFolderRecords(path, sink, progress);
  }
}

/** Reads a source and hashes its records. */
export function readRecords(path: string, opts: SourceOptions = {}): RecordSet {
  const out = new HashCollector();
  const schema = splitSource(path, out, opts);
  if (out.count === 0) {
    throw new AgoraError('DATA_EMPTY', `${path} contains no records (as --format ${schema.format})`, {
      hint: 'check the path and --format; empty lines are not records',
    });
  }
  return out.result(schema);
}

/** The canonical bytes of record `index` of a source (for `--record` checks and tests). */
export function recordBytes(path: string, index: number, opts: SourceOptions = {}): Uint8Array {
  let found: Uint8Array | undefined;
  let count = 0;
  splitSource(
    path,
    {
      add(src, off, len) {
        if (count === index) found = src.slice(off, off + len);
        count++;
      },
    },
    opts,
  );
  if (!found) {
    throw new AgoraError(
      'INDEX_OUT_OF_RANGE',
      `record ${index} does not exist: ${path} has ${count} records`,
    );
  }
  return found;
}
