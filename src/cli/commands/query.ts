/** `agora query URL --input JSON|FILE`: buy a prediction from an `agora serve` endpoint, paying within a budget. */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { formatEther, type LocalAccount } from 'viem';
import { AgoraError } from '../../errors.ts';
import { PayingClient } from '../../serve/client.ts';
import { openChannelStore } from '../../serve/service.ts';
import type { CliContext } from '../context.ts';
import { amountOf } from './pay.ts';

type Ctx = (cmd: Command) => CliContext;

function inputOf(v: string): unknown {
  const text = existsSync(v) ? readFileSync(v, 'utf8') : v;
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    throw new AgoraError(
      'BAD_INPUT',
      existsSync(v) ? `${v} is not JSON` : `--input is neither JSON nor a file: ${v.slice(0, 60)}`,
      {
        hint: 'pass JSON like [0, 0.5, …] or {"input": [...]}, or a file holding it',
      },
    );
  }
  return Array.isArray(j) ? { input: j } : j;
}

/** The predict URL: as given, or the only model's when URL is a server root. */
async function predictUrl(url: string): Promise<string> {
  if (/\/predict\/?$/.test(url)) return url;
  const base = url.replace(/\/+$/, '');
  let res: Response;
  try {
    res = await fetch(`${base}/v1/models`);
  } catch (e) {
    throw new AgoraError('QUERY_UNREACHABLE', `cannot reach ${base}: ${(e as Error).message}`, {
      hint: 'is `agora serve` running there?',
      cause: e,
    });
  }
  const j = (await res.json().catch(() => ({}))) as { models?: { id: string }[] };
  const models = j.models ?? [];
  if (models.length !== 1) {
    throw new AgoraError('QUERY_WHICH_MODEL', `${base} serves ${models.length} models`, {
      hint: `pass the model's predict URL: ${base}/v1/models/<id>/predict (ids: ${models.map((m) => m.id).join(', ')})`,
    });
  }
  return `${base}/v1/models/${models[0].id}/predict`;
}

export function registerQueryCommand(program: Command, ctx: Ctx): void {
  program
    .command('query')
    .argument('<url>', 'a predict URL, or the root of a server with one model')
    .requiredOption('--input <json|file>', 'the input: JSON ([…] or {"input": […]}) or a file holding it')
    .option('--max-price <agora>', 'refuse to pay more than this for the query')
    .option('--budget <agora>', 'refuse to commit more than this in total in this run')
    .option(
      '--deposit <agora>',
      'deposit of a channel opened to pay (default: the budget, else 1000 × the price)',
    )
    .description(
      'buy a prediction: pays x402 agora-channel servers automatically (opens a channel when needed)',
    )
    .action(
      async (
        url: string,
        o: { input: string; maxPrice?: string; budget?: string; deposit?: string },
        cmd: Command,
      ) => {
        const c = ctx(cmd);
        const body = inputOf(o.input);
        const target = await predictUrl(url);
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
          const d = await c.deployment(conn, ['PaymentChannels']);
          const client = new PayingClient({
            conn,
            account: (await c.signer(conn)) as LocalAccount,
            store: openChannelStore(c.home),
            paymentChannels: d.contracts.PaymentChannels!,
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
          predictions?: { class: number; probabilities: number[] }[];
        };
        c.out.result(
          { url: target, paid: paid.toString(), channelId: channelId ?? null, ...(a as object) },
          () =>
            [
              ...(a.predictions ?? []).map(
                (p, i) => `#${i}: class ${p.class} (p = ${Math.max(...p.probabilities).toFixed(3)})`,
              ),
              `model ${a.modelHash} (job ${a.jobId ?? '-'})`,
              paid > 0n ? `paid ${formatEther(paid)} AGORA through channel ${channelId}` : 'free',
            ].join('\n'),
        );
      },
    );
}
