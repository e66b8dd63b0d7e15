/**
 * `dashboard/http-api`: the dashboard's HTTP server (src/dashboard/dashboard.ts: the node's status
 * server with the page, `/api/state`, `/api/stream`, `/api/datasets/:id/records/:index` and the
 * "query a model and pay" routes) on 127.0.0.1, over the embedded chain with the protocol deployed,
 * a registered dataset in its home and a paid `agora serve` it knows of (bench/fuzz/world.ts).
 *
 * A case is one request: any method, path (the routes, near misses, traversals, random), query
 * string, `Host`, `Origin`, `x-agora-token` (the page's token, a wrong one, none), content type,
 * extra headers and body (mutated plan/buy bodies, random bytes, past the body limit); or a plan
 * followed by a buy of that plan (which pays the server on the embedded chain, as the dashboard's
 * test does); or the event stream, read up to its first event. Contract: a well-formed reply with a
 * status below 500 (the page's 503 "not built" cannot happen here: it is built), every 4xx a JSON
 * error, every 2xx from an `/api/` route JSON, and after each case a plain request still answers.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import fc from 'fast-check';
import { Dashboard } from '../../src/dashboard/dashboard.ts';
import { TOKEN_HEADER } from '../../src/dashboard/query-routes.ts';
import { prepareDataset, registerDataset } from '../../src/data/dataset.ts';
import { AgoraError } from '../../src/errors.ts';
import { rememberEndpoints } from '../../src/serve/model-offers.ts';
import { CLINIC_CSV } from '../../test/helpers/task-models.ts';
import { defineTarget, type FuzzTarget, type Outcome } from './harness.ts';
import { type HttpReply, httpRequest } from './http.ts';
import { type Json, mutatedJson, utf8 } from './mutate.ts';
import { acquireWorld, releaseWorld, type World } from './world.ts';

type DashCase = {
  kind: 'request' | 'plan-buy' | 'stream';
  method: string;
  path: string;
  query: string | null;
  host: number;
  origin: number;
  token: number;
  contentType: string;
  extra: [string, string][];
  body: Uint8Array | null;
  /** For plan-buy: the body of both, and how the hash is given to the buy. */
  planBody: Json;
  hashKind: number;
};

/** What Node's HTTP client sends in a path (it refuses control characters, spaces and > U+00FF). */
const pathSafe = (s: string) =>
  s.replace(/[^\u0021-\u007e]/gu, (c) =>
    Array.from(utf8(c), (b) => `%${b.toString(16).padStart(2, '0')}`).join(''),
  );
/** What it sends in a header value. */
const headerSafe = (v: string) => v.replace(/[^\t\x20-\x7e\x80-\xff]/g, '%');

const ROUTES = [
  '/',
  '/index.html',
  '/assets/app.js',
  '/assets/index.css',
  '/assets/missing.js',
  '/assets/..%2fbuild-info.json',
  '/assets/%2e%2e',
  '/assets/.',
  '/assets/..',
  '/assets/a%00b',
  '/api/state',
  '/api/stream',
  '/api/datasets/1/records/0',
  '/api/datasets/1/records/1',
  '/api/datasets/1/records/99',
  '/api/datasets/0/records/0',
  '/api/datasets/7/records/0',
  '/api/datasets/1/records/-1',
  '/api/datasets/1/records/1e3',
  '/api/datasets/1/records/0x1',
  '/api/datasets/1/records/99999999999999999999999',
  '/api/datasets/115792089237316195423570985008687907853269984665640564039457584007913129639936/records/0',
  '/api/datasets/1/records/',
  '/api/datasets//records/0',
  '/api/query/offers',
  '/api/query/plan',
  '/api/query/buy',
  '/health',
  '/status',
  '/%ff',
  '/api/%ff',
  '/api/datasets/%ff/records/0',
  '//api/state',
  '/api/state/',
  '/API/STATE',
  '/api/state;x',
  '*',
];

export function dashboardTargets(): FuzzTarget[] {
  let w: World | undefined;
  let dash: Dashboard | undefined;
  let base = '';
  let port = '';
  let token = '';
  let model = '';
  let input = '';

  const hosts = () => [
    `127.0.0.1:${port}`,
    `localhost:${port}`,
    `[::1]:${port}`,
    'evil.example',
    `127.0.0.1.evil.example:${port}`,
    '',
    'x'.repeat(300),
  ];
  const origins = (host: string) => [
    `http://${host}`,
    undefined,
    'null',
    'http://evil.example',
    `https://${host}`,
    `http://${host}/`,
  ];
  const tokens = () => [
    token,
    undefined,
    '',
    token.replace(/.$/, (c) => (c === '0' ? '1' : '0')),
    `${token}0`,
    'é'.repeat(48),
  ];

  const validBodies = (): Json[] => [
    { model, input },
    { model: 'mnist', input },
    { model: `${w!.serve.url}/v1/models/7/predict`, input },
    { model, input: `{"input": ${input}}` },
    { model, input: '[[0.1, 0.2], [0.3]]' },
    { model, input, hash: `0x${'11'.repeat(32)}` },
  ];

  const input$ = fc.record({
    kind: fc.constantFrom(
      'request',
      'request',
      'request',
      'request',
      'request',
      'request',
      'plan-buy',
      'stream',
    ),
    method: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('GET', 'POST') },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          'HEAD',
          'OPTIONS',
          'PUT',
          'DELETE',
          'PATCH',
          'PROPFIND',
          'TRACE',
          'SEARCH',
        ),
      },
    ),
    path: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...ROUTES) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constantFrom(...ROUTES), fc.string({ maxLength: 20, unit: 'binary' }))
          .map(([r, s]) => pathSafe(`${r}${s}`)),
      },
      { weight: 1, arbitrary: fc.string({ maxLength: 40, unit: 'binary' }).map((s) => `/${pathSafe(s)}`) },
    ),
    query: fc.option(
      fc.oneof(
        fc.constantFrom(
          'x=1',
          'a=1&a=2',
          '__proto__[x]=1',
          '%ff',
          '&&==',
          'a[b][c]=d',
          `q=${'9'.repeat(5000)}`,
        ),
        fc.string({ maxLength: 40, unit: 'binary' }).map(pathSafe),
      ),
      { freq: 3 },
    ),
    host: fc.nat(),
    origin: fc.nat(),
    token: fc.nat(),
    contentType: fc.constantFrom(
      'application/json',
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=utf-16',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      '',
    ),
    extra: fc.array(
      fc.tuple(
        fc.constantFrom(
          'accept',
          'accept-encoding',
          'connection',
          'range',
          'if-none-match',
          'last-event-id',
          'x-forwarded-host',
          'x-forwarded-for',
          'transfer-encoding',
          'expect',
          'cookie',
        ),
        fc.oneof(
          fc.constantFrom(
            'gzip, br',
            'bytes=0-10',
            'bytes=99999-',
            '*',
            'text/event-stream',
            'chunked',
            '100-continue',
            'keep-alive',
            'close',
            // past Node's 16 KiB of headers: the parser's own 431
            'A'.repeat(17_000),
          ),
          fc.string({ maxLength: 30 }).map(headerSafe),
        ),
      ),
      { maxLength: 2 },
    ),
    body: fc.option(
      fc.oneof(
        {
          weight: 6,
          arbitrary: fc
            .constant(0)
            .chain(() => mutatedJson(fc.constantFrom(...validBodies())))
            .map((v) => utf8(JSON.stringify(v) ?? 'null')),
        },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 500 }) },
        {
          weight: 1,
          arbitrary: fc.constant(utf8(JSON.stringify({ model, input: `[${'0.5,'.repeat(20_000)}0.5]` }))),
        },
      ),
      { freq: 4 },
    ),
    planBody: fc.constant(0).chain(() => mutatedJson(fc.constantFrom(...validBodies().slice(0, 5)))),
    hashKind: fc.nat({ max: 5 }),
  });

  /** A request with the case's headers. */
  const send = (c: DashCase, method: string, path: string, body: Uint8Array | undefined) => {
    const host = hosts()[c.host % hosts().length];
    const origin = origins(host)[c.origin % 6];
    const tok = tokens()[c.token % 6];
    const headers: Record<string, string> = { host };
    if (c.contentType) headers['content-type'] = c.contentType;
    if (origin !== undefined) headers.origin = origin;
    if (tok !== undefined) headers[TOKEN_HEADER] = headerSafe(tok);
    for (const [k, v] of c.extra) if (k !== 'transfer-encoding' && k !== 'expect') headers[k] = v;
    return httpRequest(base, method, path, body, headers);
  };

  /** The page's own request (right host, origin and token). */
  const pagePost = (path: string, body: Json) =>
    httpRequest(base, 'POST', path, utf8(JSON.stringify(body) ?? 'null'), {
      host: `127.0.0.1:${port}`,
      origin: `http://127.0.0.1:${port}`,
      [TOKEN_HEADER]: token,
      'content-type': 'application/json',
    });

  /** Checks one reply; a 4xx becomes the rejection (by its code). */
  const judge = (where: string, method: string, path: string, res: HttpReply): Outcome => {
    if (res.status >= 500 || res.status < 100)
      throw new Error(`HTTP ${res.status} for ${where}: ${res.body.slice(0, 300)}`);
    if (res.status >= 400) {
      if (method === 'HEAD') return 'rejected';
      let j: { error?: unknown; code?: unknown; statusCode?: unknown };
      try {
        j = JSON.parse(res.body);
      } catch {
        throw new Error(
          `HTTP ${res.status} for ${where} with a body that is not JSON: ${res.body.slice(0, 200)}`,
        );
      }
      if (typeof j?.error !== 'string' || j.error === '')
        throw new Error(`HTTP ${res.status} for ${where} without an error: ${res.body.slice(0, 200)}`);
      throw new AgoraError(typeof j.code === 'string' && j.code ? j.code : `HTTP_${res.status}`, j.error);
    }
    if (method !== 'HEAD' && path.startsWith('/api/') && res.status === 200) {
      try {
        JSON.parse(res.body);
      } catch {
        throw new Error(`HTTP 200 for ${where} that is not JSON: ${res.body.slice(0, 200)}`);
      }
    }
    return 'accepted';
  };

  /** The event stream: the headers and the first event, then the client goes away. */
  const stream = (c: DashCase): Promise<Outcome> =>
    new Promise((resolve, reject) => {
      const path = c.query === null ? '/api/stream' : `/api/stream?${c.query}`;
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      for (const [k, v] of c.extra) if (k !== 'transfer-encoding' && k !== 'expect') headers[k] = v;
      const req = request({ host: '127.0.0.1', port, path, method: 'GET', headers, agent: false }, (res) => {
        if ((res.statusCode ?? 0) >= 400) {
          // a refusal (headers too large): judged as any other reply
          const chunks: Buffer[] = [];
          res.on('data', (b: Buffer) => chunks.push(b));
          res.on('end', () => {
            try {
              const body = Buffer.concat(chunks).toString('utf8');
              resolve(
                judge(`GET ${path}`, 'GET', path, {
                  status: res.statusCode ?? 0,
                  body,
                  headers: res.headers,
                }),
              );
            } catch (e) {
              reject(e);
            }
          });
          return;
        }
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => {
          text += s;
          const end = text.indexOf('\n\n');
          if (end < 0) return;
          const event = text.slice(0, end);
          req.destroy();
          const m = /^event: snapshot\ndata: (.*)$/s.exec(event);
          if (!m) return reject(new Error(`the stream began with ${event.slice(0, 200)}`));
          JSON.parse(m[1]);
          resolve('accepted');
        });
        res.on('error', () => {});
      });
      req.on('error', (e) => {
        if (!req.destroyed) reject(new Error(`the stream failed: ${e.message}`));
      });
      req.end();
    });

  return [
    defineTarget({
      name: 'dashboard/http-api',
      boundary: 'HTTP requests to the dashboard (`agora devnet`, node status server, 127.0.0.1)',
      weight: 1,
      input: input$,
      async setup() {
        w = await acquireWorld();
        const home = join(w.dir, 'dashboard-home');
        const prepared = prepareDataset({ path: CLINIC_CSV, licence: 'MIT', sector: 'text' });
        await registerDataset({
          conn: w.f.conn,
          registry: w.f.addr('DataRegistry'),
          contributor: w.f.accounts[4]!,
          home,
          prepared,
          source: { path: CLINIC_CSV, format: prepared.records.schema.format },
        });
        rememberEndpoints(home, [w.serve.url!]);
        dash = new Dashboard({
          conn: w.f.conn,
          deployment: w.f.deployment,
          home,
          port: 0,
          account: w.f.accounts[3]!,
          chainPollMs: 1000,
          storePollMs: 1000,
        });
        await dash.start();
        base = dash.url!.replace(/\/$/, '');
        port = new URL(base).port;
        const page = await httpRequest(base, 'GET', '/', undefined, {});
        token = /window\.__AGORA_TOKEN__="([0-9a-f]+)"/.exec(page.body)?.[1] ?? '';
        if (!token) throw new Error('the dashboard page carries no token');
        model = `${w.serve.url}/v1/models/7/predict`;
        input = JSON.stringify(Array.from({ length: 784 }, (_, i) => (i % 10) / 10));
      },
      async teardown() {
        await dash?.stop();
        dash = undefined;
        if (w) releaseWorld();
        w = undefined;
      },
      async run(c: DashCase): Promise<Outcome> {
        let out: Outcome = 'rejected';
        let failure: unknown;
        try {
          // a GET of the stream never ends: it is read as the page reads it
          if (c.kind === 'stream' || (c.method === 'GET' && c.path === '/api/stream')) out = await stream(c);
          else if (c.kind === 'plan-buy') {
            const plan = await pagePost('/api/query/plan', c.planBody);
            out = judge(
              `POST /api/query/plan ${JSON.stringify(c.planBody)?.slice(0, 100)}`,
              'POST',
              '/api/query/plan',
              plan,
            );
            const { hash } = JSON.parse(plan.body) as { hash: string };
            const given = [hash, hash.toUpperCase(), `${hash}0`, hash.slice(0, -1), undefined, 7][c.hashKind];
            const body =
              c.planBody !== null && typeof c.planBody === 'object' && !Array.isArray(c.planBody)
                ? { ...c.planBody, hash: given as Json }
                : c.planBody;
            const buy = await pagePost('/api/query/buy', body as Json);
            out = judge(
              `POST /api/query/buy ${JSON.stringify(body)?.slice(0, 100)}`,
              'POST',
              '/api/query/buy',
              buy,
            );
          } else {
            const path = c.query === null ? c.path : `${c.path}?${c.query}`;
            const res = await send(c, c.method, path, c.body ?? undefined);
            out = judge(
              `${c.method} ${path} (${c.contentType || 'no content type'}, ${c.body?.byteLength ?? 'no'} body bytes)`,
              c.method,
              c.path,
              res,
            );
          }
        } catch (e) {
          failure = e;
        }
        // the server stays up: a plain request still answers
        const health = await httpRequest(base, 'GET', '/health', undefined, {}).catch((e: Error) => {
          throw new Error(`after the case the server does not answer: ${e.message}`);
        });
        if (health.status !== 200) throw new Error(`after the case /health answers ${health.status}`);
        if (failure !== undefined) throw failure;
        return out;
      },
    }),
  ];
}
