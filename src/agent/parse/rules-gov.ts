/**
 * Rules for governance: proposals that set a protocol parameter, votes (with a reason), delegation.
 */
import { GOV_PARAMS, type GovParam, isValidGovSetting } from '../catalogue.ts';
import {
  type Ctx,
  findParties,
  has,
  integerOf,
  isQuestionAbout,
  notARequest,
  partyProblem,
  phrase,
  textFrom,
} from './context.ts';
import { fixedToDecimal, isWhole } from './fixed.ts';
import type { NumberSpan } from './numbers.ts';
import { call, clarify, type ParseResult } from './result.ts';

// ---------------------------------------------------------------- gov.propose

const PARAM_ALIASES: Record<string, GovParam> = {
  minstake: 'minStake',
  minproviderstake: 'minStake',
  stake: 'minStake',
  slash: 'slashBps',
  slashbps: 'slashBps',
  fee: 'protocolFeeBps',
  feebps: 'protocolFeeBps',
  protocolfee: 'protocolFeeBps',
  protocolfeebps: 'protocolFeeBps',
  minchallengeperiod: 'minChallengePeriod',
  minchallenge: 'minChallengePeriod',
  maxchallengeperiod: 'maxChallengePeriod',
  maxchallenge: 'maxChallengePeriod',
  treasury: 'treasury',
};

const PARAM_LIST = Object.keys(GOV_PARAMS).join(', ');

function paramFromWords(ctx: Ctx): GovParam[] | undefined {
  const found = new Set<GovParam>();
  if (phrase(ctx, /\bchallenge (period|window)\b/)) {
    if (phrase(ctx, /\b(min|minimum|shortest)\b/)) found.add('minChallengePeriod');
    if (phrase(ctx, /\b(max|maximum|longest)\b/)) found.add('maxChallengePeriod');
    if (found.size === 0) return undefined;
  }
  if (has(ctx, 'treasury')) found.add('treasury');
  if (has(ctx, 'slash', 'slashing')) found.add('slashBps');
  if (has(ctx, 'fee', 'fees')) found.add('protocolFeeBps');
  if (has(ctx, 'stake', 'staking')) found.add('minStake');
  return [...found];
}

function valueFor(
  param: GovParam,
  ctx: Ctx,
  span: NumberSpan | undefined,
): { value: string } | { problem: string } {
  const kind = GOV_PARAMS[param];
  if (kind === 'address') {
    const ps = findParties(ctx).filter((p) => p.status !== 'me');
    if (ps.length !== 1) return { problem: 'Which address (or contact) should the treasury be?' };
    const problem = partyProblem(ps[0]!, true);
    return problem ? { problem } : { value: ps[0]!.value };
  }
  if (!span) return { problem: `What value should ${param} have?` };
  if (span.signed) return { problem: `${param} cannot be negative. What value did you mean?` };
  const after = ctx.ts[span.end]?.norm;
  if (kind === 'bps') {
    if (span.percent) {
      const bps = span.value * 100n;
      if (!isWhole(bps))
        return { problem: `${param} is in whole basis points (0.01%). What value did you mean?` };
      return { value: fixedToDecimal(bps) };
    }
    if (after === 'bps' || (after === 'basis' && ctx.ts[span.end + 1]?.norm === 'points')) {
      const v = integerOf(span);
      return v === undefined ? { problem: `${param} is a whole number of basis points.` } : { value: v };
    }
    return {
      problem: `Is that ${fixedToDecimal(span.value)} percent or ${fixedToDecimal(span.value)} basis points?`,
    };
  }
  if (kind === 'seconds') {
    const mult = after?.startsWith('minute')
      ? 60n
      : after?.startsWith('hour')
        ? 3600n
        : after?.startsWith('day')
          ? 86400n
          : 1n;
    const v = span.value * mult;
    if (!isWhole(v) || span.percent) return { problem: `${param} is a whole number of seconds. How long?` };
    return { value: fixedToDecimal(v) };
  }
  if (span.percent) return { problem: `${param} is an amount of AGORA, not a percentage. How much?` };
  if (span.value <= 0n) return { problem: `${param} must be more than 0.` };
  return { value: fixedToDecimal(span.value) };
}

function titleOf(ctx: Ctx): string | undefined {
  for (let i = 0; i < ctx.ts.length; i++) {
    const t = ctx.ts[i]!;
    if (t.kind === 'quoted' && t.text.trim()) return t.text.trim();
  }
  const at = ctx.ts.findIndex((t) => t.kind === 'word' && (t.norm === 'titled' || t.norm === 'title'));
  if (at >= 0 && at + 1 < ctx.ts.length) {
    const title = textFrom(ctx, at + 1).replace(/^[:\s]+/, '');
    return title || undefined;
  }
  return undefined;
}

export const proposeRule = (ctx: Ctx): ParseResult | undefined => {
  const proposing =
    has(ctx, 'propose', 'proposing') ||
    phrase(
      ctx,
      /\b(make|create|submit|draft|new|open|file|start) (a |an )?(new )?(governance )?proposal\b/,
    ) ||
    phrase(ctx, /^gov propose\b/);
  if (!proposing) return undefined;
  const guard = notARequest(ctx, 'propose');
  if (guard) return clarify(guard);
  const title = titleOf(ctx);
  const withTitle = (args: Record<string, unknown>) => (title ? { ...args, title } : args);

  const assigns = ctx.ts.filter((t) => t.kind === 'assign');
  if (assigns.length > 1)
    return clarify('One parameter per proposal, please: which setting should this one change?');
  if (assigns.length === 1) {
    const raw = assigns[0]!.text;
    const eq = raw.indexOf('=');
    const param = PARAM_ALIASES[raw.slice(0, eq).toLowerCase()];
    if (!param)
      return clarify(`"${raw.slice(0, eq)}" is not a parameter I can propose. Parameters: ${PARAM_LIST}.`);
    let value = raw.slice(eq + 1);
    if (GOV_PARAMS[param] === 'amount' && /^\d+(\.\d+)?$/.test(value)) {
      value = value
        .replace(/^0+(?=\d)/, '')
        .replace(/(\.\d*?)0+$/, '$1')
        .replace(/\.$/, '');
    }
    const set = `${param}=${value}`;
    if (!isValidGovSetting(set))
      return clarify(`"${value}" is not a valid value for ${param}. What should it be?`);
    return call('gov.propose', withTitle({ set }));
  }

  const params = paramFromWords(ctx);
  if (params === undefined) return clarify('The minimum or the maximum challenge period?');
  if (params.length === 0) {
    return clarify(`What should the proposal change? I can propose a new value for ${PARAM_LIST}.`);
  }
  if (params.length > 1) return clarify(`One parameter per proposal: ${params.join(' or ')}?`);
  const param = params[0]!;
  if (GOV_PARAMS[param] !== 'address' && ctx.nums.length > 1) {
    return clarify(`I see more than one number there. What value should ${param} have?`);
  }
  const v = valueFor(param, ctx, ctx.nums[0]);
  if ('problem' in v) return clarify(v.problem);
  return call('gov.propose', withTitle({ set: `${param}=${v.value}` }));
};

// ---------------------------------------------------------------- gov.delegate

export const delegateRule = (ctx: Ctx): ParseResult | undefined => {
  const delegating =
    has(ctx, 'delegate', 'delegates', 'delegation', 'self-delegate', 'redelegate') ||
    phrase(
      ctx,
      /\b(hand|give|lend|assign|pass|move) (over )?my (votes|voting power|vote)\b|\bvoting power\b|\bvote (for|on behalf of|instead of) me\b|\bvote on my behalf\b|\bself delegate\b/,
    );
  if (!delegating) return undefined;
  const guard = notARequest(ctx, 'delegate');
  if (guard) return clarify(guard);
  const parties = findParties(ctx);
  const others = parties.filter((p) => p.status !== 'me');
  const selfish = phrase(ctx, /\bself[- ]?delegat|\b(to|for) (me|myself)\b|^delegate (me|myself)\b/);
  if (others.length === 0) {
    if (selfish || parties.some((p) => p.status === 'me')) return call('gov.delegate', { to: 'me' });
    return clarify(
      'To whom should I delegate your voting power? Give a contact name, a 0x address, or "myself".',
    );
  }
  if (others.length > 1) return clarify('Voting power goes to one delegate: which one?');
  const problem = partyProblem(others[0]!, true);
  if (problem) return clarify(problem);
  return call('gov.delegate', { to: others[0]!.value });
};

// ---------------------------------------------------------------- gov.vote

const SUPPORT: Record<string, 'for' | 'against' | 'abstain'> = {
  yes: 'for',
  for: 'for',
  support: 'for',
  favour: 'for',
  favor: 'for',
  approve: 'for',
  aye: 'for',
  yea: 'for',
  no: 'against',
  against: 'against',
  reject: 'against',
  oppose: 'against',
  nay: 'against',
  abstain: 'abstain',
  abstaining: 'abstain',
  abstention: 'abstain',
};

const REASON_MARKERS = new Set(['because', 'since', 'reason', 'cause', 'as']);

export const voteRule = (ctx: Ctx): ParseResult | undefined => {
  const voting =
    has(ctx, 'vote', 'votes', 'voted', 'abstain') ||
    phrase(ctx, /^(yes|no|aye|nay|yea|for|against) on (proposal |prop )?\d+$/) ||
    (has(ctx, 'support', 'against', 'favour', 'favor', 'approve', 'reject', 'oppose', 'yes', 'no') &&
      has(ctx, 'proposal', 'prop', 'proposals'));
  if (!voting) return undefined;
  if (isQuestionAbout(ctx)) {
    return clarify(
      'That sounds like a question, so I won\'t vote. Say "vote for|against|abstain on proposal N".',
    );
  }
  // The reason is everything after "because" / "since" / "reason:"; the vote is read from what comes before.
  let cut = ctx.ts.length;
  for (let i = 1; i < ctx.ts.length; i++) {
    const t = ctx.ts[i]!;
    if (
      t.kind === 'word' &&
      REASON_MARKERS.has(t.norm) &&
      (t.norm !== 'as' || ctx.ts[i - 1]?.kind === 'number')
    ) {
      cut = i;
      break;
    }
  }
  const reason = cut < ctx.ts.length ? textFrom(ctx, cut + 1).replace(/^[:\s-]+/, '') : undefined;
  const head = ctx.ts.slice(0, cut);
  const supports = new Set<'for' | 'against' | 'abstain'>();
  for (const t of head) {
    const s = t.kind === 'word' ? SUPPORT[t.norm] : undefined;
    if (s) supports.add(s);
  }
  if (/\bnot\b|\bdon't\b|\bdont\b|\bnever\b/.test(head.map((t) => t.norm).join(' '))) {
    return clarify('I read a "not" in that. Which vote: for, against or abstain?');
  }
  const nums = ctx.nums.filter((s) => s.start < cut);
  const ids = nums.map(integerOf);
  if (nums.length === 0) return clarify('Which proposal? Give its id, e.g. "vote for proposal 3".');
  if (nums.length > 1 || ids[0] === undefined)
    return clarify('Which one proposal (its id) should I vote on?');
  if (supports.size === 0) return clarify(`How do you vote on proposal ${ids[0]}: for, against or abstain?`);
  if (supports.size > 1)
    return clarify(`For, against or abstain on proposal ${ids[0]}? I read more than one.`);
  const support = [...supports][0]!;
  return call('gov.vote', reason ? { proposalId: ids[0], support, reason } : { proposalId: ids[0], support });
};
