import { encodeFunctionData, parseEther, zeroAddress } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgoraToken, PaymentChannels } from '../../artifacts/index.ts';
import {
  type AgentAccountClient,
  agentAccountClient,
  deployAgentAccount,
} from '../../src/agent/agent-account.ts';
import { walletClientFor } from '../../src/chain/connect.ts';
import type { Signer } from '../../src/chain/tx.ts';
import { type Fixture, startFixture } from '../contracts/fixture.ts';

describe('AgentAccount: the spending policy enforced on chain', () => {
  let f: Fixture;
  let owner: Signer;
  let agent: Signer;
  let acct: AgentAccountClient;
  let token: `0x${string}`;
  const bob = privateKeyToAccount(generatePrivateKey()).address;
  const mallory = privateKeyToAccount(generatePrivateKey()).address;

  beforeAll(async () => {
    f = await startFixture();
    token = f.deployment.contracts.AgoraToken!;
    owner = f.signers[1]!;
    // The agent has its own key, funded with gas only: it never holds the owner's key.
    const agentKey = privateKeyToAccount(generatePrivateKey());
    await f.signers[0]!.sendTransaction({ to: agentKey.address, value: parseEther('1') });
    agent = walletClientFor(f.conn, agentKey);
    const expiry = (await f.now()) + 30n * 86_400n;
    acct = agentAccountClient(f.conn, await deployAgentAccount(f.conn, owner, agentKey.address, expiry));
    await f.token.transfer(owner, acct.address, parseEther('1000'));
    await acct.setAllowance(owner, token, parseEther('100'), 86_400n);
    await acct.setCounterparty(owner, bob, true);
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('a transfer within the cap succeeds; an over-cap transfer reverts; the window renews after the period', async () => {
    await acct.transfer(agent, token, bob, parseEther('60'));
    expect(await f.token.balanceOf(bob)).toBe(parseEther('60'));
    await expect(acct.transfer(agent, token, bob, parseEther('41'))).rejects.toThrow(/OverCap/);
    await acct.transfer(agent, token, bob, parseEther('40'));
    await expect(acct.transfer(agent, token, bob, 1n)).rejects.toThrow(/OverCap/);
    expect((await acct.allowance(token)).available).toBe(0n);
    await f.increaseTime(86_400);
    expect((await acct.allowance(token)).available).toBe(parseEther('100'));
    await acct.transfer(agent, token, bob, parseEther('100'));
    expect(await f.token.balanceOf(bob)).toBe(parseEther('200'));
  });

  it('strangers, other callers, tokens as call targets and unlisted contracts are refused', async () => {
    await f.increaseTime(86_400);
    await expect(acct.transfer(agent, token, mallory, 1n)).rejects.toThrow(/NotAllowedCounterparty/);
    await expect(acct.transfer(f.signers[2]!, token, bob, 1n)).rejects.toThrow(/NotAgent/);
    await expect(acct.transfer(owner, token, bob, 1n)).rejects.toThrow(/NotAgent/);
    const transferData = encodeFunctionData({
      abi: AgoraToken.abi,
      functionName: 'transfer',
      args: [mallory, parseEther('500')],
    });
    await acct.setAllowedContract(owner, token, true);
    await expect(acct.callWithAllowance(agent, token, token, 0n, transferData)).rejects.toThrow(
      /NotAllowedContract/,
    );
    const channels = f.deployment.contracts.PaymentChannels!;
    const open = encodeFunctionData({
      abi: PaymentChannels.abi,
      functionName: 'open',
      args: [bob, token, parseEther('10')],
    });
    await expect(acct.callWithAllowance(agent, token, channels, parseEther('10'), open)).rejects.toThrow(
      /NotAllowedContract/,
    );
    await expect(acct.setAllowedContract(agent, channels, true)).rejects.toThrow(/NotOwner/);
    await expect(acct.setAllowance(agent, token, parseEther('1000000'), 1n)).rejects.toThrow(/NotOwner/);
    expect(await f.token.balanceOf(mallory)).toBe(0n);
  });

  it('paying into an allowed contract counts against the cap and leaves no approval behind', async () => {
    const channels = f.deployment.contracts.PaymentChannels!;
    await acct.setAllowedContract(owner, channels, true);
    const before = (await acct.allowance(token)).spent;
    const open = encodeFunctionData({
      abi: PaymentChannels.abi,
      functionName: 'open',
      args: [bob, token, parseEther('10')],
    });
    await acct.callWithAllowance(agent, token, channels, parseEther('10'), open);
    expect((await acct.allowance(token)).spent - before).toBe(parseEther('10'));
    expect(await f.token.allowance(acct.address, channels)).toBe(0n);
    await expect(acct.callWithAllowance(agent, token, channels, parseEther('95'), open)).rejects.toThrow(
      /OverCap/,
    );
  });

  it("voting power goes to the agent's key by the owner's delegation", async () => {
    await acct.delegateVotes(owner, token, agent.account.address);
    expect(await f.token.getVotes(agent.account.address)).toBe(await f.token.balanceOf(acct.address));
  });

  it('an expired permission reverts, and the owner can revoke at once', async () => {
    await acct.setAgent(owner, agent.account.address, (await f.now()) + 60n);
    await acct.transfer(agent, token, bob, 1n);
    await f.increaseTime(61);
    await expect(acct.transfer(agent, token, bob, 1n)).rejects.toThrow(/PermissionExpired/);
    await acct.setAgent(owner, agent.account.address, (await f.now()) + 3600n);
    await acct.transfer(agent, token, bob, 1n);
    await acct.setAgent(owner, agent.account.address, 0n);
    await expect(acct.transfer(agent, token, bob, 1n)).rejects.toThrow(/PermissionExpired/);
    await expect(deployAgentAccount(f.conn, owner, zeroAddress, 0n)).rejects.toThrow(/ZeroAddress/);
  });
});
