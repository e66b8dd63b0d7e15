/**
 * `agora serve` beyond the MNIST classifier: an exported tabular classifier, a tabular regressor, an
 * image-folder CNN and a byte-level LM served together for a price on the embedded chain, bought through one
 * `agora-channel` channel. Every answer equals what `agora model predict` (`predictFromDir`,
 * `ByteLm`) computes for the same input; bad inputs and wrong endpoints get a 4xx and cost nothing;
 * `agora query --input/--generate/--score` reaches each endpoint.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseEther } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAgoraError } from '../../src/errors.ts';
import { VoucherStore } from '../../src/pay/voucher-store.ts';
import { PayingClient } from '../../src/serve/client.ts';
import { parseGenerate, parseRows, parseScore } from '../../src/serve/exported.ts';
import { type ExportServedModel, loadModelDir, type ServedModel } from '../../src/serve/model.ts';
import { ServeService } from '../../src/serve/service.ts';
import { decodePaymentRequired } from '../../src/serve/x402.ts';
import { predictFromDir, readExportConfig } from '../../src/task/export.ts';
import { ByteLm } from '../../src/task/generate.ts';
import { type ImageGeometry, imagePixels } from '../../src/task/image-folder-data.ts';
import { predictInputRows } from '../../src/task/predict-input.ts';
import { runCli } from '../helpers/cli.ts';
import {
  CLINIC_CSV,
  DIGITS,
  ENERGY_CSV,
  imageExport,
  tabularExport,
  textExport,
} from '../helpers/task-models.ts';
import { type PayFixture, startPayFixture } from '../pay/fixture.ts';

const PRICE = parseEther('0.001');
let fx: PayFixture;
let dir: string;
let dirs: { cls: string; reg: string; lm: string; cnn: string };
let models: ServedModel[];
let paid: ServeService;
let free: ServeService;
let serverStore: VoucherStore;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'agora-serve-kinds-'));
  const [f, cls, reg, lm, cnn] = await Promise.all([
    startPayFixture(3),
    tabularExport(CLINIC_CSV, 'triage', join(dir, 'clinic', 'export'), { jobId: '11' }),
    tabularExport(ENERGY_CSV, 'kwh', join(dir, 'energy', 'export'), { jobId: '12', steps: 60 }),
    textExport(join(dir, 'text', 'export'), { jobId: '13' }),
    imageExport(join(dir, 'digits', 'export'), { jobId: '14' }),
  ]);
  fx = f;
  dirs = { cls, reg, lm, cnn };
  models = [loadModelDir(cls), loadModelDir(reg), loadModelDir(lm), loadModelDir(cnn)];
  serverStore = new VoucherStore(join(dir, 'server.sqlite'));
  paid = new ServeService({
    models,
    payment: {
      conn: fx.conn,
      account: fx.accounts[1],
      paymentChannels: fx.channels,
      token: fx.token,
      store: serverStore,
      unitPrice: PRICE,
      pollIntervalMs: 60_000,
      minChallengePeriod: 600,
    },
    maxRows: 8,
    lm: { maxTokens: 64, maxPromptBytes: 256 },
  });
  free = new ServeService({ models });
  await Promise.all([paid.start(), free.start()]);
}, 60_000);
afterAll(async () => {
  await paid?.stop();
  await free?.stop();
  await fx?.stop();
});

const post = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const at = (s: ServeService, id: string, endpoint: string) => `${s.url}/v1/models/${id}/${endpoint}`;

describe('agora serve: tabular classifiers and regressors, language models', () => {
  it('lists kind, task, metric and endpoints; the OpenAPI document has a path per endpoint', async () => {
    expect(models.map((m) => [m.id, m.engine, m.kind, m.taskKind])).toEqual([
      ['11', 'export', 'classifier', 'tabular'],
      ['12', 'export', 'regressor', 'tabular'],
      ['13', 'export', 'lm', 'text'],
      ['14', 'export', 'classifier', 'image'],
    ]);
    const j = (await (await fetch(`${paid.url}/v1/models`)).json()) as { models: Record<string, unknown>[] };
    expect(j.models).toEqual([
      expect.objectContaining({
        id: '11',
        jobId: '11',
        kind: 'classifier',
        metric: 'accuracy',
        endpoints: ['predict'],
        classes: ['follow-up', 'routine', 'urgent'],
        modelHash: models[0].modelHash,
      }),
      expect.objectContaining({
        id: '12',
        kind: 'regressor',
        metric: 'rmse',
        target: 'kwh',
        endpoints: ['predict'],
      }),
      expect.objectContaining({ id: '13', kind: 'lm', metric: 'bpb', endpoints: ['generate', 'score'] }),
      expect.objectContaining({ id: '14', kind: 'classifier', taskKind: 'image', endpoints: ['predict'] }),
    ]);
    const doc = (await (await fetch(`${paid.url}/openapi.json`)).json()) as {
      paths: Record<string, { post?: { parameters: { name: string; schema: { enum?: string[] } }[] } }>;
    };
    const ids = (p: string) => doc.paths[p].post!.parameters.find((x) => x.name === 'id')!.schema.enum;
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/v1/models',
      '/v1/models/{id}/generate',
      '/v1/models/{id}/predict',
      '/v1/models/{id}/score',
    ]);
    expect(ids('/v1/models/{id}/predict')).toEqual(['11', '12', '14']);
    expect(ids('/v1/models/{id}/generate')).toEqual(['13']);
    expect(ids('/v1/models/{id}/score')).toEqual(['13']);
  });

  it('sells predictions, generations and scores through one channel; each equals agora model predict', async () => {
    const client = new PayingClient({
      conn: fx.conn,
      account: fx.accounts[2],
      store: new VoucherStore(join(dir, 'buyer.sqlite')),
      paymentChannels: fx.channels,
      asset: fx.token,
      maxPrice: 8n * PRICE,
      budget: parseEther('1'),
      deposit: parseEther('1'),
    });
    // unpaid: 402 priced per row (predict) or per request (generate)
    const clinic = predictInputRows(CLINIC_CSV).slice(0, 5);
    const q = await post(at(paid, '11', 'predict'), { input: clinic });
    expect(q.status).toBe(402);
    expect(decodePaymentRequired(q.headers.get('payment-required')!).accepts[0]).toMatchObject({
      amount: (5n * PRICE).toString(),
      extra: expect.objectContaining({ modelHash: models[0].modelHash, jobId: '11' }),
    });
    const g402 = await post(at(paid, '13', 'generate'), { prompt: 'The jury said', maxTokens: 64 });
    expect(g402.status).toBe(402);
    expect(decodePaymentRequired(g402.headers.get('payment-required')!).accepts[0].amount).toBe(
      PRICE.toString(),
    );

    type Answer = { model: string; modelHash: string; jobId: string; predictions: unknown[] };
    const a = await client.postJson<Answer>(at(paid, '11', 'predict'), { input: clinic });
    expect(a.paid).toBe(5n * PRICE);
    expect(a.body).toMatchObject({
      model: '11',
      jobId: '11',
      modelHash: models[0].modelHash,
      kind: 'classifier',
    });
    expect(a.body.predictions).toEqual(await predictFromDir(dirs.cls, clinic));
    const one = await client.postJson<Answer>(at(paid, '11', 'predict'), { input: clinic[2] });
    expect(one.paid).toBe(PRICE);
    expect(one.body.predictions).toEqual([a.body.predictions[2]]);

    const energy = predictInputRows(ENERGY_CSV).slice(0, 8) as Record<string, string>[];
    for (const r of energy) delete r.kwh; // the label is not an input
    const reg = await client.postJson<Answer>(at(paid, '12', 'predict'), { input: energy });
    expect(reg.paid).toBe(8n * PRICE);
    expect(reg.body).toMatchObject({ jobId: '12', modelHash: models[1].modelHash, kind: 'regressor' });
    expect(reg.body.predictions).toEqual(await predictFromDir(dirs.reg, energy));
    expect(reg.body.predictions[0]).toEqual({ value: expect.any(Number) });

    // the CNN on pixel values = `agora model predict DIR --input digit.png`
    const pngs = ['3', '8'].map((c) => join(DIGITS, c, readdirSync(join(DIGITS, c)).sort()[0]));
    const g = (readExportConfig(dirs.cnn).preprocessing as { input: ImageGeometry }).input;
    const pixels = pngs.map((p) => Array.from(imagePixels(new Uint8Array(readFileSync(p)), p, g)));
    const img = await client.postJson<Answer>(at(paid, '14', 'predict'), { input: pixels });
    expect(img.paid).toBe(2n * PRICE);
    expect(img.body).toMatchObject({ jobId: '14', modelHash: models[3].modelHash, kind: 'classifier' });
    expect(img.body.predictions).toEqual(
      await predictFromDir(
        dirs.cnn,
        pngs.map((image) => ({ image })),
      ),
    );

    for (const req of [
      { prompt: 'The jury said', maxTokens: 40, temperature: 0 },
      { prompt: 'The jury', maxTokens: 30, seed: 7 },
      { prompt: 'Atlanta', maxTokens: 20, temperature: 1.2, topK: 0, seed: 3 },
    ]) {
      const g = await client.postJson<Record<string, unknown>>(at(paid, '13', 'generate'), req);
      expect(g.paid).toBe(PRICE);
      const [local] = await predictFromDir(dirs.lm, [req]);
      expect(g.body).toEqual({
        model: '13',
        jobId: '13',
        modelHash: models[2].modelHash,
        kind: 'lm',
        ...local,
      });
    }
    const text = 'The Fulton County Grand Jury said Friday an investigation of recent primary election';
    const s = await client.postJson<{ bitsPerByte: number; bytes: number; modelHash: string }>(
      at(paid, '13', 'score'),
      { text },
    );
    expect(s.paid).toBe(PRICE);
    const lm = await ByteLm.load(dirs.lm, readExportConfig(dirs.lm));
    try {
      expect(s.body).toMatchObject({
        ...(await lm.score(text)),
        modelHash: models[2].modelHash,
        jobId: '13',
      });
    } finally {
      await lm.dispose();
    }
    // revenue per model hash, in the voucher's transaction
    expect(serverStore.earned(models[0].modelHash)).toBe(6n * PRICE);
    expect(serverStore.earned(models[1].modelHash)).toBe(8n * PRICE);
    expect(serverStore.earned(models[2].modelHash)).toBe(4n * PRICE);
    expect(serverStore.earned(models[3].modelHash)).toBe(2n * PRICE);
    expect(client.spent).toBe(20n * PRICE);
  });

  it('answers bad input and wrong endpoints with a 4xx that says what is wrong, before any payment', async () => {
    const earned = models.map((m) => serverStore.earned(m.modelHash));
    const row = predictInputRows(CLINIC_CSV)[0];
    const cases: [string, string, unknown, number, RegExp][] = [
      ['13', 'predict', { input: row }, 404, /language model: it has no predict endpoint/],
      ['11', 'generate', { prompt: 'x' }, 404, /classifier: it has no generate endpoint/],
      ['12', 'score', { text: 'xx' }, 404, /regressor: it has no score endpoint/],
      ['11', 'predict', { input: Array(9).fill(row) }, 400, /9 rows; at most 8/],
      ['11', 'predict', {}, 400, /"input" is missing/],
      ['11', 'predict', { input: [] }, 400, /no rows/],
      ['11', 'predict', { input: 'age=3' }, 400, /"input" is missing, or neither/],
      ['11', 'predict', { input: [[1, 2, 3]] }, 400, /must be a JSON object of column values/],
      [
        '11',
        'predict',
        { input: { ...(row as object), age: 'old' } },
        400,
        /column age is "old", not a number/,
      ],
      ['13', 'generate', {}, 400, /must be \{"prompt"/],
      ['13', 'generate', { prompt: 'x'.repeat(257) }, 400, /257 bytes; at most 256/],
      ['13', 'generate', { prompt: 'x', maxTokens: 65 }, 400, /maxTokens is 65; at most 64/],
      ['13', 'generate', { prompt: 'x', maxTokens: 5000 }, 400, /maxTokens must be an integer in 0..4096/],
      ['13', 'generate', { prompt: 'x', temperature: -1 }, 400, /temperature must be a number/],
      ['13', 'generate', [1, 2], 400, /body must be a JSON object/],
      ['13', 'score', { text: 'x' }, 400, /at least 2 bytes/],
      ['13', 'score', { text: 'é'.repeat(129) }, 400, /258 bytes; at most 256/],
      ['13', 'score', { prompt: 'xy' }, 400, /"text" is missing/],
      ['99', 'generate', { prompt: 'x' }, 404, /no model 99/],
    ];
    for (const [id, endpoint, body, status, msg] of cases) {
      const res = await post(at(paid, id, endpoint), body);
      const j = (await res.json()) as { error: { message: string } };
      expect([res.status, j.error.message], `${id}/${endpoint} ${JSON.stringify(body).slice(0, 50)}`).toEqual(
        [status, expect.stringMatching(msg)],
      );
    }
    expect(models.map((m) => serverStore.earned(m.modelHash))).toEqual(earned);
    // an image model takes pixel arrays, never a path on the server
    const image = { ...models[0], taskKind: 'image', id: 'img' } as ExportServedModel;
    expect(() => parseRows({ input: { image: '/etc/passwd' } }, image, 8)).toThrow(
      /not an array of pixel values/,
    );
    expect(parseRows({ input: [1, 2, 3] }, image, 8)).toEqual([[1, 2, 3]]);
    // still serving
    expect((await post(at(free, '13', 'score'), { text: 'still here' })).status).toBe(200);
  });

  it('any JSON body is answered or refused with an AgoraError, never a crash (fast-check)', async () => {
    const runners = paid.server!.runners;
    const exported = models as ExportServedModel[];
    const refusedOrOk = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        if (!isAgoraError(e)) throw e;
      }
    };
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.boolean(), (v, wrap) => {
        const body = wrap ? { input: v } : v;
        for (const m of exported) {
          if (m.kind === 'lm') {
            refusedOrOk(() => parseGenerate(body, m, { maxTokens: 64, maxPromptBytes: 256 }));
            refusedOrOk(() => parseScore(body, m, { maxPromptBytes: 256 }));
          } else refusedOrOk(() => runners.get(m.id)!.encode(parseRows(body, m, 8)));
        }
      }),
      { numRuns: 400, seed: 18 },
    );
  });

  it('agora query reaches each endpoint (--input rows, --generate, --score); agora model predict agrees', async () => {
    const cli = async (args: string[]) => {
      const r = await runCli(['--home', dir, ...args, '--json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Record<string, unknown>;
    };
    const rows = join(dir, 'rows.jsonl');
    const input = predictInputRows(CLINIC_CSV).slice(10, 13);
    writeFileSync(rows, input.map((r) => JSON.stringify(r)).join('\n'));
    const req = JSON.stringify({ prompt: 'The jury', maxTokens: 24, temperature: 0 });
    const [p, local, g, s] = await Promise.all([
      cli(['query', free.url!, '--model', '11', '--input', rows]),
      cli(['model', 'predict', dirs.cls, '--input', rows]),
      cli(['query', free.url!, '--generate', req]),
      cli(['query', at(free, '13', 'score'), '--score', 'The jury said it did find']),
    ]);
    expect(p).toMatchObject({ url: at(free, '11', 'predict'), paid: '0', jobId: '11' });
    expect(p.predictions).toEqual(local.predictions);
    const [lg] = (await cli(['model', 'predict', dirs.lm, '--input', req])).predictions as unknown[];
    expect(g).toMatchObject({
      url: at(free, '13', 'generate'),
      modelHash: models[2].modelHash,
      ...(lg as object),
    });
    expect(s).toMatchObject({ jobId: '13', bitsPerByte: expect.any(Number), bytes: 24 });
    // a server root with several predict models needs --model
    const r = await runCli(['--home', dir, 'query', free.url!, '--input', rows]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/serves 3 models with a predict endpoint \(of 4\).*--model ID/s);
  }, 60_000);
});
