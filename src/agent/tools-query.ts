/**
 * The `model.query {model, input}` executor: buy a prediction from an `agora serve` model. The plan
 * names the server, the model hash and job, the price of this input, whether a payment channel is
 * reused or opened (its deposit is the value that leaves the wallet), and the balance after; the
 * confirmation is bound to all of them and to the input's hash and the channel's committed total, so
 * it pays once. The purchase goes through `PayingClient` with this price as its max price and budget.
 */
import { formatEther, type Hex, type LocalAccount } from 'viem';
import { tokenClient } from '../chain/token.ts';
import { AgoraError } from '../errors.ts';
import { PayingClient } from '../serve/client.ts';
import { openChannelStore } from '../serve/service.ts';
import { assertHasGas } from '../wallet/transfer.ts';
import { type AgentEnv, agora, contract, nowOf } from './env.ts';
import {
  type Answer,
  answerOf,
  inputHash,
  type Prediction,
  queryBody,
  quote,
  resolveQueryTarget,
  reusableChannel,
} from './model-query.ts';
import { SpendLedger } from './spend-ledger.ts';
import type { PlanBody } from './tools.ts';

type A = Record<string, unknown>;

type Outcome =
  | { ok: true; answer: Answer; paid: bigint; channelId?: Hex; cumulative: bigint }
  | { ok: false; error: Error; paid: bigint; channelId?: Hex; cumulative: bigint };

/** Deposit of a channel the agent opens: 100 rows at the server's price, within what the policy has left. */
export const DEPOSIT_ROWS = 100n;

function capLeft(env: AgentEnv): bigint | undefined {
  const cap = env.policy?.caps.find((c) => c.token.toLowerCase() === 'agora');
  if (!cap) return undefined;
  const now = nowOf(env);
  const left = cap.amount - new SpendLedger(env.home).spentSince(cap.token, now - cap.periodSeconds);
  return left > 0n ? left : 0n;
}

function describePredictions(ps: readonly Prediction[]): string {
  return ps.map((p) => `class ${p.class} (p = ${Math.max(...p.probabilities).toFixed(3)})`).join(', ');
}

export async function planModelQuery(env: AgentEnv, a: A): Promise<PlanBody> {
  const channels = contract(env, 'PaymentChannels');
  const token = contract(env, 'AgoraToken');
  const body = queryBody(String(a.input));
  const target = await resolveQueryTarget(env.home, String(a.model), env.modelSources);
  const q = await quote(target.predictUrl, body, env.conn.chainId, channels, token);
  const rows = Array.isArray(body.input) && Array.isArray(body.input[0]) ? body.input.length : 1;
  const base = {
    url: target.predictUrl,
    input: inputHash(body),
  };
  /**
   * Buys through PayingClient. Once anything was committed (a voucher signed, or a channel opened),
   * a failure afterwards (a refused voucher, a server error, an answer that is not a prediction) is
   * returned as a paid outcome, not thrown: the spend then stays on the ledger and counts against the
   * policy, so a server that takes payment and answers nonsense cannot make the agent pay again and
   * again outside its cap.
   */
  const run = async (price: bigint, deposit: bigint): Promise<Outcome> => {
    const store = openChannelStore(env.home);
    const channelsTo = () =>
      store
        .listChannels({ sender: env.address, ...(q.free ? {} : { recipient: q.payTo }) })
        .map((c) => c.channelId);
    const before = new Set(channelsTo());
    const client = new PayingClient({
      conn: env.conn,
      account: (await env.account()) as LocalAccount,
      store,
      paymentChannels: channels,
      asset: token,
      maxPrice: price,
      budget: price,
      deposit,
      onProgress: env.onProgress,
    });
    const committedOn = (channelId: Hex | undefined) =>
      channelId === undefined
        ? 0n
        : (store.sent({ chainId: env.conn.chainId, contract: channels, channelId })?.cumulative ?? 0n);
    try {
      const r = await client.postJson(target.predictUrl, body);
      try {
        const answer = answerOf(r.body, target.predictUrl);
        return {
          ok: true,
          answer,
          paid: r.paid,
          channelId: r.channelId,
          cumulative: committedOn(r.channelId),
        };
      } catch (e) {
        return {
          ok: false,
          error: e as Error,
          paid: r.paid,
          channelId: r.channelId,
          cumulative: committedOn(r.channelId),
        };
      }
    } catch (e) {
      const opened = channelsTo().find((c) => !before.has(c));
      if (client.spent === 0n && opened === undefined) throw e;
      return {
        ok: false,
        error: e as Error,
        paid: client.spent,
        channelId: opened,
        cumulative: committedOn(opened),
      };
    } finally {
      store.close();
    }
  };
  const finish = (o: Outcome, free = false) => {
    const paid = free
      ? 'free'
      : `paid ${agora(o.paid)}, ${agora(o.cumulative)} committed on channel ${o.channelId}`;
    const common = {
      url: target.predictUrl,
      paid: formatEther(o.paid),
      cumulative: free ? null : formatEther(o.cumulative),
      channelId: o.channelId ?? null,
    };
    if (!o.ok) {
      const code = (o.error as { code?: string }).code ?? 'QUERY_FAILED';
      return {
        tool: 'model.query',
        summary: `no prediction (${code}: ${o.error.message}); ${paid}`,
        data: { ...common, error: code, message: o.error.message, predictions: [] },
      };
    }
    return {
      tool: 'model.query',
      summary: `${describePredictions(o.answer.predictions)} from model ${o.answer.modelHash} (job ${o.answer.jobId ?? '-'}); ${paid}`,
      data: { ...o.answer, ...common },
    };
  };

  if (q.free) {
    return {
      summary: `ask ${target.via} for a prediction of ${String(a.input).slice(0, 60)} (free)`,
      lines: ['the server asks no payment'],
      params: { ...base, price: '0' },
      spend: { token: 'AGORA', amount: 0n, to: env.address },
      async execute() {
        return finish(await run(0n, 0n), true);
      },
    };
  }

  if (
    target.offer &&
    q.modelHash &&
    target.offer.model.modelHash.toLowerCase() !== q.modelHash.toLowerCase()
  ) {
    throw new AgoraError(
      'QUERY_MODEL_CHANGED',
      `${target.predictUrl} announced model ${target.offer.model.modelHash} but now sells ${q.modelHash}`,
      { hint: 'run `agora models` again to see what it sells; nothing was paid' },
    );
  }
  const store = openChannelStore(env.home);
  let reuse: ReturnType<typeof reusableChannel>;
  try {
    reuse = reusableChannel(store, {
      chainId: env.conn.chainId,
      paymentChannels: channels,
      sender: env.address,
      payTo: q.payTo,
      token,
      minChallengePeriod: q.minChallengePeriod,
      price: q.price,
    });
  } finally {
    store.close();
  }
  const seller = `${q.payTo}${target.offer ? ` (seller of ${target.offer.endpoint})` : ''}`;
  const what = [
    `model ${q.modelHash ?? 'unknown'} (job ${q.jobId ?? '-'}${target.offer ? `, ${target.offer.model.task}` : ''}) at ${target.predictUrl}`,
    `price ${agora(q.price)} for ${rows} input row${rows === 1 ? '' : 's'}, paid to ${seller}`,
  ];
  const params = {
    ...base,
    modelHash: String(q.modelHash ?? ''),
    jobId: String(q.jobId ?? ''),
    payTo: q.payTo,
    price: q.price.toString(),
    channels,
  };
  if (reuse) {
    const { channel, committed } = reuse;
    return {
      summary: `buy a prediction of ${String(a.input).slice(0, 60)} from ${target.via} for ${agora(q.price)}`,
      lines: [
        ...what,
        `pays through your open channel ${channel.channelId.slice(0, 10)}… (${agora(committed)} of ${agora(channel.deposit)} committed; ${agora(channel.deposit - committed - q.price)} left after)`,
        'no transaction: a signed voucher for the new total',
      ],
      params: { ...params, channel: channel.channelId, committed: committed.toString() },
      spend: { token: 'AGORA', amount: q.price, to: channels, contract: 'PaymentChannels' },
      async execute() {
        return finish(await run(q.price, channel.deposit));
      },
    };
  }

  // 100 rows' worth (at least this query), within what the policy's cap has left.
  const perRow = q.unitPrice > 0n ? q.unitPrice : q.price;
  let deposit = perRow * DEPOSIT_ROWS;
  const left = capLeft(env);
  if (left !== undefined && left < deposit) deposit = left;
  if (deposit < q.price) deposit = q.price;
  await assertHasGas(env.conn, env.address);
  const balance = await tokenClient(env.conn, token).balanceOf(env.address);
  if (balance < deposit) {
    throw new AgoraError(
      'INSUFFICIENT_AGORA',
      `opening a channel to pay ${target.via} needs a deposit of ${agora(deposit)}; your wallet holds ${agora(balance)}`,
      { hint: 'fund the wallet (`agora wallet fund` on the devnet); nothing was paid' },
    );
  }
  return {
    summary: `buy a prediction of ${String(a.input).slice(0, 60)} from ${target.via} for ${agora(q.price)}, opening a payment channel`,
    lines: [
      ...what,
      `opens a payment channel to ${q.payTo} with a deposit of ${agora(deposit)} (${(deposit / perRow).toString()} rows at this price; what is not spent comes back when you close it)`,
      `balance after ${agora(balance - deposit)} (channel: ${agora(deposit - q.price)} left after this query)`,
    ],
    params: { ...params, channel: 'new', deposit: deposit.toString() },
    spend: { token: 'AGORA', amount: deposit, to: channels, contract: 'PaymentChannels' },
    async execute() {
      return finish(await run(q.price, deposit));
    },
  };
}
