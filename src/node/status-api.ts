/**
 * The node's HTTP status API (fastify), bound to 127.0.0.1 unless told otherwise. Read-only:
 * `GET /health` and `GET /status` (whatever the node's status provider returns, as JSON), plus any
 * routes the node adds (`routes`: the dashboard, src/dashboard/server.ts).
 */
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Startable } from './startable.ts';

/**
 * A request Node's HTTP parser refuses (headers over 16 KiB, malformed HTTP, a timeout): a JSON
 * error with a code and `Connection: close`, no body to a HEAD. Fastify's default 431 said neither,
 * so a keep-alive client sent its next request on the closed socket and lost it, and a HEAD's body
 * broke the client's parser (as agora serve's, fuzz finding 12; here found on the dashboard).
 */
function clientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, code] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'HEADERS_TOO_LARGE']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'TIMEOUT']
        : [400, 'Bad Request', 'BAD_REQUEST'];
  const body = JSON.stringify({ error: reason, code, hint: 'send a well-formed request with small headers' });
  const raw = (err as { rawPacket?: unknown }).rawPacket;
  const head = Buffer.isBuffer(raw) && raw.subarray(0, 5).toString('latin1') === 'HEAD ';
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${head ? '' : body}`,
    );
  }
  socket.destroy();
}

export type StatusApiOptions = {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  status: () => unknown | Promise<unknown>;
  /** More routes on the same server (registered before it listens). */
  routes?: (app: FastifyInstance) => void;
};

export class StatusApi implements Startable {
  readonly name = 'status-api';
  readonly #opts: StatusApiOptions;
  #app?: FastifyInstance;
  url?: string;

  constructor(opts: StatusApiOptions) {
    this.#opts = opts;
  }

  async start(): Promise<void> {
    const app = Fastify({ logger: false, bodyLimit: 64 * 1024, clientErrorHandler: clientError });
    app.get('/health', async () => ({ ok: true }));
    app.get('/status', async () => {
      const s = await this.#opts.status();
      return JSON.parse(JSON.stringify(s, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
    });
    this.#opts.routes?.(app);
    const host = this.#opts.host ?? '127.0.0.1';
    const address = await app.listen({ host, port: this.#opts.port ?? 0 });
    this.#app = app;
    this.url = address;
  }

  async stop(): Promise<void> {
    await this.#app?.close();
    this.#app = undefined;
  }
}
