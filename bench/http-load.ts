/**
 * A lean HTTP/1.1 load generator for the serving benchmark: C keep-alive connections on raw sockets,
 * each sending one request at a time (no pipelining) and reading the answer's status and
 * Content-Length body. It spends far less CPU per request than `node:http`, so on a 2-core machine
 * the clock measures the server rather than the clients.
 */
import { connect, type Socket } from 'node:net';

export type LoadResult = {
  ok: number;
  failed: number;
  latencies: number[];
  seconds: number;
  statuses: Map<number, number>;
  /** Requests answered per connection. */
  sentPerClient: number[];
};

/** One keep-alive connection: send a request, resolve with the status once its body is read. */
class Conn {
  readonly #socket: Socket;
  #buf: Buffer = Buffer.alloc(0);
  #want = -1;
  #status = 0;
  #resolve?: (status: number) => void;
  #reject?: (e: Error) => void;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.#onData(d));
    socket.on('error', (e) => this.#reject?.(e));
    socket.on('close', () => this.#reject?.(new Error('connection closed')));
  }

  static open(host: string, port: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port }, () => resolve(new Conn(s)));
      s.once('error', reject);
    });
  }

  request(bytes: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      this.#socket.write(bytes);
    });
  }

  #onData(d: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
    if (this.#want < 0) {
      const end = this.#buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.#buf.subarray(0, end).toString('latin1');
      this.#status = Number(head.slice(9, 12));
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!m) throw new Error(`answer without content-length: ${head.slice(0, 200)}`);
      this.#want = end + 4 + Number(m[1]);
    }
    if (this.#buf.length < this.#want) return;
    if (this.#buf.length > this.#want) throw new Error('unexpected bytes after an answer');
    this.#buf = Buffer.alloc(0);
    this.#want = -1;
    const r = this.#resolve!;
    this.#resolve = this.#reject = undefined;
    r(this.#status);
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** The bytes of a POST of a JSON body with extra headers. */
export function postBytes(url: URL, body: string, headers: Record<string, string> = {}): Buffer {
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return Buffer.from(
    `POST ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`,
    'latin1',
  );
}

/**
 * `clients` connections, each sending requests back to back for `seconds`, or until `requestOf`
 * returns null for it. `requestOf(c, i)` gives the bytes of connection c's i-th request.
 */
export async function runLoad(
  url: string,
  clients: number,
  seconds: number,
  requestOf: (c: number, i: number) => Buffer | null,
): Promise<LoadResult> {
  const u = new URL(url);
  const conns = await Promise.all(
    Array.from({ length: clients }, () => Conn.open(u.hostname, Number(u.port))),
  );
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  const sentPerClient = new Array<number>(clients).fill(0);
  let ok = 0;
  let failed = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    conns.map(async (conn, c) => {
      for (let i = 0; performance.now() < end; i++) {
        const bytes = requestOf(c, i);
        if (bytes === null) break;
        const s = performance.now();
        const status = await conn.request(bytes);
        latencies.push(performance.now() - s);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === 200) ok++;
        else failed++;
        sentPerClient[c] = i + 1;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  for (const c of conns) c.close();
  return { ok, failed, latencies, seconds: elapsed, statuses, sentPerClient };
}
