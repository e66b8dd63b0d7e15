/**
 * The dashboard's "query a model and pay" routes: the node buys a prediction from an `agora serve`
 * model with its own wallet, through the agent's `model.query` executor (src/agent/tools-query.ts:
 * the same plan in words, the same confirmation bound to the hash of the exact parameters, the same
 * `PayingClient`).
 *
 *   GET  /api/query/offers   the models the node knows of (announcements of known servers) and its wallet
 *   POST /api/query/plan     {model, input} → the plan: server, model hash, job, price, channel, balance after
 *   POST /api/query/buy      {model, input, hash} → runs the plan only if it still hashes to `hash`
 *
 * The POSTs move value, so a page on another site must not be able to make them: each needs the
 * per-process token served inside this node's page (`x-agora-token`), an `Origin` equal to the
 * page's own, and a loopback `Host` (or the interface the node binds), which a DNS-rebinding page
 * cannot send. Inputs are inline JSON only: the page cannot make the node read its files.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AgentEnv } from '../agent/env.ts';
import { act, type LoopDeps } from '../agent/loop.ts';
import { SpendLedger } from '../agent/spend-ledger.ts';
import { planCall } from '../agent/tools.ts';
import { AgoraError, isAgoraError } from '../errors.ts';
import { endpointSource, gatherOffers, knownEndpoints } from '../serve/model-offers.ts';

export type QueryRoutesOptions = {
  /** The node's wallet and chain; undefined: the node has no wallet to pay with. */
  env: AgentEnv | undefined;
  home: string;
  /** The per-process token the page carries. */
  token: string;
  /** The interface the server binds (its name is accepted as Host besides loopback names). */
  host?: string;
};

export const TOKEN_HEADER = 'x-agora-token';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

function hostname(host: string): string {
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
}

/** Why a value-moving request is refused (CSRF and DNS-rebinding checks), or undefined. */
export function refuseRequest(
  headers: Record<string, string | string[] | undefined>,
  token: string,
  boundHost?: string,
): string | undefined {
  const host = typeof headers.host === 'string' ? headers.host : '';
  const name = hostname(host).toLowerCase();
  if (!LOOPBACK.has(name) && name !== boundHost?.toLowerCase()) return `unexpected Host ${host || '(none)'}`;
  const origin = headers.origin;
  if (typeof origin !== 'string' || origin !== `http://${host}`)
    return `the request comes from ${typeof origin === 'string' ? origin : 'no origin'}, not from this dashboard`;
  const given = headers[TOKEN_HEADER];
  if (typeof given !== 'string') return 'the dashboard token is missing';
  // compared as bytes: 48 non-ASCII characters are 48 characters but more bytes, and
  // timingSafeEqual threw on buffers of different lengths (a 500)
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  if (a.length !== b.length) return 'the dashboard token is missing';
  if (!timingSafeEqual(a, b)) return 'the dashboard token is wrong';
  return undefined;
}

type Body = { model?: unknown; input?: unknown; hash?: unknown };

function args(body: unknown): { model: string; input: string } {
  const b = (body ?? {}) as Body;
  if (typeof b.model !== 'string' || b.model.trim() === '')
    throw new AgoraError('BAD_REQUEST', 'say which model: a server URL or a name', {
      hint: 'pick a model from the list or type its URL',
    });
  const input = typeof b.input === 'string' ? b.input.trim() : '';
  if (!input.startsWith('[') && !input.startsWith('{')) {
    throw new AgoraError('BAD_REQUEST', 'the input must be JSON: [numbers] or {"input": …}', {
      hint: 'paste JSON or choose an image file',
    });
  }
  return { model: b.model.trim(), input };
}

export function registerQueryRoutes(app: FastifyInstance, o: QueryRoutesOptions): void {
  const fail = (reply: FastifyReply, e: unknown) => {
    const known = isAgoraError(e);
    return reply.code(known ? 400 : 500).send({
      error: (e as Error).message,
      code: known ? e.code : 'INTERNAL',
      ...(known && e.hint ? { hint: e.hint } : {}),
    });
  };
  const guard = (req: FastifyRequest, reply: FastifyReply): AgentEnv | undefined => {
    const why = refuseRequest(req.headers, o.token, o.host);
    if (why) {
      reply.code(403).send({ error: `refused: ${why}`, code: 'FORBIDDEN' });
      return undefined;
    }
    if (!o.env) {
      reply.code(409).send({
        error: 'this node has no wallet to pay with',
        code: 'NO_WALLET',
        hint: 'start the node with a wallet',
      });
      return undefined;
    }
    return o.env;
  };

  app.get('/api/query/offers', async () => {
    const errors: string[] = [];
    const sources = [endpointSource(() => knownEndpoints(o.home), 3_000), ...(o.env?.modelSources ?? [])];
    const offers = await gatherOffers(sources, (where, e) =>
      errors.push(`${where}: ${(e as Error).message}`),
    );
    return {
      wallet: o.env?.address ?? null,
      offers: offers.map((x) => ({
        predictUrl: x.predictUrl,
        endpoint: x.endpoint,
        seller: x.seller,
        chainId: x.chainId,
        ...x.model,
      })),
      errors,
    };
  });

  app.post('/api/query/plan', async (req, reply) => {
    const env = guard(req, reply);
    if (!env) return reply;
    try {
      const plan = await planCall(env, { tool: 'model.query', args: args(req.body) });
      return {
        summary: plan.summary,
        lines: plan.lines,
        hash: plan.hash,
        price: plan.params.price,
        channel: plan.params.channel ?? null,
        deposit: plan.params.deposit ?? null,
      };
    } catch (e) {
      return fail(reply, e);
    }
  });

  app.post('/api/query/buy', async (req, reply) => {
    const env = guard(req, reply);
    if (!env) return reply;
    try {
      const a = args(req.body);
      const hash = (req.body as Body).hash;
      if (typeof hash !== 'string' || !/^0x[0-9a-f]{64}$/i.test(hash))
        throw new AgoraError('NOT_CONFIRMED', 'confirm the plan you were shown (its hash is missing)');
      const plan = await planCall(env, { tool: 'model.query', args: a });
      const deps: LoopDeps = { env, ledger: new SpendLedger(o.home), parse: () => ({ clarify: '' }) };
      // act() plans again and runs only if the plan still hashes to what the user confirmed.
      const result = await act(deps, plan, { hash: hash as `0x${string}`, by: 'user' });
      return { summary: result.summary, ...result.data };
    } catch (e) {
      return fail(reply, e);
    }
  });
}
