import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectChain } from '../../src/chain/connect.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import { writeDeployment } from '../../src/chain/deployments.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { tokenClient } from '../../src/chain/token.ts';
import { runCli, tempHome } from '../helpers/cli.ts';

const env = { AGORA_PASSWORD: 'newcomer password' };

describe('a newcomer on the devnet (CLI, separate processes, embedded chain over HTTP)', () => {
  let chain: EmbeddedChain;
  let other: EmbeddedChain;
  let token: `0x${string}`;
  const home = tempHome('agora-newcomer-');
  let common: string[];

  beforeAll(async () => {
    [chain, other] = await Promise.all([
      startEmbeddedChain({ port: 0 }),
      startEmbeddedChain({ port: 0, chainId: 1337 }),
    ]);
    const conn = await connectChain({ rpcUrl: chain.url });
    const d = await deployProtocol(conn, devnetAccount(0));
    writeDeployment(home, d);
    token = d.contracts.AgoraToken!;
    common = ['--rpc', chain.url!, '--home', home];
  });
  afterAll(async () => {
    await chain?.stop();
    await other?.stop();
  });

  it('wallet new → wallet fund → data add succeeds; balance, contacts and transfer work by name', async () => {
    const created = await runCli(['wallet', 'new', '--json', ...common], { env });
    expect(created.code, created.stderr).toBe(0);
    const { address } = JSON.parse(created.stdout) as { address: `0x${string}` };

    const empty = await runCli(['wallet', 'balance', '--json', ...common]);
    expect(empty.code, empty.stderr).toBe(0);
    expect(JSON.parse(empty.stdout)).toMatchObject({ address, eth: '0', agora: '0', channels: [] });

    const funded = await runCli(['wallet', 'fund', '--json', ...common]);
    expect(funded.code, funded.stderr).toBe(0);
    expect(JSON.parse(funded.stdout)).toMatchObject({ address, eth: '10', agora: '1000' });

    const file = join(home, 'notes.jsonl');
    writeFileSync(file, '{"text":"hello"}\n{"text":"world"}\n');
    const added = await runCli(
      ['data', 'add', file, '--licence', 'CC-BY-4.0', '--sector', 'text', '--json', ...common],
      { env },
    );
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ datasetId: '1', records: 2 });

    const bob = devnetAccount(7).address;
    const add = await runCli(['contacts', 'add', 'Bob.eth', bob, '--json', ...common]);
    expect(add.code, add.stderr).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ name: 'bob.eth', address: bob });

    const conn = await connectChain({ rpcUrl: chain.url });
    const bobBefore = await tokenClient(conn, token).balanceOf(bob);
    const sent = await runCli(['token', 'transfer', 'bob.eth', '12.5', '--json', ...common], { env });
    expect(sent.code, sent.stderr).toBe(0);
    const s = JSON.parse(sent.stdout);
    expect(s).toMatchObject({
      from: address,
      to: bob,
      toName: 'bob.eth',
      amount: '12.5',
      balanceAfter: '987.5',
    });
    expect(s.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect((await tokenClient(conn, token).balanceOf(bob)) - bobBefore).toBe(12_500_000_000_000_000_000n);

    const tooMuch = await runCli(['token', 'transfer', bob, '5000', ...common], { env });
    expect(tooMuch.code).toBe(1);
    expect(tooMuch.stderr).toMatch(/holds 987\.5 AGORA, less than the 5000 AGORA to send; nothing was sent/);
    expect(await tokenClient(conn, token).balanceOf(address)).toBe(987_500_000_000_000_000_000n);
  }, 300_000);

  it('wallet fund is refused on a chain that is not the devnet', async () => {
    const r = await runCli(['wallet', 'fund', devnetAccount(1).address, '--rpc', other.url!, '--home', home]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/only works on the devnet \(chain 31337\); this is chain 1337/);
  });
});
