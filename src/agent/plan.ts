/**
 * What the agent will do, before it does it: a plan shows in plain words what a tool call will do
 * (resolved names, amounts, fees, balance after), carries the exact resolved parameters, and a hash of
 * them. A value-moving plan runs only with a confirmation of that hash (`runPlan`).
 */
import { type Address, type Hex, keccak256, toBytes } from 'viem';
import { AgoraError } from '../errors.ts';
import type { ToolCall, ToolDef } from './catalogue.ts';
import type { Spend } from './policy.ts';

export type ToolResult = {
  tool: string;
  summary: string;
  data: Record<string, unknown>;
  txHash?: Hex;
};

export type Plan = {
  call: ToolCall;
  tool: ToolDef;
  /** One line: what will happen. */
  summary: string;
  /** Details: resolved names, amounts, fees, balance after. */
  lines: string[];
  /** The exact resolved parameters (addresses, wei) the confirmation is bound to. */
  params: Record<string, string>;
  /** Value leaving the owner's funds, when any (checked against the policy). */
  spend?: Spend;
  /** True when the call changes anything (chain or home): it needs a confirmation. */
  needsConfirmation: boolean;
  /** keccak256 of the canonical {chainId, from, tool, params}. */
  hash: Hex;
  /** Runs the call. Call through `runPlan`, which checks the confirmation. */
  execute(): Promise<ToolResult>;
};

/** A confirmation: the user (or the policy) approved exactly the plan with this hash. */
export type Confirmation = { hash: Hex; by: 'user' | 'policy' };

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function planHash(chainId: number, from: Address, tool: string, params: Record<string, string>): Hex {
  return keccak256(toBytes(canonical({ chainId, from: from.toLowerCase(), tool, params })));
}

/** Runs a plan: one that changes anything needs a confirmation bound to its hash. */
export async function runPlan(plan: Plan, confirmation?: Confirmation): Promise<ToolResult> {
  if (plan.needsConfirmation && confirmation?.hash !== plan.hash) {
    throw new AgoraError(
      'NOT_CONFIRMED',
      `${plan.tool.name} was not run: it needs a confirmation of exactly these parameters (${plan.hash.slice(0, 10)})`,
      { hint: 'confirm the plan as shown; a changed amount, recipient or file needs a new confirmation' },
    );
  }
  return plan.execute();
}

/** The plan in plain words, as `agora ask` prints it before asking. */
export function describePlan(plan: Plan): string {
  return [plan.summary, ...plan.lines.map((l) => `  ${l}`)].join('\n');
}
