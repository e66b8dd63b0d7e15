/**
 * Setting up an agent's on-chain spending policy: the owner deploys an AgentAccount for the agent's
 * key and writes the policy into it (caps per token, counterparties, allowed contracts, expiry), funds
 * it, and delegates its votes to the agent. The same policy file then lets the client route the
 * agent's transfers through the account (`account` field), where the chain enforces the limits.
 */
import { type Address, getAddress, type Hex, isAddress } from 'viem';
import type { ChainConnection } from '../chain/connect.ts';
import type { Deployment, ProtocolContractName } from '../chain/deployments.ts';
import { tokenClient } from '../chain/token.ts';
import type { Signer } from '../chain/tx.ts';
import { AgoraError } from '../errors.ts';
import { agentAccountClient, deployAgentAccount } from './agent-account.ts';
import type { Policy } from './policy.ts';

export type AccountSetup = {
  account: Address;
  owner: Address;
  agent: Address;
  expiry: number;
  caps: { token: Address; cap: bigint; periodSeconds: number }[];
  counterparties: Address[];
  contracts: Address[];
  funded: bigint;
  delegatedTo: Address;
  txHashes: Hex[];
};

/** A cap's or contract's name → address: 0x as is, "AGORA" the token, protocol names from the deployment. */
export function addressOfName(deployment: Deployment, name: string): Address {
  if (isAddress(name)) return getAddress(name);
  const key = name.toUpperCase() === 'AGORA' ? 'AgoraToken' : name;
  const a = deployment.contracts[key as ProtocolContractName];
  if (!a) {
    throw new AgoraError('POLICY_UNKNOWN_NAME', `"${name}" is neither an address nor a deployed contract`, {
      hint: 'use AGORA, a protocol contract name (ComputeMarket, PaymentChannels) or an 0x address',
    });
  }
  return a;
}

export async function createAgentAccount(o: {
  conn: ChainConnection;
  deployment: Deployment;
  owner: Signer;
  agent: Address;
  policy: Policy;
  /** AGORA moved from the owner into the account (wei). */
  fund?: bigint;
  onProgress?: (m: string) => void;
}): Promise<AccountSetup> {
  const { conn, deployment, owner, policy } = o;
  const progress = o.onProgress ?? (() => {});
  const agent = getAddress(o.agent);
  if (agent === owner.account.address) {
    throw new AgoraError('AGENT_IS_OWNER', 'the agent must have its own key, not the owner’s', {
      hint: 'create a wallet for the agent (`agora wallet new`) and pass its address',
    });
  }
  progress(`deploying an AgentAccount for agent ${agent}…`);
  const address = await deployAgentAccount(conn, owner, agent, BigInt(policy.expiresAt));
  const acct = agentAccountClient(conn, address);
  const txHashes: Hex[] = [];
  const caps = policy.caps.map((c) => ({
    token: addressOfName(deployment, c.token),
    cap: c.amount,
    periodSeconds: c.periodSeconds,
  }));
  for (const c of caps) {
    progress(`cap ${c.cap} wei of ${c.token} per ${c.periodSeconds} s`);
    txHashes.push((await acct.setAllowance(owner, c.token, c.cap, BigInt(c.periodSeconds))).transactionHash);
  }
  for (const p of policy.counterparties) {
    txHashes.push((await acct.setCounterparty(owner, p, true)).transactionHash);
  }
  const contracts = policy.contracts.map((n) => addressOfName(deployment, n));
  for (const c of contracts) txHashes.push((await acct.setAllowedContract(owner, c, true)).transactionHash);
  const token = deployment.contracts.AgoraToken!;
  let funded = 0n;
  if (o.fund && o.fund > 0n) {
    progress(`moving ${o.fund} wei AGORA into the account`);
    txHashes.push((await tokenClient(conn, token).transfer(owner, address, o.fund)).transactionHash);
    funded = o.fund;
  }
  txHashes.push((await acct.delegateVotes(owner, token, agent)).transactionHash);
  return {
    account: address,
    owner: owner.account.address,
    agent,
    expiry: policy.expiresAt,
    caps,
    counterparties: policy.counterparties,
    contracts,
    funded,
    delegatedTo: agent,
    txHashes,
  };
}
