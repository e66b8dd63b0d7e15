/**
 * Executors of the governance tools: vote (with a reason on chain), delegate, propose a protocol
 * parameter change. Same clients as the CLI and the node (src/gov/).
 */
import { walletClientFor } from '../chain/connect.ts';
import { tokenClient } from '../chain/token.ts';
import { AgoraError } from '../errors.ts';
import { actionsFromFlags } from '../gov/action-flags.ts';
import { encodeActions } from '../gov/actions.ts';
import { governanceClient, type VoteSupport } from '../gov/governance.ts';
import { propose } from '../gov/member.ts';
import { readParamValues } from '../gov/param-state.ts';
import { govChain } from '../gov/proposals.ts';
import { actionWords } from '../gov/words.ts';
import { labelOf } from '../wallet/contacts.ts';
import { type AgentEnv, agora, contract, resolveParty } from './env.ts';
import type { PlanBody } from './tools.ts';

type A = Record<string, unknown>;

export async function planVote(env: AgentEnv, a: A): Promise<PlanBody> {
  const governor = contract(env, 'AgoraGovernor');
  const gov = governanceClient(env.conn, governor);
  const proposalId = BigInt(String(a.proposalId));
  const state = await gov.state(proposalId).catch(() => 'unknown');
  if (state !== 'Active')
    throw new AgoraError('PROPOSAL_NOT_ACTIVE', `proposal ${proposalId} is ${state}, not open for votes`);
  const votes = await tokenClient(env.conn, contract(env, 'AgoraToken')).getVotes(env.address);
  const support = String(a.support) as VoteSupport;
  const reason = a.reason === undefined ? undefined : String(a.reason);
  return {
    summary: `vote ${support} on proposal ${proposalId} with ${agora(votes)} of voting power`,
    lines: reason ? [`reason: ${JSON.stringify(reason)}`] : [],
    params: { proposalId: proposalId.toString(), support, reason: reason ?? '' },
    async execute() {
      const signer = walletClientFor(env.conn, await env.account());
      const receipt = await gov.castVote(signer, proposalId, support, reason);
      return {
        tool: 'gov.vote',
        summary: `voted ${support} on proposal ${proposalId}`,
        data: { proposalId: proposalId.toString(), support },
        txHash: receipt.transactionHash,
      };
    },
  };
}

export async function planDelegate(env: AgentEnv, a: A): Promise<PlanBody> {
  const to = resolveParty(env, String(a.to));
  const token = contract(env, 'AgoraToken');
  return {
    summary: `delegate your voting power to ${labelOf(to)}`,
    lines: [
      `${agora(await tokenClient(env.conn, token).balanceOf(env.address))} of votes move; your tokens stay yours`,
    ],
    params: { to: to.address },
    async execute() {
      const r = await tokenClient(env.conn, token).delegate(
        walletClientFor(env.conn, await env.account()),
        to.address,
      );
      return {
        tool: 'gov.delegate',
        summary: `delegated to ${labelOf(to)}`,
        data: { to: to.address },
        txHash: r.transactionHash,
      };
    },
  };
}

export async function planPropose(env: AgentEnv, a: A): Promise<PlanBody> {
  if (!a.set)
    throw new AgoraError('NEEDS_MORE', 'which parameter should the proposal change?', {
      hint: 'e.g. "propose a protocol fee of 2%"',
    });
  if (!env.deployment) contract(env, 'AgoraGovernor');
  const g = govChain(env.conn, env.deployment!);
  const resolve = (who: string) => resolveParty(env, who).address;
  const actions = actionsFromFlags([{ flag: 'set', values: [String(a.set)] }], resolve, resolve);
  const before = await readParamValues(g);
  const calls = encodeActions(actions, g.contracts, before);
  const description = String(a.title ?? `Set ${String(a.set)}`);
  return {
    summary: `propose to governance: ${description}`,
    lines: actions.map((x) => `action: ${actionWords(x, before)}`),
    params: { calls: calls.map((c) => `${c.target}:${c.data}`).join(','), description },
    async execute() {
      const r = await propose(g, walletClientFor(env.conn, await env.account()), actions, description);
      return {
        tool: 'gov.propose',
        summary: `proposal ${r.proposal.id} created`,
        data: { proposalId: r.proposal.id.toString() },
        txHash: r.receipt.transactionHash,
      };
    },
  };
}
