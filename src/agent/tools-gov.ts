/**
 * Executors of the governance tools: vote (with a reason on chain), delegate, propose a protocol
 * parameter change. Same clients as the CLI and the node (src/chain/governance.ts, protocol-params.ts).
 */
import { AgoraGovernor } from '../../artifacts/index.ts';
import { walletClientFor } from '../chain/connect.ts';
import { governanceClient, type VoteSupport } from '../chain/governance.ts';
import { paramActions, readProtocolParams } from '../chain/protocol-params.ts';
import { tokenClient } from '../chain/token.ts';
import { sendTx } from '../chain/tx.ts';
import { AgoraError } from '../errors.ts';
import { parseAmount } from '../wallet/amount.ts';
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
      const receipt = reason
        ? await sendTx(env.conn, signer, {
            label: 'AgoraGovernor.castVoteWithReason',
            address: governor,
            abi: AgoraGovernor.abi,
            functionName: 'castVoteWithReason',
            args: [proposalId, { against: 0, for: 1, abstain: 2 }[support], reason],
          })
        : await gov.castVote(signer, proposalId, support);
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
  const [param, value] = String(a.set).split('=') as [string, string];
  const params = contract(env, 'ProtocolParams');
  const current = await readProtocolParams(env.conn, params);
  const action = (() => {
    switch (param) {
      case 'minStake':
        return paramActions.setMinProviderStake(params, parseAmount(value));
      case 'slashBps':
        return paramActions.setSlashBps(params, Number(value));
      case 'protocolFeeBps':
        return paramActions.setProtocolFeeBps(params, Number(value));
      case 'minChallengePeriod':
        return paramActions.setChallengePeriodBounds(params, BigInt(value), current.maxChallengePeriod);
      case 'maxChallengePeriod':
        return paramActions.setChallengePeriodBounds(params, current.minChallengePeriod, BigInt(value));
      case 'treasury':
        return paramActions.setTreasury(params, resolveParty(env, value).address);
      default:
        throw new AgoraError('BAD_ARGUMENT', `unknown parameter ${param}`);
    }
  })();
  const description = String(a.title ?? `Set ${param} to ${value}`);
  const governor = contract(env, 'AgoraGovernor');
  return {
    summary: `propose to governance: ${description}`,
    lines: [`action: ${action.target} ${action.data.slice(0, 10)}…`],
    params: { target: action.target, data: action.data, description },
    async execute() {
      const r = await governanceClient(env.conn, governor).propose(
        walletClientFor(env.conn, await env.account()),
        [action],
        description,
      );
      return {
        tool: 'gov.propose',
        summary: `proposal ${r.proposalId} created`,
        data: { proposalId: r.proposalId.toString() },
        txHash: r.receipt.transactionHash,
      };
    },
  };
}
