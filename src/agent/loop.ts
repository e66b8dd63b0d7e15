/**
 * One turn of the conversation: text → parse → plan → confirmation → act → result. What `agora ask`,
 * `agora chat` and the hostile-input test run. The rules:
 * - read-only tools run at once;
 * - anything else runs only with a confirmation bound to the plan's hash: the user's (`confirm`), or,
 *   with `yes`, the spending policy's: a value-moving plan auto-confirms only when a policy is loaded,
 *   not expired, and the spend fits its caps and counterparties; a non-value plan auto-confirms;
 * - a spend is written to the ledger before its transaction is sent.
 * Text, data and model outputs are never instructions: only the parsed call and the user's answer count.
 */

import type { AgentEnv } from './env.ts';
import { nowOf } from './env.ts';
import type { ParseResult } from './parse/index.ts';
import { type Confirmation, type Plan, runPlan, type ToolResult } from './plan.ts';
import { checkSpend, type SpendCheck } from './policy.ts';
import type { SpendLedger } from './spend-ledger.ts';
import { planCall } from './tools.ts';

export type Turn =
  | { kind: 'clarify'; question: string }
  | { kind: 'error'; code: string; message: string; hint?: string; plan?: Plan }
  | { kind: 'declined'; plan: Plan; reason: string }
  | { kind: 'done'; plan?: Plan; result: ToolResult; confirmedBy?: Confirmation['by'] };

export type LoopDeps = {
  env: AgentEnv;
  /** The embedded parser, or an LLM backend (async). */
  parse(text: string): ParseResult | Promise<ParseResult>;
  /** Asks the user about the plan; true only on an explicit yes. Omitted: nobody to ask. */
  confirm?(plan: Plan): Promise<boolean>;
  /** `--yes`: confirm within the spending policy. */
  yes?: boolean;
  ledger: SpendLedger;
};

/** Whether the loaded policy confirms `plan` on its own (the `--yes` rule). */
export function policyConfirms(env: AgentEnv, ledger: SpendLedger, plan: Plan): SpendCheck {
  if (!plan.tool.movesValue) return { ok: true };
  if (!env.policy)
    return {
      ok: false,
      reason: 'value-moving actions need your confirmation (no spending policy is loaded)',
    };
  if (!plan.spend)
    return { ok: false, reason: `${plan.tool.name} has no declared spend the policy could check` };
  if (plan.spend.amount === 0n && plan.spend.to !== env.address) {
    return { ok: false, reason: `value would go to ${plan.spend.to}, not to you: confirm it yourself` };
  }
  const now = nowOf(env);
  return checkSpend(env.policy, plan.spend, now, (token, period) => ledger.spentSince(token, now - period));
}

function errorTurn(e: unknown, plan?: Plan): Turn {
  const err = e as { code?: string; message?: string; hint?: string };
  return {
    kind: 'error',
    code: err.code ?? 'INTERNAL',
    message: err.message ?? String(e),
    hint: err.hint,
    plan,
  };
}

/**
 * Runs a confirmed plan, writing its spend to the ledger first. The call is planned again just before
 * it runs: if anything the confirmation covered changed in between (a contact now points elsewhere, the
 * file's records differ), the hashes differ and nothing runs.
 */
export async function act(deps: LoopDeps, confirmed: Plan, confirmation: Confirmation): Promise<ToolResult> {
  const plan = confirmed.needsConfirmation ? await planCall(deps.env, confirmed.call) : confirmed;
  const spend = plan.spend && plan.spend.amount > 0n ? plan.spend : undefined;
  const id = spend
    ? deps.ledger.reserve({
        at: nowOf(deps.env),
        token: spend.token,
        amount: spend.amount.toString(),
        to: spend.to,
        tool: plan.tool.name,
        by: confirmation.by,
      })
    : undefined;
  try {
    const result = await runPlan(plan, confirmation);
    if (id) deps.ledger.settle(id, 'sent', result.txHash);
    return result;
  } catch (e) {
    if (id) deps.ledger.settle(id, 'failed');
    throw e;
  }
}

/** Decides and acts on a planned call. */
export async function decideAndAct(deps: LoopDeps, plan: Plan): Promise<Turn> {
  let confirmation: Confirmation | undefined;
  if (plan.needsConfirmation) {
    const byPolicy = deps.yes ? policyConfirms(deps.env, deps.ledger, plan) : undefined;
    if (byPolicy?.ok) confirmation = { hash: plan.hash, by: 'policy' };
    else if (deps.confirm && (await deps.confirm(plan))) confirmation = { hash: plan.hash, by: 'user' };
    else {
      return {
        kind: 'declined',
        plan,
        reason: byPolicy && !byPolicy.ok ? `not confirmed: ${byPolicy.reason}` : 'not confirmed',
      };
    }
  }
  try {
    const result = await act(deps, plan, confirmation ?? { hash: plan.hash, by: 'user' });
    return { kind: 'done', plan, result, confirmedBy: confirmation?.by };
  } catch (e) {
    return errorTurn(e, plan);
  }
}

/** One conversational turn. Never throws on bad input: errors come back as a turn. */
export async function handleText(deps: LoopDeps, text: string): Promise<Turn> {
  let parsed: ParseResult;
  try {
    parsed = await deps.parse(text);
  } catch (e) {
    return errorTurn(e);
  }
  if ('clarify' in parsed) return { kind: 'clarify', question: parsed.clarify };
  let plan: Plan;
  try {
    plan = await planCall(deps.env, parsed);
  } catch (e) {
    return errorTurn(e);
  }
  return decideAndAct(deps, plan);
}
