/**
 * A JSON-RPC 2.0 server over HTTP for an EIP-1193 provider, so several processes can share the
 * in-process EDR chain. Binds to 127.0.0.1 unless told otherwise. Handles batches; caps body size.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Eip1193Like = { request(args: { method: string; params?: unknown }): Promise<unknown> };

export type JsonRpcServer = {
  url: string;
  host: string;
  port: number;
  server: Server;
  stop(): Promise<void>;
};

const MAX_BODY_BYTES = 32 * 1024 * 1024;

type RpcRequest = { jsonrpc?: string; id?: unknown; method?: unknown; params?: unknown };

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`request body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Methods whose first parameter is a transaction object that the node executes or simulates. */
const TX_METHODS = new Set(['eth_call', 'eth_estimateGas', 'eth_sendTransaction', 'eth_createAccessList']);
/** No real amount of wei or gas price comes near 2^128 (all ether ever is below 2^90 wei). */
const MAX_AMOUNT = 2n ** 128n;
const MAX_GAS = 2n ** 64n;

/**
 * Refuses transaction objects whose quantities cannot be real: EDR aborts the whole process (a Rust
 * panic, "OverflowPaymentInTransaction") when value + gas × price overflows 256 bits, for example
 * `eth_estimateGas` with value 2^256-1. Found by `npm run fuzz` (docs/dev/fuzzing.md).
 */
export function unrealTxQuantity(method: string, params: unknown): string | undefined {
  if (!TX_METHODS.has(method) || !Array.isArray(params)) return undefined;
  const tx = params[0];
  if (tx === null || typeof tx !== 'object') return undefined;
  for (const [field, max] of [
    ['value', MAX_AMOUNT],
    ['gasPrice', MAX_AMOUNT],
    ['maxFeePerGas', MAX_AMOUNT],
    ['maxPriorityFeePerGas', MAX_AMOUNT],
    ['maxFeePerBlobGas', MAX_AMOUNT],
    ['gas', MAX_GAS],
  ] as const) {
    const v = (tx as Record<string, unknown>)[field];
    if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{1,64}$/.test(v)) continue; // EDR rejects other forms itself
    if (BigInt(v) >= max)
      return `${field} ${v} is not a real quantity (limit 2^${max === MAX_GAS ? 64 : 128})`;
  }
  return undefined;
}

async function handleOne(provider: Eip1193Like, r: RpcRequest): Promise<unknown> {
  const id = r?.id ?? null;
  if (typeof r !== 'object' || r === null || typeof r.method !== 'string') {
    return { jsonrpc: '2.0', id, error: { code: -32600, message: 'invalid request: missing method' } };
  }
  const unreal = unrealTxQuantity(r.method, r.params);
  if (unreal) return { jsonrpc: '2.0', id, error: { code: -32602, message: `invalid params: ${unreal}` } };
  try {
    const result = await provider.request({ method: r.method, params: r.params ?? [] });
    return { jsonrpc: '2.0', id, result: result ?? null };
  } catch (e) {
    const err = e as { code?: number; message?: string; data?: unknown };
    let data = err.data;
    // EDR attaches the request itself as `data` for unsupported methods; keep only revert data.
    if (data && typeof data === 'object' && 'method' in (data as object)) data = undefined;
    return {
      jsonrpc: '2.0',
      id,
      error: {
        code: typeof err.code === 'number' ? err.code : -32603,
        message: err.message ?? String(e),
        data,
      },
    };
  }
}

/** Starts serving `provider` on http://host:port (port 0 picks a free one). */
export async function serveJsonRpc(
  provider: Eip1193Like,
  opts: { host?: string; port?: number } = {},
): Promise<JsonRpcServer> {
  const host = opts.host ?? '127.0.0.1';
  const server = createServer(async (req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ service: 'agora embedded chain', jsonrpc: 'POST JSON-RPC 2.0 here' }));
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405).end();
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse((await readBody(req)).toString('utf8'));
    } catch (e) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          jsonrpc: '2.0',
          id: null,
          error: { code: -32700, message: `parse error: ${(e as Error).message}` },
        }),
      );
      return;
    }
    const out = Array.isArray(payload)
      ? await Promise.all(payload.map((r) => handleOne(provider, r as RpcRequest)))
      : await handleOne(provider, payload as RpcRequest);
    const body = JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8545, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    host,
    port,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
