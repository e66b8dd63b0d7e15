/**
 * Builds the agent's environment from a home, a chain and a wallet: what `agora ask|chat|mcp` share.
 */
import type { Address, LocalAccount } from 'viem';
import type { ChainConnection } from '../chain/connect.ts';
import type { Deployment } from '../chain/deployments.ts';
import { deploymentOfferSources } from '../serve/discovery.ts';
import { listContacts } from '../wallet/contacts.ts';
import type { AgentEnv } from './env.ts';
import { type ParseResult, parseCommand } from './parse/index.ts';
import type { Policy } from './policy.ts';

export function agentEnv(o: {
  home: string;
  conn: ChainConnection;
  deployment: Deployment | undefined;
  address: Address;
  unlock: () => Promise<LocalAccount>;
  policy?: Policy;
  onProgress?: (m: string) => void;
}): AgentEnv {
  let account: Promise<LocalAccount> | undefined;
  return {
    home: o.home,
    conn: o.conn,
    deployment: o.deployment,
    address: o.address,
    policy: o.policy,
    onProgress: o.onProgress,
    // buyers also find the models sellers offered on chain (`agora serve --offer`)
    modelSources: deploymentOfferSources(o.conn, o.deployment),
    account() {
      account ??= o.unlock();
      return account;
    },
  };
}

/** The embedded parser, knowing the home's contact names (so unknown names get a question). */
export function homeParser(home: string): (text: string) => ParseResult {
  return (text) => parseCommand(text, { contacts: listContacts(home).map((c) => c.name) });
}
