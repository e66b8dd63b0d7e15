/**
 * `serve/exported-body`: the request-body parsers of a served exported model (src/serve/exported.ts),
 * which read bodies from strangers over HTTP: `parseRows` (then the task's `encode`, which the
 * server runs before it charges), `parseGenerate` and `parseScore`, over real exported models (a
 * tabular classifier and regressor, an image-folder CNN, a byte-level LM). Bodies arrive as the
 * server gets them (through JSON text): arbitrary JSON, the valid bodies, their generic mutations
 * (bench/fuzz/mutate.ts), and near-valid ones made for these parsers: column values, pixels and
 * prompts replaced by NaN/Infinity-like strings, lone surrogates, numbers past float32, objects with
 * their own `toString`/`valueOf`, huge strings and arrays; row counts around the limit; deep nesting.
 *
 * An accepted body must be well formed: 1..maxRows rows encoded to finite model inputs; a generate
 * request with a prompt within the byte limit and its numbers within their ranges; a score text of
 * 2..limit bytes. A quarter of the accepted cases also run the inference (as the server does after
 * payment) and must give finite predictions, text, or bits per byte: a failed inference would be
 * a paid 500.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  DEFAULT_MAX_PROMPT_BYTES,
  DEFAULT_MAX_TOKENS,
  ExportedRunner,
  type LmLimits,
  parseGenerate,
  parseRows,
  parseScore,
} from '../../src/serve/exported.ts';
import { type ExportServedModel, loadModelDir } from '../../src/serve/model.ts';
import type { Prediction } from '../../src/task/task.ts';
import { CLINIC_CSV, ENERGY_CSV } from '../../test/helpers/task-models.ts';
import { defineTarget, type FuzzTarget, type Outcome } from './harness.ts';
import { fuzzModels } from './models.ts';
import { applyJsonOp, EDGE_JSON, type Json, type JsonOp, mutatedJson } from './mutate.ts';

const MAX_ROWS = 8;
/** The bounds `agora serve` is run with in the HTTP target; the parsers' defaults are the other half. */
const TIGHT: LmLimits = { maxTokens: 8, maxPromptBytes: 256 };

/** The first data row of a CSV as a JSON row without its label (what a buyer sends). */
function firstRow(csv: string, label: string): Json {
  const [head, first] = readFileSync(csv, 'utf8').split('\n');
  const names = head.split(',');
  return Object.fromEntries(
    first
      .split(',')
      .map((v, i) => [names[i], v !== '' && Number.isFinite(Number(v)) ? Number(v) : v] as const)
      .filter(([k]) => k !== label),
  ) as Json;
}

function deep(n: number, leaf: Json, objects: boolean): Json {
  let v = leaf;
  for (let i = 0; i < n; i++) v = objects && i % 2 ? { input: v } : [v];
  return v;
}

/** Values these parsers must not trust: number-like strings, values past float32, broken UTF-16. */
const SPECIAL: readonly Json[] = [
  ...EDGE_JSON,
  'NaN',
  'nan',
  'Infinity',
  '-Infinity',
  '+Infinity',
  '1e999',
  '-1e999',
  '1e39',
  '3.5e38',
  '0x1f',
  '0b11',
  ' 7 ',
  '1_000',
  'NA',
  'null',
  'undefined',
  '\ufeff1',
  '\ud800',
  '\udfff',
  'a\ud800b',
  '\udc00\ud800',
  'é'.repeat(200),
  'x'.repeat(9000),
  3.4e38,
  3.5e38,
  1e39,
  -1e39,
  5e-324,
  -0,
  2 ** 31 - 1,
  2 ** 31,
  4096,
  4097,
  256,
  257,
  10.000001,
  { toString: 1 },
  { valueOf: {} },
  { toString: 'x', valueOf: 'y' },
  { toJSON: 1 },
  [[]],
  [1, [2, [3, [4, [5]]]]],
  Array.from({ length: 1000 }, (_, i) => i),
];

const specialOp: fc.Arbitrary<JsonOp> = fc.record({
  // replace, replace, add a field, blow up an array
  kind: fc.constantFrom(0, 1, 3, 5),
  pick: fc.nat(),
  value: fc.constantFrom(...SPECIAL),
  key: fc.constantFrom(
    'toString',
    'valueOf',
    'input',
    'prompt',
    'text',
    'maxTokens',
    'temperature',
    'topK',
    'seed',
    'image',
    'imageBytes',
    '__proto__',
  ),
});

type Entry = {
  m: ExportServedModel;
  runner: ExportedRunner;
  /** Valid bodies: predict for row models; generate, then score, for the LM. */
  valid: Json[];
  score: Json[];
};

type ExportCase = {
  model: number;
  /** For the LM: generate or score. */
  score: boolean;
  tight: boolean;
  infer: boolean;
  body: Json;
  /** Deep nesting applied after the mutations (depth, objects or arrays). */
  wrap: [number, boolean] | null;
};

/** What the server's JSON parser hands the route: the body through JSON text. */
function wire(c: ExportCase): unknown {
  let v: Json = c.body;
  if (c.wrap) v = { input: deep(c.wrap[0], v, c.wrap[1]) };
  const text = JSON.stringify(v);
  return text === undefined ? undefined : JSON.parse(text);
}

function fail(what: string): never {
  throw new Error(`accepted, but ${what}`);
}

/** A failed inference after the checks passed is what the server would answer 500 to (after payment). */
async function inference<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw new Error(`inference failed on an accepted body: ${(e as Error).message}`);
  }
}

function checkPredictions(ps: Prediction[], rows: number, kind: string): void {
  if (ps.length !== rows) fail(`${ps.length} predictions for ${rows} rows`);
  for (const p of ps) {
    const o = p as unknown as { value?: number; probabilities?: Record<string, number> };
    if (kind === 'regressor') {
      if (typeof o.value !== 'number' || !Number.isFinite(o.value)) fail(`prediction ${JSON.stringify(p)}`);
    } else {
      const probs = Object.values(o.probabilities ?? {});
      const sum = probs.reduce((s, x) => s + x, 0);
      if (probs.length === 0 || probs.some((x) => !Number.isFinite(x)) || Math.abs(sum - 1) > 1e-3)
        fail(`prediction ${JSON.stringify(p)}`);
    }
  }
}

export function exportedBodyTarget(): FuzzTarget {
  const entries: Entry[] = [];
  const clinic = firstRow(CLINIC_CSV, 'triage');
  const energy = firstRow(ENERGY_CSV, 'kwh');

  // The valid bodies are read lazily (filled in setup), as in serve/http-api.
  const caseOf = fc.nat().chain((i) => {
    const e = entries[i % entries.length];
    return fc.boolean().chain((score) => {
      const valid = e.m.kind === 'lm' && score ? e.score : e.valid;
      const v = fc.constantFrom(...valid);
      const near = fc
        .tuple(v, fc.array(specialOp, { minLength: 1, maxLength: 3 }))
        .map(([b, ops]) => ops.reduce(applyJsonOp, structuredClone(b)));
      const rowCounts = fc
        .tuple(v, fc.constantFrom(0, 1, MAX_ROWS, MAX_ROWS + 1, 1000, 100_000))
        .map(([b, n]): Json => {
          const one = (b as { input?: Json }).input ?? b;
          // a list of rows ([{…}, {…}] or [[…], […]]) gives its first row
          const row =
            Array.isArray(one) && one.length > 0 && typeof one[0] === 'object' && one[0] !== null
              ? one[0]
              : one;
          // at most about 2 MB of JSON (the server's body limit is smaller): the cost stays the parser's
          const most = Math.floor(2_000_000 / (JSON.stringify(row)?.length ?? 1));
          return { input: Array.from({ length: Math.min(n, most) }, () => row) };
        });
      return fc.record({
        model: fc.constant(i % entries.length),
        score: fc.constant(score),
        tight: fc.boolean(),
        infer: fc.nat({ max: 3 }).map((n) => n === 0),
        body: fc.oneof(
          { weight: 2, arbitrary: v },
          { weight: 6, arbitrary: mutatedJson(v) },
          { weight: 6, arbitrary: near },
          { weight: 1, arbitrary: rowCounts },
          { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json> },
        ),
        wrap: fc.oneof(
          { weight: 12, arbitrary: fc.constant(null) },
          { weight: 1, arbitrary: fc.tuple(fc.constantFrom(2, 3, 4, 10, 100, 3000), fc.boolean()) },
        ),
      });
    });
  });

  return defineTarget({
    name: 'serve/exported-body',
    boundary: 'bodies of predict / generate / score requests to a served exported model (`agora serve`)',
    weight: 2,
    input: caseOf,
    async setup() {
      const dirs = await fuzzModels();
      for (const dir of [dirs.cls, dirs.reg, dirs.cnn, dirs.lm]) {
        const m = loadModelDir(dir) as ExportServedModel;
        const runner = await ExportedRunner.create(m);
        let valid: Json[];
        let score: Json[] = [];
        if (m.kind === 'lm') {
          valid = [
            { prompt: 'The news ', maxTokens: 4, temperature: 0.7, topK: 8, seed: 3 },
            { prompt: 'a' },
            { prompt: '', maxTokens: 0, temperature: 0 },
          ];
          score = [{ text: 'the news of the day' }, { text: 'ab' }];
        } else if (m.taskKind === 'tabular') {
          const row = m.kind === 'regressor' ? energy : clinic;
          valid = [{ input: row }, { input: [row, row] }];
        } else {
          const shape = (m.config.preprocessing as { input: { shape: number[] } }).input.shape;
          const n = shape.reduce((a, b) => a * b, 1);
          const pixels = Array.from({ length: n }, (_, k) => (k * 37) % 256);
          valid = [{ input: pixels }, { input: [pixels, pixels] }];
        }
        entries.push({ m, runner, valid, score });
      }
    },
    async teardown() {
      for (const e of entries.splice(0)) await e.runner.close();
    },
    async run(c: ExportCase): Promise<Outcome> {
      const { m, runner } = entries[c.model];
      const limits = c.tight ? TIGHT : {};
      const maxPrompt = limits.maxPromptBytes ?? DEFAULT_MAX_PROMPT_BYTES;
      const body = wire(c);
      if (m.kind === 'lm' && !c.score) {
        const r = parseGenerate(body, m, limits);
        const maxTokens = limits.maxTokens ?? DEFAULT_MAX_TOKENS;
        const keys = Object.keys(r).filter(
          (k) => !['prompt', 'maxTokens', 'temperature', 'topK', 'seed'].includes(k),
        );
        if (keys.length) fail(`the request has fields ${keys.join(', ')}`);
        if (typeof r.prompt !== 'string' || Buffer.byteLength(r.prompt) > maxPrompt)
          fail('the prompt is too long');
        const int = (x: unknown, lo: number, hi: number) =>
          x === undefined || (Number.isInteger(x) && (x as number) >= lo && (x as number) <= hi);
        if (!int(r.maxTokens, 0, maxTokens)) fail(`maxTokens ${r.maxTokens}`);
        if (!int(r.topK, 0, 256)) fail(`topK ${r.topK}`);
        if (!int(r.seed, 0, 2 ** 31 - 1)) fail(`seed ${r.seed}`);
        if (r.temperature !== undefined && !(r.temperature >= 0 && r.temperature <= 10))
          fail(`temperature ${r.temperature}`);
        if (c.infer && c.tight) {
          const g = await inference(() => runner.generate(r));
          if (typeof g.text !== 'string' || g.tokens !== (r.maxTokens ?? TIGHT.maxTokens))
            fail(`generation ${JSON.stringify(g).slice(0, 200)}`);
        }
        return 'accepted';
      }
      if (m.kind === 'lm') {
        const text = parseScore(body, m, limits);
        const bytes = Buffer.byteLength(text);
        if (bytes < 2 || bytes > maxPrompt) fail(`a text of ${bytes} bytes`);
        if (c.infer && c.tight) {
          const s = await inference(() => runner.score(text));
          if (!Number.isFinite(s.bitsPerByte) || s.bitsPerByte < 0 || s.bytes !== bytes - 1)
            fail(`score ${JSON.stringify(s)}`);
        }
        return 'accepted';
      }
      const rows = parseRows(body, m, MAX_ROWS);
      if (!Array.isArray(rows) || rows.length < 1 || rows.length > MAX_ROWS) fail(`${rows.length} rows`);
      const x = runner.encode(rows);
      if (!(x instanceof Float32Array) || x.length === 0 || x.length % rows.length !== 0)
        fail(`an encoding of ${x.length} values for ${rows.length} rows`);
      const bad = x.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) fail(`input value ${bad} encodes to ${x[bad]}`);
      if (c.infer)
        checkPredictions(await inference(() => runner.predict(x, rows.length)), rows.length, m.kind);
      return 'accepted';
    },
  });
}
