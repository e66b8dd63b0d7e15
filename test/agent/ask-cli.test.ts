import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEther } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectChain } from '../../src/chain/connect.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import { writeDeployment } from '../../src/chain/deployments.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { tokenClient } from '../../src/chain/token.ts';
import { addContact } from '../../src/wallet/contacts.ts';
import { runCli, tempHome } from '../helpers/cli.ts';

describe('agora ask / agora chat (CLI, embedded chain over HTTP)', () => {
  let chain: EmbeddedChain;
  let token: `0x${string}`;
  const home = tempHome('agora-ask-');
  const alice = devnetAccount(5).address;
  const bob = devnetAccount(6).address;
  let common: string[];
  const aliceBalance = async () =>
    tokenClient(await connectChain({ rpcUrl: chain.url }), token).balanceOf(alice);

  beforeAll(async () => {
    chain = await startEmbeddedChain({ port: 0 });
    const conn = await connectChain({ rpcUrl: chain.url });
    const d = await deployProtocol(conn, devnetAccount(0));
    writeDeployment(home, d);
    token = d.contracts.AgoraToken!;
    addContact(home, 'alice', alice);
    addContact(home, 'bob', bob);
    common = ['--rpc', chain.url!, '--home', home, '--devnet-account', '4', '--json'];
  });
  afterAll(async () => {
    await chain?.stop();
  });

  it('a transfer runs only with a confirmation of its exact plan, once', async () => {
    const start = await aliceBalance();
    const unasked = await runCli(['ask', 'send 2 AGORA to alice', ...common]);
    expect(unasked.code, unasked.stderr).toBe(3);
    const plan = JSON.parse(unasked.stdout);
    expect(plan).toMatchObject({
      kind: 'declined',
      plan: { tool: 'token.transfer', args: { to: 'alice', amount: '2' } },
    });
    expect(plan.plan.summary).toBe(`send 2 AGORA to alice (${alice})`);
    expect(plan.plan.details.join('\n')).toMatch(/fee ~[\d.]+ ETH gas[\s\S]*balance after 999998 AGORA/);
    expect(await aliceBalance()).toBe(start);

    const wrong = await runCli(['ask', 'send 3 AGORA to alice', '--confirm', plan.plan.hash, ...common]);
    expect(wrong.code).toBe(3);
    const ok = await runCli(['ask', 'send 2 AGORA to alice', '--confirm', plan.plan.hash, ...common]);
    expect(ok.code, ok.stderr).toBe(0);
    const done = JSON.parse(ok.stdout);
    expect(done).toMatchObject({ kind: 'done', confirmedBy: 'user', result: { tool: 'token.transfer' } });
    expect(done.result.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    const replay = await runCli(['ask', 'send 2 AGORA to alice', '--confirm', plan.plan.hash, ...common]);
    expect(replay.code).toBe(3);
    expect(await aliceBalance()).toBe(start + parseEther('2'));

    const piped = await runCli(['ask', 'please send one AGORA to alice', ...common], { input: 'yes\n' });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stderr).toMatch(/send 1 AGORA to alice[\s\S]*Proceed\? \[y\/N\]/);
    expect(await aliceBalance()).toBe(start + parseEther('3'));
  }, 300_000);

  it('--yes confirms only within the spending policy', async () => {
    const start = await aliceBalance();
    const policy = join(home, 'policy.json');
    writeFileSync(
      policy,
      JSON.stringify({
        version: 1,
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
        caps: [{ token: 'AGORA', amount: '5', periodSeconds: 86_400 }],
        counterparties: [alice],
      }),
    );
    const yes = ['--yes', '--policy', policy, ...common];
    const first = await runCli(['ask', 'send 3 AGORA to alice', ...yes]);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ kind: 'done', confirmedBy: 'policy' });
    const over = await runCli(['ask', 'send 3 AGORA to alice', ...yes]);
    expect(over.code).toBe(3);
    expect(JSON.parse(over.stdout).reason).toMatch(/exceed the cap/);
    const stranger = await runCli(['ask', 'send 1 AGORA to bob', ...yes]);
    expect(stranger.code).toBe(3);
    expect(JSON.parse(stranger.stdout).reason).toMatch(/not an allowed counterparty/);
    expect(await aliceBalance()).toBe(start + parseEther('3'));
  }, 300_000);

  it('chat: a line per request; a declined transfer moves nothing', async () => {
    const start = await aliceBalance();
    const r = await runCli(['chat', ...common], {
      input: "what's my balance\nsend 1 AGORA to alice\nn\nsend 4 to carol\nquit\n",
    });
    expect(r.code, r.stderr).toBe(0);
    const turns = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(turns.map((t) => t.kind)).toEqual(['done', 'declined', 'clarify']);
    expect(await aliceBalance()).toBe(start);
  }, 300_000);
});
