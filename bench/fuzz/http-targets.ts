/**
 * Fuzz targets that are servers: the JSON-RPC server over the embedded chain (src/chain/rpc-server.ts)
 * and the node's status API (src/node/status-api.ts), both over real HTTP on 127.0.0.1. A case is
 * one request; the server must answer it (a JSON-RPC error object or a 4xx is a rejection) and must
 * never answer 5xx, a body that is not JSON, or drop the connection. The HTTP APIs of other parts
 * (model serving, the dashboard) are added here as one entry each.
 */
import fc from 'fast-check';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { type JsonRpcServer, serveJsonRpc } from '../../src/chain/rpc-server.ts';
import { StatusApi } from '../../src/node/status-api.ts';
import { dashboardTargets } from './dashboard-targets.ts';
import { defineTarget, type FuzzTarget, type Outcome } from './harness.ts';
import { httpRequest } from './http.ts';
import { mcpTargets } from './mcp-targets.ts';
import { type Json, mutatedJson, utf8 } from './mutate.ts';
import { serveHttpTargets } from './serve-targets.ts';

const DEVNET_ACCOUNT = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
const OTHER = '0x70997970C51812dc3A010C7d01b50e0dC17dc79C';

/** Requests the nodes and wallets send (eth_ namespace; dev-only methods such as hardhat_mine stay out). */
const RPC_VALID: Json[] = [
  { jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] },
  { jsonrpc: '2.0', id: 2, method: 'eth_blockNumber' },
  { jsonrpc: '2.0', id: 3, method: 'eth_getBalance', params: [DEVNET_ACCOUNT, 'latest'] },
  { jsonrpc: '2.0', id: 4, method: 'eth_getTransactionCount', params: [DEVNET_ACCOUNT, 'pending'] },
  { jsonrpc: '2.0', id: 5, method: 'eth_call', params: [{ to: OTHER, data: '0x70a08231' }, 'latest'] },
  {
    jsonrpc: '2.0',
    id: 6,
    method: 'eth_estimateGas',
    params: [{ from: DEVNET_ACCOUNT, to: OTHER, value: '0x1' }],
  },
  { jsonrpc: '2.0', id: 7, method: 'eth_getLogs', params: [{ fromBlock: '0x0', toBlock: 'latest' }] },
  { jsonrpc: '2.0', id: 8, method: 'eth_getBlockByNumber', params: ['latest', true] },
  { jsonrpc: '2.0', id: 9, method: 'eth_sendRawTransaction', params: [`0x02f8${'ab'.repeat(60)}`] },
  {
    jsonrpc: '2.0',
    id: 10,
    method: 'eth_sendTransaction',
    params: [{ from: DEVNET_ACCOUNT, to: OTHER, value: '0x1' }],
  },
  { jsonrpc: '2.0', id: 11, method: 'eth_getTransactionReceipt', params: [`0x${'00'.repeat(32)}`] },
  { jsonrpc: '2.0', id: 12, method: 'eth_feeHistory', params: ['0x4', 'latest', [25, 75]] },
  [
    { jsonrpc: '2.0', id: 13, method: 'eth_chainId' },
    { jsonrpc: '2.0', id: 14, method: 'eth_gasPrice' },
  ],
];

const DEV_METHOD = /^(hardhat|evm|anvil|debug)_/;

/** Keeps the fuzz on the public surface: drops dev-only methods a mutation might produce. */
function publicOnly(v: Json): Json {
  const clean = (r: Json): Json =>
    r !== null &&
    typeof r === 'object' &&
    !Array.isArray(r) &&
    typeof r.method === 'string' &&
    DEV_METHOD.test(r.method)
      ? { ...r, method: 'eth_chainId' }
      : r;
  return Array.isArray(v) ? v.map(clean) : clean(v);
}

function isJsonRpcReply(x: unknown): x is { jsonrpc: string; result?: unknown; error?: { code: unknown } } {
  return x !== null && typeof x === 'object' && (x as { jsonrpc?: unknown }).jsonrpc === '2.0';
}

export function httpTargets(): FuzzTarget[] {
  let chain: EmbeddedChain | undefined;
  let rpc: JsonRpcServer | undefined;
  let status: StatusApi | undefined;
  return [
    defineTarget({
      name: 'chain/json-rpc',
      boundary: 'JSON-RPC 2.0 requests to `agora chain start` (HTTP, 127.0.0.1)',
      weight: 1,
      input: fc.oneof(
        {
          weight: 8,
          arbitrary: mutatedJson(fc.constantFrom(...RPC_VALID)).map((v) =>
            utf8(JSON.stringify(publicOnly(v))),
          ),
        },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
        { weight: 1, arbitrary: fc.string({ maxLength: 100 }).map(utf8) },
      ),
      async setup() {
        chain = await startEmbeddedChain();
        rpc = await serveJsonRpc(chain.provider, { port: 0 });
      },
      async teardown() {
        await rpc?.stop();
        await chain?.stop();
      },
      async run(body: Uint8Array): Promise<Outcome> {
        const res = await httpRequest(rpc!.url, 'POST', '/', body, { 'content-type': 'application/json' });
        if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body.slice(0, 200)}`);
        let out: unknown;
        try {
          out = JSON.parse(res.body);
        } catch {
          throw new Error(`reply is not JSON: ${res.body.slice(0, 200)}`);
        }
        const replies = Array.isArray(out) ? out : [out];
        let errors = 0;
        for (const r of replies) {
          if (!isJsonRpcReply(r))
            throw new Error(`not a JSON-RPC 2.0 reply: ${JSON.stringify(r).slice(0, 200)}`);
          if (r.error !== undefined) {
            if (typeof r.error?.code !== 'number')
              throw new Error(`error without a numeric code: ${JSON.stringify(r)}`);
            errors++;
          } else if (!('result' in r))
            throw new Error(`reply with neither result nor error: ${JSON.stringify(r)}`);
        }
        return errors === 0 && replies.length > 0 ? 'accepted' : 'rejected';
      },
    }),
    defineTarget({
      name: 'node/status-api',
      boundary: 'HTTP requests to a node status API (`agora node start`, 127.0.0.1)',
      weight: 1,
      input: fc.record({
        method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH'),
        path: fc.oneof(
          fc.constantFrom(
            '/status',
            '/health',
            '/',
            '/status/',
            '//status',
            '/status?x=1',
            '/%ff',
            '/..',
            '/status#a',
          ),
          fc.string({ maxLength: 30 }).map((s) => `/${encodeURIComponent(s)}`),
        ),
        contentType: fc.constantFrom(
          'application/json',
          'text/plain',
          'application/octet-stream',
          'application/json; charset=utf-16',
          '',
        ),
        body: fc.option(
          fc.oneof(
            mutatedJson(fc.constant({ a: 1 } as Json)).map((v) => utf8(JSON.stringify(v))),
            fc.uint8Array({ maxLength: 100_000 }),
          ),
        ),
      }),
      async setup() {
        status = new StatusApi({
          port: 0,
          status: () => ({
            role: 'provider',
            jobs: [{ id: 7n, round: 3, peers: ['a', 'b'] }],
            balance: 10n ** 18n,
          }),
        });
        await status.start();
      },
      async teardown() {
        await status?.stop();
      },
      async run(x: {
        method: string;
        path: string;
        contentType: string;
        body: Uint8Array | null;
      }): Promise<Outcome> {
        const res = await httpRequest(status!.url!, x.method, x.path, x.body ?? undefined, {
          'content-type': x.contentType,
        });
        if (res.status >= 500) throw new Error(`HTTP ${res.status}: ${res.body.slice(0, 200)}`);
        if (res.status >= 400) return 'rejected';
        if (x.method !== 'HEAD' && x.method !== 'OPTIONS' && res.body.length > 0) JSON.parse(res.body);
        return 'accepted';
      },
    }),
    ...serveHttpTargets(),
    ...dashboardTargets(),
    ...mcpTargets(),
  ];
}
