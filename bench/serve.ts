/**
 * `npm run bench:serve -- [--json FILE] [--seconds S] [--clients C] [--verify-threads N]`: pay-per-query throughput of
 * `agora serve` on loopback, in one run.
 *
 * An embedded chain (served over HTTP) holds AGORA and PaymentChannels; a small MNIST MLP is trained
 * here (mnist-mlp task, ~1 s). The server runs in its own process (bench/serve-child.ts). C clients
 * each open a channel to it and send predict requests back to back, each with the next cumulative
 * voucher (pre-signed before the clock starts: this measures the server, not the signer). The server
 * verifies and persists every voucher before answering. Then the same load without payment against
 * a free server. Writes:
 *   { paidRequestsPerSecond, unpaidRequestsPerSecond, p50Ms, p95Ms, onchainTxPer10k, … }
 * `onchainTxPer10k` counts every transaction of the paid phase (approvals, opens, settlements) per
 * 10,000 paid requests. After the run, every 200 answer is checked against the server's store.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEther } from 'viem';
import { connectChain } from '../src/chain/connect.ts';
import { devnetAccount } from '../src/chain/devnet.ts';
import { ChannelClient } from '../src/pay/channel-client.ts';
import { deployPaymentChannels } from '../src/pay/deploy-channels.ts';
import { signVoucher, voucherToJson } from '../src/pay/voucher.ts';
import { VoucherStore } from '../src/pay/voucher-store.ts';
import { CHANNEL_SCHEME, channelPayload, encodeHeader, evmNetwork } from '../src/serve/x402.ts';
import { trainMnistModel } from '../test/helpers/mnist-model.ts';
import { deployToken } from '../test/pay/fixture.ts';
import type { ServeChildConfig } from './serve-child.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
};
const jsonOut = process.argv.includes('--json') ? arg('json', '') : '';
const SECONDS = Number(arg('seconds', '5'));
const CLIENTS = Number(arg('clients', '16'));
const PER_CLIENT = Number(arg('vouchers', '1200'));
const VERIFY_THREADS = Number(arg('verify-threads', '1'));
const PRICE = parseEther('0.001');
const log = (m: string) => process.stderr.write(`[bench:serve] ${m}\n`);

function startChild(
  cfg: ServeChildConfig,
): Promise<{ child: ChildProcess; url: string; stop(): Promise<unknown> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...(process.env.BENCH_CHILD_ARGS?.split(' ') ?? []), join(import.meta.dirname, 'serve-child.ts')],
      {
        env: { ...process.env, AGORA_SERVE_CHILD: JSON.stringify(cfg) },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    let started = false;
    let onStats: ((s: unknown) => void) | undefined;
    child.stdout!.on('data', (d) => {
      out += d;
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const l of lines) {
        const j = JSON.parse(l) as { url?: string; stats?: unknown };
        if (j.url && !started) {
          started = true;
          resolve({
            child,
            url: j.url,
            stop: () =>
              new Promise((res) => {
                onStats = res;
                child.kill('SIGTERM');
              }),
          });
        }
        if (j.stats) onStats?.(j.stats);
      }
    });
    child.on('exit', (code) => {
      if (!started) reject(new Error(`server exited with ${code}`));
    });
  });
}

function startChain(): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        join(import.meta.dirname, '../bin/agora.js'),
        'chain',
        'start',
        '--port',
        '0',
        '--home',
        join(dir, 'chain-home'),
        '--json',
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      try {
        resolve({ child, url: (JSON.parse(out) as { url: string }).url });
      } catch {}
    });
    child.on('exit', (code) => reject(new Error(`chain exited with ${code}`)));
  });
}

type Load = {
  ok: number;
  failed: number;
  latencies: number[];
  seconds: number;
  statuses: Map<number, number>;
};

/** C connections, each sending its requests back to back for `seconds` (or until it runs out). */
async function load(
  url: string,
  bodies: string[],
  headersOf: (client: number, i: number) => Record<string, string> | undefined,
  seconds: number,
): Promise<Load & { sentPerClient: number[] }> {
  const u = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  const sentPerClient = new Array(CLIENTS).fill(0);
  let ok = 0;
  let failed = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const one = (c: number, i: number) =>
    new Promise<number>((resolve, reject) => {
      const body = bodies[(c * 7919 + i) % bodies.length];
      const extra = headersOf(c, i);
      const req = http.request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            ...extra,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = 0; performance.now() < end; i++) {
        if (headersOf(c, i) === null) break;
        const s = performance.now();
        const status = await one(c, i);
        latencies.push(performance.now() - s);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === 200) ok++;
        else failed++;
        sentPerClient[c] = i + 1;
      }
    }),
  );
  agent.destroy();
  return { ok, failed, latencies, seconds: (performance.now() - t0) / 1000, statuses, sentPerClient };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

const dir = mkdtempSync(join(tmpdir(), 'agora-bench-serve-'));
log('training the MNIST model and starting the chain…');
// The chain runs in its own process (`agora chain start`), so neither the server nor the load
// generator shares an event loop with the EVM.
const [trained, chainProc] = await Promise.all([trainMnistModel(join(dir, 'model')), startChain()]);
const rpc = { url: chainProc.url };
const conn = await connectChain({ rpcUrl: rpc.url });
const accounts = Array.from({ length: CLIENTS + 2 }, (_, i) => devnetAccount(i));
const token = await deployToken(conn, accounts);
const channels = await deployPaymentChannels(conn, accounts[0], {
  bounds: { min: 60, max: 86_400, default: 3_600 },
});
const bodies = trained.samples.slice(0, 64).map((s) => JSON.stringify({ input: s.input }));

// ---- unpaid ---------------------------------------------------------------------------------
const free = await startChild({ model: trained.dir, price: '0' });
const predict = (base: string) => `${base}/v1/models/1/predict`;
await load(predict(free.url), bodies, () => ({}), 1); // warm-up
const unpaid = await load(predict(free.url), bodies, () => ({}), SECONDS);
await free.stop();
log(`unpaid: ${(unpaid.ok / unpaid.seconds).toFixed(0)} req/s (${unpaid.failed} failed)`);

// ---- paid -----------------------------------------------------------------------------------
const storePath = join(dir, 'server.sqlite');
const block0 = await conn.publicClient.getBlockNumber();
const paid = await startChild({
  model: trained.dir,
  price: '0.001',
  rpc: rpc.url,
  paymentChannels: channels,
  token,
  store: storePath,
  account: 1,
  settleThreshold: '2',
  pollMs: 2000,
  verifyThreads: VERIFY_THREADS,
});
const seller = accounts[1].address;
const domain = { chainId: conn.chainId, verifyingContract: channels };
const requirement = {
  scheme: CHANNEL_SCHEME,
  network: evmNetwork(conn.chainId),
  asset: token,
  amount: PRICE.toString(),
  payTo: seller,
  maxTimeoutSeconds: 60,
  extra: { paymentChannels: channels },
};
log(`opening ${CLIENTS} channels and pre-signing ${CLIENTS * PER_CLIENT} vouchers…`);
const headers: string[][] = [];
const channelIds: `0x${string}`[] = [];
for (let c = 0; c < CLIENTS; c++) {
  const buyer = accounts[c + 2];
  const client = new ChannelClient(conn, channels, buyer);
  const { channelId } = await client.open({
    recipient: seller,
    token,
    amount: PRICE * BigInt(PER_CLIENT + 1),
  });
  channelIds.push(channelId);
  const hs: string[] = [];
  for (let i = 1; i <= PER_CLIENT; i++) {
    const v = await signVoucher(buyer, domain, { channelId, cumulativeAmount: PRICE * BigInt(i) });
    hs.push(encodeHeader(channelPayload(requirement, voucherToJson(v))));
  }
  headers.push(hs);
}
const paidHeaders = (c: number, i: number) =>
  i < PER_CLIENT ? { 'payment-signature': headers[c][i] } : (null as never);
// Warm-up uses the first 50 vouchers of each channel (also teaches the server each sender's key).
const warm = await load(
  predict(paid.url),
  bodies,
  (c, i) => (i < 50 ? { 'payment-signature': headers[c][i] } : (null as never)),
  1,
);
const offset = warm.sentPerClient;
const run = await load(predict(paid.url), bodies, (c, i) => paidHeaders(c, i + offset[c]), SECONDS);
// Let the settler run once more, then stop the server and read its store.
await new Promise((r) => setTimeout(r, 2500));
const stats = await paid.stop();
const block1 = await conn.publicClient.getBlockNumber();
let txs = 0;
for (let b = block0 + 1n; b <= block1; b++)
  txs += (await conn.publicClient.getBlock({ blockNumber: b })).transactions.length;

// Every answered request was paid by a stored voucher: the store holds, per channel, exactly the
// voucher of the last answered request.
const store = new VoucherStore(storePath);
let checked = 0;
for (let c = 0; c < CLIENTS; c++) {
  const answered = offset[c] + run.sentPerClient[c];
  const got = store.received({ chainId: conn.chainId, contract: channels, channelId: channelIds[c] });
  if (got?.cumulative !== PRICE * BigInt(answered)) {
    throw new Error(`channel ${c}: store holds ${got?.cumulative}, ${answered} requests were sent`);
  }
  checked += answered;
}
store.close();
if (run.failed + warm.failed > 0)
  throw new Error(`paid requests failed: ${JSON.stringify([...run.statuses])}`);
const paidTotal = warm.ok + run.ok;

// The server's hot spot, measured alone in this process: vouchers checked per second on one core
// (precomputed sender key), and viem's recovery for comparison.
const micro = await (async () => {
  const { SenderKeys } = await import('../src/serve/voucher-check.ts');
  const { recoverVoucherSigner } = await import('../src/pay/voucher.ts');
  const a = accounts[2];
  const vs = [];
  for (let i = 1; i <= 300; i++)
    vs.push(await signVoucher(a, domain, { channelId: channelIds[0], cumulativeAmount: BigInt(i) }));
  const keys = new SenderKeys();
  keys.verify(vs[0], a.address);
  let t = performance.now();
  for (const v of vs) if (!keys.verify(v, a.address)) throw new Error('verify failed');
  const fast = vs.length / ((performance.now() - t) / 1000);
  t = performance.now();
  for (const v of vs.slice(0, 100)) await recoverVoucherSigner(v);
  const viem = 100 / ((performance.now() - t) / 1000);
  return { voucherChecksPerSecondOneCore: Math.round(fast), viemRecoverPerSecondOneCore: Math.round(viem) };
})();
const os = await import('node:os');

const result = {
  paidRequestsPerSecond: Math.round(run.ok / run.seconds),
  unpaidRequestsPerSecond: Math.round(unpaid.ok / unpaid.seconds),
  p50Ms: Number(pct(run.latencies, 50).toFixed(2)),
  p95Ms: Number(pct(run.latencies, 95).toFixed(2)),
  onchainTxPer10k: Number(((txs / paidTotal) * 10_000).toFixed(1)),
  paidOverUnpaid: Number((run.ok / run.seconds / (unpaid.ok / unpaid.seconds)).toFixed(3)),
  unpaidP50Ms: Number(pct(unpaid.latencies, 50).toFixed(2)),
  unpaidP95Ms: Number(pct(unpaid.latencies, 95).toFixed(2)),
  paidRequests: paidTotal,
  vouchersCheckedAgainstStore: checked,
  onchainTxs: txs,
  clients: CLIENTS,
  verifyThreads: VERIFY_THREADS,
  seconds: SECONDS,
  price: PRICE.toString(),
  settleThreshold: parseEther('2').toString(),
  server: stats,
  ...micro,
  cores: os.availableParallelism(),
  loadAverage1m: Number(os.loadavg()[0].toFixed(1)),
};
log(JSON.stringify(result));
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(result, null, 2)}\n`);
else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
chainProc.child.kill('SIGTERM');
