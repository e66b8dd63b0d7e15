/**
 * Executors of the wallet tools (balance, fund, transfer, contacts): each builds a plan from the same
 * library calls the CLI uses (src/wallet), shows resolved names, amounts, fees and the balance after.
 */
import { formatEther } from 'viem';
import { AgoraToken } from '../../artifacts/index.ts';
import { walletClientFor } from '../chain/connect.ts';
import { tokenClient } from '../chain/token.ts';
import { estimateTx } from '../chain/tx.ts';
import { AgoraError } from '../errors.ts';
import { parseAmount } from '../wallet/amount.ts';
import { walletBalance } from '../wallet/balance.ts';
import { addContact, labelOf, listContacts, removeContact, resolveAddress } from '../wallet/contacts.ts';
import { DEFAULT_FUND_AGORA, DEFAULT_FUND_ETH, fundFromDevnet } from '../wallet/fund.ts';
import { transferAgora } from '../wallet/transfer.ts';
import { agentAccountClient } from './agent-account.ts';
import { type AgentEnv, agora, contract, feeOf, resolveParty } from './env.ts';
import type { PlanBody } from './tools.ts';

type A = Record<string, unknown>;
const str = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));

export async function planBalance(env: AgentEnv, a: A): Promise<PlanBody> {
  const who = resolveParty(env, str(a.address));
  return {
    summary: `show the balance of ${labelOf(who)}`,
    lines: [],
    params: { address: who.address },
    async execute() {
      const b = await walletBalance(env.conn, env.deployment, env.home, who.address);
      return {
        tool: 'wallet.balance',
        summary: `${labelOf(who)}: ${formatEther(b.eth)} ETH, ${agora(b.agora)}${b.stake ? `, stake ${agora(b.stake.stake)}` : ''}${b.claimable.length ? `, ${b.claimable.length} reward claim(s)` : ''}${b.channels.length ? `, ${b.channels.length} open channel(s)` : ''}`,
        data: {
          address: b.address,
          eth: formatEther(b.eth),
          agora: formatEther(b.agora),
          votes: formatEther(b.votes),
          stake: b.stake ? formatEther(b.stake.stake) : null,
          claimable: b.claimable.map((x) => ({ jobId: x.jobId, amount: formatEther(x.amount) })),
          channels: b.channels.map((x) => ({
            channelId: x.channelId,
            role: x.role,
            counterparty: x.counterparty,
          })),
        },
      };
    },
  };
}

export async function planFund(env: AgentEnv, a: A): Promise<PlanBody> {
  const who = resolveParty(env, str(a.address));
  if (env.conn.chainId !== 31337) {
    throw new AgoraError(
      'FUND_DEVNET_ONLY',
      `funding from devnet accounts only works on the devnet, not chain ${env.conn.chainId}`,
    );
  }
  return {
    summary: `devnet faucet: send ${formatEther(DEFAULT_FUND_ETH)} ETH and ${agora(DEFAULT_FUND_AGORA)} to ${labelOf(who)}`,
    lines: ['paid by devnet account 0 (public test keys), not by you'],
    params: { address: who.address, eth: DEFAULT_FUND_ETH.toString(), agora: DEFAULT_FUND_AGORA.toString() },
    spend: { token: 'AGORA', amount: 0n, to: who.address },
    async execute() {
      const r = await fundFromDevnet(env.conn, env.deployment, who.address);
      return {
        tool: 'wallet.fund',
        summary: `funded ${labelOf(who)} with ${formatEther(r.eth)} ETH and ${agora(r.agora)}`,
        data: { address: r.address, eth: formatEther(r.eth), agora: formatEther(r.agora) },
        txHash: r.agoraTx ?? r.ethTx ?? undefined,
      };
    },
  };
}

export async function planTransfer(env: AgentEnv, a: A): Promise<PlanBody> {
  const to = resolveParty(env, str(a.to));
  const amount = parseAmount(String(a.amount));
  const token = contract(env, 'AgoraToken');
  const via = env.policy?.account;
  const from = via ?? env.address;
  const balance = await tokenClient(env.conn, token).balanceOf(from);
  if (balance < amount) {
    throw new AgoraError(
      'INSUFFICIENT_AGORA',
      `${via ? 'the agent account' : 'your wallet'} holds ${agora(balance)}, less than the ${agora(amount)} to send`,
      { hint: env.conn.chainId === 31337 ? 'on the devnet run `agora wallet fund`' : undefined },
    );
  }
  let gas = 90_000n;
  const policyLines: string[] = [];
  if (via) {
    const left = (await agentAccountClient(env.conn, via).allowance(token)).available;
    if (left < amount) {
      throw new AgoraError(
        'OVER_CAP',
        `the agent account's on-chain cap has only ${agora(left)} left this period, less than ${agora(amount)}`,
        { hint: 'wait for the next period, or ask the owner to raise the cap (`agora agent account show`)' },
      );
    }
    policyLines.push(`on-chain cap: ${agora(left)} left this period`);
  } else {
    gas = await estimateTx(env.conn, env.address, {
      label: 'AgoraToken.transfer',
      address: token,
      abi: AgoraToken.abi,
      functionName: 'transfer',
      args: [to.address, amount],
    }).catch(() => gas);
  }
  return {
    summary: `send ${agora(amount)} to ${labelOf(to)}`,
    lines: [
      `from ${via ? `agent account ${via} (limits enforced on chain)` : `your wallet ${env.address}`}`,
      `fee ${await feeOf(env, gas)}`,
      `balance after ${agora(balance - amount)}`,
      ...policyLines,
    ],
    params: { to: to.address, amount: amount.toString(), token, from },
    spend: { token: 'AGORA', amount, to: to.address },
    async execute() {
      const signer = walletClientFor(env.conn, await env.account());
      if (via) {
        const receipt = await agentAccountClient(env.conn, via).transfer(signer, token, to.address, amount);
        return {
          tool: 'token.transfer',
          summary: `sent ${agora(amount)} to ${labelOf(to)} from the agent account`,
          data: { from: via, to: to.address, amount: formatEther(amount) },
          txHash: receipt.transactionHash,
        };
      }
      const r = await transferAgora(env.conn, token, signer, to.address, amount);
      return {
        tool: 'token.transfer',
        summary: `sent ${agora(amount)} to ${labelOf(to)}; balance now ${agora(r.balanceAfter)}`,
        data: {
          from: r.from,
          to: r.to,
          amount: formatEther(amount),
          balanceAfter: formatEther(r.balanceAfter),
        },
        txHash: r.txHash,
      };
    },
  };
}

export async function planContactsAdd(env: AgentEnv, a: A): Promise<PlanBody> {
  const name = String(a.name);
  const target = resolveAddress(env.home, String(a.address));
  return {
    summary: `save contact "${name.toLowerCase()}" → ${target.address}`,
    lines: target.name ? [`(the address of contact ${target.name})`] : [],
    params: { name: name.toLowerCase(), address: target.address },
    async execute() {
      const c = addContact(env.home, name, target.address);
      return { tool: 'contacts.add', summary: `saved ${c.name} → ${c.address}`, data: { ...c } };
    },
  };
}

export async function planContactsList(env: AgentEnv): Promise<PlanBody> {
  return {
    summary: 'list your contacts',
    lines: [],
    params: {},
    async execute() {
      const list = listContacts(env.home);
      return {
        tool: 'contacts.list',
        summary: list.length ? list.map((c) => `${c.name} ${c.address}`).join('; ') : 'no contacts yet',
        data: { contacts: list },
      };
    },
  };
}

export async function planContactsRemove(env: AgentEnv, a: A): Promise<PlanBody> {
  const who = resolveAddress(env.home, String(a.name));
  return {
    summary: `delete contact ${labelOf(who)}`,
    lines: [],
    params: { name: String(who.name), address: who.address },
    async execute() {
      const c = removeContact(env.home, String(who.name));
      return { tool: 'contacts.remove', summary: `deleted ${c.name}`, data: { removed: c } };
    },
  };
}
