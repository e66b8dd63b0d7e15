import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { type Background, startCliJson } from '../helpers/background.ts';
import { runCli, tempHome } from '../helpers/cli.ts';

type Started = { url: string; chainId: number; accounts: string[] };

describe('agora chain start / deploy / status across processes', () => {
  let chain: Background<Started>;
  const home = tempHome();

  beforeAll(async () => {
    chain = await startCliJson<Started>(['chain', 'start', '--port', '0', '--home', home, '--json']);
  });
  afterAll(async () => {
    await chain?.stop();
  });

  it('serves JSON-RPC on 127.0.0.1 that answers eth_chainId', async () => {
    expect(chain.value.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(chain.value.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'eth_chainId', params: [] }),
    });
    expect(await res.json()).toEqual({ jsonrpc: '2.0', id: 7, result: '0x7a69' });
  });

  it('tells the user which command to run before anything is deployed', async () => {
    const r = await runCli(['chain', 'status', '--rpc', chain.value.url, '--home', home, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).deployed).toBe(false);
  });

  it('deploys from a second process and records the addresses', async () => {
    const r = await runCli(['chain', 'deploy', '--rpc', chain.value.url, '--home', home, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { chainId: number; contracts: Record<string, string> };
    expect(out.chainId).toBe(31337);
    expect(out.contracts.AgoraToken).toMatch(/^0x[0-9a-fA-F]{40}$/);
    const recorded = JSON.parse(readFileSync(join(home, 'deployments', '31337.json'), 'utf8'));
    expect(recorded.contracts).toEqual(out.contracts);
    const status = await runCli(['chain', 'status', '--rpc', chain.value.url, '--home', home, '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ chainId: 31337, deployed: true });
  });

  it('detects a deployment recorded for a chain that has since been reset', async () => {
    const staleHome = tempHome();
    const fresh = await runCli(['chain', 'deploy', '--rpc', chain.value.url, '--home', staleHome, '--json']);
    const path = join(staleHome, 'deployments', '31337.json');
    const d = JSON.parse(readFileSync(path, 'utf8'));
    d.contracts.AgoraToken = '0x000000000000000000000000000000000000dEaD';
    writeFileSync(path, JSON.stringify(d));
    expect(fresh.code).toBe(0);
    const status = await runCli(['chain', 'status', '--rpc', chain.value.url, '--home', staleHome]);
    expect(status.stdout).toMatch(/missing on chain \(run `agora chain deploy`\)/);
  });
});

describe('RPC and devnet-key guards', () => {
  it('says how to start a chain when the RPC is unreachable', async () => {
    const r = await runCli([
      'chain',
      'deploy',
      '--rpc',
      'http://127.0.0.1:9',
      '--home',
      tempHome(),
      '--json',
    ]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('CHAIN_UNREACHABLE');
    expect(r.stderr).toMatch(/agora chain start/);
  });

  it('refuses devnet keys on any other chain id', async () => {
    const other = await startEmbeddedChain({ port: 0, chainId: 1337 });
    try {
      const home = tempHome();
      const r = await runCli([
        'chain',
        'deploy',
        '--rpc',
        other.url!,
        '--home',
        home,
        '--devnet-account',
        '0',
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/refusing to use --devnet-account 0 on chain 1337/);
      const noWallet = await runCli(['chain', 'deploy', '--rpc', other.url!, '--home', home]);
      expect(noWallet.code).toBe(1);
      expect(noWallet.stderr).toMatch(/no wallet in/);
    } finally {
      await other.stop();
    }
  });
});
