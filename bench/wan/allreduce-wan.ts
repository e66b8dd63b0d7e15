/**
 * All-reduce over an emulated WAN (Linux network namespaces, veth + tc; needs root and iproute2):
 * each peer is its own process in its own namespace, shaped to `--rate` each way, with `--delay` ms
 * one-way latency between peers (netem, or bench/wan/delayline.c where the kernel has no netem).
 * Reports seconds per round against the line-rate lower bound bytesPerPeer·8/rate.
 *
 *   npm run bench:allreduce:wan -- --peers 4,8 --size 4000000 --rate 100 --delay 50 --json bench/results/allreduce-wan.json
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';

const NETNS = fileURLToPath(new URL('./netns.sh', import.meta.url));
const PEER = fileURLToPath(new URL('../../test/net/peer-process.ts', import.meta.url));

const o = new Command()
  .option('--peers <list>', 'group sizes', '4,8')
  .option('--size <n>', 'vector elements', '4000000')
  .option('--rate <mbit>', 'per-peer rate each way, Mbit/s', '100')
  .option('--delay <ms>', 'one-way delay between peers, ms (0: none)', '50')
  .option('--codec <name>', 'codec', 'fp32')
  .option('--rounds <n>', 'rounds (median reported)', '3')
  .option(
    '--pause <ms>',
    'idle time between rounds (as training would leave; TCP restarts slow start after ~1 RTO idle)',
    '0',
  )
  .option('--json <file>', 'write results here')
  .parse(process.argv.filter((a) => a !== '--'))
  .opts<{
    peers: string;
    size: string;
    rate: string;
    delay: string;
    codec: string;
    rounds: string;
    pause: string;
    json?: string;
  }>();

type Msg = { type: string; [k: string]: unknown };
function next(p: ChildProcess, type: string, timeoutMs = 600_000): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${type}`)), timeoutMs);
    const on = (m: Msg) => {
      if (m.type !== type && m.type !== 'error') return;
      clearTimeout(t);
      p.off('message', on);
      if (m.type === 'error') reject(new Error(String(m.message)));
      else resolve(m);
    };
    p.on('message', on);
  });
}

const runs: Record<string, unknown>[] = [];
let netem = false;
let delayMode = 'none';
for (const k of o.peers.split(',').map(Number)) {
  execFileSync(NETNS, ['down', String(k)]);
  const up = execFileSync(NETNS, ['up', String(k), `${o.rate}mbit`], {
    env: { ...process.env, DELAY: `${o.delay}ms` },
  }).toString();
  netem = up.includes('netem=1');
  delayMode = /\((netem|delayline|none)\)/.exec(up)?.[1] ?? 'unknown';
  const procs: ChildProcess[] = [];
  try {
    const keys = Array.from({ length: k }, () => generatePrivateKey());
    const participants = JSON.stringify(keys.map((x) => privateKeyToAccount(x).address));
    for (let i = 0; i < k; i++) {
      procs.push(
        spawn('ip', ['netns', 'exec', `agns${i}`, process.execPath, PEER], {
          env: {
            ...process.env,
            AGORA_TEST_KEY: keys[i],
            AGORA_TEST_PARTICIPANTS: participants,
            AGORA_TEST_LISTEN: `/ip4/10.77.0.${i + 1}/tcp/0`,
            AGORA_TEST_CODEC: o.codec,
            AGORA_TEST_DEADLINE_MS: '120000',
          },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        }),
      );
    }
    const ready = await Promise.all(procs.map((p) => next(p, 'ready', 60_000)));
    const addrs = ready.map((r) => String(r.addr));
    const members = ready.map((r) => String(r.peerId));
    for (const p of procs) p.send({ type: 'connect', addrs, expect: k - 1 });
    await Promise.all(procs.map((p) => next(p, 'connected', 60_000)));
    const secs: number[] = [];
    let bytes = 0;
    for (let r = 1; r <= Number(o.rounds); r++) {
      if (r > 1 && Number(o.pause) > 0) await new Promise((res) => setTimeout(res, Number(o.pause)));
      const reports = procs.map((p) => next(p, 'report'));
      procs.forEach((p, i) => {
        p.send({ type: 'round', round: r, members, length: Number(o.size), seed: r * 1000 + i });
      });
      const rep = (await Promise.all(reports)).map(
        (m) =>
          m.report as {
            ok: boolean;
            seconds: number;
            bytesReceived: number;
            phases: { scatter: number; commit: number; gather: number };
          },
      );
      if (!rep.every((x) => x.ok)) throw new Error('round failed');
      secs.push(Math.max(...rep.map((x) => x.seconds)));
      const slowest = rep.reduce((a, b) => (b.seconds > a.seconds ? b : a));
      console.log(
        `round ${r}: ${rep.map((x) => x.seconds.toFixed(3)).join(' ')} s; slowest peer phases ${JSON.stringify(slowest.phases)}`,
      );
      // Mean bytes received: complete when each peer's round returns (a peer may still be serving
      // shards after its own round returned, so its bytesSent snapshot can be short); across the
      // group, bytes received = bytes sent.
      bytes = rep.reduce((s, x) => s + x.bytesReceived, 0) / k;
    }
    const inOrder = [...secs];
    secs.sort((a, b) => a - b);
    const seconds = secs[Math.floor(secs.length / 2)];
    const lineRate = (bytes * 8) / (Number(o.rate) * 1e6);
    const run = {
      peers: k,
      size: Number(o.size),
      codec: o.codec,
      rateMbit: Number(o.rate),
      netem,
      oneWayDelayMs: Number(o.delay),
      pauseMs: Number(o.pause),
      roundSeconds: inOrder,
      delayMode,
      bytesPerPeer: Math.round(bytes),
      seconds,
      lineRateSeconds: lineRate,
      ratioToLineRate: seconds / lineRate,
    };
    runs.push(run);
    console.log(JSON.stringify(run));
    for (const p of procs) p.send({ type: 'stop' });
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    execFileSync(NETNS, ['down', String(k)]);
  }
}
if (o.json) {
  writeFileSync(
    o.json,
    `${JSON.stringify({ bench: 'allreduce-wan', date: new Date().toISOString(), netem, delayMode, runs }, null, 2)}\n`,
  );
}
