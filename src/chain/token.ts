/** Typed client for the AGORA token (ERC20 + ERC20Votes): balances, transfers, approvals, delegation. */
import type { Address, TransactionReceipt } from 'viem';
import { AgoraToken } from '../../artifacts/index.ts';
import type { ChainConnection } from './connect.ts';
import { readTx, type Signer, sendTx } from './tx.ts';

export type TokenClient = {
  address: Address;
  balanceOf(account: Address): Promise<bigint>;
  allowance(owner: Address, spender: Address): Promise<bigint>;
  totalSupply(): Promise<bigint>;
  getVotes(account: Address): Promise<bigint>;
  transfer(signer: Signer, to: Address, amount: bigint): Promise<TransactionReceipt>;
  approve(signer: Signer, spender: Address, amount: bigint): Promise<TransactionReceipt>;
  /** Approves `spender` for `amount` only when the current allowance is lower; returns whether it sent a tx. */
  ensureAllowance(signer: Signer, spender: Address, amount: bigint): Promise<boolean>;
  delegate(signer: Signer, delegatee: Address): Promise<TransactionReceipt>;
};

export function tokenClient(conn: ChainConnection, address: Address): TokenClient {
  const abi = AgoraToken.abi;
  const read = <T>(functionName: string, args: readonly unknown[] = []) =>
    readTx<T>(conn, { label: `AgoraToken.${functionName}`, address, abi, functionName, args });
  const write = (signer: Signer, functionName: string, args: readonly unknown[]) =>
    sendTx(conn, signer, { label: `AgoraToken.${functionName}`, address, abi, functionName, args });
  const client: TokenClient = {
    address,
    balanceOf: (account) => read('balanceOf', [account]),
    allowance: (owner, spender) => read('allowance', [owner, spender]),
    totalSupply: () => read('totalSupply'),
    getVotes: (account) => read('getVotes', [account]),
    transfer: (signer, to, amount) => write(signer, 'transfer', [to, amount]),
    approve: (signer, spender, amount) => write(signer, 'approve', [spender, amount]),
    async ensureAllowance(signer, spender, amount) {
      if ((await client.allowance(signer.account.address, spender)) >= amount) return false;
      await client.approve(signer, spender, amount);
      return true;
    },
    delegate: (signer, delegatee) => write(signer, 'delegate', [delegatee]),
  };
  return client;
}
