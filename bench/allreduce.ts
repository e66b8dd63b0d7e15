/**
 * All-reduce benchmark: the butterfly all-reduce (src/net/allreduce.ts) against a naive all-to-all
 * (DISCO-style: every peer sends its whole encoded vector to every other peer), measured in the same
 * run on real libp2p hosts on 127.0.0.1 (in one process: seconds are CPU-bound on this machine,
 * bytes are exact).
 *
 *   npm run bench:allreduce -- --peers 4,8,16 --size 1000000 --codec fp32 --json bench/results/allreduce.json
 *
 * Per run: bytes sent per peer (mean and max), the ratio to the butterfly's theoretical
 * 2·size·(K−1)/K·bytesPerElement, the ratio to the naive all-to-all measured here, seconds per round
 * (median) and the max abs error against the exact float64 mean.
 */
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import pino from 'pino';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { AllReduce } from '../src/net/allreduce.ts';
import { decodeJson, encodeJson, FrameReader, writeFrame } from '../src/net/framing.ts';
import { AgoraHost } from '../src/net/host.ts';
import type { CodecName } from '../src/train/codec.ts';
import { createCodec } from '../src/train/codecs/index.ts';

const program = new Command()
  .option('--peers <list>', 'group sizes', '4,8,16')
  .option('--size <n>', 'vector elements', '1000000')
  .option('--codec <name>', 'fp32 | fp16 | int8 | int4', 'fp32')
  .option('--rounds <n>', 'rounds per group size (median reported)', '3')
  .option(
    '--naive-max-peers <n>',
    'measure the all-to-all baseline up to this group size (beyond: computed)',
    '8',
  )
  .option('--json <file>', 'write results here')
  .parse(process.argv.filter((a) => a !== '--'));
const o = program.opts<{
  peers: string;
  size: string;
  codec: string;
  rounds: string;
  naiveMaxPeers: string;
  json?: string;
}>();
const sizes = o.peers.split(',').map(Number);
const size = Number(o.size);
const rounds = Number(o.rounds);
const codecName = o.codec as CodecName;
const logger = pino({ level: 'warn' });
const NAIVE = '/agora/bench/all-to-all/1';

function vec(n: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 31 - 1;
  }
  return v;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function startGroup(k: number): Promise<AgoraHost[]> {
  const accts = Array.from({ length: k }, () => privateKeyToAccount(generatePrivateKey()));
  const participants = accts.map((a) => a.address);
  const hosts: AgoraHost[] = [];
  for (const account of accts) {
    const h = new AgoraHost({
      account,
      chainId: 31337,
      jobId: 'bench',
      participants,
      logger,
      announceIntervalMs: 0,
    });
    await h.start();
    hosts.push(h);
  }
  for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) await hosts[i].dial(hosts[j].multiaddrs()[0]);
  await Promise.all(hosts.map((h) => h.waitForPeers(k - 1, 30_000)));
  return hosts;
}

/** Naive all-to-all: each peer streams its encoded vector to every other peer and averages. */
async function naiveRound(
  hosts: AgoraHost[],
  vs: Float32Array[],
): Promise<{ bytesPerPeer: number; seconds: number }> {
  const k = hosts.length;
  const inbox = hosts.map(() => [] as Float32Array[]);
  const waiters: (() => void)[] = hosts.map(() => () => {});
  const done = hosts.map((_, i) => new Promise<void>((r) => (waiters[i] = r)));
  await Promise.all(
    hosts.map((h, i) =>
      h.handle(NAIVE, async (s) => {
        const r = new FrameReader(s);
        decodeJson(await r.expect({ maxBytes: 1024, timeoutMs: 30_000 }));
        const body = await r.expect({ maxBytes: 16 + size * 8, timeoutMs: 300_000 });
        inbox[i].push(createCodec(codecName).decode(new Uint8Array(body)));
        if (inbox[i].length === k - 1) waiters[i]();
        await s.close().catch(() => {});
      }),
    ),
  );
  let sent = 0;
  const t0 = performance.now();
  await Promise.all(
    hosts.map(async (h, i) => {
      const body = createCodec(codecName).encode(vs[i]);
      await Promise.all(
        hosts.map(async (other, j) => {
          if (j === i) return;
          const s = await h.newStream(other.peerId, NAIVE);
          const n = (await writeFrame(s, encodeJson({ t: 'vec' }))) + (await writeFrame(s, body));
          sent += n; // (not `sent += await …`: that reads `sent` before the await and loses updates)
          await s.close();
        }),
      );
    }),
  );
  await Promise.all(done);
  const seconds = (performance.now() - t0) / 1000;
  for (const h of hosts) await h.libp2p.unhandle(NAIVE);
  return { bytesPerPeer: sent / k, seconds };
}

const runs: Record<string, unknown>[] = [];
for (const k of sizes) {
  const hosts = await startGroup(k);
  const ars = hosts.map(
    (host) => new AllReduce({ host, logger, codec: () => createCodec(codecName), deadlineMs: 60_000 }),
  );
  for (const a of ars) await a.start();
  const members = hosts.map((h) => h.peerId);
  const vs = hosts.map((_, i) => vec(size, i + 1));
  const exact = new Float64Array(size);
  for (const v of vs) for (let i = 0; i < size; i++) exact[i] += v[i] / k;
  const bytesPerElement = createCodec(codecName).encode(vs[0]).byteLength / size;
  const theoretical = (2 * size * (k - 1) * bytesPerElement) / k;
  const secs: number[] = [];
  let sentMean = 0;
  let sentMax = 0;
  let maxAbsError = 0;
  for (let r = 1; r <= rounds; r++) {
    const reports = await Promise.all(ars.map((a, i) => a.run(r, vs[i], members)));
    if (!reports.every((x) => x.ok)) throw new Error(`round failed: ${reports.find((x) => !x.ok)?.reason}`);
    secs.push(Math.max(...reports.map((x) => x.seconds)));
    // A holder may still be finishing its last write when a requester's round returns: let the
    // writes settle, then read each peer's final count for the round.
    await new Promise((res) => setTimeout(res, 100));
    const sent = ars.map((a) => a.traffic(r)?.sent ?? 0);
    sentMean = sent.reduce((s, x) => s + x, 0) / k;
    sentMax = Math.max(...sent);
    maxAbsError = 0;
    const res = reports[0].result!;
    for (let i = 0; i < size; i++) maxAbsError = Math.max(maxAbsError, Math.abs(res[i] - exact[i]));
  }
  const naive = k <= Number(o.naiveMaxPeers) ? await naiveRound(hosts, vs) : undefined;
  const run = {
    peers: k,
    size,
    codec: codecName,
    bytesPerElement,
    bytesSentPerPeer: Math.round(sentMean),
    bytesSentPerPeerMax: sentMax,
    theoreticalBytesPerPeer: Math.round(theoretical),
    ratioToTheoretical: sentMean / theoretical,
    naiveAllToAllBytesPerPeer: naive
      ? Math.round(naive.bytesPerPeer)
      : Math.round(size * bytesPerElement * (k - 1)),
    naiveMeasured: naive !== undefined,
    ratioToNaive: sentMean / (naive ? naive.bytesPerPeer : size * bytesPerElement * (k - 1)),
    seconds: median(secs),
    naiveSeconds: naive?.seconds,
    maxAbsError,
  };
  runs.push(run);
  console.log(JSON.stringify(run));
  for (const a of ars) await a.stop();
  await Promise.all(hosts.map((h) => h.stop()));
}

const out = {
  bench: 'allreduce',
  date: new Date().toISOString(),
  note: 'in-process libp2p hosts on 127.0.0.1, 2 shared cores: bytes are exact, seconds are CPU-bound',
  runs,
};
if (o.json) writeFileSync(o.json, `${JSON.stringify(out, null, 2)}\n`);
