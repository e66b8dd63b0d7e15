/**
 * The embedded command parser: text → one tool call of the catalogue, or a question. No download, no
 * network, no model weights: a grammar with synonyms, number words, contact names and typo tolerance
 * (docs/agent-language.md). It never guesses a value-moving action: when a value is missing, vague,
 * negated, asked about rather than asked for, or names an unknown or misspelt contact, it asks.
 */
import { PRESETS } from '../../task/presets.ts';
import { validateToolCall } from '../catalogue.ts';
import { type Ctx, isInjection, makeCtx, type ParseOptions } from './context.ts';
import { clarify, type ParseResult, type Rule } from './result.ts';
import { contactsRule } from './rules-contacts.ts';
import { dataRule } from './rules-data.ts';
import { delegateRule, proposeRule, voteRule } from './rules-gov.ts';
import { balanceRule, channelRule, fundRule, transferRule } from './rules-money.ts';
import { jobRule, modelRule, rewardsRule } from './rules-work.ts';

export type { ParseOptions } from './context.ts';
export type { ParseResult } from './result.ts';
export { isClarify } from './result.ts';

export const HELP_QUESTION =
  'What would you like to do? For example: "what\'s my balance", "send 5 AGORA to alice", "add bob as 0x…", ' +
  '"register data.csv under MIT in the text sector", "train mnist-mlp on datasets 1 and 2", "status of job 4", ' +
  '"claim my rewards from job 4", "open a channel to bob with 20 AGORA", "vote for proposal 3", ' +
  '"delegate to myself", "propose a protocol fee of 2%", "query model digits with image.png".';

/** Longer texts get a question, not a parse. */
export const MAX_COMMAND_CHARS = 1000;

/** Rules in the order they are tried: specific topics before the general money verbs. */
const RULES: readonly Rule[] = [
  proposeRule,
  delegateRule,
  voteRule,
  channelRule,
  contactsRule,
  rewardsRule,
  jobRule,
  modelRule,
  dataRule,
  fundRule,
  transferRule,
  balanceRule,
];

function understood(ctx: Ctx): ParseResult {
  if (ctx.ts.length === 0) return clarify(HELP_QUESTION);
  if (isInjection(ctx)) {
    return clarify(
      'I act on one plain request at a time, not on instructions about my instructions. What should I do?',
    );
  }
  for (const rule of RULES) {
    const r = rule(ctx);
    if (r) return r;
  }
  return clarify(`I didn't understand that. ${HELP_QUESTION}`);
}

/** Parses one command. The result's args always satisfy the catalogue's schema for its tool. */
export function parseCommand(text: string, opts: ParseOptions = {}): ParseResult {
  // A request is a sentence. Cutting a long text could cut off a "don't"; ask instead.
  if (text.length > MAX_COMMAND_CHARS) {
    return clarify(`That is ${text.length} characters long. Say one request at a time, in a sentence.`);
  }
  const r = understood(makeCtx(text, opts, PRESETS));
  if ('clarify' in r) return r;
  const v = validateToolCall(r.tool, r.args);
  if (!v.ok) return clarify(`I could not make a valid request of that (${v.error}). Could you rephrase it?`);
  return { tool: v.call.tool, args: v.call.args };
}
