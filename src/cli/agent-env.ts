/** The agent environment `agora ask|chat|mcp` act in: this home, its chain and deployment, its wallet. */
import type { LocalAccount } from 'viem';
import type { AgentEnv } from '../agent/env.ts';
import { loadPolicy } from '../agent/policy.ts';
import { agentEnv } from '../agent/session.ts';
import { defaultAddress, liveDeployment } from './commands/wallet-money.ts';
import type { CliContext } from './context.ts';

export async function cliAgentEnv(c: CliContext, policyFile: string | undefined): Promise<AgentEnv> {
  const conn = await c.connect();
  return agentEnv({
    home: c.home,
    conn,
    deployment: await liveDeployment(c, conn),
    address: defaultAddress(c),
    unlock: async () => (await c.signer(conn)) as LocalAccount,
    policy: policyFile ? loadPolicy(policyFile) : undefined,
    onProgress: (m) => c.out.progress(m),
  });
}
