/**
 * What tool executors act with: the home, the chain, the deployment, the acting wallet, and the
 * policy. The CLI (`agora ask|chat|mcp`) builds one from its options; tests build one directly.
 */
import { type Address, formatEther, type LocalAccount } from 'viem';
import type { ChainConnection } from '../chain/connect.ts';
import type { Deployment, ProtocolContractName } from '../chain/deployments.ts';
import { AgoraError } from '../errors.ts';
import type { ModelSource } from '../serve/model-offers.ts';
import { type Resolved, resolveAddress } from '../wallet/contacts.ts';
import type { Policy } from './policy.ts';

export type AgentEnv = {
  home: string;
  conn: ChainConnection;
  deployment: Deployment | undefined;
  /** The acting wallet's address (known without unlocking it). */
  address: Address;
  /** Unlocks the acting wallet (asks for its password at most once). */
  account(): Promise<LocalAccount>;
  policy?: Policy;
  /** Where `model.query` finds models besides the servers `agora models` knows (gossip, chain). */
  modelSources?: ModelSource[];
  /** Unix seconds (tests move it). */
  now?: () => number;
  onProgress?: (message: string) => void;
};

export function nowOf(env: AgentEnv): number {
  return env.now ? env.now() : Math.floor(Date.now() / 1000);
}

/** The named protocol contract, or a clear "deploy first" error. */
export function contract(env: AgentEnv, name: ProtocolContractName): Address {
  const a = env.deployment?.contracts[name];
  if (!a) {
    throw new AgoraError('NOT_DEPLOYED', `no ${name} is recorded for chain ${env.conn.chainId}`, {
      hint: 'run `agora chain deploy` first (with the same --home)',
    });
  }
  return a;
}

/** "me"/undefined → the acting wallet; else a contact name or 0x address. */
export function resolveParty(env: AgentEnv, who: string | undefined): Resolved {
  if (who === undefined || who.toLowerCase() === 'me') return { address: env.address, name: 'you' };
  return resolveAddress(env.home, who);
}

/** "12.5 AGORA" */
export function agora(wei: bigint): string {
  return `${formatEther(wei)} AGORA`;
}

/** Gas fee estimate in ETH for `gas` units at the current gas price. */
export async function feeOf(env: AgentEnv, gas: bigint): Promise<string> {
  const price = await env.conn.publicClient.getGasPrice();
  return `~${formatEther(gas * price)} ETH gas`;
}
