/** `agora wallet new|import|list|show|export`: encrypted keystores in `<home>/keystores`. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Hex } from 'viem';
import { AgoraError } from '../../errors.ts';
import {
  createWallet,
  exportPrivateKey,
  findWallet,
  importKeystoreFile,
  importPrivateKey,
  listWallets,
} from '../../wallet/wallet-store.ts';
import type { CliContext, GlobalOptions } from '../context.ts';
import { getPassword } from '../password.ts';

type Ctx = (cmd: Command) => CliContext;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function registerWalletCommands(program: Command, ctx: Ctx): void {
  const wallet = program
    .command('wallet')
    .description('encrypted wallets (Web3 Secret Storage v3 keystores)');

  wallet
    .command('new')
    .description('create a new key, encrypted with a password (AGORA_PASSWORD or a prompt)')
    .action(async (_o, cmd: Command) => {
      const c = ctx(cmd);
      const password = await getPassword({ confirm: true, purpose: 'New wallet password' });
      c.out.progress('encrypting the new key (scrypt)…');
      const info = createWallet(c.home, password);
      c.out.result(info, () => `created wallet ${info.address}\nkeystore: ${info.keystorePath}`);
    });

  wallet
    .command('import')
    .description('import a v3 keystore file, or a raw private key read from stdin')
    .option('--keystore <file>', 'a Web3 Secret Storage v3 keystore file (geth, ethers, …)')
    .option('--private-key-stdin', 'read a 0x-prefixed private key from stdin (never pass keys as arguments)')
    .action(async (o: { keystore?: string; privateKeyStdin?: boolean }, cmd: Command) => {
      const c = ctx(cmd);
      if (Boolean(o.keystore) === Boolean(o.privateKeyStdin)) {
        throw new AgoraError('BAD_OPTION', 'give exactly one of --keystore FILE or --private-key-stdin');
      }
      let info: { address: string; keystorePath: string };
      if (o.keystore) {
        const password = await getPassword({ purpose: `Password of ${o.keystore}` });
        c.out.progress('checking the keystore password…');
        info = importKeystoreFile(c.home, o.keystore, password);
      } else {
        const key = (await readStdin()).trim();
        const password = await getPassword({ confirm: true, purpose: 'Password for the imported key' });
        c.out.progress('encrypting the key (scrypt)…');
        info = importPrivateKey(c.home, (key.startsWith('0x') ? key : `0x${key}`) as Hex, password);
      }
      c.out.result(info, () => `imported wallet ${info.address}\nkeystore: ${info.keystorePath}`);
    });

  wallet
    .command('list')
    .description('list the wallets in the home')
    .action(async (_o, cmd: Command) => {
      const c = ctx(cmd);
      const wallets = listWallets(c.home);
      c.out.result({ wallets }, () =>
        wallets.length === 0
          ? `no wallets in ${c.home} (create one with \`agora wallet new\`)`
          : wallets.map((w) => `${w.address}  ${w.keystorePath}`).join('\n'),
      );
    });

  wallet
    .command('show')
    .argument('[address]', 'address or keystore path (default: the only wallet)')
    .description('show a wallet (address and keystore path; no password needed)')
    .action(async (address: string | undefined, _o, cmd: Command) => {
      const c = ctx(cmd);
      const info = findWallet(c.home, address ?? (cmd.optsWithGlobals() as GlobalOptions).wallet);
      let keystore: unknown;
      try {
        const ks = JSON.parse(readFileSync(info.keystorePath, 'utf8'));
        keystore = { kdf: ks.crypto?.kdf, cipher: ks.crypto?.cipher, id: ks.id };
      } catch {}
      c.out.result({ ...info, keystore }, () => `${info.address}\nkeystore: ${info.keystorePath}`);
    });

  wallet
    .command('export')
    .argument('[address]', 'address or keystore path (default: the only wallet)')
    .option('--i-understand-this-reveals-my-key', 'confirm printing the raw private key')
    .description('print the raw private key (needs the password and an explicit confirmation flag)')
    .action(
      async (address: string | undefined, o: { iUnderstandThisRevealsMyKey?: boolean }, cmd: Command) => {
        const c = ctx(cmd);
        if (!o.iUnderstandThisRevealsMyKey) {
          throw new AgoraError(
            'EXPORT_NOT_CONFIRMED',
            'export prints your raw private key; it was not printed',
            {
              hint: 'add --i-understand-this-reveals-my-key if you really want it',
            },
          );
        }
        const info = findWallet(c.home, address ?? (cmd.optsWithGlobals() as GlobalOptions).wallet);
        const privateKey = exportPrivateKey(
          info,
          await getPassword({ purpose: `Password for ${info.address}` }),
        );
        c.out.result({ address: info.address, privateKey }, () => privateKey);
      },
    );
}
