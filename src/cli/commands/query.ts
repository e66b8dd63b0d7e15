/**
 * `agora query URL|NAME --input ROWS | --generate REQUEST | --score TEXT`: buy a prediction
 * (classifiers, regressors), a generation or a score (language models) from an `agora serve`
 * endpoint, paying within a budget. NAME is what the agent understands too: a saved server name
 * (`agora models URL --name NAME`), a job id (`job-7`), a model id or hash prefix, a task, or the
 * seller's contact name, among the known servers' offers and the on-chain offers.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { formatEther, type LocalAccount } from 'viem';
import { resolveQueryTarget } from '../../agent/model-query.ts';
import { AgoraError } from '../../errors.ts';
import { PayingClient } from '../../serve/client.ts';
import { deploymentOfferSources } from '../../serve/discovery.ts';
import { isUrl, savedModelUrl } from '../../serve/model-offers.ts';
import { openChannelStore } from '../../serve/service.ts';
import { predictInputRows } from '../../task/predict-input.ts';
import type { CliContext } from '../context.ts';
import { amountOf } from './pay.ts';

type Ctx = (cmd: Command) => CliContext;

type Endpoint = 'predict' | 'generate' | 'score';

/**
 * The body of a predict request: JSON holding `input` is sent as it is; anything else is read the
 * way `agora model predict --input` reads rows (inline JSON, .json, .jsonl, .csv) and sent as
 * `{"input": row}` (one row) or `{"input": [rows…]}`.
 */
function predictBody(v: string): unknown {
  const t = v.trim();
  const text =
    t.startsWith('{') || t.startsWith('[')
      ? t
      : existsSync(v) && !/\.(csv|jsonl|ndjson|png|jpe?g)$/i.test(v)
        ? readFileSync(v, 'utf8')
        : undefined;
  if (text !== undefined) {
    try {
      const j = JSON.parse(text) as unknown;
      if (j !== null && typeof j === 'object' && !Array.isArray(j) && Object.hasOwn(j, 'input')) return j;
    } catch {
      // predictInputRows says what is wrong
    }
  }
  if (/\.(png|jpe?g)$/i.test(v)) {
    throw new AgoraError('BAD_INPUT', 'agora query sends pixel values, not image files', {
      hint: 'pass the pixel values as JSON ([…] or {"input": […]}), or use `agora ask` (the agent decodes images)',
    });
  }
  const rows = predictInputRows(v);
  return { input: rows.length === 1 ? rows[0] : rows };
}

/** `--generate`: a JSON request `{"prompt": …, …}` (inline or a file), or a bare prompt. */
function generateBody(v: string): unknown {
  const text = existsSync(v) ? readFileSync(v, 'utf8') : v;
  if (text.trim().startsWith('{')) {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new AgoraError('BAD_INPUT', `--generate is not valid JSON: ${(e as Error).message}`, {
        hint: 'pass {"prompt": "…", "maxTokens": 100} or a bare prompt',
      });
    }
  }
  return { prompt: text };
}

/** `--score`: a text, or a file holding it. */
function scoreBody(v: string): unknown {
  return { text: existsSync(v) ? readFileSync(v, 'utf8') : v };
}

/** The endpoint URL: as given, or the chosen (or only) model's when URL is a server root. */
async function endpointUrl(url: string, endpoint: Endpoint, model?: string): Promise<string> {
  if (/\/v1\/models\/[^/]+\/(predict|generate|score)\/?$/.test(url)) return url;
  const base = url.replace(/\/+$/, '');
  if (model) return `${base}/v1/models/${encodeURIComponent(model)}/${endpoint}`;
  let res: Response;
  try {
    res = await fetch(`${base}/v1/models`);
  } catch (e) {
    throw new AgoraError('QUERY_UNREACHABLE', `cannot reach ${base}: ${(e as Error).message}`, {
      hint: 'is `agora serve` running there?',
      cause: e,
    });
  }
  const j = (await res.json().catch(() => ({}))) as { models?: { id: string; endpoints?: string[] }[] };
  const all = j.models ?? [];
  // servers before generate/score listed no endpoints: their models all predict
  const models = all.filter((m) => (m.endpoints ?? ['predict']).includes(endpoint));
  if (models.length !== 1) {
    throw new AgoraError(
      'QUERY_WHICH_MODEL',
      `${base} serves ${models.length} model${models.length === 1 ? '' : 's'} with a ${endpoint} endpoint (of ${all.length})`,
      {
        hint: `pass --model ID or the URL ${base}/v1/models/<id>/${endpoint} (ids: ${all.map((m) => `${m.id} (${(m.endpoints ?? ['predict']).join(', ')})`).join(', ')})`,
      },
    );
  }
  return `${base}/v1/models/${models[0].id}/${endpoint}`;
}

/** One prediction in words: a fast-path class, an exported classifier's label, or a value. */
function predictionLine(p: Record<string, unknown>): string {
  if (typeof p.value === 'number') return `${p.value}`;
  if (typeof p.label === 'string') {
    const probs = p.probabilities as Record<string, number>;
    return `${p.label} (p = ${(probs[p.label] ?? 0).toFixed(3)})`;
  }
  const probs = (p.probabilities as number[] | undefined) ?? [];
  return `class ${String(p.class)} (p = ${Math.max(...probs).toFixed(3)})`;
}

/** The endpoint URL of a name (not a URL): a saved server, else the one offer it matches. */
async function namedEndpointUrl(
  c: CliContext,
  name: string,
  endpoint: Endpoint,
  model?: string,
): Promise<string> {
  const saved = savedModelUrl(c.home, name);
  if (saved) return endpointUrl(saved, endpoint, model);
  // the on-chain offers too, when a chain with ModelRevenue is reachable; the known servers otherwise
  const conn = await c.connect().catch(() => undefined);
  const d = conn ? await c.deployment(conn, []).catch(() => undefined) : undefined;
  const t = await resolveQueryTarget(c.home, name, conn ? deploymentOfferSources(conn, d) : []);
  c.out.progress(`query: ${t.via}`);
  return t.predictUrl.replace(/\/predict\/?$/, `/${endpoint}`);
}

export function registerQueryCommand(program: Command, ctx: Ctx): void {
  program
    .command('query')
    .argument(
      '<url|name>',
      'an endpoint URL (…/v1/models/ID/predict|generate|score), a server root, or a name: a saved server, job-ID, a model id or hash prefix, a task, a seller contact',
    )
    .option(
      '--input <json|file>',
      'predict: the input rows, as `agora model predict` reads them (JSON object or array, .json/.jsonl/.csv), or {"input": …}',
    )
    .option(
      '--generate <json|prompt>',
      'generate with a language model: {"prompt", "maxTokens"?, "temperature"?, "topK"?, "seed"?}, a bare prompt, or a file',
    )
    .option('--score <text|file>', 'bits per byte of a text under a language model')
    .option('--model <id>', 'the model on a server root with several')
    .option('--max-price <agora>', 'refuse to pay more than this for the query')
    .option('--budget <agora>', 'refuse to commit more than this in total in this run')
    .option(
      '--deposit <agora>',
      'deposit of a channel opened to pay (default: the budget, else 1000 × the price)',
    )
    .description(
      'buy a prediction, a generation or a score: pays x402 agora-channel servers automatically (opens a channel when needed)',
    )
    .action(
      async (
        url: string,
        o: {
          input?: string;
          generate?: string;
          score?: string;
          model?: string;
          maxPrice?: string;
          budget?: string;
          deposit?: string;
        },
        cmd: Command,
      ) => {
        const c = ctx(cmd);
        const chosen = (['input', 'generate', 'score'] as const).filter((k) => o[k] !== undefined);
        if (chosen.length !== 1) {
          throw new AgoraError('BAD_OPTION', 'pass exactly one of --input, --generate, --score', {
            hint: '--input for classifiers and regressors; --generate or --score for language models',
          });
        }
        const endpoint: Endpoint = chosen[0] === 'input' ? 'predict' : chosen[0];
        const v = o[chosen[0]]!;
        const body =
          endpoint === 'predict' ? predictBody(v) : endpoint === 'generate' ? generateBody(v) : scoreBody(v);
        const target = isUrl(url)
          ? await endpointUrl(url, endpoint, o.model)
          : await namedEndpointUrl(c, url, endpoint, o.model);
        const first = await fetch(target, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        let answer: unknown;
        let paid = 0n;
        let channelId: string | undefined;
        if (first.status === 402) {
          await first.body?.cancel();
          const conn = await c.connect();
          const d = await c.deployment(conn, ['PaymentChannels', 'AgoraToken']);
          const client = new PayingClient({
            conn,
            account: (await c.signer(conn)) as LocalAccount,
            store: openChannelStore(c.home),
            paymentChannels: d.contracts.PaymentChannels!,
            asset: d.contracts.AgoraToken!,
            ...(o.maxPrice ? { maxPrice: amountOf(o.maxPrice, '--max-price') } : {}),
            ...(o.budget ? { budget: amountOf(o.budget, '--budget') } : {}),
            ...(o.deposit ? { deposit: amountOf(o.deposit, '--deposit') } : {}),
            onProgress: (m) => c.out.progress(m),
          });
          const r = await client.postJson(target, body);
          answer = r.body;
          paid = r.paid;
          channelId = r.channelId;
        } else {
          const text = await first.text();
          try {
            answer = JSON.parse(text);
          } catch {
            answer = text;
          }
          if (!first.ok) {
            const e = (answer as { error?: { code?: string; message?: string; hint?: string } }).error;
            throw new AgoraError(
              e?.code ?? 'QUERY_FAILED',
              `${target} answered ${first.status}: ${e?.message ?? text.slice(0, 200)}`,
              { hint: e?.hint },
            );
          }
        }
        const a = answer as {
          modelHash?: string;
          jobId?: string | null;
          predictions?: Record<string, unknown>[];
          prompt?: string;
          text?: string;
          bitsPerByte?: number;
          bytes?: number;
        };
        c.out.result(
          { url: target, paid: paid.toString(), channelId: channelId ?? null, ...(a as object) },
          () =>
            [
              ...(a.predictions ?? []).map((p, i) => `#${i}: ${predictionLine(p)}`),
              ...(a.text !== undefined ? [`${a.prompt ?? ''}${a.text}`] : []),
              ...(a.bitsPerByte !== undefined
                ? [`${a.bitsPerByte.toFixed(4)} bits per byte over ${a.bytes} bytes`]
                : []),
              `model ${a.modelHash} (job ${a.jobId ?? '-'})`,
              paid > 0n ? `paid ${formatEther(paid)} AGORA through channel ${channelId}` : 'free',
            ].join('\n'),
        );
      },
    );
}
