/**
 * Keystore files under `<home>/keystores/`, named like geth's (`UTC--<time>--<address>.json`).
 * Files are written atomically with mode 0600; an existing file is never overwritten.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { type Address, getAddress, type Hex, isAddress } from 'viem';
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';
import { AgoraError } from '../errors.ts';
import { homePaths } from '../home.ts';
import { findContact } from './contacts.ts';
import {
  DEFAULT_SCRYPT,
  decryptKeystore,
  encryptKeystore,
  parseKeystore,
  type ScryptParams,
} from './keystore.ts';

export type WalletInfo = { address: Address; keystorePath: string };

function keystoreDir(home: string): string {
  return homePaths(home).keystores;
}

function writeNew(home: string, address: Address, json: string): string {
  const dir = keystoreDir(home);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const existing = listWallets(home).find((w) => w.address === address);
  if (existing) {
    throw new AgoraError(
      'WALLET_EXISTS',
      `a wallet for ${address} already exists at ${existing.keystorePath}`,
      {
        hint: 'use it as is; nothing was changed',
      },
    );
  }
  const stamp = new Date().toISOString().replaceAll(':', '-');
  const path = join(dir, `UTC--${stamp}--${address.slice(2).toLowerCase()}.json`);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, json, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return path;
}

/** Creates a fresh key, encrypts it with `password`, stores it. */
export function createWallet(
  home: string,
  password: string,
  scrypt: ScryptParams = DEFAULT_SCRYPT,
): WalletInfo {
  checkPassword(password);
  const pk = generatePrivateKey();
  return importPrivateKey(home, pk, password, scrypt);
}

/** Stores an existing private key, encrypted with `password`. */
export function importPrivateKey(
  home: string,
  privateKey: Hex,
  password: string,
  scrypt: ScryptParams = DEFAULT_SCRYPT,
): WalletInfo {
  checkPassword(password);
  if (!/^0x[0-9a-fA-F]{64}$/.test(privateKey)) {
    throw new AgoraError('WALLET_BAD_KEY', 'the private key must be 32 bytes of hex (0x + 64 hex digits)');
  }
  const address = privateKeyToAccount(privateKey).address;
  const ks = encryptKeystore(privateKey, password, scrypt);
  const path = writeNew(home, address, `${JSON.stringify(ks)}\n`);
  return { address, keystorePath: path };
}

/** Copies a v3 keystore file in after checking that `password` decrypts it. */
export function importKeystoreFile(home: string, file: string, password: string): WalletInfo {
  const json = readKeystoreFile(file);
  const ks = parseKeystore(json, file);
  const address = privateKeyToAccount(decryptKeystore(ks, password)).address;
  const path = writeNew(home, address, json.endsWith('\n') ? json : `${json}\n`);
  return { address, keystorePath: path };
}

function readKeystoreFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new AgoraError(
      'WALLET_NOT_FOUND',
      `cannot read keystore file ${file}: ${(e as NodeJS.ErrnoException).code}`,
      {
        cause: e,
      },
    );
  }
}

/** All keystores in the home, sorted by file name (creation time). Unreadable files are skipped. */
export function listWallets(home: string): WalletInfo[] {
  const dir = keystoreDir(home);
  if (!existsSync(dir)) return [];
  const out: WalletInfo[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.json')) continue;
    const path = join(dir, name);
    try {
      const ks = parseKeystore(readFileSync(path, 'utf8'), path);
      const addr = ks.address ?? name.match(/([0-9a-fA-F]{40})\.json$/)?.[1];
      if (addr && isAddress(`0x${addr.replace(/^0x/, '')}`)) {
        out.push({ address: getAddress(`0x${addr.replace(/^0x/, '')}`), keystorePath: path });
      }
    } catch {
      // A corrupt file is reported when it is used, not when listing.
    }
  }
  return out;
}

/**
 * Finds a wallet by address, keystore path, or (when `selector` is undefined) the only wallet in
 * the home. Errors say what to do when there are none or several.
 */
export function findWallet(home: string, selector?: string): WalletInfo {
  if (selector && (selector.includes('/') || selector.endsWith('.json'))) {
    const json = readKeystoreFile(selector);
    const ks = parseKeystore(json, selector);
    if (!ks.address) throw new AgoraError('WALLET_CORRUPT', `${selector} has no address field`);
    return { address: getAddress(`0x${ks.address.replace(/^0x/, '')}`), keystorePath: resolve(selector) };
  }
  const wallets = listWallets(home);
  if (selector && !isAddress(selector)) {
    // A contact name for one of our own wallets ("--wallet savings").
    const contact = findContact(home, selector);
    if (contact) selector = contact.address;
  }
  if (selector) {
    if (!isAddress(selector)) {
      throw new AgoraError(
        'WALLET_NOT_FOUND',
        `"${selector}" is neither an address, a contact name nor a keystore path`,
      );
    }
    const w = wallets.find((x) => x.address.toLowerCase() === selector.toLowerCase());
    if (!w) {
      throw new AgoraError('WALLET_NOT_FOUND', `no wallet for ${selector} in ${keystoreDir(home)}`, {
        hint: 'see `agora wallet list`, or import it with `agora wallet import`',
      });
    }
    return w;
  }
  if (wallets.length === 0) {
    throw new AgoraError('WALLET_NOT_FOUND', `no wallet in ${keystoreDir(home)}`, {
      hint: 'create one with `agora wallet new` (or pass --home of a home that has one)',
    });
  }
  if (wallets.length > 1) {
    throw new AgoraError(
      'WALLET_AMBIGUOUS',
      `${wallets.length} wallets in ${keystoreDir(home)}; say which one`,
      {
        hint: `pass --wallet ADDRESS (e.g. --wallet ${wallets[0]!.address})`,
      },
    );
  }
  return wallets[0]!;
}

/** Decrypts the wallet into a viem account (the key stays in memory only). */
export function unlockWallet(info: WalletInfo, password: string): PrivateKeyAccount {
  const ks = parseKeystore(readKeystoreFile(info.keystorePath), basename(info.keystorePath));
  return privateKeyToAccount(decryptKeystore(ks, password));
}

/** Decrypts and returns the raw private key: only for an explicit, confirmed export. */
export function exportPrivateKey(info: WalletInfo, password: string): Hex {
  const ks = parseKeystore(readKeystoreFile(info.keystorePath), basename(info.keystorePath));
  return decryptKeystore(ks, password);
}

function checkPassword(password: string): void {
  if (password.length < 8) {
    throw new AgoraError('WALLET_WEAK_PASSWORD', 'the password must have at least 8 characters');
  }
}
