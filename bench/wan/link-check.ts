/**
 * Checks the emulated WAN of bench/wan/netns.sh from the application's side (root): TCP echo
 * round-trip time and bulk TCP throughput between peer namespaces, each end its own process in
 * its own namespace, on the namespaces' own addresses.
 *
 *   node bench/wan/link-check.ts [--peers 4] [--rate 100] [--mbytes 25] [--json FILE]
 *
 * Measures: (1) RTT, median of 20 one-byte echoes peer 0 → peer 1 (TCP_NODELAY); (2) one flow
 * peer 0 → peer 1: MB/s from the first byte sent to the receiver's ack of the last; (3) every peer
 * i sends to peer i+1 at once (each upload and download carries one flow). Also exported:
 * `linkCheck()` for bench/wan/train-wan.ts, which records the same numbers next to its results.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const SELF = fileURLToPath(import.meta.url);
const NETNS = fileURLToPath(new URL('./netns.sh', import.meta.url));
const PORT = 7799;

export type LinkCheck = {
  rttMs: number;
  rttMsAll: number[];
  singleFlowMbit: number;
  concurrentFlowsMbit: number[];
  mbytes: number;
};

// ---- child roles (run inside a namespace) ----
async function serve(): Promise<void> {
  // echo mode: the first byte 'E' echoes everything back; 'B' + 8-byte length: bulk sink that
  // answers one byte once it has received that many bytes.
  const server = createServer((s: Socket) => {
    s.setNoDelay(true);
    let mode = '';
    let want = -1;
    let got = 0;
    let head = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      if (mode === '') {
        mode = String.fromCharCode(d[0]);
        d = d.subarray(1);
      }
      if (mode === 'E') {
        s.write(d);
        return;
      }
      if (want < 0) {
        head = Buffer.concat([head, d]);
        if (head.length < 8) return;
        want = Number(head.readBigUInt64BE(0));
        d = head.subarray(8);
      }
      got += d.length;
      if (got >= want) s.end(Buffer.from([1]));
    });
    s.on('error', () => {});
  });
  server.listen(PORT, process.env.WAN_ADDR, () => process.send?.({ type: 'ready' }));
}

function connect(host: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host, port: PORT }, () => resolve(s));
    s.once('error', reject);
    s.setNoDelay(true);
  });
}

async function echo(host: string, n: number): Promise<number[]> {
  const s = await connect(host);
  s.write('E');
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await new Promise<void>((r) => {
      s.once('data', () => r());
      s.write('x');
    });
    out.push(performance.now() - t);
  }
  s.destroy();
  return out;
}

async function bulk(host: string, bytes: number): Promise<number> {
  const s = await connect(host);
  const t = performance.now();
  const h = Buffer.alloc(9);
  h.write('B', 0);
  h.writeBigUInt64BE(BigInt(bytes), 1);
  s.write(h);
  const chunk = Buffer.alloc(1 << 16, 7);
  const done = new Promise<void>((r) => s.once('data', () => r()));
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    const c = sent + chunk.length <= bytes ? chunk : chunk.subarray(0, bytes - sent);
    if (!s.write(c)) await new Promise((r) => s.once('drain', r));
  }
  await done;
  const secs = (performance.now() - t) / 1000;
  s.destroy();
  return (bytes * 8) / secs / 1e6;
}

async function client(): Promise<void> {
  const host = String(process.env.WAN_TARGET);
  process.on('message', async (m: { type: string; bytes?: number }) => {
    if (m.type === 'echo') process.send?.({ type: 'echo', ms: await echo(host, 20) });
    if (m.type === 'bulk') process.send?.({ type: 'bulk', mbit: await bulk(host, Number(m.bytes)) });
    if (m.type === 'stop') process.exit(0);
  });
  process.send?.({ type: 'ready' });
}

// ---- orchestrator (root namespace) ----
type Msg = { type: string; [k: string]: unknown };
function next(p: ChildProcess, type: string): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`link-check: timeout waiting for ${type}`)), 120_000);
    const on = (m: Msg) => {
      if (m.type !== type) return;
      clearTimeout(t);
      p.off('message', on);
      resolve(m);
    };
    p.on('message', on);
  });
}

const addr = (i: number) => `10.77.0.${i + 1}`;
function inNs(i: number, role: string, env: Record<string, string>): ChildProcess {
  return spawn('ip', ['netns', 'exec', `agns${i}`, process.execPath, SELF, '--role', role], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** Runs the checks on namespaces agns0..agns{peers-1}, which must be up. */
export async function linkCheck(peers: number, mbytes = 25): Promise<LinkCheck> {
  const servers = Array.from({ length: peers }, (_, i) => inNs(i, 'server', { WAN_ADDR: addr(i) }));
  const clients: ChildProcess[] = [];
  try {
    await Promise.all(servers.map((s) => next(s, 'ready')));
    for (let i = 0; i < peers; i++) clients.push(inNs(i, 'client', { WAN_TARGET: addr((i + 1) % peers) }));
    await Promise.all(clients.map((c) => next(c, 'ready')));
    const e = next(clients[0], 'echo');
    clients[0].send({ type: 'echo' });
    const rttMsAll = ((await e).ms as number[]).map((x) => Math.round(x * 1000) / 1000);
    const sorted = [...rttMsAll].sort((a, b) => a - b);
    const bytes = Math.round(mbytes * 1e6);
    const b = next(clients[0], 'bulk');
    clients[0].send({ type: 'bulk', bytes });
    const singleFlowMbit = (await b).mbit as number;
    const all = clients.map((c) => next(c, 'bulk'));
    for (const c of clients) c.send({ type: 'bulk', bytes });
    const concurrentFlowsMbit = (await Promise.all(all)).map((m) => m.mbit as number);
    return {
      rttMs: sorted[Math.floor(sorted.length / 2)],
      rttMsAll,
      singleFlowMbit,
      concurrentFlowsMbit,
      mbytes,
    };
  } finally {
    for (const p of [...clients, ...servers]) if (p.exitCode === null) p.kill('SIGKILL');
  }
}

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    peers: { type: 'string', default: '4' },
    rate: { type: 'string', default: '100' },
    mbytes: { type: 'string', default: '25' },
    json: { type: 'string' },
  },
  args: process.argv.slice(2).filter((a) => a !== '--'),
  strict: false,
});
if (values.role === 'server') await serve();
else if (values.role === 'client') await client();
else if (process.argv[1] === SELF) {
  const k = Number(values.peers);
  execFileSync(NETNS, ['down', String(k)]);
  console.log(
    execFileSync(NETNS, ['up', String(k), `${values.rate}mbit`])
      .toString()
      .trim(),
  );
  try {
    const r = await linkCheck(k, Number(values.mbytes));
    console.log(JSON.stringify(r));
    if (values.json) writeFileSync(String(values.json), `${JSON.stringify(r, null, 2)}\n`);
  } finally {
    execFileSync(NETNS, ['down', String(k)]);
  }
}
