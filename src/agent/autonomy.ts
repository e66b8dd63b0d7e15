/**
 * The rules an autonomous agent follows (the `autonomy` section of its policy file): how to vote on a
 * proposal, judged only from what the proposal's actions do (decoded calldata), never from its
 * description or any other text; and when to claim rewards. Pure.
 */
import { z } from 'zod';
import { parseAmount } from '../wallet/amount.ts';

const bound = z.union([z.number().nonnegative(), z.string().min(1)]);

export const autonomySchema = z.strictObject({
  intervalSeconds: z.number().int().positive().default(30),
  vote: z
    .strictObject({
      rules: z
        .array(
          z.strictObject({
            /** Function a proposal action calls, e.g. setProtocolFeeBps. */
            call: z.string().min(1),
            /** Bounds on its first argument: a number, or "N AGORA" for amounts. */
            atLeast: bound.optional(),
            atMost: bound.optional(),
            support: z.enum(['for', 'against', 'abstain']),
            reason: z.string().min(1).max(500),
          }),
        )
        .default([]),
      /** What to do when an action matches no rule. */
      otherwise: z.enum(['against', 'abstain', 'skip']).default('skip'),
    })
    .optional(),
  claim: z.strictObject({ minAmount: z.string() }).optional(),
  /** Buying predictions for queued inputs from the cheapest model that meets the requirements. */
  buy: z
    .strictObject({
      /** A directory of inputs (each .json/.png/.jpg file one query) or one such file. */
      inputs: z.string().min(1),
      /** Where results go (default: beside each input, `<input>.prediction.json`). */
      output: z.string().min(1).optional(),
      /** Servers whose announcements are read (besides the ones `agora models` knows). */
      servers: z.array(z.string().regex(/^https?:\/\//, 'an http(s) URL')).default([]),
      /** The task the model must be trained for, e.g. mnist-mlp. */
      task: z.string().min(1),
      /** Most AGORA per input row. */
      maxPrice: z.string().min(1),
      /** Minimum metric, measured by the agent on a labelled probe file it holds. */
      metric: z
        .strictObject({
          name: z.literal('accuracy'),
          atLeast: z.number().min(0).max(1),
          /** JSONL: one {"input": [...], "label": N} a line (at most 64 lines: one request). */
          probe: z.string().min(1),
        })
        .optional(),
      /** Most queries per pass. */
      maxPerTick: z.number().int().positive().default(20),
    })
    .optional(),
});
export type Autonomy = z.infer<typeof autonomySchema>;

/** One proposal action as the agent understands it: the function it calls and its arguments. */
export type DecodedAction = { target: string; call: string; args: readonly unknown[] };

export type VoteDecision =
  | { vote: true; support: 'for' | 'against' | 'abstain'; reason: string }
  | { vote: false; reason: string };

function boundValue(b: number | string): bigint {
  if (typeof b === 'number') return BigInt(Math.floor(b));
  const m = /^\s*([\d.,_]+)\s*AGORA\s*$/i.exec(b);
  return m ? parseAmount(m[1]!) : BigInt(b.trim());
}

function firstNumber(args: readonly unknown[]): bigint | undefined {
  const v = args[0];
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  return undefined;
}

/**
 * The vote on a proposal: each action takes the first rule it matches; any `against` makes the vote
 * against, all `for` make it for, anything else abstains; an unmatched action takes `otherwise`.
 */
export function decideVote(autonomy: Autonomy, actions: readonly DecodedAction[]): VoteDecision {
  const v = autonomy.vote;
  if (!v) return { vote: false, reason: 'the policy has no voting rules' };
  if (actions.length === 0) return { vote: false, reason: 'the proposal has no actions' };
  const picks: { support: 'for' | 'against' | 'abstain'; reason: string }[] = [];
  for (const a of actions) {
    const n = firstNumber(a.args);
    const rule = v.rules.find((r) => {
      if (r.call !== a.call) return false;
      if (r.atLeast !== undefined && (n === undefined || n < boundValue(r.atLeast))) return false;
      if (r.atMost !== undefined && (n === undefined || n > boundValue(r.atMost))) return false;
      return true;
    });
    if (rule) picks.push({ support: rule.support, reason: rule.reason });
    else if (v.otherwise === 'skip') return { vote: false, reason: `no rule covers ${a.call}` };
    else picks.push({ support: v.otherwise, reason: `no rule covers ${a.call}` });
  }
  const support = picks.some((p) => p.support === 'against')
    ? 'against'
    : picks.every((p) => p.support === 'for')
      ? 'for'
      : 'abstain';
  const reasons = [...new Set(picks.filter((p) => p.support === support).map((p) => p.reason))];
  return { vote: true, support, reason: reasons.join('; ') };
}

/** A model for sale as the buyer sees it (from any `ModelSource`). */
export type Candidate = {
  predictUrl: string;
  task: string;
  modelHash: string;
  chainId: number;
  paymentChannels: string | null;
  /** Price per row, token base units. */
  unitPrice: bigint;
};

export type BuyRequirements = {
  task: string;
  maxPrice: bigint;
  chainId: number;
  paymentChannels: string;
  metric?: { atLeast: number };
};

/**
 * The candidates worth trying, cheapest first, each with why others are left out (pure). The metric
 * is checked after, on the agent's own probe: `pickModel` takes the scores.
 */
export function rankCandidates(
  candidates: readonly Candidate[],
  req: BuyRequirements,
): { ranked: Candidate[]; rejected: { candidate: Candidate; reason: string }[] } {
  const rejected: { candidate: Candidate; reason: string }[] = [];
  const ranked: Candidate[] = [];
  for (const c of candidates) {
    const reason =
      c.task !== req.task
        ? `trained for ${c.task}, not ${req.task}`
        : c.chainId !== req.chainId
          ? `paid on chain ${c.chainId}, not ${req.chainId}`
          : (c.paymentChannels ?? '').toLowerCase() !== req.paymentChannels.toLowerCase()
            ? 'paid through another PaymentChannels contract'
            : c.unitPrice > req.maxPrice
              ? `${c.unitPrice} wei per row is over the ${req.maxPrice} wei maximum`
              : undefined;
    if (reason) rejected.push({ candidate: c, reason });
    else ranked.push(c);
  }
  ranked.sort((a, b) => (a.unitPrice < b.unitPrice ? -1 : a.unitPrice > b.unitPrice ? 1 : 0));
  return { ranked, rejected };
}

/** Whether a measured score meets the policy's minimum (always, when it sets none). */
export function meetsMetric(req: BuyRequirements, score: number | undefined): boolean {
  return req.metric === undefined || (score !== undefined && score >= req.metric.atLeast);
}
