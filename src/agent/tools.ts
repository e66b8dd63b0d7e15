/**
 * Tool executors: every catalogue tool bound to the library calls the CLI uses. `planCall` validates a
 * call, resolves names, reads what the plan needs (balances, quotes, fees), and returns a Plan whose
 * `execute` acts; `describe` renders it in plain words.
 */
import { AgoraError } from '../errors.ts';
import { assertHasGas } from '../wallet/transfer.ts';
import { type ToolCall, type ToolName, toolByName, validateToolCall } from './catalogue.ts';
import type { AgentEnv } from './env.ts';
import { describePlan, type Plan, planHash } from './plan.ts';
import { planDelegate, planPropose, planVote } from './tools-gov.ts';
import {
  planDataAdd,
  planDataShow,
  planJobCreate,
  planJobStatus,
  planPayClose,
  planPayOpen,
  planRewardsClaim,
} from './tools-protocol.ts';
import { planModelQuery } from './tools-query.ts';
import {
  planBalance,
  planContactsAdd,
  planContactsList,
  planContactsRemove,
  planFund,
  planTransfer,
} from './tools-wallet.ts';

/** What an executor returns; `planCall` adds the call, the tool, the hash and the confirmation rule. */
export type PlanBody = Pick<Plan, 'summary' | 'lines' | 'params' | 'spend' | 'execute'>;

type Executor = (env: AgentEnv, args: Record<string, unknown>) => Promise<PlanBody>;

export const EXECUTORS: Record<ToolName, Executor> = {
  'wallet.balance': planBalance,
  'wallet.fund': planFund,
  'token.transfer': planTransfer,
  'contacts.add': planContactsAdd,
  'contacts.list': planContactsList,
  'contacts.remove': planContactsRemove,
  'data.add': planDataAdd,
  'data.show': planDataShow,
  'job.create': planJobCreate,
  'job.status': planJobStatus,
  'rewards.claim': planRewardsClaim,
  'pay.open': planPayOpen,
  'pay.close': planPayClose,
  'gov.vote': planVote,
  'gov.delegate': planDelegate,
  'gov.propose': planPropose,
  'model.query': planModelQuery,
};

/** Tools that only read: they run without a confirmation. Everything else changes the chain or the home. */
const READ_ONLY: ReadonlySet<ToolName> = new Set([
  'wallet.balance',
  'contacts.list',
  'data.show',
  'job.status',
]);

/** Validates `call` against the catalogue and plans it. */
export async function planCall(env: AgentEnv, call: { tool: string; args?: unknown }): Promise<Plan> {
  const v = validateToolCall(call.tool, call.args ?? {});
  if (!v.ok) throw new AgoraError('BAD_TOOL_CALL', v.error);
  const c: ToolCall = v.call;
  const tool = toolByName(c.tool)!;
  // A transaction from a wallet with no ETH would fail at the node with a raw error: say so first.
  // (model.query sends one only when it opens a channel: its executor checks then.)
  if (tool.sendsTransaction && c.tool !== 'wallet.fund' && c.tool !== 'model.query')
    await assertHasGas(env.conn, env.address);
  const body = await EXECUTORS[c.tool](env, c.args);
  if (tool.sendsTransaction) {
    // The account's next nonce is part of what is confirmed: a confirmation runs once, never replays.
    const nonce = await env.conn.publicClient.getTransactionCount({
      address: env.address,
      blockTag: 'pending',
    });
    body.params = { ...body.params, nonce: String(nonce) };
  }
  return {
    ...body,
    call: c,
    tool,
    needsConfirmation: !READ_ONLY.has(c.tool),
    hash: planHash(env.conn.chainId, env.address, c.tool, body.params),
  };
}

/** In plain words what `call` will do (resolved names, amounts, fees, balance after). */
export async function describe(env: AgentEnv, call: { tool: string; args?: unknown }): Promise<string> {
  return describePlan(await planCall(env, call));
}
