/** `agora serve`: sell predictions of trained models over HTTP, paid per query with x402 v2. */
import type { Command } from 'commander';
import { formatEther, type LocalAccount } from 'viem';
import { AgoraError } from '../../errors.ts';
import { loadModelDir, type ServedModel } from '../../serve/model.ts';
import { secpBackend } from '../../serve/secp256k1-native.ts';
import { endpointsOf } from '../../serve/server.ts';
import { loadJobModel, openChannelStore, ServeService } from '../../serve/service.ts';
import type { CliContext } from '../context.ts';
import { parsePort, untilSignal } from './chain.ts';
import { amountOf } from './pay.ts';

type Ctx = (cmd: Command) => CliContext;

type ServeOpts = {
  job?: string[];
  model?: string[];
  host: string;
  port: string;
  price: string;
  settleThreshold?: string;
  minChallenge: string;
  maxRows: string;
  maxTokens: string;
  maxPromptBytes: string;
  poll: string;
  exact?: boolean;
  verifyThreads: string;
  fsync?: boolean;
  offer?: boolean;
  publicUrl?: string;
};

function positive(v: string, option: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new AgoraError('BAD_OPTION', `${option} must be a positive integer, got "${v}"`);
  return n;
}

export function registerServeCommand(program: Command, ctx: Ctx): void {
  program
    .command('serve')
    .description(
      'serve the final model of jobs over HTTP (OpenAPI at /openapi.json): predict for classifiers and regressors, generate and score for language models, paid per query with x402 v2',
    )
    .option(
      '--job <id...>',
      'serve the final model of these jobs (found in --home, checked against the chain)',
    )
    .option('--model <dir...>', 'serve exported model directories (agora job model ID --out DIR)')
    .option('--host <host>', 'interface to bind (127.0.0.1 unless you mean to expose it)', '127.0.0.1')
    .option('--port <port>', 'port (0 = any free port)', '8402')
    .option('--price <agora>', 'price of one input row in AGORA (0 = free)', '0.001')
    .option(
      '--settle-threshold <agora>',
      'settle a channel on-chain once this much is unsettled (default 100 × price)',
    )
    .option('--min-challenge <seconds>', 'refuse channels with a shorter challenge period', '600')
    .option(
      '--exact',
      'also accept x402 exact (one EIP-3009 AgoraToken transfer per query, for stock x402 clients)',
    )
    .option('--verify-threads <n>', 'worker threads checking voucher signatures (0 = main thread)', '0')
    .option(
      '--fsync',
      'fsync every voucher commit (survives power loss; default: survives kill -9 and crashes, WAL + synchronous=NORMAL)',
    )
    .option(
      '--offer',
      'offer the models on chain (ModelRevenue.offer, one transaction per model) so `agora models` finds this server',
    )
    .option(
      '--public-url <url>',
      'the URL buyers reach this server at, for --offer (default: the listening URL)',
    )
    .option('--max-rows <n>', 'most input rows per request', '64')
    .option('--max-tokens <n>', 'language models: most bytes generated per request', '512')
    .option(
      '--max-prompt-bytes <n>',
      'language models: largest prompt (generate) or text (score) in UTF-8 bytes',
      '8192',
    )
    .option('--poll <seconds>', 'how often to check channels on-chain (settle, closing payers)', '15')
    .action(async (o: ServeOpts, cmd: Command) => {
      const c = ctx(cmd);
      if (o.offer && amountOf(o.price, '--price') === 0n) {
        throw new AgoraError('BAD_OPTION', '--offer needs a price', {
          hint: 'free models are listed at /v1/models; offers on chain are for models for sale',
        });
      }
      if (!o.job?.length && !o.model?.length) {
        throw new AgoraError('BAD_OPTION', 'nothing to serve', { hint: 'pass --job ID or --model DIR' });
      }
      const price = amountOf(o.price, '--price');
      const models: ServedModel[] = [];
      const needChain = (o.job?.length ?? 0) > 0 || price > 0n;
      const conn = needChain ? await c.connect() : undefined;
      if (o.job?.length) {
        const d = await c.deployment(conn!, ['TrainingLedger', 'ComputeMarket']);
        for (const id of o.job) {
          if (!/^[0-9]+$/.test(id)) throw new AgoraError('BAD_OPTION', `job id "${id}" is not a number`);
          c.out.progress(`loading the final model of job ${id}…`);
          models.push(
            await loadJobModel(
              c.home,
              conn!,
              d.contracts.TrainingLedger!,
              BigInt(id),
              d.contracts.ComputeMarket,
            ),
          );
        }
      }
      for (const dir of o.model ?? []) models.push(loadModelDir(dir));
      let payment: ConstructorParameters<typeof ServeService>[0]['payment'];
      if (price > 0n) {
        const d = await c.deployment(conn!, [
          'PaymentChannels',
          'AgoraToken',
          ...(o.offer ? (['ModelRevenue'] as const) : []),
        ]);
        const account = (await c.signer(conn!)) as LocalAccount;
        payment = {
          conn: conn!,
          account,
          paymentChannels: d.contracts.PaymentChannels!,
          token: d.contracts.AgoraToken!,
          store: openChannelStore(c.home, { sync: o.fsync ? 'full' : 'normal' }),
          unitPrice: price,
          settleThreshold: o.settleThreshold ? amountOf(o.settleThreshold, '--settle-threshold') : undefined,
          minChallengePeriod: Number(o.minChallenge),
          pollIntervalMs: Number(o.poll) * 1000,
          exact: o.exact === true,
          verifyThreads: Number(o.verifyThreads),
          ...(o.offer ? { offer: { modelRevenue: d.contracts.ModelRevenue!, publicUrl: o.publicUrl } } : {}),
          onError: (e) => c.out.progress(`settlement: ${(e as Error).message}`),
        };
      }
      const service = new ServeService({
        models,
        host: o.host,
        port: parsePort(o.port),
        payment,
        maxRows: positive(o.maxRows, '--max-rows'),
        lm: {
          maxTokens: positive(o.maxTokens, '--max-tokens'),
          maxPromptBytes: positive(o.maxPromptBytes, '--max-prompt-bytes'),
        },
      });
      await service.start();
      c.out.result(
        {
          url: service.url,
          models: models.map((m) => ({
            id: m.id,
            jobId: m.jobId,
            modelHash: m.modelHash,
            task: m.task,
            kind: m.kind,
            metric: m.metric,
            // `predict` for classifiers and regressors; `generate` and `score` for language models
            ...Object.fromEntries(endpointsOf(m).map((e) => [e, `${service.url}/v1/models/${m.id}/${e}`])),
          })),
          price: price.toString(),
          payTo: payment?.account.address ?? null,
          schemes: payment ? ['agora-channel', ...(o.exact ? ['exact'] : [])] : [],
          signatureCheck: payment ? secpBackend.name : null,
          offers: service.offers,
        },
        () =>
          [
            `serving on ${service.url} (OpenAPI: ${service.url}/openapi.json)`,
            ...models.map(
              (m) =>
                `  ${service.url}/v1/models/${m.id}/{${endpointsOf(m).join(',')}}  ${m.kind} (${m.task}, ${m.metric})  job ${m.jobId ?? '-'}  model ${m.modelHash}`,
            ),
            price > 0n
              ? `price ${formatEther(price)} AGORA per row (predict) or per request (generate, score), paid to ${payment!.account.address} (x402 v2, agora-channel${o.exact ? ' and exact' : ''})`
              : 'free (no payment asked)',
            ...(payment
              ? [
                  `voucher signatures checked with ${secpBackend.name}${secpBackend.fallbackReason ? ` (pure JS: the native build did not load: ${secpBackend.fallbackReason})` : ''}; vouchers stored ${o.fsync ? 'with an fsync per commit' : 'durable against kill -9 (not power loss; --fsync for that)'}`,
                ]
              : []),
            'Ctrl-C to stop',
          ].join('\n'),
      );
      await untilSignal(() => service.stop());
    });
}
