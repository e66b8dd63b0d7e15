/**
 * The buying side: an HTTP client that pays x402 v2 `agora-channel` servers within a budget. On a
 * 402 it picks the server's channel requirement, checks the price against `maxPrice` and the budget,
 * reuses an open channel to the server (or opens one), commits the new cumulative amount to its
 * store BEFORE signing (src/pay/payer.ts: a restarted client never signs a lower total), and retries
 * with `PAYMENT-SIGNATURE`. The requirement is remembered per URL, so later requests pay up front in
 * one round trip.
 */
import { type Address, formatEther, getAddress, type Hex, isAddress, type LocalAccount } from 'viem';
import type { ChainConnection } from '../chain/connect.ts';
import { AgoraError } from '../errors.ts';
import { ChannelClient } from '../pay/channel-client.ts';
import { Payer } from '../pay/payer.ts';
import { voucherToJson } from '../pay/voucher.ts';
import type { StoredChannel, VoucherStore } from '../pay/voucher-store.ts';
import { rowsOfJson } from '../task/predict-input.ts';
import {
  CHANNEL_SCHEME,
  type ChannelExtra,
  chainIdOfNetwork,
  channelPayload,
  decodePaymentRequired,
  decodePaymentResponse,
  encodeHeader,
  HEADER_REQUIRED,
  HEADER_RESPONSE,
  HEADER_SIGNATURE,
  type PaymentRequirements,
  type SettleResponse,
} from './x402.ts';

export type PayingClientOptions = {
  conn: ChainConnection;
  account: LocalAccount;
  store: VoucherStore;
  /** The PaymentChannels contract of this chain's deployment: only channels there are paid into. */
  paymentChannels: Address;
  /**
   * The token this client pays in (the deployment's AgoraToken): a server asking for another asset
   * is refused (`QUERY_OTHER_TOKEN`), since the price limits are amounts of this token.
   */
  asset: Address;
  /** Refuse any request priced above this (token base units). Default: no limit. */
  maxPrice?: bigint;
  /** Refuse to commit more than this in total through this client. Default: no limit. */
  budget?: bigint;
  /** Deposit of a channel this client opens (default: the budget, else 1000 × the price). */
  deposit?: bigint;
  /** Challenge period of a channel this client opens (s; default: the server's minimum, at least the contract default). */
  challengePeriod?: number;
  onProgress?: (message: string) => void;
};

export type PaidResponse = {
  response: Response;
  /** What this request committed (0 when free). */
  paid: bigint;
  channelId?: Hex;
  payment?: SettleResponse;
};

const RETRY_WITH_NEW_CHANNEL = new Set([
  'PAY_OVER_DEPOSIT',
  'PAY_CHANNEL_CLOSING',
  'PAY_CHANNEL_FINALIZED',
  'PAY_SHORT_CHALLENGE',
]);

/**
 * What an `agora serve` request is priced by: its input rows (predict: `input` read as the server
 * reads it), else one (generate, score). A requirement remembered for 1 row is not paid for 5.
 */
export function unitsOf(body: unknown): number {
  const input =
    body !== null && typeof body === 'object' && !Array.isArray(body)
      ? (body as { input?: unknown }).input
      : undefined;
  return input === undefined ? 1 : rowsOfJson(input).length;
}

export class PayingClient {
  readonly channels: ChannelClient;
  readonly payer: Payer;
  readonly store: VoucherStore;
  readonly #o: PayingClientOptions;
  readonly #requirements = new Map<string, PaymentRequirements>();
  readonly #unusable = new Set<Hex>();
  #lock: Promise<unknown> = Promise.resolve();
  spent = 0n;

  constructor(o: PayingClientOptions) {
    this.#o = o;
    this.store = o.store;
    this.channels = new ChannelClient(o.conn, o.paymentChannels, o.account);
    this.payer = new Payer({ store: o.store, account: o.account, domain: this.channels.domain });
  }

  get address(): Address {
    return this.#o.account.address;
  }

  /**
   * `fetch` that pays when the server asks for payment (requests are serialized per client). The
   * requirement a 402 named is remembered per URL and `priceKey` (what the price depends on besides
   * the URL, e.g. the number of rows), and paid up front next time.
   */
  fetch(url: string, init: RequestInit = {}, priceKey = ''): Promise<PaidResponse> {
    const run = this.#lock.then(() => this.#fetch(url, init, `${url} ${priceKey}`));
    this.#lock = run.catch(() => {});
    return run;
  }

  /** POSTs JSON and returns the parsed answer; throws an AgoraError with the server's reason on failure. */
  async postJson<T = unknown>(
    url: string,
    body: unknown,
  ): Promise<{ body: T; paid: bigint; channelId?: Hex; payment?: SettleResponse }> {
    const r = await this.fetch(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
      String(unitsOf(body)),
    );
    const text = await r.response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!r.response.ok) {
      const e = (json as { error?: { code?: string; message?: string; hint?: string } } | undefined)?.error;
      throw new AgoraError(
        e?.code ?? 'QUERY_FAILED',
        `${url} answered ${r.response.status}: ${e?.message ?? text.slice(0, 200)}`,
        {
          hint: e?.hint ?? 'check the URL and the input',
        },
      );
    }
    return { body: json as T, paid: r.paid, channelId: r.channelId, payment: r.payment };
  }

  async #fetch(url: string, init: RequestInit, key: string): Promise<PaidResponse> {
    let req = this.#requirements.get(key);
    let first: Response | undefined;
    if (!req) {
      first = await fetch(url, init);
      if (first.status !== 402) return { response: first, paid: 0n };
      req = this.#pick(first);
      await first.body?.cancel();
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const price = this.#checkPrice(req);
      const channel = await this.#channelFor(req, price);
      const voucher = await this.payer.pay(channel.channelId, price);
      this.spent += price;
      const headers = new Headers(init.headers);
      headers.set(HEADER_SIGNATURE, encodeHeader(channelPayload(req, voucherToJson(voucher), url)));
      const res = await fetch(url, { ...init, headers });
      if (res.status !== 402) {
        this.#requirements.set(key, req);
        const h = res.headers.get(HEADER_RESPONSE);
        return {
          response: res,
          paid: price,
          channelId: channel.channelId,
          ...(h ? { payment: decodePaymentResponse(h) } : {}),
        };
      }
      // Refused: the server says why, and what it takes now.
      const body = (await res.json().catch(() => ({}))) as {
        error?: { code?: string; message?: string; hint?: string };
      };
      const code = body.error?.code ?? 'X402_REFUSED';
      const next = this.#pick(res);
      if (RETRY_WITH_NEW_CHANNEL.has(code)) {
        this.#unusable.add(channel.channelId);
        await this.payer.track(this.channels, channel.channelId).catch(() => {});
      } else if (code !== 'PAY_UNDERPAID' && code !== 'PAY_NOT_INCREASING') {
        throw new AgoraError(code, `payment refused by ${url}: ${body.error?.message ?? res.statusText}`, {
          hint: body.error?.hint ?? 'see the server documentation',
        });
      }
      req = next;
    }
    throw new AgoraError('QUERY_PAYMENT_FAILED', `${url} refused payment three times`, {
      hint: 'check `agora pay status` and the server',
    });
  }

  #pick(res: Response): PaymentRequirements {
    const h = res.headers.get(HEADER_REQUIRED);
    if (!h) {
      throw new AgoraError(
        'X402_NO_REQUIREMENTS',
        `the server answered 402 without a ${HEADER_REQUIRED} header`,
        {
          hint: 'the server does not speak x402 v2',
        },
      );
    }
    return pickChannelRequirement(
      decodePaymentRequired(h),
      this.#o.conn.chainId,
      this.channels.address,
      this.#o.asset,
    );
  }

  /** The price of `req` (an integer amount: `pickChannelRequirement` checked it) within the limits. */
  #checkPrice(req: PaymentRequirements): bigint {
    const price = BigInt(req.amount);
    if (this.#o.maxPrice !== undefined && price > this.#o.maxPrice) {
      throw new AgoraError(
        'QUERY_TOO_EXPENSIVE',
        `the server asks ${formatEther(price)} per request, over --max-price ${formatEther(this.#o.maxPrice)}`,
        {
          hint: 'raise --max-price or send fewer rows per request',
        },
      );
    }
    if (this.#o.budget !== undefined && this.spent + price > this.#o.budget) {
      throw new AgoraError(
        'QUERY_OVER_BUDGET',
        `paying ${formatEther(price)} would exceed the budget (${formatEther(this.spent)} of ${formatEther(this.#o.budget)} spent)`,
        {
          hint: 'raise --budget',
        },
      );
    }
    return price;
  }

  /** An open channel to the payee with room for `price`, opened when there is none. */
  async #channelFor(req: PaymentRequirements, price: bigint): Promise<StoredChannel> {
    const payTo = getAddress(req.payTo);
    const token = getAddress(req.asset);
    const minPeriod = Number((req.extra as ChannelExtra).minChallengePeriod ?? 0);
    const usable = this.store
      .listChannels({ sender: this.address, recipient: payTo })
      .filter(
        (c) =>
          c.chainId === this.#o.conn.chainId &&
          c.contract === this.channels.address &&
          c.token === token &&
          !c.finalized &&
          c.closesAt === 0 &&
          c.challengePeriod >= minPeriod &&
          !this.#unusable.has(c.channelId) &&
          this.payer.remaining(c.channelId) >= price,
      );
    if (usable.length > 0) return usable[usable.length - 1];
    const deposit = this.#o.deposit ?? this.#o.budget ?? price * 1000n;
    if (deposit < price) {
      throw new AgoraError(
        'QUERY_DEPOSIT_TOO_SMALL',
        `a deposit of ${formatEther(deposit)} cannot pay ${formatEther(price)}`,
        {
          hint: 'raise --deposit or --budget',
        },
      );
    }
    const bounds = await this.channels.bounds();
    const period = Math.min(
      bounds.max,
      Math.max(this.#o.challengePeriod ?? bounds.default, minPeriod, bounds.min),
    );
    this.#o.onProgress?.(
      `opening a payment channel to ${payTo} with ${formatEther(deposit)} (challenge period ${period} s)…`,
    );
    const { channelId } = await this.channels.open({
      recipient: payTo,
      token,
      amount: deposit,
      challengePeriod: period,
    });
    return this.payer.track(this.channels, channelId);
  }
}

/**
 * The requirement this client pays (pure): `agora-channel` on this chain through this PaymentChannels
 * contract. A 402 comes from a server the buyer does not trust, so every entry is checked before it
 * is read: a malformed one is skipped, and the chosen one must name valid addresses, an integer
 * price and a sane challenge period (`X402_MALFORMED` otherwise), never a TypeError. With `asset`,
 * only a requirement in that token is taken (`QUERY_OTHER_TOKEN` when the server asks for another):
 * a buyer's price limits and budget are amounts of its own token, and a server must not be able to
 * have it open a channel in any other ERC-20 it happens to hold.
 */
export function pickChannelRequirement(
  doc: { accepts: readonly unknown[] },
  chainId: number,
  paymentChannels: Address,
  asset?: Address,
): PaymentRequirements {
  const entries = doc.accepts.filter(
    (a): a is PaymentRequirements => typeof a === 'object' && a !== null && !Array.isArray(a),
  );
  const channelEntries = entries.filter((a) => {
    const pc = (a.extra as ChannelExtra | undefined)?.paymentChannels;
    return (
      a.scheme === CHANNEL_SCHEME &&
      typeof a.network === 'string' &&
      chainIdOfNetwork(a.network) === chainId &&
      typeof pc === 'string' &&
      isAddress(pc, { strict: false }) &&
      getAddress(pc) === getAddress(paymentChannels)
    );
  });
  const inAsset = (a: PaymentRequirements) =>
    asset === undefined ||
    (typeof a.asset === 'string' &&
      isAddress(a.asset, { strict: false }) &&
      getAddress(a.asset) === getAddress(asset));
  const ours = channelEntries.find(inAsset);
  if (!ours && channelEntries.length > 0) {
    const asked = [...new Set(channelEntries.map((a) => String(a.asset).slice(0, 42)))].join(', ');
    throw new AgoraError('QUERY_OTHER_TOKEN', `the server is paid in ${asked}, not AGORA (${asset})`, {
      hint: 'this client pays AGORA only; nothing was paid',
    });
  }
  if (!ours) {
    const offered =
      entries
        .map((a) => `${String(a.scheme).slice(0, 40)} on ${String(a.network).slice(0, 40)}`)
        .join(', ') || 'nothing';
    throw new AgoraError(
      'QUERY_NO_SCHEME',
      `the server takes ${offered}; this client pays agora-channel on eip155:${chainId} (${paymentChannels})`,
      { hint: 'connect to the chain the server is paid on (--rpc), with its PaymentChannels deployment' },
    );
  }
  const bad = (what: string) =>
    new AgoraError('X402_MALFORMED', `the server's agora-channel requirement has ${what}`, {
      hint: 'the server sent a broken 402; nothing was paid',
    });
  if (typeof ours.payTo !== 'string' || !isAddress(ours.payTo, { strict: false }))
    throw bad('no valid payTo address');
  if (typeof ours.asset !== 'string' || !isAddress(ours.asset, { strict: false }))
    throw bad('no valid asset address');
  if (typeof ours.amount !== 'string' || !/^[0-9]{1,40}$/.test(ours.amount)) throw bad('no integer amount');
  const period = (ours.extra as ChannelExtra).minChallengePeriod;
  if (period !== undefined && !(Number.isSafeInteger(Number(period)) && Number(period) >= 0))
    throw bad('a challenge period that is not a whole number of seconds');
  return ours;
}
