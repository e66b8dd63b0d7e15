/** `agora serve` without payment: a trained MNIST MLP on ONNX Runtime, batching, 4xx for bad input. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelDir } from '../../src/serve/model.ts';
import { createModelServer, type ModelServer } from '../../src/serve/server.ts';
import { type TrainedMnist, trainMnistModel } from '../helpers/mnist-model.ts';

let trained: TrainedMnist;
let server: ModelServer;
let url: string;

beforeAll(async () => {
  trained = await trainMnistModel(mkdtempSync(join(tmpdir(), 'agora-serve-')), { jobId: '7' });
  server = await createModelServer({ models: [loadModelDir(trained.dir)], maxRows: 16, bodyLimit: 200_000 });
  url = await server.listen({ port: 0 });
}, 60_000);
afterAll(async () => {
  await server?.close();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('agora serve (free)', () => {
  it('binds 127.0.0.1 and publishes an OpenAPI document and the model list', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/v1/models/{id}/predict');
    const models = (await (await fetch(`${url}/v1/models`)).json()) as {
      models: { id: string; modelHash: string }[];
    };
    expect(models.models).toEqual([expect.objectContaining({ id: '7', modelHash: trained.modelHash })]);
  });

  it('classifies digits with the trained accuracy, naming the model hash and job id', async () => {
    const rows = trained.samples.slice(0, 200);
    let correct = 0;
    for (let i = 0; i < rows.length; i += 16) {
      const chunk = rows.slice(i, i + 16);
      const res = await post('/v1/models/7/predict', { input: chunk.map((s) => s.input) });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-agora-model-hash')).toBe(trained.modelHash);
      const body = (await res.json()) as {
        modelHash: string;
        jobId: string;
        predictions: { class: number; probabilities: number[] }[];
      };
      expect(body.modelHash).toBe(trained.modelHash);
      expect(body.jobId).toBe('7');
      body.predictions.forEach((p, j) => {
        expect(p.probabilities).toHaveLength(10);
        expect(Math.abs(p.probabilities.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-4);
        if (p.class === chunk[j].label) correct++;
      });
    }
    // The server's answers agree with the training runtime's own evaluation of the same model.
    expect(correct / rows.length).toBeGreaterThan(0.8);
    expect(Math.abs(correct / rows.length - trained.accuracy)).toBeLessThan(0.08);
  });

  it('coalesces concurrent requests into shared ONNX Runtime runs', async () => {
    const c = server.classifiers.get('7')!;
    const runs0 = c.stats.runs;
    const direct = await Promise.all(
      trained.samples.slice(0, 64).map((s) => c.predict(Float32Array.from(s.input), 1)),
    );
    expect(c.stats.runs - runs0).toBe(1);
    expect(c.stats.maxBatchRows).toBe(64);
    // Same answers as one request each.
    const one = await post('/v1/models/7/predict', { input: trained.samples[5].input });
    const body = (await one.json()) as { predictions: { class: number; probabilities: number[] }[] };
    expect(body.predictions[0]).toEqual(direct[5][0]);
  });

  it('answers bad input with a 4xx that says what is wrong, and keeps serving', async () => {
    const cases: [unknown, number, RegExp][] = [
      ['{not json', 400, /JSON/i],
      [{}, 400, /"input" is missing/],
      [{ input: [1, 2, 3] }, 400, /has 3 values; model 7 takes 784/],
      [{ input: Array(784).fill('a') }, 400, /value 0 is not a finite number/],
      // raw 0–255 pixels or a value past float32 (which came back as null probabilities)
      [{ input: [...Array(783).fill(0), 255] }, 400, /value 783 is 255, outside \[0, 1\]/],
      [{ input: [1e308, ...Array(783).fill(0)] }, 400, /value 0 is 1e\+308, outside \[0, 1\]/],
      [{ input: Array.from({ length: 17 }, () => Array(784).fill(0)) }, 400, /at most 16/],
      [{ input: [] }, 400, /has 3 values|no rows|takes 784/],
      [{ input: Array(300_000).fill(0) }, 413, /too large|body/i],
    ];
    for (const [body, status, msg] of cases) {
      const res = await post('/v1/models/7/predict', body as object);
      expect(res.status, JSON.stringify(body).slice(0, 40)).toBe(status);
      const j = (await res.json()) as { error: { code: string; message: string } };
      expect(j.error.message).toMatch(msg);
    }
    expect((await post('/v1/models/nope/predict', { input: [] })).status).toBe(404);
    const wrongType = await fetch(`${url}/v1/models/7/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body: '<x/>',
    });
    expect(wrongType.status).toBe(415);
    expect((await post('/v1/models/7/predict', { input: trained.samples[0].input })).status).toBe(200);
  });
});
