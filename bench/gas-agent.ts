/**
 * Gas of the AgentAccount (on-chain spending policy): deploy, setAllowance, setCounterparty, the agent's
 * capped transfer (first in a window and repeat), and a capped payment into an allowed contract.
 * `bench/gas.ts` merges these rows.
 */
import { type Account, encodeFunctionData, parseEther } from 'viem';
import { AgentAccount, PaymentChannels } from '../artifacts/index.ts';
import { agentAccountClient } from '../src/agent/agent-account.ts';
import { type ChainConnection, walletClientFor } from '../src/chain/connect.ts';
import type { Deployment } from '../src/chain/deployments.ts';
import { tokenClient } from '../src/chain/token.ts';

export async function measureAgentAccountGas(ctx: {
  conn: ChainConnection;
  deployment: Deployment;
  accounts: Account[];
}): Promise<Record<string, { gas: number; note?: string }>> {
  const { conn, deployment } = ctx;
  const owner = walletClientFor(conn, ctx.accounts[5]!);
  const agent = walletClientFor(conn, ctx.accounts[6]!);
  const bob = ctx.accounts[7]!.address;
  const token = deployment.contracts.AgoraToken!;
  const channels = deployment.contracts.PaymentChannels!;
  const now = (await conn.publicClient.getBlock()).timestamp;
  const hash = await owner.deployContract({
    abi: AgentAccount.abi,
    bytecode: AgentAccount.bytecode,
    args: [owner.account.address, agent.account.address, now + 86_400n],
  });
  const deployed = await conn.publicClient.waitForTransactionReceipt({ hash });
  const acct = agentAccountClient(conn, deployed.contractAddress!);
  await tokenClient(conn, token).transfer(owner, acct.address, parseEther('1000'));
  const rows: Record<string, { gas: number; note?: string }> = {};
  const row = (name: string, gas: bigint, note?: string) => {
    rows[name] = note ? { gas: Number(gas), note } : { gas: Number(gas) };
  };
  row('agentAccount.deploy', deployed.gasUsed);
  row(
    'agentAccount.setAllowance',
    (await acct.setAllowance(owner, token, parseEther('100'), 86_400n)).gasUsed,
  );
  row('agentAccount.setCounterparty', (await acct.setCounterparty(owner, bob, true)).gasUsed);
  await acct.setAllowedContract(owner, channels, true);
  row(
    'agentAccount.transfer',
    (await acct.transfer(agent, token, bob, parseEther('1'))).gasUsed,
    'agent key, within the cap (recipient self-delegated: ERC20Votes checkpoints)',
  );
  row('agentAccount.transferRepeat', (await acct.transfer(agent, token, bob, parseEther('1'))).gasUsed);
  const open = encodeFunctionData({
    abi: PaymentChannels.abi,
    functionName: 'open',
    args: [bob, token, parseEther('5')],
  });
  row(
    'agentAccount.callWithAllowance(channels.open)',
    (await acct.callWithAllowance(agent, token, channels, parseEther('5'), open)).gasUsed,
    'approve exactly, call, clear the approval',
  );
  return rows;
}
