/**
 * Rules for the wallet: balance, devnet funding, token transfers and payment channels. A rule returns
 * undefined when the text is not about its tool, a call when every value is clear, and a question
 * otherwise. Value-moving tools never fill in a value the user did not say.
 */
import { CHANNEL_ID_RE } from '../catalogue.ts';
import {
  amountOf,
  type Ctx,
  findParties,
  has,
  notARequest,
  type Party,
  partyProblem,
  partyValue,
  phrase,
  unexplainedWord,
  vagueQuantity,
} from './context.ts';
import { OTHER_CURRENCIES } from './lexicon.ts';
import { call, clarify, type ParseResult } from './result.ts';

const TRANSFER_VERBS = ['send', 'transfer', 'pay', 'give', 'wire', 'tip', 'move'];
const BALANCE_WORDS = ['balance', 'balances', 'bal', 'funds', 'broke'];

function otherCurrency(ctx: Ctx): string | undefined {
  for (const t of ctx.ts) {
    // a saved contact named like a currency ("wei") is the contact
    if (t.kind === 'word' && OTHER_CURRENCIES.has(t.norm) && !ctx.contactByLower.has(t.norm)) return t.norm;
  }
  if (/\$|€|£/.test(ctx.text)) return 'dollars';
  return undefined;
}

/** Exactly one usable party for a value-moving action, or a question. */
function onePayee(parties: Party[], what: string): { to: string } | { problem: string } {
  const real = parties.filter((p) => p.status !== 'me');
  if (real.length === 0) {
    return {
      problem: parties.length
        ? `You can't ${what} yourself. Who should receive it? Give a contact name or a 0x address.`
        : `Who should receive it? Give a contact name or a 0x address.`,
    };
  }
  if (real.length > 1) {
    return {
      problem: `That names ${real.length} recipients (${real.map((p) => p.value).join(', ')}). I do one ${what} at a time: which one?`,
    };
  }
  const problem = partyProblem(real[0]!, true);
  return problem ? { problem } : { to: real[0]!.value };
}

/** Exactly one positive amount in AGORA, or a question. */
function oneAmount(ctx: Ctx, what: string, to?: string): { amount: string } | { problem: string } {
  const cur = otherCurrency(ctx);
  if (cur) return { problem: `I can only ${what} AGORA, not ${cur}. How much AGORA did you mean?` };
  const vague = vagueQuantity(ctx);
  if (vague) {
    return {
      problem: `How much AGORA exactly${to ? ` for ${to}` : ''}? ("${vague}" is not an amount I can act on.)`,
    };
  }
  if (ctx.nums.length === 0) return { problem: `How much AGORA should I ${what}${to ? ` to ${to}` : ''}?` };
  if (ctx.nums.length > 1) {
    return { problem: `I see more than one amount there. I do one ${what} at a time: how much, to whom?` };
  }
  return amountOf(ctx.nums[0]!);
}

export const transferRule = (ctx: Ctx): ParseResult | undefined => {
  if (!has(ctx, ...TRANSFER_VERBS)) return undefined;
  // "give me my balance": a request for information, not a payment
  if (
    ctx.nums.length === 0 &&
    has(ctx, ...BALANCE_WORDS) &&
    findParties(ctx).every((p) => p.status === 'me')
  ) {
    return undefined;
  }
  const guard = notARequest(ctx, 'send');
  if (guard) return clarify(guard);
  const parties = findParties(ctx);
  const payee = onePayee(parties, 'transfer');
  const amount = oneAmount(ctx, 'send', 'to' in payee ? payee.to : undefined);
  if ('problem' in payee) {
    if ('amount' in amount && parties.length === 0)
      return clarify(`Who should receive the ${amount.amount} AGORA? Give a contact name or a 0x address.`);
    return clarify(payee.problem);
  }
  if ('problem' in amount) return clarify(amount.problem);
  const extra = unexplainedWord(ctx);
  if (extra)
    return clarify(
      `I'm not sure what "${extra}" means here. Should I send ${amount.amount} AGORA to ${payee.to} now? Say it plainly to confirm.`,
    );
  return call('token.transfer', { to: payee.to, amount: amount.amount });
};

export const channelRule = (ctx: Ctx): ParseResult | undefined => {
  const cli = /^pay (open|close)\b/.exec(ctx.flat);
  const closeById = has(ctx, 'close', 'shut', 'settle') && ctx.ts.some((t) => t.kind === 'hash');
  if (!has(ctx, 'channel', 'channels') && !cli && !closeById) return undefined;
  // "the channel I have open", "my open channel": "open" describes a channel there, it is not the verb.
  const openVerb = ctx.ts.some(
    (t, i) =>
      t.kind === 'word' &&
      t.norm === 'open' &&
      !['have', 'has', 'is', 'are', 'still', 'currently', 'my', 'the', 'an', 'already'].includes(
        ctx.ts[i - 1]?.norm ?? '',
      ),
  );
  const opening = cli
    ? cli[1] === 'open'
    : openVerb || has(ctx, 'start', 'create', 'new', 'setup') || phrase(ctx, /\bset up\b/);
  const closing = cli ? cli[1] === 'close' : has(ctx, 'close', 'shut', 'end', 'finish', 'settle');
  if (opening === closing) {
    return clarify(
      'Do you want to open a payment channel (to whom, with what deposit) or close one (which)?',
    );
  }
  const guard = notARequest(ctx, opening ? 'open' : 'close');
  if (guard) return clarify(guard);
  const parties = findParties(ctx);
  if (opening) {
    const payee = onePayee(parties, 'channel');
    if ('problem' in payee) {
      return clarify(
        parties.length === 0
          ? 'Who should the channel pay? Give a contact name or a 0x address.'
          : payee.problem,
      );
    }
    const amount = oneAmount(ctx, 'deposit', payee.to);
    if ('problem' in amount) {
      return clarify(
        ctx.nums.length === 0
          ? `How much AGORA should I deposit in the channel to ${payee.to}?`
          : amount.problem,
      );
    }
    const extra = unexplainedWord(ctx);
    if (extra)
      return clarify(
        `I'm not sure what "${extra}" means here. Open a channel to ${payee.to} with ${amount.amount} AGORA? Say it plainly to confirm.`,
      );
    return call('pay.open', { to: payee.to, amount: amount.amount });
  }
  const ids = ctx.ts.filter((t) => t.kind === 'hash' && CHANNEL_ID_RE.test(t.text));
  if (ids.length === 1 && parties.length === 0 && ctx.nums.length === 0) {
    return call('pay.close', { channelId: ids[0]!.text });
  }
  if (ids.length > 1) return clarify('Which one channel should I close?');
  if (ctx.nums.length > 0 && ids.length === 0) {
    return clarify(
      "Channel ids are 0x followed by 64 hex digits. Which channel (or which payee's channel) should I close?",
    );
  }
  const real = parties.filter((p) => p.status !== 'me');
  if (real.length === 1 && ids.length === 0) {
    const problem = partyProblem(real[0]!, true);
    if (problem) return clarify(problem);
    return call('pay.close', { with: real[0]!.value });
  }
  return clarify(
    'Which channel should I close? Name the payee ("close my channel with bob") or give the channel id.',
  );
};

const FUND_PHRASES =
  /\b(top (me |it |my wallet |\S+ )?up|test (tokens|eth|ether|agora|money|funds)|devnet (tokens|eth|ether|agora|money|funds)|gas money|some gas)\b/;

export const fundRule = (ctx: Ctx): ParseResult | undefined => {
  if (!has(ctx, 'fund', 'faucet', 'drip') && !phrase(ctx, FUND_PHRASES)) return undefined;
  if (has(ctx, 'job', 'jobs', 'channel', 'channels')) return undefined;
  const guard = notARequest(ctx, 'fund');
  if (guard) return clarify(guard);
  if (ctx.nums.length > 0) {
    return clarify(
      'The devnet faucet sends a fixed amount of ETH and AGORA. Do you want to fund a wallet from it, or send a number of your own AGORA to someone?',
    );
  }
  const parties = findParties(ctx).filter((p) => p.status !== 'me');
  if (parties.length === 0) return call('wallet.fund', {});
  if (parties.length > 1) return clarify('Which one wallet should I fund?');
  const problem = partyProblem(parties[0]!, true);
  if (problem) return clarify(problem);
  return call('wallet.fund', { address: parties[0]!.value });
};

export const balanceRule = (ctx: Ctx): ParseResult | undefined => {
  const asks =
    has(ctx, ...BALANCE_WORDS) ||
    phrase(ctx, /\bhow (much|many)\b.*\b(have|has|got|hold|holds|own|owns|left|wallet)\b/) ||
    phrase(ctx, /\bhow much (agora|eth|money|tokens?)?\s*(is )?in\b/) ||
    phrase(ctx, /^(do|does) \S+ have (any )?(agora|eth|ether|tokens?|money|funds|gas)\b/) ||
    phrase(ctx, /\b(what's|whats|what is) in \S+ wallet\b/) ||
    phrase(ctx, /\b(wallet|account) (hold|holds|have|has|contain|contains|got)\b/) ||
    phrase(ctx, /^(my |\S+ )?(wallet|account)$/) ||
    phrase(ctx, /^(check|show|see|view|open)( me)? (my|the|\S+) (wallet|account)$/) ||
    phrase(ctx, /\b(wallet|account) (is )?empty\b|\bis (my|\S+) (wallet|account) empty\b/) ||
    phrase(ctx, /\bwhat (do|does) \S+ have\b|\bwhat \S+ (has|holds|owns)\b|\bhow rich\b/) ||
    phrase(ctx, /^(what's|whats|what has|what have) \S+ got\b/) ||
    (has(ctx, 'stake', 'rewards', 'reward', 'earnings') &&
      phrase(
        ctx,
        /^(show|what|what's|whats|list|check|see|view)\b|\b(do i have|have i got|my (stake|rewards))\b/,
      ));
  if (!asks) return undefined;
  if (
    has(ctx, ...TRANSFER_VERBS) &&
    (ctx.nums.length > 0 || findParties(ctx).some((p) => p.status !== 'me'))
  ) {
    return undefined;
  }
  const parties = findParties(ctx).filter((p) => p.status !== 'me');
  if (parties.length === 0) return call('wallet.balance', {});
  if (parties.length > 1) return clarify('Whose balance: which one wallet?');
  const problem = partyProblem(parties[0]!, false);
  if (problem) return clarify(problem);
  return call('wallet.balance', { address: partyValue(parties[0]!) });
};
