/**
 * The dashboard's "query a model and pay" routes on the embedded chain with a real in-process
 * `agora serve`: the node plans and buys a prediction from its own wallet; requests without the
 * page's token, from another origin or to a rebound host name are refused; inputs are JSON only.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEther } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dashboard } from '../../src/dashboard/dashboard.ts';
import { refuseRequest } from '../../src/dashboard/query-routes.ts';
import { VoucherStore } from '../../src/pay/voucher-store.ts';
import { loadModelDir } from '../../src/serve/model.ts';
import { rememberEndpoints } from '../../src/serve/model-offers.ts';
import { ServeService } from '../../src/serve/service.ts';
import { type Fixture, startFixture } from '../contracts/fixture.ts';
import { type TrainedMnist, trainMnistModel } from '../helpers/mnist-model.ts';

describe('dashboard: query a model and pay', () => {
  let f: Fixture;
  let trained: TrainedMnist;
  let service: ServeService;
  let dash: Dashboard;
  const dir = mkdtempSync(join(tmpdir(), 'agora-dq-'));
  const home = join(dir, 'home');

  beforeAll(async () => {
    [f, trained] = await Promise.all([startFixture(), trainMnistModel(join(dir, 'model'), { jobId: '4' })]);
    service = new ServeService({
      models: [loadModelDir(trained.dir)],
      payment: {
        conn: f.conn,
        account: f.accounts[1]!,
        paymentChannels: f.addr('PaymentChannels'),
        token: f.addr('AgoraToken'),
        store: new VoucherStore(join(dir, 'server.sqlite')),
        unitPrice: parseEther('0.001'),
        pollIntervalMs: 60_000,
      },
    });
    await service.start();
    rememberEndpoints(home, [service.url!]);
    dash = new Dashboard({ conn: f.conn, deployment: f.deployment, home, port: 0, account: f.accounts[2]! });
    await dash.start();
  }, 120_000);
  afterAll(async () => {
    await dash?.stop();
    await service?.stop();
    await f?.stop();
  });

  it('lists the known models, plans, and buys only with the page token from the page origin', async () => {
    const base = dash.url!.replace(/\/$/, '');
    const html = await (await fetch(`${base}/`)).text();
    const token = /window\.__AGORA_TOKEN__="([0-9a-f]{48})"/.exec(html)?.[1];
    expect(token).toBeDefined();
    const offers = (await (await fetch(`${base}/api/query/offers`)).json()) as {
      wallet: string;
      offers: { predictUrl: string; modelHash: string; task: string }[];
    };
    expect(offers.wallet).toBe(f.accounts[2]!.address);
    expect(offers.offers).toEqual([
      expect.objectContaining({
        predictUrl: `${service.url}/v1/models/4/predict`,
        modelHash: trained.modelHash,
        task: 'mnist-mlp',
      }),
    ]);
    const input = JSON.stringify(trained.samples[0]!.input);
    const post = (path: string, body: unknown, headers: Record<string, string>) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const page = { origin: base, 'x-agora-token': token! };
    // another site's page: no token, or a foreign origin
    expect((await post('/api/query/plan', { model: 'mnist', input }, { origin: base })).status).toBe(403);
    expect(
      (await post('/api/query/plan', { model: 'mnist', input }, { ...page, origin: 'http://evil.example' }))
        .status,
    ).toBe(403);
    // the page cannot make the node read its files
    const file = await post('/api/query/plan', { model: 'mnist', input: '/etc/passwd' }, page);
    expect(file.status).toBe(400);
    expect(((await file.json()) as { error: string }).error).toMatch(/must be JSON/);

    const plan = (await (await post('/api/query/plan', { model: 'mnist', input }, page)).json()) as {
      summary: string;
      lines: string[];
      hash: string;
      price: string;
    };
    expect(plan.price).toBe(parseEther('0.001').toString());
    expect(plan.lines.join('\n')).toContain(trained.modelHash);
    expect(plan.lines.join('\n')).toMatch(/opens a payment channel .* deposit of 0\.1 AGORA/);
    // a confirmation of other parameters runs nothing
    const wrong = await post('/api/query/buy', { model: 'mnist', input, hash: `0x${'11'.repeat(32)}` }, page);
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { code: string }).code).toBe('NOT_CONFIRMED');
    const bought = await post('/api/query/buy', { model: 'mnist', input, hash: plan.hash }, page);
    expect(bought.status).toBe(200);
    const answer = (await bought.json()) as {
      modelHash: string;
      jobId: string;
      paid: string;
      cumulative: string;
      predictions: { class: number }[];
    };
    expect(answer).toMatchObject({
      modelHash: trained.modelHash,
      jobId: '4',
      paid: '0.001',
      cumulative: '0.001',
    });
    expect(answer.predictions).toHaveLength(1);
    // the same confirmation does not pay twice
    const replay = await post('/api/query/buy', { model: 'mnist', input, hash: plan.hash }, page);
    expect(((await replay.json()) as { code: string }).code).toBe('NOT_CONFIRMED');
  }, 60_000);

  it('refuseRequest: loopback host, same origin and the token', () => {
    const ok = { host: '127.0.0.1:8546', origin: 'http://127.0.0.1:8546', 'x-agora-token': 't0k' };
    expect(refuseRequest(ok, 't0k')).toBeUndefined();
    expect(
      refuseRequest({ ...ok, host: 'localhost:8546', origin: 'http://localhost:8546' }, 't0k'),
    ).toBeUndefined();
    // DNS rebinding: the attacker's name resolves to 127.0.0.1, origin and host agree, token read from the page
    expect(
      refuseRequest({ ...ok, host: 'evil.example:8546', origin: 'http://evil.example:8546' }, 't0k'),
    ).toMatch(/unexpected Host/);
    expect(refuseRequest({ ...ok, origin: undefined }, 't0k')).toMatch(/no origin/);
    expect(refuseRequest({ ...ok, 'x-agora-token': 'bad' }, 't0k')).toMatch(/token is wrong/);
    expect(refuseRequest({ ...ok, 'x-agora-token': undefined }, 't0k')).toMatch(/token is missing/);
    expect(
      refuseRequest({ ...ok, host: 'node.lan:8546', origin: 'http://node.lan:8546' }, 't0k', 'node.lan'),
    ).toBeUndefined();
  });
});
