/**
 * The dashboard's HTTP routes, added to a node's status server (fastify): the built page
 * (`web/dist/`, with the current snapshot in it), `GET /api/state` (a snapshot), `GET /api/stream` (server-sent events: the
 * snapshot, then one `patch` event per change, with only the changed entries) and
 * `GET /api/datasets/:id/records/:index` (a record's bytes and inclusion proof, which the page
 * checks itself against the dataset's root on chain).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Address } from 'viem';
import type { ChainConnection } from '../chain/connect.ts';
import { proveRecord } from '../data/dataset.ts';
import { recordBytes, type SourceOptions } from '../data/records.ts';
import { datasetDir, type SourceInfo } from '../data/store.ts';
import { AgoraError, isAgoraError } from '../errors.ts';
import type { DashboardHub } from './hub.ts';
import type { RecordProofView } from './types.ts';

/** Where `npm run build:dashboard` writes the page (committed; see docs/dashboard.md). */
export const DASHBOARD_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

export type DashboardRoutesOptions = {
  hub: DashboardHub;
  conn: ChainConnection;
  registry?: Address;
  /** The home whose datasets' records can be proven. */
  home: string;
  /** Default: `web/dist/` of this checkout. */
  distDir?: string;
  /** Heartbeat comment on idle streams (default 15 s). */
  heartbeatMs?: number;
  /** Per-process token for value-moving requests (query-routes.ts), served inside the page. */
  token?: string;
};

export function registerDashboardRoutes(app: FastifyInstance, o: DashboardRoutesOptions): void {
  const dist = o.distDir ?? DASHBOARD_DIST;
  const sendFile = (reply: FastifyReply, rel: string) => {
    const path = join(dist, rel);
    // (a directory, e.g. `/assets/.`, is not a file: reading it threw EISDIR, a 500)
    if (!path.startsWith(dist) || !existsSync(path) || !statSync(path).isFile()) {
      return reply.code(404).send({ error: 'not found' });
    }
    return reply
      .header('content-type', TYPES[extname(path)] ?? 'application/octet-stream')
      .header('cache-control', 'no-cache')
      .send(readFileSync(path));
  };
  app.get('/', (_req, reply) => {
    if (!existsSync(join(dist, 'index.html'))) {
      return reply
        .code(503)
        .send({ error: 'the dashboard is not built', hint: 'run `npm run build:dashboard`' });
    }
    // the current snapshot goes into the page, so that its first render needs no second request
    const html = readFileSync(join(dist, 'index.html'), 'utf8');
    const snapshot = JSON.stringify(o.hub.snapshot()).replace(/</g, '\\u003c');
    const token = o.token ? `;window.__AGORA_TOKEN__=${JSON.stringify(o.token)}` : '';
    return reply
      .header('content-type', TYPES['.html'])
      .header('cache-control', 'no-store')
      .send(html.replace('</head>', `<script>window.__AGORA__=${snapshot}${token}</script></head>`));
  });
  app.get<{ Params: { file: string } }>('/assets/:file', (req, reply) => {
    if (!/^[\w.-]+$/.test(req.params.file)) return reply.code(404).send({ error: 'not found' });
    return sendFile(reply, join('assets', req.params.file));
  });
  app.get('/api/state', async () => o.hub.snapshot());

  const open = new Set<ServerResponse>();
  app.addHook('onClose', async () => {
    for (const res of open) res.end();
  });
  app.get('/api/stream', (req, reply) => {
    // A HEAD (fastify answers HEAD on every GET route) gets the headers only: a hijacked stream
    // without a body never ended, the client waited forever and the server could not close.
    if (req.method === 'HEAD') {
      return reply
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache, no-transform')
        .send();
    }
    reply.hijack();
    const res = reply.raw;
    open.add(res);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const send = (event: string, data: unknown) => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    send('snapshot', o.hub.snapshot());
    const unsubscribe = o.hub.subscribe((patch) => send('patch', patch));
    const beat = setInterval(() => res.write(': beat\n\n'), o.heartbeatMs ?? 15_000);
    beat.unref();
    req.raw.on('close', () => {
      open.delete(res);
      clearInterval(beat);
      unsubscribe();
    });
  });

  app.get<{ Params: { id: string; index: string } }>(
    '/api/datasets/:id/records/:index',
    async (req, reply) => {
      try {
        if (!/^\d+$/.test(req.params.id) || !/^\d+$/.test(req.params.index)) {
          throw new AgoraError('BAD_REQUEST', 'the dataset id and record index must be whole numbers');
        }
        if (!o.registry)
          throw new AgoraError('NO_REGISTRY', 'this node has no DataRegistry in its deployment');
        const proof = await proveRecord({
          conn: o.conn,
          registry: o.registry,
          home: o.home,
          datasetId: BigInt(req.params.id),
          index: Number(req.params.index),
        });
        const sourcePath = join(datasetDir(o.home, proof.root), 'source.json');
        const source = JSON.parse(readFileSync(sourcePath, 'utf8')) as SourceInfo;
        const bytes = recordBytes(source.path, proof.index, {
          format: source.format as SourceOptions['format'],
          ...(source.chunkBytes ? { chunkBytes: source.chunkBytes } : {}),
        });
        const view: RecordProofView = {
          datasetId: proof.datasetId,
          index: proof.index,
          root: proof.root,
          record: Buffer.from(bytes).toString('hex'),
          contentHash: proof.contentHash,
          proof: proof.proof,
          format: source.format,
        };
        return view;
      } catch (e) {
        const known = isAgoraError(e);
        return reply.code(known ? 400 : 500).send({
          error: (e as Error).message,
          code: known ? e.code : 'INTERNAL',
          ...(known && e.hint ? { hint: e.hint } : {}),
        });
      }
    },
  );
}
