/**
 * Fuzz targets: every decoder and trust-boundary parser that takes bytes or JSON from a peer, a
 * file or a node, with a generator of hostile inputs (random bytes, random JSON, and valid inputs
 * with bytes flipped or cut). A target's input is accepted or rejected; a rejection must be an
 * AgoraError with a code, or the module's own typed error (FrameError with a reason, zod's
 * `{ ok: false }` result). Anything else — a TypeError, a RangeError, an untyped Error — is a crash.
 */
import fc from 'fast-check';
import { parseDeployment } from '../src/chain/deployments.ts';
import { classifyRpcError } from '../src/chain/rpc-errors.ts';
import { AgoraError } from '../src/errors.ts';
import { decodeJson, FrameError } from '../src/net/framing.ts';
import {
  allreduceRequestSchema,
  announceSchema,
  authHelloSchema,
  ckptRequestSchema,
  parseMessage,
} from '../src/net/messages.ts';
import { roundRequestSchema } from '../src/node/round-protocol.ts';
import { voucherFromJson } from '../src/pay/voucher.ts';
import { decodeSafetensors, encodeSafetensors, tensorFrom } from '../src/train/checkpoint/safetensors.ts';
import { decodeTrainingCheckpoint } from '../src/train/checkpoint/training-checkpoint.ts';
import { createCodec, decodeAny } from '../src/train/codecs/index.ts';
import { parseKeystore } from '../src/wallet/keystore.ts';

export type Outcome = 'accepted' | 'rejected';
export type FuzzTarget = {
  name: string;
  input: fc.Arbitrary<unknown>;
  run(input: unknown): Outcome | Promise<Outcome>;
};

/** A typed rejection (fine) or a crash (a finding). */
export function isTypedRejection(e: unknown): boolean {
  if (e instanceof AgoraError) return typeof e.code === 'string' && e.code.length > 0;
  if (e instanceof FrameError) return true;
  return false;
}

/** Valid bytes with some flipped, cut or extended. */
function mutated(valid: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      fc.integer({ min: 0, max: valid.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      fc.option(fc.nat(), { nil: undefined }),
      fc.uint8Array({ maxLength: 16 }),
    )
    .map(([k, flips, cut, tail]) => {
      const base = valid[k];
      const b = new Uint8Array(base.length + tail.length);
      b.set(base);
      b.set(tail, base.length);
      for (const [at, v] of flips) if (b.length) b[at % b.length] = v;
      return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
    });
}

function bytesOr(valid: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.oneof(fc.uint8Array({ maxLength: 512 }), mutated(valid));
}

/** Runs a decoder; returning means it accepted the input. */
const accept = (f: () => unknown): Outcome => {
  f();
  return 'accepted';
};
const zodTarget = (name: string, schema: Parameters<typeof parseMessage>[0]): FuzzTarget => ({
  name,
  input: fc.oneof(
    fc.jsonValue(),
    fc.record(
      { t: fc.constantFrom('auth', 'scatter', 'record', 'head', 'status', 'x') },
      { requiredKeys: [] },
    ),
  ),
  run: (x) => (parseMessage(schema, x).ok ? 'accepted' : 'rejected'),
});

function codecSamples(): Uint8Array[] {
  const v = new Float32Array(64).map((_, i) => Math.sin(i) * 3);
  return (['fp32', 'fp16', 'int8', 'int4', 'topk'] as const).map((n) => createCodec(n).encode(v));
}

function safetensorsSamples(): Uint8Array[] {
  return [
    encodeSafetensors({ w: tensorFrom('F32', [2, 2], new Float32Array([1, 2, 3, 4])) }, { format: 'x' }),
    encodeSafetensors({}),
  ];
}

export function fuzzTargets(): FuzzTarget[] {
  const codecs = codecSamples();
  const st = safetensorsSamples();
  return [
    {
      name: 'framing.decodeJson',
      input: fc.oneof(
        fc.uint8Array({ maxLength: 256 }),
        fc.jsonValue().map((j) => new TextEncoder().encode(JSON.stringify(j))),
      ),
      run: (b) => accept(() => decodeJson(b as Uint8Array)),
    },
    zodTarget('messages.authHello', authHelloSchema),
    zodTarget('messages.announce', announceSchema),
    zodTarget('messages.allreduceRequest', allreduceRequestSchema),
    zodTarget('messages.ckptRequest', ckptRequestSchema),
    zodTarget('round-protocol.request', roundRequestSchema),
    {
      name: 'codecs.decodeAny',
      input: bytesOr(codecs),
      run: (b) => accept(() => decodeAny(b as Uint8Array)),
    },
    {
      name: 'safetensors.decode',
      input: bytesOr(st),
      run: (b) => accept(() => decodeSafetensors(b as Uint8Array)),
    },
    {
      name: 'checkpoint.decodeTraining',
      input: bytesOr(st),
      run: (b) => accept(() => decodeTrainingCheckpoint(b as Uint8Array)),
    },
    {
      name: 'voucher.fromJson',
      input: fc.oneof(
        fc.jsonValue(),
        fc.record(
          {
            channelId: fc.oneof(fc.string(), fc.constant(`0x${'11'.repeat(32)}`)),
            amount: fc.oneof(fc.string(), fc.bigInt().map(String), fc.integer()),
            signature: fc.oneof(fc.string(), fc.constant(`0x${'22'.repeat(65)}`)),
          },
          { requiredKeys: [] },
        ),
      ),
      run: (x) => accept(() => voucherFromJson(x)),
    },
    {
      name: 'keystore.parse',
      input: fc.oneof(
        fc.string(),
        fc.jsonValue().map((j) => JSON.stringify(j)),
      ),
      run: (s) => accept(() => parseKeystore(s as string)),
    },
    {
      name: 'deployments.parse',
      input: fc.oneof(
        fc.string(),
        fc.jsonValue().map((j) => JSON.stringify(j)),
      ),
      run: (s) => accept(() => parseDeployment(s as string, 'fuzz')),
    },
    {
      name: 'rpc-errors.classify',
      input: fc.anything(),
      run: (x) => {
        const f = classifyRpcError(x);
        if (typeof f.kind !== 'string' || typeof f.detail !== 'string') throw new Error('no classification');
        return 'accepted';
      },
    },
  ];
}

const RPC_METHODS = [
  'eth_chainId',
  'eth_blockNumber',
  'eth_getBalance',
  'eth_call',
  'eth_estimateGas',
  'eth_getBlockByNumber',
  'eth_getTransactionReceipt',
  'eth_getLogs',
  'eth_sendRawTransaction',
  'eth_getCode',
  'net_version',
  'web3_clientVersion',
];

/**
 * The embedded chain's JSON-RPC server (a trust boundary when served): any body gets a JSON-RPC
 * 2.0 answer — a result or an error with a numeric code — and the server keeps serving.
 */
export function rpcServerTarget(url: string): FuzzTarget {
  const request = fc.record(
    {
      jsonrpc: fc.oneof(fc.constant('2.0'), fc.string()),
      id: fc.oneof(fc.integer(), fc.string(), fc.constant(null)),
      method: fc.oneof(fc.constantFrom(...RPC_METHODS), fc.string()),
      params: fc.oneof(fc.array(fc.jsonValue(), { maxLength: 4 }), fc.jsonValue()),
    },
    { requiredKeys: [] },
  );
  return {
    name: 'rpc-server.post',
    input: fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.jsonValue().map((j) => JSON.stringify(j)),
      request.map((r) => JSON.stringify(r)),
      fc.array(request, { maxLength: 4 }).map((r) => JSON.stringify(r)),
    ),
    async run(body) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: body as string,
        signal: AbortSignal.timeout(5000),
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      const out = JSON.parse(text) as unknown;
      const replies = Array.isArray(out) ? out : [out];
      let rejected = false;
      for (const r of replies as { jsonrpc?: string; error?: { code?: unknown; message?: unknown } }[]) {
        if (r?.jsonrpc !== '2.0') throw new Error(`not a JSON-RPC 2.0 reply: ${text.slice(0, 100)}`);
        if (r.error !== undefined) {
          if (typeof r.error.code !== 'number' || typeof r.error.message !== 'string')
            throw new Error(`malformed error: ${text.slice(0, 100)}`);
          rejected = true;
        }
      }
      return rejected ? 'rejected' : 'accepted';
    },
  };
}

export type TargetReport = {
  name: string;
  cases: number;
  accepted: number;
  rejected: number;
  crashes: { seed: number; path?: string; error: string; input: string }[];
  slowest: number;
};

/** Runs `cases` inputs through a target; a case slower than `hangMs` counts as a hang (crash). */
export async function fuzzTarget(
  t: FuzzTarget,
  cases: number,
  seed: number,
  hangMs = 2000,
): Promise<TargetReport> {
  const r: TargetReport = { name: t.name, cases: 0, accepted: 0, rejected: 0, crashes: [], slowest: 0 };
  await fc.assert(
    fc.asyncProperty(t.input, async (input) => {
      r.cases++;
      const t0 = performance.now();
      try {
        const o = await t.run(input);
        if (o === 'accepted') r.accepted++;
        else r.rejected++;
      } catch (e) {
        if (isTypedRejection(e)) r.rejected++;
        else if (r.crashes.length < 5) {
          r.crashes.push({
            seed,
            error: `${(e as Error)?.constructor?.name}: ${String((e as Error)?.message ?? e).slice(0, 200)}`,
            input: preview(input),
          });
        } else r.crashes.push({ seed, error: 'more', input: '' });
      }
      const ms = performance.now() - t0;
      r.slowest = Math.max(r.slowest, ms);
      if (ms > hangMs) r.crashes.push({ seed, error: `hang: ${ms.toFixed(0)} ms`, input: preview(input) });
      return true;
    }),
    { numRuns: cases, seed },
  );
  return r;
}

function preview(x: unknown): string {
  if (x instanceof Uint8Array) return `bytes[${x.length}] ${Buffer.from(x.subarray(0, 48)).toString('hex')}`;
  try {
    return JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))?.slice(0, 200) ?? String(x);
  } catch {
    return String(x).slice(0, 200);
  }
}
