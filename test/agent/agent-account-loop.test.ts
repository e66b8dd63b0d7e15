/**
 * The agent loop acting through an AgentAccount: within the policy it spends with its own key; when its
 * software is compromised (client-side checks skipped, confirmations forged) the chain still refuses
 * an over-cap transfer and a transfer to a stranger.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentAccount } from '../../src/agent/account-setup.ts';
import { agentAccountClient } from '../../src/agent/agent-account.ts';
import { handleText } from '../../src/agent/loop.ts';
import { runPlan } from '../../src/agent/plan.ts';
import type { Policy } from '../../src/agent/policy.ts';
import { agentEnv, homeParser } from '../../src/agent/session.ts';
import { SpendLedger } from '../../src/agent/spend-ledger.ts';
import { planCall } from '../../src/agent/tools.ts';
import { type ChainConnection, connectChain, walletClientFor } from '../../src/chain/connect.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import type { Deployment } from '../../src/chain/deployments.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { tokenClient } from '../../src/chain/token.ts';
import { addContact } from '../../src/wallet/contacts.ts';

describe('the agent loop on an on-chain policy (AgentAccount)', () => {
  let chain: EmbeddedChain;
  let conn: ChainConnection;
  let d: Deployment;
  const home = mkdtempSync(join(tmpdir(), 'agora-agent-account-'));
  const alice = devnetAccount(5).address;
  const mallory = privateKeyToAccount(generatePrivateKey()).address;
  const agentKey = privateKeyToAccount(generatePrivateKey());

  beforeAll(async () => {
    chain = await startEmbeddedChain();
    conn = await connectChain({ provider: chain.provider });
    d = await deployProtocol(conn, devnetAccount(0));
    await walletClientFor(conn, devnetAccount(0)).sendTransaction({
      to: agentKey.address,
      value: parseEther('1'),
    });
    addContact(home, 'alice', alice);
    addContact(home, 'mallory', mallory);
  });
  afterAll(async () => {
    await chain?.stop();
  });

  it('spends within the cap with its own key; a compromised client is stopped by the contract', async () => {
    const token = tokenClient(conn, d.contracts.AgoraToken!);
    const now = Number((await conn.publicClient.getBlock()).timestamp);
    const base: Policy = {
      expiresAt: now + 86_400,
      caps: [{ token: 'AGORA', amount: parseEther('20'), periodSeconds: 86_400 }],
      counterparties: [alice],
      contracts: [],
    };
    const setup = await createAgentAccount({
      conn,
      deployment: d,
      owner: walletClientFor(conn, devnetAccount(1)),
      agent: agentKey.address,
      policy: base,
      fund: parseEther('100'),
    });
    expect(await token.getVotes(agentKey.address)).toBe(parseEther('100'));
    const policy: Policy = { ...base, account: setup.account };
    const env = agentEnv({
      home,
      conn,
      deployment: d,
      address: agentKey.address,
      unlock: async () => agentKey,
      policy,
    });
    const deps = { env, parse: homeParser(home), yes: true, ledger: new SpendLedger(home) };

    const aliceBefore = await token.balanceOf(alice);
    const t = await handleText(deps, 'send 15 AGORA to alice');
    expect(
      t.kind,
      JSON.stringify(t, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
    ).toBe('done');
    expect(await token.balanceOf(alice)).toBe(aliceBefore + parseEther('15'));
    expect(await token.balanceOf(setup.account)).toBe(parseEther('85'));
    expect(await token.balanceOf(agentKey.address)).toBe(0n);

    // The client refuses the next 10 (15 + 10 > 20): the on-chain cap has 5 left…
    expect((await handleText(deps, 'send 10 AGORA to alice')).kind).toBe('error');
    // …planning it directly fails the same way…
    await expect(
      planCall(env, { tool: 'token.transfer', args: { to: 'alice', amount: '10' } }),
    ).rejects.toThrow(/on-chain cap has only 5 AGORA left/);
    // …and compromised software that skips every client check is refused by the chain.
    const agentSigner = walletClientFor(conn, agentKey);
    await expect(
      agentAccountClient(conn, setup.account).transfer(
        agentSigner,
        d.contracts.AgoraToken!,
        alice,
        parseEther('10'),
      ),
    ).rejects.toThrow(/OverCap/);
    const stranger = await planCall(env, { tool: 'token.transfer', args: { to: 'mallory', amount: '1' } });
    await expect(runPlan(stranger, { hash: stranger.hash, by: 'user' })).rejects.toThrow(
      /NotAllowedCounterparty/,
    );
    expect(await token.balanceOf(mallory)).toBe(0n);
    expect(await token.balanceOf(setup.account)).toBe(parseEther('85'));
  }, 120_000);
});
