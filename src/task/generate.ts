/**
 * Text generation with an exported byte-level LM (`agora model predict DIR --input
 * '{"prompt": "…", "maxTokens": 200}'`): the prompt's UTF-8 bytes, then one byte at a time from the
 * ONNX model (`model.onnx`, input int32 [batch, T] → logits [batch, T, 256]). The model sees the
 * last ≤ T bytes at positions 0..n-1 (the rest of the window is padding, which a causal model
 * ignores) and the next byte is drawn from the logits at n-1: greedy at temperature 0, else
 * sampled from softmax(logits / temperature), optionally restricted to the top k, with a seeded
 * generator (the same request gives the same text). Also the score of a text: bits per byte.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgoraError } from '../errors.ts';
import { createRng } from '../train/data/rng.ts';
import { OnnxSession } from '../train/onnx/session.ts';
import type { ExportConfig } from './export.ts';

export type GenerateRequest = {
  prompt: string;
  /** Bytes to generate (default 200, at most 4096). */
  maxTokens?: number;
  /** 0 = greedy (default 0.8). */
  temperature?: number;
  /** Sample only among the k most likely bytes (default 40; 0 = all). */
  topK?: number;
  seed?: number;
};

export type Generation = { prompt: string; text: string; tokens: number };

/** A request from a user row (`{"prompt": …}` or a bare string). */
export function generateRequestOf(row: unknown, i = 0): GenerateRequest {
  if (typeof row === 'string') return { prompt: row };
  const o = row as Record<string, unknown> | null;
  if (o === null || typeof o !== 'object' || Array.isArray(o) || typeof o.prompt !== 'string') {
    throw new AgoraError('PREDICT_BAD_INPUT', `input ${i} must be {"prompt": "text", "maxTokens"?: n}`, {
      hint: 'e.g. --input \'{"prompt": "The jury said", "maxTokens": 100}\'',
    });
  }
  const num = (k: string, lo: number, hi: number, int: boolean): number | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !(v >= lo && v <= hi) || (int && !Number.isInteger(v)))
      throw new AgoraError(
        'PREDICT_BAD_INPUT',
        `input ${i}: ${k} must be ${int ? 'an integer' : 'a number'} in ${lo}..${hi}`,
      );
    return v;
  };
  const maxTokens = num('maxTokens', 0, 4096, true);
  const temperature = num('temperature', 0, 10, false);
  const topK = num('topK', 0, 256, true);
  const seed = num('seed', 0, 2 ** 31 - 1, true);
  return {
    prompt: o.prompt,
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    ...(temperature !== undefined ? { temperature } : {}),
    ...(topK !== undefined ? { topK } : {}),
    ...(seed !== undefined ? { seed } : {}),
  };
}

/** A loaded byte LM: the next-byte logits of a byte context. */
export class ByteLm {
  readonly context: number;
  readonly #session: OnnxSession;
  readonly #config: ExportConfig;

  private constructor(session: OnnxSession, config: ExportConfig, context: number) {
    this.#session = session;
    this.#config = config;
    this.context = context;
  }

  static async load(dir: string, config: ExportConfig): Promise<ByteLm> {
    const context = Number((config.preprocessing as { context?: unknown }).context);
    if (!Number.isInteger(context) || context < 1)
      throw new AgoraError('MODEL_DIR_INVALID', `${dir}/config.json has no LM context`);
    const session = await OnnxSession.create(new Uint8Array(readFileSync(join(dir, config.onnx.file))), {
      threads: 1,
    });
    return new ByteLm(session, config, context);
  }

  /** Logits [n, 256] of windows (each ≤ context bytes, left-aligned), one row per window at its last byte. */
  async logitsOfWindows(windows: readonly Uint8Array[]): Promise<Float32Array[]> {
    const T = this.context;
    const ids = new Int32Array(windows.length * T);
    windows.forEach((w, r) => {
      for (let t = 0; t < w.length; t++) ids[r * T + t] = w[t];
    });
    const out = await this.#session.run(
      { [this.#config.onnx.input]: { data: ids, dims: [windows.length, T], dtype: 'int32' } },
      [this.#config.onnx.output],
    );
    const all = out[this.#config.onnx.output] as Float32Array;
    return windows.map((w, r) => all.slice((r * T + w.length - 1) * 256, (r * T + w.length) * 256));
  }

  async generate(req: GenerateRequest): Promise<Generation> {
    const max = req.maxTokens ?? 200;
    const temperature = req.temperature ?? 0.8;
    const topK = req.topK ?? 40;
    const rng = createRng(req.seed ?? 0);
    const bytes = [...new TextEncoder().encode(req.prompt)];
    if (bytes.length === 0) bytes.push(0x0a); // an empty prompt starts a new line
    const start = bytes.length;
    for (let n = 0; n < max; n++) {
      const w = Uint8Array.from(bytes.slice(-this.context));
      const [logits] = await this.logitsOfWindows([w]);
      bytes.push(pick(logits, temperature, topK, rng.next()));
    }
    const text = new TextDecoder('utf-8').decode(Uint8Array.from(bytes.slice(start)));
    return { prompt: req.prompt, text, tokens: max };
  }

  /** Bits per byte of a text under the model (each byte after the first predicted from up to T before it). */
  async score(text: string): Promise<{ bitsPerByte: number; bytes: number }> {
    const b = new TextEncoder().encode(text);
    if (b.length < 2) throw new AgoraError('PREDICT_BAD_INPUT', 'score needs a text of at least 2 bytes');
    let bits = 0;
    const T = this.context;
    const windows: Uint8Array[] = [];
    for (let i = 1; i < b.length; i++) windows.push(b.subarray(Math.max(0, i - T), i));
    for (let s = 0; s < windows.length; s += 64) {
      const part = windows.slice(s, s + 64);
      const logits = await this.logitsOfWindows(part);
      part.forEach((_, k) => {
        const l = logits[k];
        let m = Number.NEGATIVE_INFINITY;
        for (const x of l) m = Math.max(m, x);
        let z = 0;
        for (const x of l) z += Math.exp(x - m);
        bits += (Math.log(z) + m - l[b[s + k + 1]]) / Math.LN2;
      });
    }
    return { bitsPerByte: bits / (b.length - 1), bytes: b.length - 1 };
  }

  async dispose(): Promise<void> {
    await this.#session.release();
  }
}

/** The next byte from logits: argmax at temperature 0, else a top-k softmax sample at u ∈ [0, 1). */
function pick(logits: Float32Array, temperature: number, topK: number, u: number): number {
  let best = 0;
  for (let j = 1; j < 256; j++) if (logits[j] > logits[best]) best = j;
  if (temperature === 0) return best;
  const order = Array.from({ length: 256 }, (_, j) => j).sort((a, b) => logits[b] - logits[a] || a - b);
  const keep = topK > 0 ? order.slice(0, topK) : order;
  const p = keep.map((j) => Math.exp((logits[j] - logits[best]) / temperature));
  const total = p.reduce((a, x) => a + x, 0);
  let acc = 0;
  for (let k = 0; k < keep.length; k++) {
    acc += p[k] / total;
    if (u < acc) return keep[k];
  }
  return keep[keep.length - 1];
}
