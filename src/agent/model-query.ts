/**
 * Buying a prediction, as the agent plans it: which server and model a name means, what the input is,
 * what the server asks (a free probe: the server checks the input and answers 402 with its price
 * before anything is paid), and whether a payment channel is reused or opened. The same channel
 * choice as `PayingClient` (src/serve/client.ts), so the plan says what will happen; the purchase
 * itself goes through `PayingClient` (persist the voucher, then sign).
 */
import { readFileSync } from 'node:fs';
import { type Address, getAddress, type Hex, keccak256, toBytes } from 'viem';
import { AgoraError, isAgoraError } from '../errors.ts';
import type { StoredChannel, VoucherStore } from '../pay/voucher-store.ts';
import { pickChannelRequirement } from '../serve/client.ts';
import {
  endpointSource,
  fetchAnnouncement,
  gatherOffers,
  isUrl,
  knownEndpoints,
  type ModelOffer,
  type ModelSource,
  matchOffers,
  normalizeEndpoint,
  offersOf,
  savedModelUrl,
} from '../serve/model-offers.ts';
import {
  type ChannelExtra,
  decodePaymentRequired,
  HEADER_REQUIRED,
  type PaymentRequirements,
} from '../serve/x402.ts';
import { isInputFile, predictInputRows } from '../task/predict-input.ts';
import { decodeImage, resizeImage, sniffImage, toChannels } from '../train/data/image-codec.ts';
import { listContacts } from '../wallet/contacts.ts';

/** Where a query goes, and what we know of it before asking the server. */
export type QueryTarget = {
  predictUrl: string;
  /** How the user's name was understood, in words. */
  via: string;
  offer?: ModelOffer;
};

/** The predict URL of a server root with one model (announcement first, else its model list). */
async function rootTarget(url: string, via: string): Promise<QueryTarget> {
  if (/\/predict\/?$/.test(url)) return { predictUrl: url.replace(/\/+$/, ''), via };
  const base = normalizeEndpoint(url);
  let offers: ModelOffer[] = [];
  try {
    offers = offersOf(await fetchAnnouncement(base), 'endpoint', base);
  } catch (e) {
    if (isAgoraError(e) && e.code === 'MODELS_UNREACHABLE') throw e;
  }
  if (offers.length === 0) {
    const j = (await fetch(`${base}/v1/models`)
      .then((r) => r.json())
      .catch(() => ({}))) as { models?: { id: string }[] };
    const ids = (j.models ?? []).map((m) => m.id);
    if (ids.length !== 1) {
      throw new AgoraError('QUERY_WHICH_MODEL', `${base} serves ${ids.length} models`, {
        hint: `name one: ${base}/v1/models/<id>/predict (ids: ${ids.join(', ') || 'none'})`,
      });
    }
    return { predictUrl: `${base}/v1/models/${encodeURIComponent(ids[0]!)}/predict`, via };
  }
  if (offers.length > 1) {
    throw new AgoraError('QUERY_WHICH_MODEL', `${base} sells ${offers.length} models`, {
      hint: `say which: ${offers.map((o) => `${o.predictUrl} (${o.model.task}, job ${o.model.jobId ?? '-'})`).join(', ')}`,
    });
  }
  return { predictUrl: offers[0]!.predictUrl, via, offer: offers[0] };
}

/**
 * What `name` means: a URL; a saved server name (`agora models URL --name NAME`); else a job id, model
 * id, hash prefix, task or the seller's contact name among the offers of the known servers.
 */
export async function resolveQueryTarget(
  home: string,
  name: string,
  sources: readonly ModelSource[] = [],
): Promise<QueryTarget> {
  const n = name.trim();
  if (isUrl(n)) return rootTarget(n, n);
  const saved = savedModelUrl(home, n);
  if (saved) return rootTarget(saved, `${n.toLowerCase()} (${saved})`);
  const all = [endpointSource(() => knownEndpoints(home)), ...sources];
  const failed: string[] = [];
  const offers = await gatherOffers(all, (where) => failed.push(where));
  const sellers = Object.fromEntries(listContacts(home).map((c) => [c.name, c.address])) as Record<
    string,
    Address
  >;
  const found = matchOffers(offers, n, sellers);
  if (found.length === 0) {
    throw new AgoraError(
      'MODEL_UNKNOWN',
      `no model called "${n}" among ${offers.length} offers of ${knownEndpoints(home).length} known servers${failed.length ? ` (unreachable: ${failed.join(', ')})` : ''}`,
      {
        hint: 'give the server URL, or name it first: `agora models http://host:8402 --name clinic`; `agora models` lists what is for sale',
      },
    );
  }
  if (found.length > 1) {
    throw new AgoraError('MODEL_AMBIGUOUS', `"${n}" fits ${found.length} models`, {
      hint: `say which: ${found.map((o) => `${o.predictUrl} (${o.model.task}, job ${o.model.jobId ?? '-'}, ${o.model.unitPrice} wei/row)`).join('; ')}`,
    });
  }
  const o = found[0]!;
  return { predictUrl: o.predictUrl, via: `${n} (${o.predictUrl})`, offer: o };
}

/** A 28×28 grey image as 784 values in [0, 1] (MNIST-like classifiers). */
export function imageToInput(bytes: Uint8Array, name: string, side = 28): number[] {
  const img = resizeImage(toChannels(decodeImage(bytes, name), 1), side, side);
  return Array.from(img.data, (v) => v / 255);
}

/**
 * The request body for `input`: a PNG/JPEG file (a 28×28 grey digit), a JSON/JSONL/CSV file, or inline
 * JSON (`[…]`, `[[…], …]` or `{"input": …}`). Text a classifier cannot read gets a clear error.
 */
export function queryBody(input: string): { input: number[] | number[][] } {
  const t = input.trim();
  if (!t.startsWith('[') && !t.startsWith('{') && isInputFile(t)) {
    const bytes = readFileSync(t);
    if (sniffImage(bytes)) return { input: imageToInput(bytes, t) };
  }
  if (!t.startsWith('[') && !t.startsWith('{') && !isInputFile(t)) {
    throw new AgoraError('QUERY_BAD_INPUT', `"${t.slice(0, 60)}" is neither JSON nor a file`, {
      hint: 'served models are classifiers: give a JSON array of numbers, {"input": [...]}, or a .json/.png file',
    });
  }
  let rows: unknown[];
  try {
    rows = predictInputRows(t);
  } catch (e) {
    if (isAgoraError(e)) throw new AgoraError('QUERY_BAD_INPUT', e.message, { hint: e.hint });
    throw e;
  }
  let value: unknown = rows.length === 1 ? rows[0] : rows;
  if (rows.length === 1 && rows[0] && typeof rows[0] === 'object' && !Array.isArray(rows[0])) {
    const o = rows[0] as Record<string, unknown>;
    if ('input' in o) value = o.input;
  }
  return { input: numericRows(value, t) };
}

const isRow = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/**
 * Served models are classifiers of numbers: only a row of numbers or a list of such rows is sent.
 * Anything else (an object, text, a wallet file named by mistake or by a hostile tool call) is
 * refused here, before it could leave the machine in the unpaid price request.
 */
function numericRows(input: unknown, where: string): number[] | number[][] {
  if (isRow(input)) return input;
  if (Array.isArray(input) && input.length > 0 && input.every(isRow)) return input;
  throw new AgoraError('QUERY_BAD_INPUT', `${where.slice(0, 80)} does not hold a row of numbers`, {
    hint: 'served models are classifiers: give [numbers], [[numbers], …] or {"input": …}; nothing was sent',
  });
}

export function inputHash(body: unknown): Hex {
  return keccak256(toBytes(JSON.stringify(body)));
}

/** What the server answered to an unpaid request. */
export type Quote =
  | { free: true }
  | {
      free: false;
      requirement: PaymentRequirements;
      price: bigint;
      /** Price of one input row (the server's `unitPrice`). */
      unitPrice: bigint;
      payTo: Address;
      asset: Address;
      modelHash: string | undefined;
      jobId: string | null | undefined;
      minChallengePeriod: number;
    };

/**
 * Asks the server for its price of this exact input, paying nothing: it checks the input first (a bad
 * input is a 4xx that costs nothing) and answers 402 with its requirements, or 200 when it is free.
 */
export async function quote(
  predictUrl: string,
  body: unknown,
  chainId: number,
  paymentChannels: Address,
  /** the token the agent pays in (the deployment's AgoraToken) */
  asset: Address,
): Promise<Quote> {
  let res: Response;
  try {
    res = await fetch(predictUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (e) {
    throw new AgoraError('QUERY_UNREACHABLE', `cannot reach ${predictUrl}: ${(e as Error).message}`, {
      hint: 'is `agora serve` running there?',
      cause: e,
    });
  }
  if (res.ok) {
    await res.body?.cancel();
    return { free: true };
  }
  if (res.status !== 402) {
    const j = (await res.json().catch(() => ({}))) as {
      error?: { code?: string; message?: string; hint?: string };
    };
    throw new AgoraError(
      j.error?.code ?? 'QUERY_FAILED',
      `${predictUrl} answered ${res.status}: ${j.error?.message ?? res.statusText}`,
      { hint: j.error?.hint ?? 'check the model and the input; nothing was paid' },
    );
  }
  await res.body?.cancel();
  const h = res.headers.get(HEADER_REQUIRED);
  if (!h) {
    throw new AgoraError('X402_NO_REQUIREMENTS', `${predictUrl} answered 402 without ${HEADER_REQUIRED}`, {
      hint: 'the server does not speak x402 v2',
    });
  }
  // the same checks as the client that pays (a hostile 402 is an AgoraError, never a TypeError)
  const req = pickChannelRequirement(decodePaymentRequired(h), chainId, paymentChannels, asset);
  const extra = req.extra as ChannelExtra;
  return {
    free: false,
    requirement: req,
    price: BigInt(req.amount),
    unitPrice: /^[0-9]{1,40}$/.test(String(extra.unitPrice))
      ? BigInt(String(extra.unitPrice))
      : BigInt(req.amount),
    payTo: getAddress(req.payTo),
    asset: getAddress(req.asset),
    modelHash: extra.modelHash,
    jobId: extra.jobId,
    minChallengePeriod: Number(extra.minChallengePeriod ?? 0),
  };
}

/** The channel `PayingClient` will pay through (the same rule), or undefined when it opens one. */
export function reusableChannel(
  store: VoucherStore,
  o: {
    chainId: number;
    paymentChannels: Address;
    sender: Address;
    payTo: Address;
    token: Address;
    minChallengePeriod: number;
    price: bigint;
  },
): { channel: StoredChannel; committed: bigint } | undefined {
  const usable = store
    .listChannels({ sender: o.sender, recipient: o.payTo })
    .map((c) => ({ channel: c, committed: store.sent(c)?.cumulative ?? 0n }))
    .filter(
      ({ channel: c, committed }) =>
        c.chainId === o.chainId &&
        c.contract === getAddress(o.paymentChannels) &&
        c.token === o.token &&
        !c.finalized &&
        c.closesAt === 0 &&
        c.challengePeriod >= o.minChallengePeriod &&
        c.deposit - committed >= o.price,
    );
  return usable[usable.length - 1];
}

export type Prediction = { class: number; probabilities: number[] };

/** What a server answered, kept to the fields a prediction has (pure). */
export type Answer = { model: string; jobId: string | null; modelHash: string; predictions: Prediction[] };

/**
 * The server's answer reduced to a prediction: classes, probabilities, model, job and hash. Any
 * other field (text a hostile server adds for an agent or an LLM to read) is dropped, and an answer
 * that is not a prediction is an error, not data passed on.
 */
export function answerOf(body: unknown, url: string): Answer {
  const b = (body ?? {}) as Record<string, unknown>;
  const preds = b.predictions;
  const ok =
    Array.isArray(preds) &&
    preds.length > 0 &&
    preds.every(
      (p) =>
        p !== null &&
        typeof p === 'object' &&
        Number.isInteger((p as Prediction).class) &&
        isRow((p as Prediction).probabilities),
    );
  if (!ok || typeof b.modelHash !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(b.modelHash)) {
    throw new AgoraError('QUERY_BAD_ANSWER', `${url} answered something that is not a prediction`, {
      hint: 'the server is not a (current) agora serve; what was paid is recorded in your channel store',
    });
  }
  const jobId = typeof b.jobId === 'string' && /^\d{1,30}$/.test(b.jobId) ? b.jobId : null;
  return {
    model: typeof b.model === 'string' ? b.model.slice(0, 80) : '',
    jobId,
    modelHash: b.modelHash.toLowerCase(),
    predictions: (preds as Prediction[]).map((p) => ({
      class: p.class,
      probabilities: [...p.probabilities],
    })),
  };
}
