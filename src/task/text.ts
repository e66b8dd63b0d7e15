/**
 * The `text` task: a byte-level causal transformer LM on a plain-text file or a JSONL text field
 * (`--format text [--text-field F]`), metric bits per byte (docs/tasks.md).
 *  - The byte stream: a text file byte for byte; for JSONL, the string field of every line joined
 *    with `\n` (src/train/data/text-lm.ts `textStream`).
 *  - Records: non-overlapping windows of `window` = context + 1 bytes, exactly the records of
 *    `agora data add FILE --format text --chunk WINDOW`. A JSONL provider registers the extracted
 *    stream (written once under its node directory), so every record is a training window either way;
 *    a final partial window is registered but never trained on.
 *  - Window i: inputs its first T bytes, targets its last T; the model is the spec's transformer
 *    with `context` T and a 256-symbol vocabulary.
 *  - Metric: mean next-byte cross-entropy in bits (bits per byte) on held-out windows.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { keccak256Bytes } from '../data/keccak.ts';
import { AgoraError } from '../errors.ts';
import type { Dataset } from '../train/data/dataset.ts';
import { makeWindowLmDataset, TEXT_LM_DEFAULT, textStream } from '../train/data/text-lm.ts';
import type { TransformerSpec } from '../train/models/spec.ts';
import type { WindowRecord } from '../verify/trace-wire.ts';
import { byIndex } from './image.ts';
import { type JobSpec, zodProblems } from './spec.ts';
import type { AttestedSource, DataDescription, DataSource, Evaluation, Prediction, Task } from './task.ts';

/** The data part of a text spec: records (windows) of `window` bytes. */
export type TextData = { format: 'text'; window: number };

const dataSchema = z
  .object({ format: z.literal('text'), window: z.number().int().min(2).max(4097) })
  .strict();
const prepSchema = z.object({ bytes: z.literal('raw') }).strict();
const dim = (max: number) => z.number().int().min(1).max(max);
export const transformerSchema = z
  .object({
    kind: z.literal('transformer'),
    vocabSize: z.literal(256),
    context: dim(4096),
    layers: dim(48),
    dModel: dim(8192),
    heads: dim(128),
    dFF: dim(32_768),
    tieEmbeddings: z.boolean().optional(),
  })
  .strict();

/** The default context of a text provider's windows (the default LM's). */
export const TEXT_DEFAULT_CONTEXT = TEXT_LM_DEFAULT.context;

function invalid(what: string, problems: string[]): AgoraError {
  return new AgoraError('SPEC_INVALID', `invalid job spec ${what}: ${problems.join('; ')}`, {
    hint: 'see docs/tasks.md (text)',
  });
}

function isJsonl(source: DataSource): boolean {
  return source.textField !== undefined || /\.(jsonl|ndjson)$/i.test(source.path);
}

/** The byte stream of a text source (a text file, or a JSONL file's text field). */
export function textSourceStream(source: DataSource): Uint8Array {
  if (source.format !== 'text') {
    throw new AgoraError('DATA_BAD_FORMAT', `the text task reads --format text, not ${source.format}`);
  }
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(readFileSync(source.path));
  } catch (e) {
    throw new AgoraError('DATA_NOT_FOUND', `cannot read ${source.path}: ${(e as Error).message}`, {
      hint: 'pass a plain-text file, or a JSONL file with --text-field FIELD',
      cause: e,
    });
  }
  return isJsonl(source) ? textStream(raw, 'jsonl', source.textField ?? 'text', basename(source.path)) : raw;
}

function windowOf(source: DataSource): number {
  const context = source.context ?? TEXT_DEFAULT_CONTEXT;
  if (!Number.isInteger(context) || context < 1 || context > 4096) {
    throw new AgoraError('BAD_OPTION', `--context must be an integer in 1..4096, not ${context}`);
  }
  return context + 1;
}

/** Next-byte cross-entropy of logits `[n, 256]` against byte targets, in bits per byte. */
export function bitsPerByte(logits: Float32Array, targets: ArrayLike<number>): number {
  const n = targets.length;
  const V = 256;
  let nats = 0;
  for (let i = 0; i < n; i++) {
    let m = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < V; j++) m = Math.max(m, logits[i * V + j]);
    let s = 0;
    for (let j = 0; j < V; j++) s += Math.exp(logits[i * V + j] - m);
    nats += Math.log(s) + m - logits[i * V + targets[i]];
  }
  return n > 0 ? nats / n / Math.LN2 : 0;
}

export const textTask: Task = {
  kind: 'text',
  formats: ['text'],

  validate(spec: JobSpec): JobSpec {
    const r = dataSchema.safeParse(spec.data);
    if (!r.success) throw invalid('`data`', zodProblems(r.error));
    const p = prepSchema.safeParse(spec.preprocessing);
    if (!p.success) throw invalid('`preprocessing`', zodProblems(p.error));
    const m = transformerSchema.safeParse(spec.model);
    if (!m.success) throw invalid('`model`', zodProblems(m.error));
    const model = m.data as TransformerSpec;
    if (spec.objective !== 'lm') throw invalid('`objective`', ['text jobs are "lm"']);
    if (spec.metric !== 'bpb') throw invalid('`metric`', ['text jobs report "bpb" (bits per byte)']);
    if (model.dModel % model.heads !== 0)
      throw invalid('`model`', [`dModel ${model.dModel} is not divisible by heads ${model.heads}`]);
    if (model.context + 1 !== r.data.window)
      throw invalid('`model`', [
        `context ${model.context} must be the data's window ${r.data.window} minus 1 (inputs T bytes, targets the next T)`,
      ]);
    return { ...spec, data: r.data, model };
  },

  describe(source: DataSource): DataDescription {
    const stream = textSourceStream(source);
    const window = windowOf(source);
    const windows = Math.floor(stream.length / window);
    if (windows < 1) {
      throw new AgoraError(
        'DATA_TOO_SMALL',
        `${source.path}: ${stream.length} bytes of text make no ${window}-byte window`,
        { hint: 'use more text or a shorter --context' },
      );
    }
    return {
      kind: 'text',
      format: 'text',
      source: isJsonl(source) ? 'jsonl' : 'text',
      ...(isJsonl(source) ? { field: source.textField ?? 'text' } : {}),
      window,
      bytes: stream.length,
      windows,
    };
  },

  attested(source: DataSource, workDir: string): AttestedSource {
    const chunkBytes = windowOf(source);
    if (!isJsonl(source)) return { path: source.path, format: 'text', chunkBytes };
    // the extracted stream, content-addressed under the node's directory
    const stream = textSourceStream(source);
    const dir = join(workDir, 'text-streams');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `${Buffer.from(keccak256Bytes(stream)).toString('hex').slice(0, 16)}.txt`);
    writeFileSync(path, stream);
    return { path, format: 'text', chunkBytes };
  },

  mismatch(spec: JobSpec, d: DataDescription): string | undefined {
    const want = spec.data as TextData;
    if (d.kind !== 'text') return `the job trains on text; this provider's data is ${d.kind}`;
    if (d.window !== want.window)
      return `the job trains on ${want.window}-byte windows, this provider registered ${String(d.window)}-byte records (start it with --context ${want.window - 1})`;
    if (!((d.windows as number) >= 1)) return "this provider's text holds no window";
    return undefined;
  },

  load(spec: JobSpec, source: DataSource): Dataset {
    const want = spec.data as TextData;
    const stream = textSourceStream(source);
    return makeWindowLmDataset(`text:${basename(source.path)}`, stream, want.window - 1);
  },

  windowDataset(spec: JobSpec, records: readonly WindowRecord[]): Dataset {
    const W = (spec.data as TextData).window;
    const stream = new Uint8Array(Math.max(2, records.length) * W);
    records.forEach((r, k) => {
      if (r.bytes.byteLength !== W) {
        throw new AgoraError(
          'REPLAY_BAD_RECORD',
          `record ${r.index} has ${r.bytes.byteLength} bytes, not ${W}`,
        );
      }
      stream.set(r.bytes, k * W);
    });
    const inner = makeWindowLmDataset('replay-window', stream, W - 1);
    return byIndex(inner, new Map(records.map((r, k) => [r.index, k])));
  },

  evaluate(_spec: JobSpec, logits: Float32Array, targets: Int32Array | Float32Array): Evaluation {
    return { metric: 'bpb', value: bitsPerByte(logits, targets) };
  },

  exportConfig(spec: JobSpec): Record<string, unknown> {
    const m = spec.model as TransformerSpec;
    return {
      task: 'text',
      objective: 'lm',
      vocabulary: 'bytes (token = byte value 0..255; text is UTF-8)',
      context: m.context,
      input: { shape: [m.context], dtype: 'int32' },
      generation:
        'feed the last ≤ context bytes at positions 0..n-1 (later positions do not affect them: causal), read the logits at n-1',
    };
  },

  encodeInputs(): Float32Array {
    throw new AgoraError('PREDICT_BAD_INPUT', 'a text model generates text: pass {"prompt": "..."}');
  },

  decodeOutputs(): Prediction[] {
    throw new AgoraError('PREDICT_BAD_INPUT', 'a text model generates text: pass {"prompt": "..."}');
  },
};
