import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encryptKeystoreJsonSync, Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import { runCli, tempHome } from '../helpers/cli.ts';

const PASSWORD = 'correct horse battery';
const env = { AGORA_PASSWORD: PASSWORD };

function snapshotDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir)) out[f] = readFileSync(join(dir, f), 'utf8');
  return out;
}

describe('agora wallet (CLI)', () => {
  it('creates an encrypted keystore that ethers decrypts to the same address; errors change nothing', async () => {
    const home = tempHome();
    const created = await runCli(['wallet', 'new', '--home', home, '--json'], { env });
    expect(created.code, created.stderr).toBe(0);
    const { address, keystorePath } = JSON.parse(created.stdout) as { address: string; keystorePath: string };
    expect(address).toMatch(/^0x[0-9a-fA-F]{40}$/);
    expect(statSync(keystorePath).mode & 0o777).toBe(0o600);

    const json = readFileSync(keystorePath, 'utf8');
    const ethersWallet = await Wallet.fromEncryptedJson(json, PASSWORD);
    expect(ethersWallet.address).toBe(address);
    const privateKey = ethersWallet.privateKey.slice(2);
    expect(json).not.toContain(privateKey);

    const list = await runCli(['wallet', 'list', '--home', home, '--json']);
    expect(JSON.parse(list.stdout).wallets).toEqual([{ address, keystorePath }]);
    const show = await runCli(['wallet', 'show', '--home', home]);
    expect(show.stdout).toContain(address);
    for (const r of [created, list, show]) expect(r.stdout + r.stderr).not.toContain(privateKey);

    const before = snapshotDir(join(home, 'keystores'));
    const wrong = await runCli(
      ['wallet', 'export', '--home', home, '--i-understand-this-reveals-my-key', '--json'],
      {
        env: { AGORA_PASSWORD: 'not the password' },
      },
    );
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/wrong password/);
    expect(JSON.parse(wrong.stdout).error.code).toBe('WALLET_BAD_PASSWORD');
    expect(wrong.stdout + wrong.stderr).not.toContain(privateKey);

    const unconfirmed = await runCli(['wallet', 'export', '--home', home], { env });
    expect(unconfirmed.code).not.toBe(0);
    expect(unconfirmed.stdout + unconfirmed.stderr).not.toContain(privateKey);
    expect(snapshotDir(join(home, 'keystores'))).toEqual(before);

    const exported = await runCli(
      ['wallet', 'export', '--home', home, '--i-understand-this-reveals-my-key'],
      { env },
    );
    expect(exported.code).toBe(0);
    expect(exported.stdout.trim()).toBe(ethersWallet.privateKey);
  });

  it('imports a key from stdin and a keystore file, refusing duplicates', async () => {
    const home = tempHome();
    const w = Wallet.createRandom();
    const imported = await runCli(['wallet', 'import', '--private-key-stdin', '--home', home, '--json'], {
      env,
      input: `${w.privateKey}\n`,
    });
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout).address).toBe(w.address);
    expect(imported.stdout + imported.stderr).not.toContain(w.privateKey.slice(2));

    const again = await runCli(['wallet', 'import', '--private-key-stdin', '--home', home], {
      env,
      input: w.privateKey,
    });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already exists/);

    const other = Wallet.createRandom();
    const file = join(tempHome(), 'other.json');
    writeFileSync(
      file,
      encryptKeystoreJsonSync({ address: other.address, privateKey: other.privateKey }, 'other password', {
        scrypt: { N: 1 << 12 },
      }),
    );
    const bad = await runCli(['wallet', 'import', '--keystore', file, '--home', home], {
      env: { AGORA_PASSWORD: 'not it at all' },
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/wrong password/);
    const good = await runCli(['wallet', 'import', '--keystore', file, '--home', home, '--json'], {
      env: { AGORA_PASSWORD: 'other password' },
    });
    expect(good.code, good.stderr).toBe(0);
    expect(JSON.parse(good.stdout).address).toBe(other.address);
    const list = await runCli(['wallet', 'list', '--home', home, '--json']);
    expect(JSON.parse(list.stdout).wallets).toHaveLength(2);
  });

  it('reports missing and corrupt wallets clearly, with a non-zero exit', async () => {
    const home = tempHome();
    const missing = await runCli(['wallet', 'show', '--home', home]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no wallet in/);
    expect(missing.stderr).toMatch(/agora wallet new/);

    const corrupt = join(home, 'broken.json');
    writeFileSync(corrupt, '{"version":3,"crypto":');
    const r = await runCli(['wallet', 'show', corrupt, '--home', home]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not valid JSON/);
    expect(readFileSync(corrupt, 'utf8')).toBe('{"version":3,"crypto":');

    const noPassword = await runCli(['wallet', 'new', '--home', home], {
      env: { AGORA_PASSWORD: undefined },
    });
    expect(noPassword.code).not.toBe(0);
    expect(noPassword.stderr).toMatch(/AGORA_PASSWORD/);
  });
});
