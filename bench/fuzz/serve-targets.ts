/**
 * Fuzz targets of model serving (`agora serve`, src/serve/):
 *
 *   - `serve/x402-header`: the x402 v2 headers as decoders (pure): a `PAYMENT-SIGNATURE` a buyer
 *     sends to a server (decoded, its channel voucher read and its signature checked the way the
 *     server's gate checks it), and the `PAYMENT-REQUIRED` / `PAYMENT-RESPONSE` a server sends back
 *     to a buyer.
 *   - `serve/announcement`: a server's signed model announcement (`/v1/announcement`) as a buyer's
 *     discovery reads it (`verifyAnnouncement`).
 *   - `serve/http-api`: a real paid `agora serve` (MNIST MLP fast path, an exported tabular
 *     classifier, an image CNN and a byte-level LM) on 127.0.0.1, over an embedded chain with a real
 *     payment channel. Each case is one request: any method, path, content type, body (mutations of
 *     valid predict/generate/score bodies) and payment header (real vouchers signed for the channel's
 *     next amount, then damaged, replayed, underpaid, or random). Contract: no 5xx, no dropped
 *     connection, every 4xx a JSON error with a code, every 402 a decodable `PAYMENT-REQUIRED`, and a
 *     200 from a paid route only when the server's voucher store holds at least the request's price
 *     more than before it.
 */

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { type Address, type Hex, type LocalAccount, parseEther } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { AgoraError } from '../../src/errors.ts';
import { ChannelClient } from '../../src/pay/channel-client.ts';
import { signVoucher, voucherToJson } from '../../src/pay/voucher.ts';
import { VoucherStore } from '../../src/pay/voucher-store.ts';
import {
  announcementHash,
  type SignedAnnouncement,
  signAnnouncement,
  verifyAnnouncement,
} from '../../src/serve/announcement.ts';
import { pickChannelRequirement } from '../../src/serve/client.ts';
import { loadModelDir } from '../../src/serve/model.ts';
import { matchOffers, offersOf } from '../../src/serve/model-offers.ts';
import { schemeMismatch } from '../../src/serve/payment.ts';
import { ServeService } from '../../src/serve/service.ts';
import { SenderKeys } from '../../src/serve/voucher-check.ts';
import {
  CHANNEL_SCHEME,
  channelPayload,
  channelVoucherOf,
  decodePaymentPayload,
  decodePaymentRequired,
  decodePaymentResponse,
  encodeHeader,
  evmNetwork,
  HEADER_REQUIRED,
  HEADER_RESPONSE,
  HEADER_SIGNATURE,
  type PaymentRequirements,
  X402_VERSION,
} from '../../src/serve/x402.ts';
import { CLINIC_CSV } from '../../test/helpers/task-models.ts';
import { type PayFixture, startPayFixture } from '../../test/pay/fixture.ts';
import { defineTarget, type FuzzTarget, type Outcome } from './harness.ts';
import { httpRequest } from './http.ts';
import { fuzzModels } from './models.ts';
import { applyByteOp, applyJsonOp, byteOp, type Json, jsonOp, mutatedJson, utf8 } from './mutate.ts';

const KEY: Hex = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';
const account = privateKeyToAccount(KEY);
const CHANNELS: Address = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const TOKEN: Address = '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512';
const SELLER: Address = '0x70997970C51812dc3A010C7d01b50e0dC17dc79C';

const dec = new TextDecoder();

/** Base64 header values: encodings of mutated documents, damaged base64 text, random text. */
function headerValues(valid: Json[]): fc.Arbitrary<string> {
  const docs = mutatedJson(fc.constantFrom(...valid)).map((v) => encodeHeader(v));
  const damaged = fc
    .tuple(
      fc.constantFrom(...valid.map((v) => encodeHeader(v))),
      fc.array(byteOp, { minLength: 1, maxLength: 3 }),
    )
    .map(([h, ops]) => dec.decode(ops.reduce(applyByteOp, utf8(h))));
  return fc.oneof(
    { weight: 6, arbitrary: docs },
    { weight: 2, arbitrary: damaged },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('base64')) },
  );
}

function requirementFor(
  chainId: number,
  channels: Address,
  token: Address,
  payTo: Address,
): PaymentRequirements {
  return {
    scheme: CHANNEL_SCHEME,
    network: evmNetwork(chainId),
    asset: token,
    amount: '1000000000000000',
    payTo,
    maxTimeoutSeconds: 60,
    extra: {
      paymentChannels: channels,
      minChallengePeriod: 600,
      unitPrice: '1000',
      modelHash: '0x12',
      jobId: '7',
    },
  };
}

/** The pure decoders of x402 headers and announcements. */
export async function x402Targets(): Promise<FuzzTarget[]> {
  const domain = { chainId: 31337, verifyingContract: CHANNELS };
  const req = requirementFor(31337, CHANNELS, TOKEN, SELLER);
  const vouchers = await Promise.all(
    [1n, 10n ** 15n, 2n ** 128n - 1n].map((amount) =>
      signVoucher(account, domain, { channelId: `0x${'ab'.repeat(32)}`, cumulativeAmount: amount }),
    ),
  );
  const payloads = vouchers.map((v) =>
    channelPayload(req, voucherToJson(v), 'http://127.0.0.1/v1/models/7/predict'),
  );
  const required = {
    x402Version: X402_VERSION,
    error: 'X402_PAYMENT_REQUIRED: this request costs 1000 base units',
    resource: {
      url: 'http://127.0.0.1/v1/models/7/predict',
      description: 'predict',
      mimeType: 'application/json',
    },
    accepts: [req],
  };
  const settled = {
    success: true,
    transaction: '',
    network: evmNetwork(31337),
    amount: '1000',
    extra: { channelId: `0x${'ab'.repeat(32)}`, cumulativeAmount: '1000', previous: '0' },
  };
  const keys = new SenderKeys(1000);
  const announcement = await signAnnouncement(account, {
    kind: 'agora-model-announcement',
    version: 1,
    endpoint: 'http://127.0.0.1:8080',
    seller: account.address,
    chainId: 31337,
    token: TOKEN,
    paymentChannels: CHANNELS,
    schemes: [CHANNEL_SCHEME],
    issuedAt: 1_800_000_000,
    models: [
      {
        id: '7',
        jobId: '7',
        modelHash: `0x${'cd'.repeat(32)}`,
        task: 'mnist-mlp',
        unitPrice: '1000',
        rounds: 3,
        datasets: ['d1'],
      },
      { id: 'm-abc', jobId: null, modelHash: `0x${'ef'.repeat(32)}`, task: 'text-byte-lm', unitPrice: '0' },
    ],
  });
  return [
    defineTarget({
      name: 'serve/x402-header',
      boundary:
        'x402 v2 headers: PAYMENT-SIGNATURE to a server (voucher and signature), PAYMENT-REQUIRED / -RESPONSE to a buyer',
      weight: 2,
      input: fc.tuple(
        fc.constantFrom('signature', 'signature', 'signature', 'required', 'response'),
        headerValues([
          ...(payloads as unknown as Json[]),
          required as unknown as Json,
          settled as unknown as Json,
        ]),
      ),
      run([kind, h]: [string, string]): Outcome {
        if (kind === 'required') {
          // what a buyer does with a 402 (src/serve/client.ts): pick the agora-channel requirement
          pickChannelRequirement(decodePaymentRequired(h), 31337, CHANNELS);
          return 'accepted';
        }
        if (kind === 'response') {
          decodePaymentResponse(h);
          return 'accepted';
        }
        // what the server does with the header (src/serve/server.ts charge, payment.ts, voucher-check.ts)
        const p = decodePaymentPayload(h);
        if (p.accepted.scheme !== CHANNEL_SCHEME) throw schemeMismatch(p.accepted.scheme, [CHANNEL_SCHEME]);
        const v = channelVoucherOf(p);
        return keys.verify(v, account.address) ? 'accepted' : 'rejected';
      },
    }),
    defineTarget({
      name: 'serve/announcement',
      boundary: "a server's signed model announcement as a buyer's discovery reads it (/v1/announcement)",
      input: fc.tuple(mutatedJson(fc.constant(announcement as unknown as Json)), fc.boolean()),
      async run([j, resign]: [Json, boolean]): Promise<Outcome> {
        // re-signed by the seller: a hostile seller signs whatever it sends, so the checks after the
        // signature must hold too
        let doc = j;
        if (resign && j !== null && typeof j === 'object' && !Array.isArray(j)) {
          const { signature: _, ...rest } = j;
          const signature = await account.signMessage({
            message: { raw: announcementHash(rest as unknown as SignedAnnouncement) },
          });
          doc = { ...rest, signature };
        }
        const a = await verifyAnnouncement(doc);
        // what `agora models` does with it (src/serve/model-offers.ts)
        const offers = offersOf(a, 'endpoint', 'http://127.0.0.1:8080');
        for (const name of ['7', 'job-7', 'mnist', '0xcdcdcdcd', 'alice', 'm-abc'])
          matchOffers(offers, name, { alice: account.address });
        return 'accepted';
      },
    }),
  ];
}

// ---- the HTTP API

const PRICE = parseEther('0.001');
const MAX_ROWS = 8;

type Endpoint = { path: string; bodies: Json[] };

/** How a case pays. */
type PayKind =
  | 'none'
  | 'valid'
  | 'valid-json-damaged'
  | 'valid-text-damaged'
  | 'replay'
  | 'underpay'
  | 'other-channel'
  | 'random'
  | 'wrong-header';

type ServeCase = {
  method: string;
  endpoint: number;
  path: string | null;
  contentType: string;
  body: Uint8Array | null;
  pay: PayKind;
  jsonOps: { kind: number; pick: number; value: Json; key: string }[];
  byteOps: { kind: number; pos: number; len: number; value: number }[];
  random: string;
};

/** What an HTTP client can send in a header at all (Node refuses control characters and > U+00FF). */
const headerSafe = (v: string) => v.replace(/[^\t\x20-\x7e\x80-\xff]/g, '%');

const PAID_ROUTE = /^\/v1\/models\/[^/?#]+\/(predict|generate|score)(\?.*)?$/;

export function serveHttpTargets(): FuzzTarget[] {
  let fx: PayFixture | undefined;
  let dir: string | undefined;
  let store: VoucherStore | undefined;
  let service: ServeService | undefined;
  let buyer: LocalAccount | undefined;
  let channelId: Hex | undefined;
  let requirement: PaymentRequirements | undefined;
  let lastHeader: string | undefined;
  let lastCase = 'none';
  // The bodies of each endpoint (filled in setup from the models' shapes; the arbitrary reads them
  // lazily, so they are fixed before the first case is drawn).
  const endpoints: Endpoint[] = [];
  const clinicRow = (() => {
    const [head, first] = readFileSync(CLINIC_CSV, 'utf8').split('\n');
    const names = head.split(',');
    return Object.fromEntries(
      first
        .split(',')
        .map((v, i) => [names[i], Number.isFinite(Number(v)) && v !== '' ? Number(v) : v] as const)
        .filter(([k]) => k !== 'triage'),
    ) as Json;
  })();
  const pixels = (n: number) => Array.from({ length: n }, (_, i) => (i % 7) / 7);
  endpoints.push(
    { path: '/v1/models/7/predict', bodies: [{ input: pixels(784) }, { input: [pixels(784), pixels(784)] }] },
    { path: '/v1/models/11/predict', bodies: [{ input: clinicRow }, { input: [clinicRow, clinicRow] }] },
    { path: '/v1/models/14/predict', bodies: [{ input: pixels(784) }, { input: [pixels(784)] }] },
    {
      path: '/v1/models/13/generate',
      bodies: [{ prompt: 'The news ', maxTokens: 4, temperature: 0.7, topK: 8, seed: 3 }, { prompt: 'a' }],
    },
    { path: '/v1/models/13/score', bodies: [{ text: 'the news of the day' }] },
    { path: '/v1/models/7/generate', bodies: [{ prompt: 'x' }] },
    { path: '/v1/models/13/predict', bodies: [{ input: [1, 2, 3] }] },
    { path: '/v1/models/404/predict', bodies: [{ input: [1] }] },
  );
  const staticPaths = [
    '/v1/models',
    '/openapi.json',
    '/health',
    '/v1/announcement',
    '/',
    '/v1/models/',
    '/v1/models//predict',
    '/v1/models/7/predict/',
    '/v1/models/7/predict?x=1',
    '/v1/models/%ff/predict',
    '/v1/models/..%2f..%2fhealth/predict',
    '/v1/models/7%00/predict',
  ];

  const received = (): bigint => service!.payee!.earnings().reduce((s, c) => s + c.earned, 0n);

  async function paymentHeader(c: ServeCase): Promise<{ name: string; value: string } | undefined> {
    if (c.pay === 'none') return undefined;
    if (c.pay === 'random') return { name: HEADER_SIGNATURE, value: headerSafe(c.random) };
    if (c.pay === 'replay') return lastHeader ? { name: HEADER_SIGNATURE, value: lastHeader } : undefined;
    const now = received();
    const amount = c.pay === 'underpay' ? now + 1n : now + PRICE * BigInt(MAX_ROWS);
    const id = c.pay === 'other-channel' ? (`0x${'ab'.repeat(32)}` as Hex) : channelId!;
    const domain = { chainId: fx!.conn.chainId, verifyingContract: fx!.channels };
    const v = await signVoucher(buyer!, domain, { channelId: id, cumulativeAmount: amount });
    // a deep copy: the mutations work in place, and the requirement is shared between cases
    const payload = structuredClone(channelPayload(requirement!, voucherToJson(v))) as unknown as Json;
    let value: string;
    if (c.pay === 'valid-json-damaged') value = encodeHeader(c.jsonOps.reduce(applyJsonOp, payload));
    else if (c.pay === 'valid-text-damaged')
      value = dec.decode(c.byteOps.reduce(applyByteOp, utf8(encodeHeader(payload))));
    else value = encodeHeader(payload);
    if (c.pay === 'valid') lastHeader = value;
    // the x402 v1 header name: a server must not take it as payment
    return { name: c.pay === 'wrong-header' ? 'X-PAYMENT' : HEADER_SIGNATURE, value: headerSafe(value) };
  }

  const bodyFor = fc.nat().chain((i) => {
    const e = endpoints[i % endpoints.length];
    return fc.tuple(
      fc.constant(i % endpoints.length),
      fc.oneof(
        // valid bodies half the time, so that the payment checks behind the input checks are reached
        { weight: 10, arbitrary: fc.constantFrom(...e.bodies).map((v) => utf8(JSON.stringify(v))) },
        {
          weight: 8,
          arbitrary: mutatedJson(fc.constantFrom(...e.bodies)).map((v) => utf8(JSON.stringify(v) ?? 'null')),
        },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2000 }) },
        { weight: 1, arbitrary: fc.constant(new Uint8Array(250_000)) },
        { weight: 1, arbitrary: fc.constant(null) },
      ),
    );
  });

  return [
    defineTarget({
      name: 'serve/http-api',
      boundary:
        'HTTP requests and x402 payment headers to `agora serve` (paid, 127.0.0.1): predict, generate, score, lists',
      weight: 2,
      input: fc
        .record({
          method: fc.oneof(
            { weight: 12, arbitrary: fc.constant('POST') },
            { weight: 3, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH') },
          ),
          endpointBody: bodyFor,
          // mostly the endpoint's own path, else a list, a near miss or a random path
          path: fc.oneof(
            { weight: 5, arbitrary: fc.constant(null) },
            {
              weight: 1,
              arbitrary: fc.oneof(
                fc.constantFrom(...staticPaths),
                fc.string({ maxLength: 30 }).map((s) => `/v1/models/${encodeURIComponent(s)}/predict`),
                fc.string({ maxLength: 30 }).map((s) => `/${encodeURIComponent(s)}`),
              ),
            },
          ),
          contentType: fc.constantFrom(
            'application/json',
            'application/json',
            'application/json',
            'application/json',
            'application/json',
            'application/json',
            'application/json; charset=utf-8',
            'application/json; charset=utf-16',
            'text/plain',
            'application/octet-stream',
            'multipart/form-data; boundary=x',
            '',
          ),
          pay: fc.constantFrom<PayKind>(
            'none',
            'valid',
            'valid',
            'valid',
            'valid-json-damaged',
            'valid-json-damaged',
            'valid-text-damaged',
            'replay',
            'underpay',
            'other-channel',
            'random',
            'wrong-header',
          ),
          jsonOps: fc.array(jsonOp, { minLength: 1, maxLength: 3 }),
          byteOps: fc.array(byteOp, { minLength: 1, maxLength: 3 }),
          random: fc.oneof(fc.string({ maxLength: 100 }), fc.base64String({ maxLength: 200 })),
        })
        .map(({ endpointBody: [endpoint, body], ...r }): ServeCase => ({ ...r, endpoint, body })),
      async setup() {
        dir = mkdtempSync(join(tmpdir(), 'agora-fuzz-serve-'));
        // the models are the ones serve/exported-body fuzzes (trained once per process)
        const [f, models] = await Promise.all([startPayFixture(3), fuzzModels()]);
        fx = f;
        store = new VoucherStore(join(dir, 'server.sqlite'));
        service = new ServeService({
          models: [models.mnist, models.cls, models.lm, models.cnn].map((d) => loadModelDir(d)),
          payment: {
            conn: fx.conn,
            account: fx.accounts[1],
            paymentChannels: fx.channels,
            token: fx.token,
            store,
            unitPrice: PRICE,
            settleThreshold: 2n ** 200n, // no settlement transactions while fuzzing
            pollIntervalMs: 3_600_000,
            minChallengePeriod: 60,
          },
          maxRows: MAX_ROWS,
          lm: { maxTokens: 8, maxPromptBytes: 256 },
          bodyLimit: 200_000,
        });
        await service.start();
        buyer = fx.accounts[2];
        const opened = await new ChannelClient(fx.conn, fx.channels, buyer).open({
          recipient: fx.accounts[1].address,
          token: fx.token,
          amount: parseEther('500000'),
        });
        channelId = opened.channelId;
        requirement = requirementFor(fx.conn.chainId, fx.channels, fx.token, fx.accounts[1].address);
      },
      async teardown() {
        await service?.stop();
        store?.close();
        await fx?.stop();
        if (dir) rmSync(dir, { recursive: true, force: true });
      },
      async run(c: ServeCase): Promise<Outcome> {
        const path = c.path ?? endpoints[c.endpoint].path;
        const pay = await paymentHeader(c);
        const before = received();
        const where = `${c.method} ${path} (${c.pay}, ${c.contentType || 'no content type'}, ${c.body?.byteLength ?? 'no'} body bytes)`;
        const previous = lastCase;
        lastCase = where;
        const res = await httpRequest(service!.url!, c.method, path, c.body ?? undefined, {
          'content-type': c.contentType,
          ...(pay ? { [pay.name]: pay.value } : {}),
        }).catch((e: Error) => {
          throw new Error(`${e.message}: ${where}, after ${previous}`);
        });
        if (res.status >= 500) throw new Error(`HTTP ${res.status} for ${where}: ${res.body.slice(0, 300)}`);
        if (res.status >= 400) {
          let code: unknown;
          if (c.method !== 'HEAD') {
            try {
              code = (JSON.parse(res.body) as { error?: { code?: unknown } }).error?.code;
            } catch {
              throw new Error(
                `HTTP ${res.status} for ${where} with a body that is not JSON: ${res.body.slice(0, 200)}`,
              );
            }
            if (typeof code !== 'string' || code === '')
              throw new Error(
                `HTTP ${res.status} for ${where} without an error code: ${res.body.slice(0, 200)}`,
              );
          }
          if (res.status === 402)
            decodePaymentRequired(String(res.headers[HEADER_REQUIRED.toLowerCase()] ?? ''));
          // a rejection, counted by the server's error code in the report
          if (c.method === 'HEAD') return 'rejected';
          throw new AgoraError(code as string, `HTTP ${res.status}`);
        }
        if (c.method === 'POST' && PAID_ROUTE.test(path)) {
          // a paid answer: the server must now hold at least its price more (voucher persisted first)
          const out = JSON.parse(res.body) as { predictions?: unknown[] };
          const units = BigInt(Array.isArray(out.predictions) ? out.predictions.length : 1);
          const gained = received() - before;
          if (gained < PRICE * units)
            throw new Error(
              `HTTP ${res.status} for ${where} while the store gained ${gained} < ${PRICE * units}`,
            );
          if (!res.headers[HEADER_RESPONSE.toLowerCase()])
            throw new Error(`HTTP ${res.status} for ${where} without a ${HEADER_RESPONSE} header`);
        } else if (c.method !== 'HEAD' && res.body.length > 0) JSON.parse(res.body);
        return 'accepted';
      },
    }),
  ];
}
