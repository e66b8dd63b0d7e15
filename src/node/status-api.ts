/**
 * The node's HTTP status API (fastify), bound to 127.0.0.1 unless told otherwise. Read-only:
 * `GET /health` and `GET /status` (whatever the node's status provider returns, as JSON), plus any
 * routes the node adds (`routes`: the dashboard, src/dashboard/server.ts).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { httpClientErrorHandler } from '../net/http-client-error.ts';
import type { Startable } from './startable.ts';

/** A request Node's HTTP parser refuses: the dashboard's error form (src/net/http-client-error.ts). */
const CLIENT_ERROR_CODES = {
  'headers-too-large': 'HEADERS_TOO_LARGE',
  timeout: 'TIMEOUT',
  'bad-request': 'BAD_REQUEST',
};
const clientError = httpClientErrorHandler((kind, reason) => ({
  error: reason,
  code: CLIENT_ERROR_CODES[kind],
  hint: 'send a well-formed request with small headers',
}));

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
