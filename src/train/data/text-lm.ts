/**
 * Byte-level language-model data from a plain-text file or a JSONL text field, cut into fixed
 * windows, with a held-out split; and the text task's metric, bits per byte.
 *
 * - **Byte stream.** A text file is used byte for byte (UTF-8 or anything else: the model sees
 *   bytes). For JSONL, the string field `field` (default `text`) of every non-empty line is taken
 *   as UTF-8 and the documents are joined with `\n`; a line without that string field is an error.
 * - **Windows.** Window i is bytes [i·(T+1), (i+1)·(T+1)) of the stream (T = context): inputs are
 *   its first T bytes, targets its last T. Windows do not overlap, so for a text file window i is
 *   exactly record i of `agora data add FILE --format text --chunk T+1` (src/data/records.ts):
 *   keccak256(recordBytes(i)) is that record's attested content hash. A final partial window is
 *   dropped. For JSONL the attested records are the lines; the windows are derived from them.
 * - **Held-out split.** `holdout: 'tail'` (default) keeps the last `evalFraction` of the windows
 *   for evaluation (text that follows the training text, as in most LM setups); `'random'` picks
 *   them with a seeded shuffle (for corpora ordered by topic).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { AgoraError } from '../../errors.ts';
import type { Runtime } from '../runtime.ts';
import { byteWindowBatch, checkIndex, type LmDataset } from './dataset.ts';
import { holdoutSplit } from './sharding.ts';

export type TextLmOptions = {
  /** Bytes of context T per window (the model's `context`); default 64. */
  context?: number;
  /** How to read the file; default from the extension (.jsonl/.ndjson → jsonl, else text). */
  format?: 'text' | 'jsonl';
  /** JSONL: the string field holding the text; default `text`. */
  field?: string;
  /** Fraction of windows held out for evaluation, in (0, 1); default 0.1. */
  evalFraction?: number;
  holdout?: 'tail' | 'random';
  /** Seed of the random holdout; default 0. */
  seed?: number;
};

export type TextLmData = {
  /** Every window; `recordBytes(i)` is window i's T+1 bytes. */
  dataset: LmDataset;
  /** Window indices for training and for evaluation (disjoint, ascending). */
  train: Int32Array;
  eval: Int32Array;
  /** Bytes in the stream (after JSONL extraction). */
  streamBytes: number;
  format: 'text' | 'jsonl';
};

/** Builds the byte stream of a text or JSONL source (see module docs). */
export function textStream(
  raw: Uint8Array,
  format: 'text' | 'jsonl',
  field = 'text',
  name = 'input',
): Uint8Array {
  if (format === 'text') return raw;
  const enc = new TextEncoder();
  const docs: Uint8Array[] = [];
  const text = new TextDecoder('utf-8').decode(raw);
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    const l = line.trim();
    if (l === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch (e) {
      throw new AgoraError(
        'DATA_BAD_FILE',
        `${name} line ${lineNo} is not valid JSON: ${(e as Error).message}`,
        {
          hint: 'every non-empty line of a .jsonl file must be one JSON object',
        },
      );
    }
    const t = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[field] : undefined;
    if (typeof t !== 'string') {
      throw new AgoraError('DATA_BAD_FILE', `${name} line ${lineNo} has no string field "${field}"`, {
        hint: `pass the field that holds the text (--text-field), e.g. {"${field}": "…"} on every line`,
      });
    }
    docs.push(enc.encode(t));
  }
  const total = docs.reduce((n, d) => n + d.length, 0) + Math.max(0, docs.length - 1);
  const out = new Uint8Array(total);
  let off = 0;
  docs.forEach((d, i) => {
    if (i > 0) out[off++] = 0x0a;
    out.set(d, off);
    off += d.length;
  });
  return out;
}

/** Non-overlapping windows of `context + 1` bytes over a byte stream (record i = window i). */
export function makeWindowLmDataset(id: string, stream: Uint8Array, context: number): LmDataset {
  if (!Number.isInteger(context) || context < 1) {
    throw new AgoraError('DATA_BAD_OPTION', `context must be a positive integer, got ${context}`, {
      hint: 'byte-level contexts are typically 64–256',
    });
  }
  const W = context + 1;
  const size = Math.floor(stream.length / W);
  if (size < 2) {
    throw new AgoraError(
      'DATA_TOO_SMALL',
      `${id}: ${stream.length} bytes make ${size} window(s) of ${W} bytes; at least 2 are needed (train and held-out)`,
      { hint: 'use more text or a shorter context' },
    );
  }
  const ds: LmDataset = {
    kind: 'lm',
    id,
    size,
    context,
    vocabSize: 256,
    recordEncoding: `bytes[${W}] (non-overlapping window; a text file's --chunk ${W} record)`,
    recordBytes(index: number): Uint8Array {
      checkIndex(ds, index);
      return stream.slice(index * W, index * W + W);
    },
    getBatch: (indices) => byteWindowBatch(ds, stream, context, W, indices),
  };
  return ds;
}

/** Splits window indices into train and held-out sets (see module docs). */
export function splitWindows(
  size: number,
  opts: Pick<TextLmOptions, 'evalFraction' | 'holdout' | 'seed'> = {},
): { train: Int32Array; eval: Int32Array } {
  const f = opts.evalFraction ?? 0.1;
  if (!(f > 0 && f < 1)) {
    throw new AgoraError('DATA_BAD_OPTION', `evalFraction must be in (0, 1), got ${f}`, { hint: 'e.g. 0.1' });
  }
  const nEval = Math.min(size - 1, Math.max(1, Math.round(size * f)));
  if ((opts.holdout ?? 'tail') === 'tail') {
    return {
      train: Int32Array.from({ length: size - nEval }, (_, i) => i),
      eval: Int32Array.from({ length: nEval }, (_, i) => size - nEval + i),
    };
  }
  return holdoutSplit(size, nEval / size, { seed: opts.seed ?? 0 });
}

/** Loads a text or JSONL file as byte windows with a held-out split. */
export function loadTextLm(path: string, opts: TextLmOptions = {}): TextLmData {
  const format = opts.format ?? (/\.(jsonl|ndjson)$/i.test(path) ? 'jsonl' : 'text');
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new AgoraError('DATA_NOT_FOUND', `cannot read ${path}: ${(e as Error).message}`, {
      hint: 'pass a plain-text or JSONL file',
      cause: e,
    });
  }
  const stream = textStream(raw, format, opts.field, basename(path));
  const context = opts.context ?? 64;
  const suffix = format === 'jsonl' ? `:${opts.field ?? 'text'}` : '';
  const dataset = makeWindowLmDataset(`${format}:${basename(path)}${suffix}:ctx${context}`, stream, context);
  return { dataset, ...splitWindows(dataset.size, opts), streamBytes: stream.length, format };
}

export type BitsPerByte = {
  /** Mean cross-entropy per predicted byte in bits (nats / ln 2). */
  bitsPerByte: number;
  /** The same in nats. */
  loss: number;
  /** Bytes predicted (windows × context). */
  bytes: number;
  windows: number;
};

/**
 * Bits per byte of a byte-level LM runtime on the given windows (default: all), evaluated in
 * batches of `batchSize` (the last batch may be smaller). Every target byte counts once.
 */
export async function evaluateBitsPerByte(
  rt: Runtime,
  dataset: LmDataset,
  indices?: ArrayLike<number>,
  opts: { batchSize?: number } = {},
): Promise<BitsPerByte> {
  if (dataset.vocabSize !== 256) {
    throw new AgoraError(
      'DATA_BAD_OPTION',
      `bits per byte needs a byte-level data set, ${dataset.id} has vocab ${dataset.vocabSize}`,
    );
  }
  const idx = indices ?? Int32Array.from({ length: dataset.size }, (_, i) => i);
  const bs = opts.batchSize ?? 32;
  if (!Number.isInteger(bs) || bs < 1) {
    throw new AgoraError('DATA_BAD_OPTION', `batchSize must be a positive integer, got ${bs}`);
  }
  if (idx.length === 0) {
    throw new AgoraError('DATA_EMPTY', 'no windows to evaluate', {
      hint: 'pass at least one held-out window',
    });
  }
  const batches = [];
  for (let s = 0; s < idx.length; s += bs) {
    batches.push(
      dataset.getBatch(Array.prototype.slice.call(idx, s, Math.min(idx.length, s + bs)) as number[]),
    );
  }
  // evaluate() weights each batch's mean token loss by its window count; every window has T targets.
  const ev = await rt.evaluate(batches);
  return {
    bitsPerByte: ev.loss / Math.LN2,
    loss: ev.loss,
    bytes: idx.length * dataset.context,
    windows: idx.length,
  };
}

/**
 * The text task's default model: a byte-level GPT with 2 layers, width 128, 4 heads, FFN 512,
 * context 64, tied embeddings (0.43 M parameters, 1.7 MB in float32). On 2 CPU cores it takes
 * about 30 ms per step of 16 windows (1,024 bytes), so a couple of minutes buy ~4,000 steps;
 * the same shape is timed against PyTorch by `npm run bench:runtime` (docs/training-engine.md).
 */
export const TEXT_LM_DEFAULT = {
  kind: 'transformer',
  vocabSize: 256,
  context: 64,
  layers: 2,
  dModel: 128,
  heads: 4,
  dFF: 512,
  tieEmbeddings: true,
} as const;
