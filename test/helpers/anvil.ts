/**
 * Foundry's anvil (npm `@foundry-rs/anvil`) as an independent EVM node for tests: chain 31337, the
 * same test mnemonic as the devnet, `accounts` funded (anvil's default is 10), and with `blockTime`
 * interval mining (several transactions per block), where instant mining hides gas and nonce races.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { freePort } from '../../src/net/free-port.ts';

export type Anvil = { url: string; port: number; child: ChildProcess; stop(): Promise<void> };

/** The anvil binary of the platform package (spawned directly, so a kill reaches the node itself). */
export function anvilBinary(): string {
  const require = createRequire(import.meta.url);
  const pkg = `@foundry-rs/anvil-${process.platform}-${process.arch === 'x64' ? 'amd64' : process.arch}`;
  try {
    const bin = join(dirname(require.resolve(`${pkg}/package.json`)), 'bin', 'anvil');
    if (existsSync(bin)) return bin;
  } catch {}
  throw new Error(`anvil is not installed for ${process.platform}/${process.arch} (${pkg})`);
}

export async function startAnvil(
  opts: { blockTime?: number; accounts?: number; args?: string[]; timeoutMs?: number } = {},
): Promise<Anvil> {
  const port = await freePort();
  const args = ['--host', '127.0.0.1', '--port', String(port), '--silent'];
  if (opts.blockTime !== undefined) args.push('--block-time', String(opts.blockTime));
  if (opts.accounts !== undefined) args.push('--accounts', String(opts.accounts));
  args.push(...(opts.args ?? []));
  const child = spawn(anvilBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`anvil exited with ${child.exitCode}: ${err}`);
    const ok = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    if (Date.now() > end) {
      child.kill('SIGKILL');
      throw new Error(`anvil did not answer on ${url}: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    child,
    stop: () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null) return res();
        child.once('exit', () => res());
        child.kill('SIGTERM');
      }),
  };
}
