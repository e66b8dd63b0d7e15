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
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEther } from 'viem';
import { connectChain } from '../src/chain/connect.ts';
import { devnetAccount } from '../src/chain/devnet.ts';
import { ChannelClient } from '../src/pay/channel-client.ts';
import { deployPaymentChannels } from '../src/pay/deploy-channels.ts';
import { recoverVoucherSigner, voucherToJson } from '../src/pay/voucher.ts';
import { VoucherStore } from '../src/pay/voucher-store.ts';
import { channelsDomainSeparator, voucherDigest } from '../src/serve/voucher-check.ts';
import { CHANNEL_SCHEME, channelPayload, encodeHeader, evmNetwork } from '../src/serve/x402.ts';
import { trainMnistModel } from '../test/helpers/mnist-model.ts';
import { deployToken } from '../test/pay/fixture.ts';
import { postBytes, runLoad } from './http-load.ts';
import type { ServeChildConfig } from './serve-child.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
};
const jsonOut = process.argv.includes('--json') ? arg('json', '') : '';
const SECONDS = Number(arg('seconds', '5'));
const CLIENTS = Number(arg('clients', '16'));
const PER_CLIENT = Number(arg('vouchers', '6000'));
const VERIFY_THREADS = Number(arg('verify-threads', '0'));
const SETTLE = arg('settle-threshold', '1');
const FSYNC = process.argv.includes('--fsync');
const PRICE = parseEther('0.001');
const nativeSecp = createRequire(import.meta.url)('secp256k1') as {
  ecdsaSign(msg32: Uint8Array, key: Uint8Array): { signature: Uint8Array; recid: number };
};
const cpuNow = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const log = (m: string) => process.stderr.write(`[bench:serve] ${m}\n`);

type Child = {
  child: ChildProcess;
  url: string;
  stop(): Promise<unknown>;
  /** CPU time of the server process so far (µs, user + system, all threads). */
  cpu(): Promise<number>;
};

function startChild(cfg: ServeChildConfig): Promise<Child> {
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
    let onCpu: ((us: number) => void) | undefined;
    child.stdout!.on('data', (d) => {
      out += d;
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const l of lines) {
        const j = JSON.parse(l) as { url?: string; stats?: unknown; cpu?: { user: number; system: number } };
        if (j.cpu) onCpu?.(j.cpu.user + j.cpu.system);
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
            cpu: () =>
              new Promise((res) => {
                onCpu = res;
                child.kill('SIGUSR2');
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
const freeUrl = new URL(predict(free.url));
const freeReqs = bodies.map((b) => postBytes(freeUrl, b));
const freeOf = (c: number, i: number) => freeReqs[(c * 7919 + i) % freeReqs.length];
await runLoad(freeUrl.href, CLIENTS, 1, freeOf); // warm-up
const unpaidCpu0 = [await free.cpu(), cpuNow()];
const unpaid = await runLoad(freeUrl.href, CLIENTS, SECONDS, freeOf);
const unpaidServerCpuUs = (await free.cpu()) - unpaidCpu0[0];
const unpaidLoadCpuUs = cpuNow() - unpaidCpu0[1];
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
  settleThreshold: SETTLE,
  pollMs: 2000,
  verifyThreads: VERIFY_THREADS,
  fsync: FSYNC,
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
// Pre-signed with libsecp256k1 (the same low-s, v = 27 + recovery id signatures viem makes; the
// first of each channel is also checked with viem's recovery below) so that 100k vouchers take seconds.
const separator = channelsDomainSeparator(domain);
const signNative = (key: Uint8Array, channelId: `0x${string}`, cumulativeAmount: bigint) => {
  const { signature, recid } = nativeSecp.ecdsaSign(
    voucherDigest(separator, channelId, cumulativeAmount),
    key,
  );
  return {
    ...domain,
    channelId,
    cumulativeAmount,
    signature: `0x${Buffer.from(signature).toString('hex')}${(27 + recid).toString(16)}` as `0x${string}`,
  };
};
const headers: string[][] = [];
const channelIds: `0x${string}`[] = [];
for (let c = 0; c < CLIENTS; c++) {
  const buyer = accounts[c + 2];
  const key = buyer.getHdKey().privateKey!;
  const client = new ChannelClient(conn, channels, buyer);
  const { channelId } = await client.open({
    recipient: seller,
    token,
    amount: PRICE * BigInt(PER_CLIENT + 1),
  });
  channelIds.push(channelId);
  const hs: string[] = [];
  for (let i = 1; i <= PER_CLIENT; i++) {
    const v = signNative(key, channelId, PRICE * BigInt(i));
    if (i === 1 && (await recoverVoucherSigner(v)) !== buyer.address)
      throw new Error('bench signer disagrees with viem');
    hs.push(encodeHeader(channelPayload(requirement, voucherToJson(v))));
  }
  headers.push(hs);
}
const blockOpened = await conn.publicClient.getBlockNumber();
const paidUrl = new URL(predict(paid.url));
const paidReq = (c: number, i: number) =>
  i < PER_CLIENT
    ? postBytes(paidUrl, bodies[(c * 7919 + i) % bodies.length], { 'payment-signature': headers[c][i] })
    : null;
// Warm-up uses the first 50 vouchers of each channel (also teaches the server each sender's key).
const warm = await runLoad(paidUrl.href, CLIENTS, 1, (c, i) => (i < 50 ? paidReq(c, i) : null));
const offset = warm.sentPerClient;
// The server's CPU while no request arrives (settler polling, timers), per second: part of every
// figure below, whatever the request rate.
const idle0 = await paid.cpu();
await new Promise((r) => setTimeout(r, 2000));
const idleServerCpuUsPerSecond = Math.round(((await paid.cpu()) - idle0) / 2);
const paidCpu0 = [await paid.cpu(), cpuNow()];
const run = await runLoad(paidUrl.href, CLIENTS, SECONDS, (c, i) => paidReq(c, i + offset[c]));
const paidServerCpuUs = (await paid.cpu()) - paidCpu0[0];
const paidLoadCpuUs = cpuNow() - paidCpu0[1];
if (run.sentPerClient.some((n, c) => n + offset[c] >= PER_CLIENT)) {
  log(`a client ran out of its ${PER_CLIENT} vouchers: raise --vouchers`);
}
// Let the settler run once more, then stop the server and read its store.
await new Promise((r) => setTimeout(r, 2500));
const stats = await paid.stop();
const block1 = await conn.publicClient.getBlockNumber();
let txs = 0;
let settlementTxs = 0; // after the channels were opened: the server's settlements under load
for (let b = block0 + 1n; b <= block1; b++) {
  const n = (await conn.publicClient.getBlock({ blockNumber: b })).transactions.length;
  txs += n;
  if (b > blockOpened) settlementTxs += n;
}

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
  const { secpBackend } = await import('../src/serve/secp256k1-native.ts');
  const a = accounts[2];
  const key = a.getHdKey().privateKey!;
  const vs = Array.from({ length: 3000 }, (_, i) => signNative(key, channelIds[0], BigInt(i + 1)));
  const keys = new SenderKeys();
  keys.verify(vs[0], a.address);
  let t = performance.now();
  for (const v of vs) if (!keys.verify(v, a.address)) throw new Error('verify failed');
  const fast = vs.length / ((performance.now() - t) / 1000);
  t = performance.now();
  for (const v of vs.slice(0, 100)) await recoverVoucherSigner(v);
  const viem = 100 / ((performance.now() - t) / 1000);
  return {
    voucherChecksPerSecondOneCore: Math.round(fast),
    viemRecoverPerSecondOneCore: Math.round(viem),
    secp256k1: secpBackend.name,
  };
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
  // CPU time per answered request, measured around the timed windows: what the server spends
  // (all its threads) and what this load generator spends. On a machine whose cores are busy with
  // other work these are steadier than requests/s; 2 cores / (server + client µs) is the rate two
  // free cores would reach with the load generator on the same machine.
  serverCpuUsPerPaidRequest: Math.round(paidServerCpuUs / run.ok),
  idleServerCpuUsPerSecond,
  serverCpuUsPerUnpaidRequest: Math.round(unpaidServerCpuUs / unpaid.ok),
  loadGenCpuUsPerPaidRequest: Math.round(paidLoadCpuUs / run.ok),
  loadGenCpuUsPerUnpaidRequest: Math.round(unpaidLoadCpuUs / unpaid.ok),
  paidRequests: paidTotal,
  vouchersCheckedAgainstStore: checked,
  onchainTxs: txs,
  clients: CLIENTS,
  verifyThreads: VERIFY_THREADS,
  fsyncEachCommit: FSYNC,
  seconds: SECONDS,
  price: PRICE.toString(),
  settleThreshold: parseEther(SETTLE).toString(),
  settlementTxs,
  server: stats,
  ...micro,
  cores: os.availableParallelism(),
  loadAverage1m: Number(os.loadavg()[0].toFixed(1)),
};
log(JSON.stringify(result));
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(result, null, 2)}\n`);
else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
chainProc.child.kill('SIGTERM');
