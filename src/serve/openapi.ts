/**
 * The OpenAPI 3.1 document of an `agora serve` instance (pure; served at /openapi.json): one path
 * per endpoint the served models have — predict for classifiers and regressors, generate and score
 * for language models — each with the ids of the models that answer on it.
 */
import { DEFAULT_MAX_PROMPT_BYTES, DEFAULT_MAX_TOKENS, type LmLimits } from './exported.ts';
import type { ServedModel } from './model.ts';

export type OpenApiInfo = {
  models: readonly ServedModel[];
  paid: boolean;
  maxRows: number;
  lm?: LmLimits;
  unitPrice?: string;
  schemes: readonly string[];
};

const ERROR = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, hint: { type: 'string' } },
    },
  },
};

const IDENTITY = {
  model: { type: 'string' },
  modelHash: { type: 'string', description: 'keccak256 of the checkpoint: the final model hash on chain' },
  jobId: { type: ['string', 'null'] },
};

/** A classifier's answer on the MLP fast path (`mnist-mlp`): class index and probabilities by index. */
const MLP_PREDICTION = {
  type: 'object',
  properties: {
    class: { type: 'integer' },
    probabilities: { type: 'array', items: { type: 'number' } },
  },
};
/** An exported classifier's or regressor's answer: `agora model predict`'s. */
const CLASS_PREDICTION = {
  type: 'object',
  properties: {
    label: { type: 'string' },
    classId: { type: 'integer' },
    probabilities: { type: 'object', additionalProperties: { type: 'number' } },
  },
};
const VALUE_PREDICTION = {
  type: 'object',
  properties: { value: { type: 'number', description: "in the label's own units" } },
};

type Endpoint = {
  summary: string;
  models: readonly ServedModel[];
  request: Record<string, unknown>;
  ok: { description: string; properties: Record<string, unknown>; required: string[] };
};

export function openApiDocument(info: OpenApiInfo): Record<string, unknown> {
  const maxPrompt = info.lm?.maxPromptBytes ?? DEFAULT_MAX_PROMPT_BYTES;
  const maxTokens = info.lm?.maxTokens ?? DEFAULT_MAX_TOKENS;
  const paymentHeaders = info.paid
    ? {
        'PAYMENT-RESPONSE': {
          description: 'base64 JSON (x402 v2 SettleResponse): what the server holds for this payment',
          schema: { type: 'string' },
        },
      }
    : {};
  const predictors = info.models.filter((m) => m.kind !== 'lm');
  const lms = info.models.filter((m) => m.kind === 'lm');
  const described = (ms: readonly ServedModel[]) =>
    ms.map((m) => `${m.id} (${m.kind}, ${m.task}): ${m.inputDescription}`).join('; ');
  const predictionKinds = [
    ...(predictors.some((m) => m.engine === 'mlp') ? [MLP_PREDICTION] : []),
    ...(predictors.some((m) => m.engine === 'export' && m.kind === 'classifier') ? [CLASS_PREDICTION] : []),
    ...(predictors.some((m) => m.kind === 'regressor') ? [VALUE_PREDICTION] : []),
  ];

  const endpoints: Record<string, Endpoint> = {};
  if (predictors.length > 0) {
    endpoints.predict = {
      summary: 'classify inputs, or predict values (regressors)',
      models: predictors,
      request: {
        type: 'object',
        required: ['input'],
        properties: {
          input: {
            description: `one input or up to ${info.maxRows} inputs (an array of them). ${described(predictors)}`,
            oneOf: [
              { type: 'array', items: { type: 'number' } },
              { type: 'object', description: 'one row of column values (tabular models)' },
              {
                type: 'array',
                maxItems: info.maxRows,
                items: { oneOf: [{ type: 'array', items: { type: 'number' } }, { type: 'object' }] },
              },
            ],
          },
        },
      },
      ok: {
        description:
          'one prediction per input: the class and the probability of every class, or the value of a regressor',
        required: ['model', 'modelHash', 'jobId', 'predictions'],
        properties: {
          ...IDENTITY,
          kind: { type: 'string', enum: ['classifier', 'regressor'] },
          predictions: {
            type: 'array',
            items: predictionKinds.length === 1 ? predictionKinds[0] : { oneOf: predictionKinds },
          },
        },
      },
    };
  }
  if (lms.length > 0) {
    endpoints.generate = {
      summary: 'continue a prompt (byte-level language models)',
      models: lms,
      request: {
        type: 'object',
        required: ['prompt'],
        properties: {
          prompt: { type: 'string', description: `UTF-8, at most ${maxPrompt} bytes` },
          maxTokens: {
            type: 'integer',
            minimum: 0,
            maximum: maxTokens,
            description: 'bytes to generate (default 200)',
          },
          temperature: { type: 'number', minimum: 0, maximum: 10, description: '0 = greedy (default 0.8)' },
          topK: { type: 'integer', minimum: 0, maximum: 256, description: 'default 40; 0 = all' },
          seed: { type: 'integer', minimum: 0, description: 'the same request gives the same text' },
        },
      },
      ok: {
        description: 'the generated continuation',
        required: ['model', 'modelHash', 'jobId', 'prompt', 'text', 'tokens'],
        properties: {
          ...IDENTITY,
          kind: { type: 'string', enum: ['lm'] },
          prompt: { type: 'string' },
          text: { type: 'string' },
          tokens: { type: 'integer' },
        },
      },
    };
    endpoints.score = {
      summary: 'bits per byte of a text under the model',
      models: lms,
      request: {
        type: 'object',
        required: ['text'],
        properties: { text: { type: 'string', description: `UTF-8, 2 to ${maxPrompt} bytes` } },
      },
      ok: {
        description: 'the mean bits per byte over every byte after the first',
        required: ['model', 'modelHash', 'jobId', 'bitsPerByte', 'bytes'],
        properties: {
          ...IDENTITY,
          kind: { type: 'string', enum: ['lm'] },
          bitsPerByte: { type: 'number' },
          bytes: { type: 'integer', description: 'bytes scored' },
        },
      },
    };
  }

  const operation = (name: string, e: Endpoint) => ({
    post: {
      summary: e.summary,
      parameters: [
        {
          name: 'id',
          in: 'path',
          required: true,
          schema: { type: 'string', enum: e.models.map((m) => m.id) },
          description: 'model id (the job id)',
        },
        ...(info.paid
          ? [
              {
                name: 'PAYMENT-SIGNATURE',
                in: 'header',
                required: false,
                schema: { type: 'string' },
                description: 'base64 JSON (x402 v2 PaymentPayload)',
              },
            ]
          : []),
      ],
      requestBody: { required: true, content: { 'application/json': { schema: e.request } } },
      responses: {
        '200': {
          description: e.ok.description,
          headers: {
            'X-Agora-Model-Hash': { schema: { type: 'string' } },
            'X-Agora-Job-Id': { schema: { type: 'string' } },
            ...paymentHeaders,
          },
          content: {
            'application/json': {
              schema: { type: 'object', required: e.ok.required, properties: e.ok.properties },
            },
          },
        },
        '400': {
          description:
            name === 'predict'
              ? 'malformed or wrongly shaped input, or too many rows'
              : 'malformed input, or over the bounds (prompt bytes, maxTokens)',
          content: { 'application/json': { schema: ERROR } },
        },
        ...(info.paid
          ? {
              '402': {
                description:
                  'payment required, or the payment was refused (the reason is in the body and in the error field of PAYMENT-REQUIRED)',
                headers: {
                  'PAYMENT-REQUIRED': {
                    schema: { type: 'string' },
                    description: 'base64 JSON (x402 v2 PaymentRequired)',
                  },
                },
                content: { 'application/json': { schema: ERROR } },
              },
            }
          : {}),
        '404': {
          description: 'no such model, or the model has no such endpoint (SERVE_WRONG_ENDPOINT)',
          content: { 'application/json': { schema: ERROR } },
        },
        '413': {
          description: 'request body too large',
          content: { 'application/json': { schema: ERROR } },
        },
      },
    },
  });

  return {
    openapi: '3.1.0',
    info: {
      title: 'Agora model server',
      version: '1',
      description:
        'Inference on models trained by an Agora swarm. Every answer names the model hash (keccak256 of ' +
        'the checkpoint: the final model hash of its job on chain) and the job id, to check against the ' +
        'chain and the provenance manifest.' +
        (info.paid
          ? ` Paid with x402 v2, ${info.unitPrice} token base units per input row (predict) or per ` +
            'request (generate, score): a request without payment gets 402 with a PAYMENT-REQUIRED ' +
            `header; retry with PAYMENT-SIGNATURE. Schemes: ${info.schemes.join(', ')}.`
          : ''),
    },
    paths: {
      '/v1/models': {
        get: {
          summary: 'the models this server answers with: kind, task, metric, endpoints, input format, price',
          responses: {
            '200': { description: 'models', content: { 'application/json': { schema: { type: 'object' } } } },
          },
        },
      },
      ...Object.fromEntries(
        Object.entries(endpoints).map(([name, e]) => [`/v1/models/{id}/${name}`, operation(name, e)]),
      ),
    },
  };
}
