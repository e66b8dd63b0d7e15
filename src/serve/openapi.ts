/** The OpenAPI 3.1 document of an `agora serve` instance (pure; served at /openapi.json). */
import type { ServedModel } from './model.ts';

export type OpenApiInfo = {
  models: readonly ServedModel[];
  paid: boolean;
  maxRows: number;
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

export function openApiDocument(info: OpenApiInfo): Record<string, unknown> {
  const paymentHeaders = info.paid
    ? {
        'PAYMENT-RESPONSE': {
          description: 'base64 JSON (x402 v2 SettleResponse): what the server holds for this payment',
          schema: { type: 'string' },
        },
      }
    : {};
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
          ? ` Paid per input row (${info.unitPrice} token base units) with x402 v2: a request without ` +
            'payment gets 402 with a PAYMENT-REQUIRED header; retry with PAYMENT-SIGNATURE. Schemes: ' +
            `${info.schemes.join(', ')}.`
          : ''),
    },
    paths: {
      '/v1/models': {
        get: {
          summary: 'the models this server answers with, their input format and price',
          responses: {
            '200': { description: 'models', content: { 'application/json': { schema: { type: 'object' } } } },
          },
        },
      },
      '/v1/models/{id}/predict': {
        post: {
          summary: 'classify one or more inputs',
          parameters: [
            {
              name: 'id',
              in: 'path',
              required: true,
              schema: { type: 'string', enum: info.models.map((m) => m.id) },
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
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['input'],
                  properties: {
                    input: {
                      description: `one input (array of numbers) or up to ${info.maxRows} inputs (array of arrays). ${info.models
                        .map((m) => `${m.id}: ${m.inputDescription}`)
                        .join('; ')}`,
                      oneOf: [
                        { type: 'array', items: { type: 'number' } },
                        {
                          type: 'array',
                          maxItems: info.maxRows,
                          items: { type: 'array', items: { type: 'number' } },
                        },
                      ],
                    },
                  },
                },
              },
            },
          },
          responses: {
            '200': {
              description: 'one prediction per input: the class and the probability of every class',
              headers: {
                'X-Agora-Model-Hash': { schema: { type: 'string' } },
                'X-Agora-Job-Id': { schema: { type: 'string' } },
                ...paymentHeaders,
              },
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['model', 'modelHash', 'jobId', 'predictions'],
                    properties: {
                      model: { type: 'string' },
                      modelHash: { type: 'string' },
                      jobId: { type: ['string', 'null'] },
                      predictions: {
                        type: 'array',
                        items: {
                          type: 'object',
                          properties: {
                            class: { type: 'integer' },
                            probabilities: { type: 'array', items: { type: 'number' } },
                          },
                        },
                      },
                    },
                  },
                },
              },
            },
            '400': {
              description: 'malformed or wrongly shaped input',
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
            '404': { description: 'no such model', content: { 'application/json': { schema: ERROR } } },
            '413': {
              description: 'request body too large',
              content: { 'application/json': { schema: ERROR } },
            },
          },
        },
      },
    },
  };
}
