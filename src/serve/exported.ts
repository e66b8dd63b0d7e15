/**
 * Serving the exported models that are not on the MLP fast path: tabular classifiers and
 * regressors, image-folder CNNs (predict), and byte-level language models (generate, score). The
 * inference is `agora model predict`'s own (src/task/export.ts `RowModel`, src/task/generate.ts
 * `ByteLm`, `generateRequestOf`), so a served answer equals a local one for the same input. This
 * module adds what a public endpoint needs on top: request parsing with bounds (rows, prompt bytes,
 * tokens), no file paths from the network, and one inference at a time per model.
 */
import { AgoraError } from '../errors.ts';
import { RowModel } from '../task/export.ts';
import { ByteLm, type GenerateRequest, type Generation, generateRequestOf } from '../task/generate.ts';
import { rowsOfJson } from '../task/predict-input.ts';
import type { Prediction } from '../task/task.ts';
import type { ExportServedModel } from './model.ts';

/** Bounds of a language model's requests. */
export type LmLimits = {
  /** Largest prompt (generate) or text (score), in UTF-8 bytes (default 8192). */
  maxPromptBytes?: number;
  /** Most bytes generated per request (default 512). */
  maxTokens?: number;
};

export const DEFAULT_MAX_PROMPT_BYTES = 8192;
export const DEFAULT_MAX_TOKENS = 512;
/** What generate.ts generates when a request names no maxTokens. */
const GENERATE_DEFAULT_TOKENS = 200;

function bad(message: string, hint: string): never {
  throw new AgoraError('SERVE_BAD_INPUT', message, { hint });
}

function objectBody(body: unknown, hint: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return bad('the body must be a JSON object', hint);
  return body as Record<string, unknown>;
}

/**
 * The rows of a predict request to an exported classifier or regressor: `input` is one row or a
 * list of rows, as `agora model predict --input` reads JSON (`rowsOfJson`). Image rows must be pixel
 * arrays: an `{"image": PATH}` row would make the server read its own files.
 */
export function parseRows(body: unknown, m: ExportServedModel, maxRows: number): unknown[] {
  const hint =
    m.taskKind === 'tabular'
      ? `send {"input": {"column": value, …}} or {"input": [{…}, …]} (up to ${maxRows} rows); ${m.id}: ${m.inputDescription}`
      : `send {"input": [pixels…]} or {"input": [[…], …]} (up to ${maxRows} rows); ${m.id}: ${m.inputDescription}`;
  const o = objectBody(body, hint);
  if (!Object.hasOwn(o, 'input') || o.input === null || typeof o.input !== 'object')
    return bad('"input" is missing, or neither an object nor an array', hint);
  const rows = rowsOfJson(o.input);
  if (rows.length === 0) return bad('"input" has no rows', hint);
  if (rows.length > maxRows)
    return bad(`"input" has ${rows.length} rows; at most ${maxRows} per request`, hint);
  if (m.taskKind === 'image') {
    rows.forEach((r, i) => {
      if (!Array.isArray(r)) bad(`input row ${i} is not an array of pixel values`, hint);
    });
  }
  return rows;
}

/** A generate request (`generateRequestOf`'s checks, then the server's bounds). */
export function parseGenerate(body: unknown, m: ExportServedModel, limits: LmLimits = {}): GenerateRequest {
  const maxPrompt = limits.maxPromptBytes ?? DEFAULT_MAX_PROMPT_BYTES;
  const maxTokens = limits.maxTokens ?? DEFAULT_MAX_TOKENS;
  const hint = `send {"prompt": "text", "maxTokens"?: 0..${maxTokens}, "temperature"?: 0..10, "topK"?: 0..256, "seed"?: n}; prompt ≤ ${maxPrompt} bytes (${m.id})`;
  const o = objectBody(body, hint);
  let req: GenerateRequest;
  try {
    req = generateRequestOf(o);
  } catch (e) {
    // generateRequestOf speaks of "input 0" (a row of `agora model predict`); here it is the body
    const message = (e as Error).message.replace(/^input 0: /, '').replace(/^input 0 /, 'the body ');
    return bad(message, hint);
  }
  const bytes = Buffer.byteLength(req.prompt, 'utf8');
  if (bytes > maxPrompt) return bad(`the prompt is ${bytes} bytes; at most ${maxPrompt}`, hint);
  if (req.maxTokens !== undefined && req.maxTokens > maxTokens)
    return bad(`maxTokens is ${req.maxTokens}; at most ${maxTokens} per request`, hint);
  return req.maxTokens === undefined && maxTokens < GENERATE_DEFAULT_TOKENS ? { ...req, maxTokens } : req;
}

/** A score request: `{"text": …}` of 2..maxPromptBytes UTF-8 bytes. */
export function parseScore(body: unknown, m: ExportServedModel, limits: LmLimits = {}): string {
  const maxPrompt = limits.maxPromptBytes ?? DEFAULT_MAX_PROMPT_BYTES;
  const hint = `send {"text": "…"} of 2..${maxPrompt} UTF-8 bytes (${m.id})`;
  const o = objectBody(body, hint);
  if (typeof o.text !== 'string') return bad('"text" is missing or not a string', hint);
  const bytes = Buffer.byteLength(o.text, 'utf8');
  if (bytes < 2) return bad('"text" must be at least 2 bytes (the first byte is only context)', hint);
  if (bytes > maxPrompt) return bad(`"text" is ${bytes} bytes; at most ${maxPrompt}`, hint);
  return o.text;
}

/** One exported model ready to answer: a `RowModel` (predict) or a `ByteLm` (generate, score). */
export class ExportedRunner {
  readonly model: ExportServedModel;
  readonly #rows?: RowModel;
  readonly #lm?: ByteLm;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(model: ExportServedModel, rows?: RowModel, lm?: ByteLm) {
    this.model = model;
    this.#rows = rows;
    this.#lm = lm;
  }

  static async create(m: ExportServedModel, opts: { threads?: number } = {}): Promise<ExportedRunner> {
    if (m.kind === 'lm') return new ExportedRunner(m, undefined, await ByteLm.load(m.dir, m.config));
    return new ExportedRunner(m, await RowModel.open(m.dir, m.config, opts.threads ?? 1));
  }

  /** Model inputs for parsed rows: the task's own encoding (throws PREDICT_BAD_INPUT before any payment). */
  encode(rows: readonly unknown[]): Float32Array {
    return this.#rowModel().encode(rows);
  }

  predict(x: Float32Array, n: number): Promise<Prediction[]> {
    const rows = this.#rowModel();
    return this.#serial(() => rows.run(x, n));
  }

  generate(req: GenerateRequest): Promise<Generation> {
    const lm = this.#byteLm();
    return this.#serial(() => lm.generate(req));
  }

  score(text: string): Promise<{ bitsPerByte: number; bytes: number }> {
    const lm = this.#byteLm();
    return this.#serial(() => lm.score(text));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#tail.catch(() => {});
    await this.#rows?.dispose();
    await this.#lm?.dispose();
  }

  #rowModel(): RowModel {
    if (!this.#rows)
      throw new AgoraError('SERVE_WRONG_ENDPOINT', `model ${this.model.id} is a language model`);
    return this.#rows;
  }

  #byteLm(): ByteLm {
    if (!this.#lm)
      throw new AgoraError('SERVE_WRONG_ENDPOINT', `model ${this.model.id} is not a language model`);
    return this.#lm;
  }

  /** One inference at a time per model, in arrival order (a long generation delays only its model). */
  #serial<T>(f: () => Promise<T>): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        new AgoraError('SERVE_CLOSED', 'the model is shutting down', { hint: 'retry on a running server' }),
      );
    }
    const run = this.#tail.then(f, f);
    this.#tail = run.catch(() => {});
    return run.then(
      (v) => v,
      (e: unknown) => {
        throw new AgoraError('SERVE_INFERENCE_FAILED', `inference failed: ${(e as Error).message}`, {
          hint: 'the model could not run on this input; report it with the model hash',
          cause: e,
        });
      },
    );
  }
}
