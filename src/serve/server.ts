/**
 * `agora serve`'s HTTP server (fastify): classifiers on ONNX Runtime behind x402 v2 payments.
 *
 *   GET  /openapi.json              the OpenAPI document
 *   GET  /v1/models                 models, input formats, prices, payment schemes
 *   POST /v1/models/:id/predict     { input: number[] | number[][] } → predictions
 *   GET  /health
 *
 * The input is checked before anything is charged (bad input costs nothing and gets a 4xx that
 * says what is wrong); the payment is made durable before the model runs.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { AgoraError, isAgoraError } from '../errors.ts';
import { BatchingClassifier } from './classifier.ts';
import type { ServedModel } from './model.ts';
import { openApiDocument } from './openapi.ts';
import { type PaymentScheme, type PriceContext, schemeMismatch } from './payment.ts';
import {
  decodePaymentPayload,
  encodeHeader,
  HEADER_REQUIRED,
  HEADER_RESPONSE,
  HEADER_SIGNATURE,
  type PaymentRequired,
  X402_VERSION,
} from './x402.ts';

export type ServerOptions = {
  models: readonly ServedModel[];
  /** Price of one input row in token base units; 0 or omitted = free. */
  unitPrice?: bigint;
  /** Accepted payment schemes (needed when unitPrice > 0), in order of preference. */
  schemes?: readonly PaymentScheme[];
  /** Most input rows in one request (default 64). */
  maxRows?: number;
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Rows per ONNX Runtime run (default 256). */
  maxBatchRows?: number;
  /** Intra-op threads per model session (default 1). */
  threads?: number;
  logger?: boolean;
  /** A signed announcement of this server's models, served at /v1/announcement. */
  announce?: (endpoint: string) => Promise<unknown>;
};

export type ModelServer = {
  app: FastifyInstance;
  classifiers: Map<string, BatchingClassifier>;
  listen(opts: { host?: string; port?: number }): Promise<string>;
  close(): Promise<void>;
};

function errorBody(e: AgoraError) {
  return { error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } };
}

/** Parses `input` into rows × inputSize floats; throws SERVE_BAD_INPUT saying what is wrong. */
export function parseInput(
  body: unknown,
  model: ServedModel,
  maxRows: number,
): { x: Float32Array; rows: number } {
  const bad = (message: string): never => {
    throw new AgoraError('SERVE_BAD_INPUT', message, {
      hint: `send {"input": [${model.inputSize} numbers]} or {"input": [[...], ...]} (up to ${maxRows} rows); ${model.id}: ${model.inputDescription}`,
    });
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return bad('the body must be a JSON object');
  const input = (body as { input?: unknown }).input;
  if (!Array.isArray(input)) return bad('"input" is missing or not an array');
  const n = model.inputSize;
  const rowsOf: unknown[] = input.length > 0 && Array.isArray(input[0]) ? input : [input];
  if (rowsOf.length === 0) return bad('"input" has no rows');
  if (rowsOf.length > maxRows)
    return bad(`"input" has ${rowsOf.length} rows; at most ${maxRows} per request`);
  const x = new Float32Array(rowsOf.length * n);
  for (let r = 0; r < rowsOf.length; r++) {
    const row = rowsOf[r];
    if (!Array.isArray(row)) return bad(`input row ${r} is not an array`);
    if (row.length !== n) return bad(`input row ${r} has ${row.length} values; model ${model.id} takes ${n}`);
    for (let i = 0; i < n; i++) {
      const v = row[i];
      if (typeof v !== 'number' || !Number.isFinite(v))
        return bad(`input row ${r} value ${i} is not a finite number`);
      x[r * n + i] = v;
    }
  }
  return { x, rows: rowsOf.length };
}

export async function createModelServer(opts: ServerOptions): Promise<ModelServer> {
  const maxRows = opts.maxRows ?? 64;
  const unitPrice = opts.unitPrice ?? 0n;
  const schemes = opts.schemes ?? [];
  if (unitPrice > 0n && schemes.length === 0) {
    throw new AgoraError('SERVE_NO_SCHEME', 'a price is set but no payment scheme is configured', {
      hint: 'configure the channel scheme (a wallet and the PaymentChannels deployment), or serve for free',
    });
  }
  const byId = new Map<string, ServedModel>();
  for (const m of opts.models) {
    if (byId.has(m.id)) {
      throw new AgoraError('SERVE_DUPLICATE_MODEL', `two models have id ${m.id}`, {
        hint: 'serve each job once',
      });
    }
    byId.set(m.id, m);
  }
  const classifiers = new Map<string, BatchingClassifier>();
  for (const m of opts.models) {
    classifiers.set(
      m.id,
      await BatchingClassifier.create(m, { threads: opts.threads, maxBatchRows: opts.maxBatchRows }),
    );
  }

  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: opts.bodyLimit ?? 1 << 20,
    // Bodies are read (`input`), never merged into objects, so a "__proto__" key is just an ignored
    // own property of JSON.parse's result: skip the two regex scans of every body (a few % of a request).
    onProtoPoisoning: 'ignore',
    onConstructorPoisoning: 'ignore',
  });
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (isAgoraError(err)) {
      reply.code(400).send(errorBody(err));
      return;
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    const code =
      status === 413
        ? 'SERVE_BODY_TOO_LARGE'
        : status === 415
          ? 'SERVE_BAD_CONTENT_TYPE'
          : status < 500
            ? 'SERVE_BAD_REQUEST'
            : 'SERVE_INTERNAL';
    const hint =
      status === 413
        ? `send at most ${opts.bodyLimit ?? 1 << 20} bytes (${maxRows} rows per request)`
        : status === 415
          ? 'send Content-Type: application/json'
          : status < 500
            ? 'send a JSON body {"input": [...]}'
            : 'report this with the request that caused it';
    reply
      .code(status)
      .send({ error: { code, message: status < 500 ? err.message : 'internal error', hint } });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({
      error: {
        code: 'SERVE_NOT_FOUND',
        message: `no route ${req.method} ${req.url}`,
        hint: 'see /openapi.json',
      },
    });
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header(
      'Access-Control-Expose-Headers',
      `${HEADER_REQUIRED}, ${HEADER_RESPONSE}, X-Agora-Model-Hash, X-Agora-Job-Id`,
    );
    return payload;
  });

  const schemeNames = schemes.map((s) => s.scheme);
  const describeModel = (m: ServedModel) => ({
    id: m.id,
    jobId: m.jobId,
    modelHash: m.modelHash,
    task: m.task,
    kind: m.kind,
    input: { size: m.inputSize, description: m.inputDescription },
    classes: m.classes,
    provenance: m.manifest
      ? {
          chainId: m.manifest.chainId,
          trainingLedger: m.manifest.trainingLedger,
          rounds: m.manifest.rounds.length,
          datasets: m.manifest.datasets,
        }
      : null,
    price: unitPrice > 0n ? { perRow: unitPrice.toString(), schemes: schemeNames } : null,
  });

  app.get('/health', async () => ({ ok: true, models: opts.models.length }));
  let announcement: Promise<unknown> | undefined;
  app.get('/v1/announcement', async (req, reply) => {
    if (!opts.announce) {
      reply.code(404).send({
        error: {
          code: 'SERVE_NO_ANNOUNCEMENT',
          message: 'this server does not announce its models',
          hint: 'it is free: see /v1/models',
        },
      });
      return reply;
    }
    announcement ??= opts.announce(`${req.protocol}://${req.host}`);
    return announcement;
  });
  app.get('/openapi.json', async () =>
    openApiDocument({
      models: opts.models,
      paid: unitPrice > 0n,
      maxRows,
      unitPrice: unitPrice.toString(),
      schemes: schemeNames,
    }),
  );
  app.get('/v1/models', async () => ({
    models: opts.models.map(describeModel),
    payment:
      unitPrice > 0n
        ? {
            x402Version: X402_VERSION,
            accepts: schemes.map((s) =>
              s.requirement({ price: unitPrice, unitPrice, modelHash: '', jobId: null }),
            ),
          }
        : null,
  }));

  const paymentRequired = (
    req: FastifyRequest,
    reply: FastifyReply,
    ctx: PriceContext,
    error: AgoraError,
  ) => {
    const doc: PaymentRequired = {
      x402Version: X402_VERSION,
      error: `${error.code}: ${error.message}`,
      resource: {
        url: `${req.protocol}://${req.host}${req.url}`,
        description: `prediction by model ${ctx.modelHash}`,
        mimeType: 'application/json',
      },
      accepts: schemes.map((s) => s.requirement(ctx)),
    };
    reply.code(402).header(HEADER_REQUIRED, encodeHeader(doc)).send(errorBody(error));
  };

  app.post<{ Params: { id: string } }>('/v1/models/:id/predict', async (req, reply) => {
    const m = byId.get(req.params.id);
    if (!m) {
      reply.code(404).send(
        errorBody(
          new AgoraError('SERVE_NO_SUCH_MODEL', `no model ${req.params.id} here`, {
            hint: `models: ${[...byId.keys()].join(', ')}`,
          }),
        ),
      );
      return reply;
    }
    let parsed: { x: Float32Array; rows: number };
    try {
      parsed = parseInput(req.body, m, maxRows);
    } catch (e) {
      reply.code(400).send(errorBody(e as AgoraError));
      return reply;
    }
    if (unitPrice > 0n) {
      const ctx: PriceContext = {
        price: unitPrice * BigInt(parsed.rows),
        unitPrice,
        modelHash: m.modelHash,
        jobId: m.jobId,
      };
      const header = req.headers[HEADER_SIGNATURE.toLowerCase()];
      if (typeof header !== 'string' || header === '') {
        paymentRequired(
          req,
          reply,
          ctx,
          new AgoraError('X402_PAYMENT_REQUIRED', `this prediction costs ${ctx.price} base units`, {
            hint: `retry with a ${HEADER_SIGNATURE} header`,
          }),
        );
        return reply;
      }
      try {
        const payload = decodePaymentPayload(header);
        const scheme = schemes.find((s) => s.scheme === payload.accepted.scheme);
        if (!scheme) throw schemeMismatch(payload.accepted.scheme, schemeNames);
        const settled = await scheme.pay(payload, ctx);
        reply.header(HEADER_RESPONSE, encodeHeader(settled));
      } catch (e) {
        if (!isAgoraError(e)) throw e;
        paymentRequired(req, reply, ctx, e);
        return reply;
      }
    }
    const predictions = await classifiers.get(m.id)!.predict(parsed.x, parsed.rows);
    reply.header('X-Agora-Model-Hash', m.modelHash).header('X-Agora-Job-Id', m.jobId ?? '');
    return { model: m.id, jobId: m.jobId, modelHash: m.modelHash, predictions };
  });

  return {
    app,
    classifiers,
    async listen({ host = '127.0.0.1', port = 0 }) {
      return app.listen({ host, port });
    },
    async close() {
      await app.close();
      for (const c of classifiers.values()) await c.close();
    },
  };
}
