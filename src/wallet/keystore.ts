/**
 * Web3 Secret Storage v3 (the geth/ethers keystore format): scrypt KDF, AES-128-CTR, keccak256 MAC.
 * Pure except for CPU work: encrypt/decrypt a private key to/from the JSON object. Reads pbkdf2
 * keystores too (some tools write them); always writes scrypt.
 */
import {
  createCipheriv,
  createDecipheriv,
  pbkdf2Sync,
  randomBytes,
  randomUUID,
  scryptSync,
} from 'node:crypto';
import { bytesToHex, type Hex, hexToBytes, keccak256 } from 'viem';
import { privateKeyToAddress } from 'viem/accounts';
import { z } from 'zod';
import { AgoraError } from '../errors.ts';

export type ScryptParams = { n: number; r: number; p: number; dklen: number };

/** ethers' default (2^17): ~0.3 s and 128 MiB per unlock here. geth's "standard" is 2^18. */
export const DEFAULT_SCRYPT: ScryptParams = { n: 1 << 17, r: 8, p: 1, dklen: 32 };

const hex = z.string().regex(/^(0x)?[0-9a-fA-F]*$/, 'not hex');
/**
 * Bounds on what a keystore may ask of the KDF, so a hostile or corrupt file cannot make an unlock
 * take minutes or gigabytes (geth's "standard" scrypt is n=2^18, r=8: 256 MiB).
 */
const MAX_SCRYPT_BYTES = 2 ** 30;
const dklen = z.number().int().min(32).max(64);

export const keystoreSchema = z.object({
  version: z.literal(3),
  id: z.string().optional(),
  address: z.string().optional(),
  crypto: z.object({
    cipher: z.literal('aes-128-ctr'),
    cipherparams: z.object({ iv: hex.regex(/^(0x)?[0-9a-fA-F]{32}$/, 'not 16 bytes of hex') }),
    ciphertext: hex.max(2 + 2 * 1024),
    kdf: z.enum(['scrypt', 'pbkdf2']),
    kdfparams: z.union([
      z
        .object({
          dklen,
          salt: hex.max(2050),
          n: z
            .number()
            .int()
            .min(2)
            .max(2 ** 20),
          r: z.number().int().min(1).max(32),
          p: z.number().int().min(1).max(16),
        })
        .refine((k) => 128 * k.n * k.r <= MAX_SCRYPT_BYTES, 'scrypt n·r needs more than 1 GiB'),
      z.object({
        dklen,
        salt: hex.max(2050),
        c: z.number().int().min(1).max(10_000_000),
        prf: z.literal('hmac-sha256'),
      }),
    ]),
    mac: hex.regex(/^(0x)?[0-9a-fA-F]{64}$/, 'not 32 bytes of hex'),
  }),
});
export type KeystoreV3 = z.infer<typeof keystoreSchema>;

const strip = (h: string) => (h.startsWith('0x') ? h.slice(2) : h);
const buf = (h: string) => Buffer.from(strip(h), 'hex');

function deriveKey(
  password: string,
  kdf: KeystoreV3['crypto']['kdf'],
  params: Record<string, unknown>,
): Buffer {
  const salt = buf(params.salt as string);
  const dklen = params.dklen as number;
  if (dklen < 32) throw new AgoraError('WALLET_CORRUPT', `keystore kdf dklen ${dklen} is below 32`);
  if (kdf === 'scrypt') {
    const { n, r, p } = params as { n: number; r: number; p: number };
    if (n < 2 || (n & (n - 1)) !== 0)
      throw new AgoraError('WALLET_CORRUPT', `keystore scrypt n=${n} is not a power of two`);
    return scryptSync(password.normalize('NFKC'), salt, dklen, {
      N: n,
      r,
      p,
      maxmem: 256 * n * r + 32 * 1024 * 1024,
    });
  }
  return pbkdf2Sync(password.normalize('NFKC'), salt, params.c as number, dklen, 'sha256');
}

/** Encrypts a private key with `password`. */
export function encryptKeystore(
  privateKey: Hex,
  password: string,
  scrypt: ScryptParams = DEFAULT_SCRYPT,
): KeystoreV3 {
  const key = Buffer.from(hexToBytes(privateKey));
  if (key.length !== 32) throw new AgoraError('WALLET_BAD_KEY', 'a private key must be 32 bytes');
  const salt = randomBytes(32);
  const iv = randomBytes(16);
  const derived = deriveKey(password, 'scrypt', { ...scrypt, salt: salt.toString('hex') });
  const cipher = createCipheriv('aes-128-ctr', derived.subarray(0, 16), iv);
  const ciphertext = Buffer.concat([cipher.update(key), cipher.final()]);
  const mac = keccak256(Buffer.concat([derived.subarray(16, 32), ciphertext]));
  return {
    version: 3,
    id: randomUUID(),
    address: strip(privateKeyToAddress(privateKey)).toLowerCase(),
    crypto: {
      cipher: 'aes-128-ctr',
      cipherparams: { iv: iv.toString('hex') },
      ciphertext: ciphertext.toString('hex'),
      kdf: 'scrypt',
      kdfparams: { dklen: scrypt.dklen, salt: salt.toString('hex'), n: scrypt.n, r: scrypt.r, p: scrypt.p },
      mac: strip(mac),
    },
  };
}

/** Parses untrusted JSON into a keystore, or throws WALLET_CORRUPT saying what is wrong. */
export function parseKeystore(json: string, source = 'keystore'): KeystoreV3 {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new AgoraError('WALLET_CORRUPT', `${source} is not valid JSON`, {
      hint: 'restore the file from a backup, or re-import the key',
      cause: e,
    });
  }
  // geth writes "Crypto"; accept both spellings.
  if (raw && typeof raw === 'object' && 'Crypto' in raw && !('crypto' in raw)) {
    (raw as Record<string, unknown>).crypto = (raw as Record<string, unknown>).Crypto;
  }
  const r = keystoreSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new AgoraError(
      'WALLET_CORRUPT',
      `${source} is not a Web3 Secret Storage v3 keystore (${issue?.path.join('.') || 'root'}: ${issue?.message})`,
      { hint: 'restore the file from a backup, or re-import the key' },
    );
  }
  return r.data;
}

/** Decrypts; throws WALLET_BAD_PASSWORD on a MAC mismatch (wrong password) and changes nothing. */
export function decryptKeystore(ks: KeystoreV3, password: string): Hex {
  const derived = deriveKey(password, ks.crypto.kdf, ks.crypto.kdfparams as Record<string, unknown>);
  const ciphertext = buf(ks.crypto.ciphertext);
  const mac = strip(keccak256(Buffer.concat([derived.subarray(16, 32), ciphertext])));
  if (mac.toLowerCase() !== strip(ks.crypto.mac).toLowerCase()) {
    throw new AgoraError('WALLET_BAD_PASSWORD', 'wrong password for this keystore (MAC mismatch)', {
      hint: 'check AGORA_PASSWORD, or type the password used when the wallet was created',
    });
  }
  const decipher = createDecipheriv('aes-128-ctr', derived.subarray(0, 16), buf(ks.crypto.cipherparams.iv));
  const key = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  if (key.length !== 32) throw new AgoraError('WALLET_CORRUPT', 'keystore ciphertext is not a 32-byte key');
  const privateKey = bytesToHex(key);
  if (
    ks.address &&
    strip(privateKeyToAddress(privateKey)).toLowerCase() !== strip(ks.address).toLowerCase()
  ) {
    throw new AgoraError(
      'WALLET_CORRUPT',
      'keystore decrypts to a key whose address differs from its "address" field',
    );
  }
  return privateKey;
}
