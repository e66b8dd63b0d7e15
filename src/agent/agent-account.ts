/**
 * Client of the AgentAccount contract (contracts/AgentAccount.sol): the on-chain spending policy. The
 * owner deploys it, funds it, sets caps, counterparties, contracts and expiry, and delegates its votes
 * to the agent; the agent spends with its own key, and the contract reverts anything outside the limits.
 */
import { type Address, getAddress, type Hex, type TransactionReceipt } from 'viem';
import { AgentAccount } from '../../artifacts/index.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { deployContract } from '../chain/deploy-contract.ts';
import { readTx, type Signer, sendTx } from '../chain/tx.ts';

export type AccountAllowance = {
  cap: bigint;
  period: bigint;
  windowStart: bigint;
  spent: bigint;
  available: bigint;
};

export type AgentAccountClient = {
  address: Address;
  owner(): Promise<Address>;
  agent(): Promise<Address>;
  expiry(): Promise<bigint>;
  allowance(token: Address): Promise<AccountAllowance>;
  isCounterparty(account: Address): Promise<boolean>;
  isAllowedContract(target: Address): Promise<boolean>;
  setAgent(owner: Signer, agent: Address, expiry: bigint): Promise<TransactionReceipt>;
  setAllowance(
    owner: Signer,
    token: Address,
    cap: bigint,
    periodSeconds: bigint,
  ): Promise<TransactionReceipt>;
  setCounterparty(owner: Signer, account: Address, allowed: boolean): Promise<TransactionReceipt>;
  setAllowedContract(owner: Signer, target: Address, allowed: boolean): Promise<TransactionReceipt>;
  withdraw(owner: Signer, token: Address, to: Address, amount: bigint): Promise<TransactionReceipt>;
  delegateVotes(owner: Signer, token: Address, delegatee: Address): Promise<TransactionReceipt>;
  transfer(agent: Signer, token: Address, to: Address, amount: bigint): Promise<TransactionReceipt>;
  callWithAllowance(
    agent: Signer,
    token: Address,
    target: Address,
    amount: bigint,
    data: Hex,
  ): Promise<TransactionReceipt>;
};

export async function deployAgentAccount(
  conn: ChainConnection,
  owner: Signer,
  agent: Address,
  expiry: bigint,
): Promise<Address> {
  return getAddress(
    await deployContract(conn.publicClient, owner, AgentAccount, [owner.account.address, agent, expiry]),
  );
}

export function agentAccountClient(conn: ChainConnection, address: Address): AgentAccountClient {
  const abi = AgentAccount.abi;
  const a = getAddress(address);
  const read = <T>(functionName: string, args: readonly unknown[] = []) =>
    readTx<T>(conn, { label: `AgentAccount.${functionName}`, address: a, abi, functionName, args });
  const write = (signer: Signer, functionName: string, args: readonly unknown[]) =>
    sendTx(conn, signer, { label: `AgentAccount.${functionName}`, address: a, abi, functionName, args });
  return {
    address: a,
    owner: () => read('owner'),
    agent: () => read('agent'),
    expiry: () => read('expiry'),
    async allowance(token) {
      const [cap, period, windowStart, spent, available] = await read<bigint[]>('allowance', [token]);
      return { cap, period, windowStart, spent, available } as AccountAllowance;
    },
    isCounterparty: (x) => read('isCounterparty', [x]),
    isAllowedContract: (x) => read('isAllowedContract', [x]),
    setAgent: (s, agent, expiry) => write(s, 'setAgent', [agent, expiry]),
    setAllowance: (s, token, cap, period) => write(s, 'setAllowance', [token, cap, period]),
    setCounterparty: (s, x, allowed) => write(s, 'setCounterparty', [x, allowed]),
    setAllowedContract: (s, x, allowed) => write(s, 'setAllowedContract', [x, allowed]),
    withdraw: (s, token, to, amount) => write(s, 'withdraw', [token, to, amount]),
    delegateVotes: (s, token, delegatee) => write(s, 'delegateVotes', [token, delegatee]),
    transfer: (s, token, to, amount) => write(s, 'transfer', [token, to, amount]),
    callWithAllowance: (s, token, target, amount, data) =>
      write(s, 'callWithAllowance', [token, target, amount, data]),
  };
}
