/**
 * `agora chain deploy` against an independent node (anvil, default settings: 10 funded accounts,
 * here with 1 s blocks so a deploy takes long enough to be interrupted): killed after a few steps,
 * rerun, it continues the same deployment (the first contracts keep their addresses) and finishes,
 * naming the devnet accounts the node did not fund and what to run. A second home imports the
 * deployment instead of deploying its own; a third run refuses to deploy a second protocol.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireDeployment } from '../../src/chain/deployments.ts';
import type { AgoraError } from '../../src/errors.ts';
import { type Anvil, startAnvil } from '../helpers/anvil.ts';
import { AGORA_BIN, runCli, tempHome } from '../helpers/cli.ts';

describe('agora chain deploy on anvil: resumable, adapted to the node, shared by import', () => {
  let node: Anvil;
  beforeAll(async () => {
    node = await startAnvil({ blockTime: 1 });
  });
  afterAll(() => node?.stop());

  it('continues an interrupted deploy, warns about unfunded devnet accounts, and is imported elsewhere', async () => {
    const home = tempHome();
    const file = join(home, 'deployments', '31337.json');
    const args = ['--home', home, '--rpc', node.url, 'chain', 'deploy', '--json'];
    // first run: SIGKILL once three steps are recorded
    const child = spawn(process.execPath, [AGORA_BIN, ...args], { stdio: 'ignore' });
    const steps = () => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')).steps as string[]) : []);
    const end = Date.now() + 90_000;
    while (steps().length < 3 && Date.now() < end && child.exitCode === null)
      await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const partial = JSON.parse(readFileSync(file, 'utf8'));
    expect(partial.complete).toBe(false);
    expect(partial.steps.length).toBeGreaterThanOrEqual(3);
    const early = { ...partial.contracts } as Record<string, string>;
    expect(early.TimelockController).toMatch(/^0x/);
    // the home says the deployment is unfinished and how to continue
    expect(() => requireDeployment(home, 31337)).toThrow(/interrupted/);

    // rerun (instant blocks from here, to keep the test short): continues, finishes
    const rpc = (method: string, params: unknown[]) =>
      fetch(node.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      });
    await rpc('evm_setIntervalMining', [0]);
    await rpc('evm_setAutomine', [true]);
    const r = await runCli(args, { timeoutMs: 180_000 });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.resumed).toBe(true);
    for (const [name, address] of Object.entries(early)) expect(out.contracts[name], name).toBe(address);
    // anvil funds 10 accounts: the other 10 are named with what to run
    expect(out.warnings.join(' ')).toMatch(/anvil --accounts 20/);
    expect(out.warnings.join(' ')).toMatch(/10, 11, .*19/);
    const done = JSON.parse(readFileSync(file, 'utf8'));
    expect(done.complete).toBe(true);
    expect(requireDeployment(home, 31337).contracts).toEqual(out.contracts);

    // a second run does not deploy a second protocol
    const again = await runCli(args);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout).error.code).toBe('DEPLOYMENT_EXISTS');

    // another home: the error says to import; then it imports and sees the same protocol
    const other = tempHome();
    try {
      requireDeployment(other, 31337, [], node.url);
      throw new Error('expected NOT_DEPLOYED');
    } catch (e) {
      expect((e as AgoraError).code).toBe('NOT_DEPLOYED');
      expect((e as AgoraError).hint).toMatch(/agora chain import-deployment FILE\|URL --rpc/);
    }
    const imp = await runCli([
      '--home',
      other,
      '--rpc',
      node.url,
      'chain',
      'import-deployment',
      file,
      '--json',
    ]);
    expect(imp.code, imp.stderr).toBe(0);
    const st = await runCli(['--home', other, '--rpc', node.url, 'chain', 'status', '--json']);
    expect(JSON.parse(st.stdout)).toMatchObject({ deployed: true, contracts: out.contracts });
    // a file for another node of the same chain id is refused (no code there)
    const fresh = await startAnvil();
    try {
      const bad = await runCli([
        '--home',
        tempHome(),
        '--rpc',
        fresh.url,
        'chain',
        'import-deployment',
        file,
        '--json',
      ]);
      expect(bad.code).toBe(1);
      expect(JSON.parse(bad.stdout).error.code).toBe('DEPLOYMENT_STALE');
    } finally {
      await fresh.stop();
    }
  }, 300_000);
});
