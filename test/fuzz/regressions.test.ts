/**
 * One test per fuzz finding (docs/dev/fuzzing.md, "Findings"): the input that crashed a decoder now
 * gets a clear AgoraError with a code.
 */
import { mkdtempSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { getAddress, type Hex, keccak256, toHex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import type { AgentEnv } from '../../src/agent/env.ts';
import { createMcpServer } from '../../src/agent/mcp-server.ts';
import { queryBody, resolveQueryTarget } from '../../src/agent/model-query.ts';
import type { SpendLedger } from '../../src/agent/spend-ledger.ts';
import { startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { serveJsonRpc } from '../../src/chain/rpc-server.ts';
import { domains, signRoundRecord } from '../../src/chain/typed-data.ts';
import { DashboardHub } from '../../src/dashboard/hub.ts';
import { refuseRequest } from '../../src/dashboard/query-routes.ts';
import { registerDashboardRoutes } from '../../src/dashboard/server.ts';
import { parseRecordProof } from '../../src/data/dataset.ts';
import { parseProvenanceManifest } from '../../src/data/provenance.ts';
import { AgoraError } from '../../src/errors.ts';
import { encodeJson, FrameError, FrameReader, frameHeader } from '../../src/net/framing.ts';
import { authHelloSchema, parseMessage } from '../../src/net/messages.ts';
import { roundRequestSchema } from '../../src/node/round-protocol.ts';
import { StatusApi } from '../../src/node/status-api.ts';
import {
  announcementHash,
  type ModelAnnouncement,
  signAnnouncement,
  verifyAnnouncement,
} from '../../src/serve/announcement.ts';
import { pickChannelRequirement } from '../../src/serve/client.ts';
import { loadModelDir } from '../../src/serve/model.ts';
import { type ModelOffer, matchOffers, savedModelUrl, saveModelName } from '../../src/serve/model-offers.ts';
import { createModelServer } from '../../src/serve/server.ts';
import { imageTask } from '../../src/task/image.ts';
import { predictInputRows } from '../../src/task/predict-input.ts';
import { tabularTask } from '../../src/task/tabular.ts';
import { encodeSafetensors, tensorFrom } from '../../src/train/checkpoint/safetensors.ts';
import {
  decodeTrainingCheckpoint,
  encodeTrainingCheckpoint,
} from '../../src/train/checkpoint/training-checkpoint.ts';
import { verifyRoundRecordSignature } from '../../src/verify/evidence.ts';
import { roundTraceSigner } from '../../src/verify/trace-wire.ts';
import { decryptKeystore, encryptKeystore, parseKeystore } from '../../src/wallet/keystore.ts';
import { trainMnistModel } from '../helpers/mnist-model.ts';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof AgoraError) return e.code;
    throw e;
  }
  return 'no error';
}

async function* source(...chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield c;
}

describe('fuzz findings stay fixed', () => {
  it('a hostile 402 (null entries, bad addresses, a non-integer price) is X402_MALFORMED or QUERY_NO_SCHEME for the buyer, never a TypeError', () => {
    const pc = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
    const good = {
      scheme: 'agora-channel',
      network: 'eip155:31337',
      amount: '1000',
      asset: '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512',
      payTo: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      maxTimeoutSeconds: 60,
      extra: { paymentChannels: pc, minChallengePeriod: 60 },
    };
    const pick = (accepts: unknown[]) => code(() => pickChannelRequirement({ accepts }, 31337, pc));
    expect(pick([good])).toBe('no error');
    expect(pick([null, 7, 'x', [], good])).toBe('no error'); // malformed entries are skipped
    expect(pick([null])).toBe('QUERY_NO_SCHEME');
    expect(pick([{ ...good, network: 5 }])).toBe('QUERY_NO_SCHEME');
    expect(pick([{ ...good, extra: null }])).toBe('QUERY_NO_SCHEME');
    expect(pick([{ ...good, extra: { paymentChannels: '0x1234' } }])).toBe('QUERY_NO_SCHEME');
    expect(pick([{ ...good, payTo: '0xnot' }])).toBe('X402_MALFORMED');
    expect(pick([{ ...good, payTo: null }])).toBe('X402_MALFORMED');
    expect(pick([{ ...good, asset: 42 }])).toBe('X402_MALFORMED');
    expect(pick([{ ...good, amount: '1e3' }])).toBe('X402_MALFORMED');
    expect(pick([{ ...good, extra: { paymentChannels: pc, minChallengePeriod: 'soon' } }])).toBe(
      'X402_MALFORMED',
    );
    // a buyer pays in its deployment's token only: a server asking for another ERC-20 is refused
    // before any channel is opened, and one offering both is paid in the buyer's
    const agora = good.asset as `0x${string}`;
    const other = { ...good, asset: '0x0000000000000000000000000000000000000bad', amount: '1' };
    const pickIn = (accepts: unknown[]) =>
      pickChannelRequirement({ accepts }, 31337, pc, agora.toLowerCase() as `0x${string}`);
    expect(code(() => pickIn([good]))).toBe('no error');
    expect(code(() => pickIn([other]))).toBe('QUERY_OTHER_TOKEN');
    expect(code(() => pickIn([{ ...good, asset: 42 }]))).toBe('QUERY_OTHER_TOKEN');
    expect(pickIn([other, good]).asset).toBe(agora);
    expect(code(() => pickIn([{ ...other, network: 'eip155:1' }]))).toBe('QUERY_NO_SCHEME');
  });

  it('the JSON-RPC server refuses unreal transaction quantities instead of letting EDR abort the process', async () => {
    const chain = await startEmbeddedChain();
    const rpc = await serveJsonRpc(chain.provider, { port: 0 });
    try {
      const call = async (body: unknown) =>
        (await fetch(rpc.url, { method: 'POST', body: JSON.stringify(body) })).json() as Promise<{
          result?: unknown;
          error?: { code: number; message: string };
        }>;
      const tx = {
        from: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
        to: '0x70997970C51812dc3A010C7d01b50e0dC17dc79C',
      };
      // the campaign's crash: eth_estimateGas with value 2^256-1 panicked EDR (OverflowPaymentInTransaction)
      const r = await call({
        jsonrpc: '2.0',
        id: 1,
        method: 'eth_estimateGas',
        params: [{ ...tx, value: `0x${'f'.repeat(64)}` }],
      });
      expect(r.error?.code).toBe(-32602);
      expect(r.error?.message).toMatch(/value .* is not a real quantity/);
      const g = await call({
        jsonrpc: '2.0',
        id: 2,
        method: 'eth_call',
        params: [{ ...tx, gas: `0x1${'0'.repeat(16)}` }],
      });
      expect(g.error?.code).toBe(-32602);
      // the server (and the chain in its process) are still there, and real requests pass
      const ok = await call({
        jsonrpc: '2.0',
        id: 3,
        method: 'eth_estimateGas',
        params: [{ ...tx, value: '0x1' }],
      });
      expect(BigInt(ok.result as string)).toBeGreaterThanOrEqual(21_000n);
    } finally {
      await rpc.stop();
      await chain.stop();
    }
  });

  it('framing errors are AgoraErrors with a code (FRAME_TRUNCATED, FRAME_OVERSIZED, FRAME_MALFORMED)', async () => {
    const cut = new FrameReader(source(frameHeader(10), new Uint8Array(3)));
    const e1 = await cut.next({ maxBytes: 100, timeoutMs: 1000 }).catch((e) => e);
    expect(e1).toBeInstanceOf(FrameError);
    expect(e1).toBeInstanceOf(AgoraError);
    expect([e1.code, e1.reason]).toEqual(['FRAME_TRUNCATED', 'truncated']);
    const big = new FrameReader(source(frameHeader(5000)));
    expect((await big.next({ maxBytes: 100, timeoutMs: 1000 }).catch((e) => e)).code).toBe('FRAME_OVERSIZED');
    const { decodeJson } = await import('../../src/net/framing.ts');
    expect(code(() => decodeJson(new Uint8Array([0xff, 0x7b])))).toBe('FRAME_MALFORMED');
  });

  it('a checkpoint whose outer.config is not JSON, or whose step is not a count, is CHECKPOINT_BAD_OUTER', () => {
    const params = tensorFrom('F32', [2], new Float32Array([1, 2]));
    const withMeta = (meta: Record<string, string>) =>
      encodeSafetensors(new Map([['params', params]]), { format: 'agora-train-v1', ...meta });
    // the fuzz's counterexample: "null" with one byte flipped
    expect(
      code(() => decodeTrainingCheckpoint(withMeta({ 'outer.config': 'oull', 'outer.step': '3' }))),
    ).toBe('CHECKPOINT_BAD_OUTER');
    expect(code(() => decodeTrainingCheckpoint(withMeta({ 'outer.config': 'null' })))).toBe(
      'CHECKPOINT_BAD_OUTER',
    );
    const cfg = JSON.stringify({ lr: 0.7, momentum: 0.9, nesterov: true });
    expect(code(() => decodeTrainingCheckpoint(withMeta({ 'outer.config': cfg, 'outer.step': 'x' })))).toBe(
      'CHECKPOINT_BAD_OUTER',
    );
    // a momentum buffer of another length than the params
    const m = tensorFrom('F32', [3], new Float32Array(3));
    const bytes = encodeSafetensors(
      new Map([
        ['params', params],
        ['outer.momentum', m],
      ]),
      {
        format: 'agora-train-v1',
        'outer.config': cfg,
      },
    );
    expect(code(() => decodeTrainingCheckpoint(bytes))).toBe('CHECKPOINT_BAD_OUTER');
    // and a good one still round-trips
    const good = encodeTrainingCheckpoint({
      params: new Float32Array([1, 2]),
      outer: {
        config: { lr: 0.7, momentum: 0.9, nesterov: true },
        step: 4,
        momentum: new Float32Array([3, 4]),
      },
    });
    const back = decodeTrainingCheckpoint(good.bytes);
    expect(back.outer?.step).toBe(4);
    expect([...(back.outer?.momentum ?? [])]).toEqual([3, 4]);
  });

  it('a record proof that is JSON but not an object ("null") is PROOF_MALFORMED', () => {
    for (const text of ['null', '3', '"x"', '[]'])
      expect(code(() => parseRecordProof(text))).toBe('PROOF_MALFORMED');
  });

  it('keystore KDF parameters are bounded: a hostile file cannot ask for 2^37-byte keys, 2^30 scrypt or 10^12 rounds', () => {
    const ks = encryptKeystore(`0x${'11'.repeat(32)}`, 'pw', { n: 16, r: 8, p: 1, dklen: 32 });
    const mutate = (f: (k: Record<string, unknown>) => void) => {
      const copy = JSON.parse(JSON.stringify(ks));
      f(copy.crypto);
      return JSON.stringify(copy);
    };
    const cases = [
      mutate((c) => ((c.kdfparams as Record<string, unknown>).dklen = 137_438_953_472)), // the fuzz's counterexample
      mutate((c) => ((c.kdfparams as Record<string, unknown>).n = 2 ** 30)),
      mutate((c) => ((c.kdfparams as Record<string, unknown>).r = 1_000_000)),
      mutate((c) => ((c.kdfparams as Record<string, unknown>).p = 0)),
      mutate((c) => {
        c.kdf = 'pbkdf2';
        c.kdfparams = { dklen: 32, salt: 'ab', c: 1e12, prf: 'hmac-sha256' };
      }),
      mutate((c) => ((c.cipherparams as Record<string, unknown>).iv = 'abcd')), // (seen while fixing dklen) a 2-byte IV passed the MAC and crashed the cipher
      mutate((c) => (c.mac = 'ab')),
    ];
    for (const text of cases)
      expect(code(() => decryptKeystore(parseKeystore(text), 'pw'))).toBe('WALLET_CORRUPT');
    expect(decryptKeystore(parseKeystore(JSON.stringify(ks)), 'pw')).toBe(`0x${'11'.repeat(32)}`);
  });

  it('round-protocol integers are bounded to what the chain signs (uint256, samples uint64)', async () => {
    const account = privateKeyToAccount(`0x${'22'.repeat(32)}`);
    const h = (s: string): Hex => keccak256(toHex(s));
    const record = {
      jobId: '7',
      round: '0',
      worker: account.address,
      pseudoGradientHash: h('pg'),
      sampleRoot: h('s'),
      lossBefore: '1',
      lossAfter: '1',
      samples: '8',
    };
    const signature = await signRoundRecord(account, domains.computeMarket(31337, account.address), {
      ...record,
      jobId: 7n,
      round: 0n,
      lossBefore: 1n,
      lossAfter: 1n,
      samples: 8n,
    });
    const req = (rec: typeof record) => ({
      t: 'sign-commit',
      jobId: '7',
      round: 0,
      recordsRoot: h('r'),
      modelHash: h('m'),
      records: [
        {
          record: rec,
          signature,
          provenance: { ...rec, samplePairs: {} },
        },
      ],
    });
    const parse = (v: unknown) =>
      parseMessage(roundRequestSchema, JSON.parse(new TextDecoder().decode(encodeJson(v))));
    expect(parse(req(record)).ok).toBe(true);
    // 2^256 crashed viem's typed-data encoder in the signature check after the schema let it through
    expect(parse(req({ ...record, lossBefore: (2n ** 256n).toString() })).ok).toBe(false);
    expect(parse(req({ ...record, samples: (2n ** 64n).toString() })).ok).toBe(false);
    expect(parse(req({ ...record, samples: (2n ** 64n - 1n).toString() })).ok).toBe(true);
    // a non-decimal string is refused by the regex without reaching BigInt (zod runs refinements anyway)
    expect(parse(req({ ...record, jobId: 'constructor' })).ok).toBe(false);
    // a mixed-case address with a wrong EIP-55 checksum crashed viem's verifyTypedData (campaign seed 20261207)
    const badChecksum = `0x6${account.address.slice(3)}`.replace(/[a-f]/, (c) => c.toUpperCase());
    expect(parse(req({ ...record, worker: badChecksum as Hex })).ok).toBe(false);
    expect(parse(req({ ...record, worker: account.address.toLowerCase() as Hex })).ok).toBe(true);
    const proof = {
      chainId: 1,
      jobId: '7',
      peerId: '12D3KooWAbCdEfGhJkLmNpQrStUvWxYz1234',
      signature: '0x00',
    };
    expect(parseMessage(authHelloSchema, { t: 'auth', proof: { ...proof, address: badChecksum } }).ok).toBe(
      false,
    );
    expect(
      parseMessage(authHelloSchema, { t: 'auth', proof: { ...proof, address: account.address } }).ok,
    ).toBe(true);
  });

  it('a round record or trace signature with r = 0 is a bad signature, not a crash of the check', async () => {
    const account = privateKeyToAccount(`0x${'33'.repeat(32)}`);
    const h = (x: string): Hex => keccak256(toHex(x));
    const record = {
      jobId: 7n,
      round: 0n,
      worker: account.address,
      pseudoGradientHash: h('pg'),
      sampleRoot: h('s'),
      lossBefore: 1n,
      lossAfter: 1n,
      samples: 8n,
    };
    const market = { domain: () => domains.computeMarket(31337, account.address) };
    const good = await signRoundRecord(account, market.domain(), record);
    expect(await verifyRoundRecordSignature(market, record, good)).toBe(true);
    // the campaign's input: r = 0 made noble throw "expected valid r" out of viem's verifyTypedData
    const zeroR = `0x${'00'.repeat(32)}${good.slice(66)}` as Hex;
    expect(await verifyRoundRecordSignature(market, record, zeroR)).toBe(false);
    expect(await verifyRoundRecordSignature(market, record, '0x1234')).toBe(false);
    const trace = {
      jobId: 7n,
      round: 0n,
      worker: account.address,
      innerSteps: 2,
      window: 1,
      batchSize: 1,
      samplerStart: { epoch: 0, position: 0 },
      checkpoints: [h('a'), h('b'), h('c')],
    };
    const err = await roundTraceSigner(trace, zeroR).catch((e) => e);
    expect(err).toBeInstanceOf(AgoraError);
    expect(err.code).toBe('TRACE_BAD_SIGNATURE');
  });

  it('a provenance manifest with a null or mistyped field is PROVENANCE_MALFORMED (it crashed verifyProvenance)', () => {
    const h = (s: string): Hex => keccak256(toHex(s));
    const good = {
      version: 1,
      kind: 'agora-provenance',
      chainId: 31337,
      trainingLedger: `0x${'ab'.repeat(20)}`,
      jobId: '7',
      modelHash: h('m'),
      datasets: [],
      rounds: [{ round: 0, modelHash: h('m0'), records: [] }],
    };
    expect(parseProvenanceManifest(JSON.stringify(good)).jobId).toBe('7');
    for (const bad of [
      { ...good, trainingLedger: null }, // the fuzz's counterexample
      { ...good, modelHash: 5 },
      { ...good, rounds: [{ round: 0, modelHash: h('m0'), records: [null] }] },
      { ...good, rounds: [{ round: -1, modelHash: h('m0'), records: [] }] },
      { ...good, datasets: [{ datasetId: '3', root: 'x', licence: 'MIT' }] },
    ]) {
      expect(code(() => parseProvenanceManifest(JSON.stringify(bad)))).toBe('PROVENANCE_MALFORMED');
    }
  });

  it('a signed announcement with a malformed seller or model list is ANNOUNCE_INVALID (viem threw, offersOf crashed)', async () => {
    const seller = privateKeyToAccount(`0x${'11'.repeat(32)}`);
    const good: ModelAnnouncement = {
      kind: 'agora-model-announcement',
      version: 1,
      endpoint: 'http://127.0.0.1:8080',
      seller: seller.address,
      chainId: 31337,
      token: null,
      paymentChannels: null,
      schemes: ['agora-channel'],
      issuedAt: 1_800_000_000,
      models: [
        { id: '7', jobId: '7', modelHash: keccak256(toHex('m')), task: 'mnist-mlp', unitPrice: '1000' },
      ],
    };
    expect((await verifyAnnouncement(await signAnnouncement(seller, good))).seller).toBe(seller.address);
    const signed = async (a: Record<string, unknown>) => ({
      ...a,
      signature: await seller.signMessage({ message: { raw: announcementHash(a as never) } }),
    });
    const codeOf = async (j: unknown) =>
      verifyAnnouncement(j).then(
        () => 'no error',
        (e) => (e instanceof AgoraError ? e.code : `${(e as Error).name}`),
      );
    // the fuzz's counterexample: a seller that is not an address, any well-formed signature
    const valid = await signAnnouncement(seller, good);
    expect(await codeOf({ ...valid, seller: '18446744073709551616' })).toBe('ANNOUNCE_INVALID');
    // signed by the seller, so only the shape check stops them before `agora models` reads them
    for (const bad of [
      { ...good, models: [null] },
      { ...good, models: [{ ...good.models[0], modelHash: 5 }] },
      { ...good, paymentChannels: 'not an address' },
      { ...good, chainId: '31337' },
      // the campaign's counterexample: encodeURIComponent threw URIError in offersOf
      { ...good, models: [{ ...good.models[0], id: '\ud800' }] },
    ]) {
      expect(await codeOf(await signed(bad))).toBe('ANNOUNCE_INVALID');
    }
  });

  it('agora serve answers an undecodable URL and oversized headers with a coded JSON error, and keeps serving', async () => {
    const trained = await trainMnistModel(mkdtempSync(join(tmpdir(), 'agora-fuzz-reg-')), {
      steps: 2,
      holdout: 1,
      jobId: '7',
    });
    const server = await createModelServer({ models: [loadModelDir(trained.dir)] });
    const url = await server.listen({ port: 0 });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (method: string, path: string, headers: Record<string, string> = {}) =>
      rawRequest(agent, url, method, path, headers);
    try {
      // FST_ERR_BAD_URL skipped the error handler: {"error":"Bad Request","code":"FST_ERR_BAD_URL",…}
      const bad = await send('POST', '/v1/models/%ff/predict', { 'content-type': 'application/json' });
      expect(bad.status).toBe(400);
      expect(JSON.parse(bad.body).error.code).toBe('SERVE_BAD_REQUEST');
      // headers over 16 KiB: fastify's 431 had no code and no Connection: close, so the keep-alive
      // client lost its next request on the closed socket
      const big = await send('POST', '/v1/models/7/predict', { 'payment-signature': 'A'.repeat(17_000) });
      expect(big.status).toBe(431);
      expect(big.connection).toBe('close');
      expect(JSON.parse(big.body).error.code).toBe('SERVE_HEADERS_TOO_LARGE');
      const head = await send('HEAD', '/health', { 'x-big': 'A'.repeat(17_000) });
      expect([head.status, head.body]).toEqual([431, '']);
      const next = await send('GET', '/health');
      expect(next.status).toBe(200);
    } finally {
      agent.destroy();
      await server.close();
    }
  }, 60_000);
});

describe('fuzz findings stay fixed (serve/exported-body, dashboard/http-api, agent/mcp)', () => {
  /** An exported tabular model's preprocessing: one numeric column (mean 50, std 10), one categorical. */
  const tabular = {
    label: 'y',
    numeric: [{ name: 'a', mean: 50, std: 10 }],
    categorical: [{ name: 'c', values: ['x', 'y'] }],
    missing: { numeric: 'mean', categorical: 'zeros' },
  };

  it('15: a tabular value that standardizes past float32 is PREDICT_BAD_INPUT (it encoded to Infinity)', () => {
    expect(Array.from(tabularTask.encodeInputs(tabular, [{ a: 60, c: 'y' }]))).toEqual([1, 0, 1]);
    for (const a of [1e40, -1e308, `0x${'f'.repeat(130)}`])
      expect(
        code(() => tabularTask.encodeInputs(tabular, [{ a, c: 'x' }])),
        String(a),
      ).toBe('PREDICT_BAD_INPUT');
  });

  it('16: a JSON cell with its own toString is read as data (String(v) threw a TypeError)', () => {
    const cell = JSON.parse('{"toString": 1}');
    expect(code(() => tabularTask.encodeInputs(tabular, [{ a: cell, c: 'x' }]))).toBe('PREDICT_BAD_INPUT');
    // a categorical value that is an object is an undeclared value, as "[object Object]" was
    expect(Array.from(tabularTask.encodeInputs(tabular, [{ a: 50, c: cell }]))).toEqual([0, 0, 0]);
  });

  it('17: image pixels outside 0..255 are PREDICT_BAD_INPUT (1e308 × scale was Infinity)', () => {
    const image = { input: { shape: [1, 2, 2], scale: 1 / 255 } };
    expect(imageTask.encodeInputs(image, [[0, 51, 255, 0]])[1]).toBeCloseTo(0.2);
    for (const v of [1e308, -1, 256])
      expect(
        code(() => imageTask.encodeInputs(image, [[v, 0, 0, 0]])),
        String(v),
      ).toBe('PREDICT_BAD_INPUT');
  });

  it('18, 19: the dashboard answers /assets/. with 404 (EISDIR, a 500) and HEAD /api/stream with headers only (it never ended)', async () => {
    const api = new StatusApi({
      port: 0,
      status: () => ({}),
      routes: (app) =>
        registerDashboardRoutes(app, {
          hub: new DashboardHub(),
          conn: undefined as never,
          home: mkdtempSync(join(tmpdir(), 'agora-fuzz-dash-')),
        }),
    });
    await api.start();
    try {
      expect((await fetch(`${api.url}/assets/.`)).status).toBe(404);
      const head = await fetch(`${api.url}/api/stream`, {
        method: 'HEAD',
        signal: AbortSignal.timeout(5000),
      });
      expect([head.status, head.headers.get('content-type')]).toEqual([
        200,
        'text/event-stream; charset=utf-8',
      ]);
      expect((await fetch(`${api.url}/health`)).status).toBe(200);
    } finally {
      await api.stop(); // (it waited forever for the open HEAD)
    }
  });

  it('20, 21: a model or seller called __proto__ or constructor is no saved server and no contact (TypeError, InvalidAddressError)', async () => {
    const home = mkdtempSync(join(tmpdir(), 'agora-fuzz-names-'));
    saveModelName(home, 'clinic', 'http://127.0.0.1:8402');
    expect(savedModelUrl(home, ' Clinic ')).toBe('http://127.0.0.1:8402');
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect(savedModelUrl(home, name)).toBeUndefined();
      await expect(resolveQueryTarget(home, name)).rejects.toMatchObject({ code: 'MODEL_UNKNOWN' });
    }
    const offer = {
      seller: getAddress('0x70997970c51812dc3a010c7d01b50e0dc17dc79c'),
      model: { id: 'm-1', jobId: null, task: 'mnist-mlp', modelHash: `0x${'ab'.repeat(32)}` },
    } as unknown as ModelOffer;
    expect(matchOffers([offer], 'constructor', {})).toEqual([]);
    expect(matchOffers([offer], 'alice', { alice: offer.seller })).toEqual([offer]);
  });

  it('22: a directory as a query input is QUERY_BAD_INPUT / PREDICT_BAD_INPUT (EISDIR)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agora-fuzz-dir-'));
    expect(code(() => queryBody(dir))).toBe('QUERY_BAD_INPUT');
    expect(code(() => predictInputRows(dir))).toBe('PREDICT_BAD_INPUT');
  });

  it('23: a tools/call whose arguments are not an object is -32602 invalid params, not -32603 internal error', async () => {
    const server = createMcpServer({
      env: {} as AgentEnv,
      ledger: {} as SpendLedger,
      parse: () => ({ clarify: '' }),
    });
    const client = new Client({ name: 'test', version: '1' });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await Promise.all([server.connect(b), client.connect(a)]);
    try {
      for (const args of [0, 'x', [1], null]) {
        const e = await client
          .callTool({ name: 'wallet_balance', arguments: args as unknown as Record<string, unknown> })
          .catch((x: unknown) => x);
        expect(e, JSON.stringify(args)).toBeInstanceOf(McpError);
        expect((e as McpError).code).toBe(ErrorCode.InvalidParams);
      }
      // an unknown tool is a tool error, as before
      const r = (await client.callTool({ name: 'no_such_tool', arguments: {} })) as {
        isError?: boolean;
        structuredContent?: { code?: string };
      };
      expect([r.isError, r.structuredContent?.code]).toEqual([true, 'BAD_TOOL_CALL']);
    } finally {
      await client.close();
    }
  });

  it('24: a dashboard token of as many non-ASCII characters is refused, not a 500 (timingSafeEqual threw on byte lengths)', () => {
    const token = 'ab'.repeat(24);
    const page = { host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8080' };
    expect(refuseRequest({ ...page, 'x-agora-token': token }, token)).toBeUndefined();
    expect(refuseRequest({ ...page, 'x-agora-token': 'é'.repeat(48) }, token)).toMatch(/token is missing/);
    expect(refuseRequest({ ...page, 'x-agora-token': `${'ab'.repeat(23)}ac` }, token)).toMatch(
      /token is wrong/,
    );
  });

  it('25: the node status server (and the dashboard on it) answers oversized headers with a coded 431 and Connection: close, and keeps the next request', async () => {
    const api = new StatusApi({ port: 0, status: () => ({}) });
    await api.start();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (method: string, headers: Record<string, string> = {}) =>
      rawRequest(agent, api.url!, method, '/health', headers);
    try {
      // fastify's default 431 had no code and kept the socket in the agent: the next request hung up
      const big = await send('GET', { 'x-big': 'A'.repeat(17_000) });
      expect([big.status, big.connection, JSON.parse(big.body).code]).toEqual([
        431,
        'close',
        'HEADERS_TOO_LARGE',
      ]);
      expect((await send('GET')).status).toBe(200);
      // and a HEAD's answer has no body (it broke the client's parser)
      const head = await send('HEAD', { 'x-big': 'A'.repeat(17_000) });
      expect([head.status, head.body]).toEqual([431, '']);
      expect((await send('GET')).status).toBe(200);
    } finally {
      agent.destroy();
      await api.stop();
    }
  });
});

/** One request through `agent` (keep-alive, one socket), the raw status, body and Connection header. */
function rawRequest(
  agent: Agent,
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string; connection?: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, method, path, agent, headers }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end();
  });
}
