import { encryptKeystoreJsonSync, Wallet } from 'ethers';
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import { decryptKeystore, encryptKeystore, parseKeystore } from '../../src/wallet/keystore.ts';

const FAST = { n: 1 << 12, r: 8, p: 1, dklen: 32 };

describe('Web3 Secret Storage v3 keystore', () => {
  it('round-trips a key and rejects a wrong password', () => {
    const pk = generatePrivateKey();
    const ks = encryptKeystore(pk, 'a good password', FAST);
    expect(ks.version).toBe(3);
    expect(ks.crypto.kdf).toBe('scrypt');
    expect(ks.address).toBe(privateKeyToAddress(pk).slice(2).toLowerCase());
    expect(JSON.stringify(ks)).not.toContain(pk.slice(2));
    expect(decryptKeystore(parseKeystore(JSON.stringify(ks)), 'a good password')).toBe(pk);
    expect(() => decryptKeystore(ks, 'a wrong password')).toThrow(/wrong password/);
  });

  it('writes keystores that ethers decrypts to the same address', async () => {
    const pk = generatePrivateKey();
    const ks = encryptKeystore(pk, 'pass phrase 123', FAST);
    const w = await Wallet.fromEncryptedJson(JSON.stringify(ks), 'pass phrase 123');
    expect(w.address).toBe(privateKeyToAddress(pk));
    expect(w.privateKey).toBe(pk);
  });

  it('reads keystores written by ethers (scrypt), with "Crypto" or "crypto"', async () => {
    const w = Wallet.createRandom();
    const json = encryptKeystoreJsonSync({ address: w.address, privateKey: w.privateKey }, 'ethers pass', {
      scrypt: { N: 1 << 12 },
    });
    expect(decryptKeystore(parseKeystore(json), 'ethers pass')).toBe(w.privateKey);
    // ethers v6 and geth write "Crypto"; other tools write "crypto": both must read.
    const obj = JSON.parse(json);
    expect(obj.Crypto).toBeDefined();
    obj.crypto = obj.Crypto;
    delete obj.Crypto;
    expect(decryptKeystore(parseKeystore(JSON.stringify(obj)), 'ethers pass')).toBe(w.privateKey);
  });

  it('rejects corrupt keystores with a clear message', () => {
    expect(() => parseKeystore('{not json', 'k.json')).toThrow(/k.json is not valid JSON/);
    expect(() => parseKeystore('{"version":3}', 'k.json')).toThrow(/not a Web3 Secret Storage v3 keystore/);
    const ks = encryptKeystore(generatePrivateKey(), 'password123', FAST);
    const tampered = { ...ks, crypto: { ...ks.crypto, ciphertext: `00${ks.crypto.ciphertext.slice(2)}` } };
    // A flipped ciphertext byte fails the MAC: indistinguishable from a wrong password, and nothing decrypts.
    expect(() => decryptKeystore(tampered, 'password123')).toThrow(/MAC mismatch/);
    const wrongAddress = { ...ks, address: '0000000000000000000000000000000000000001' };
    expect(() => decryptKeystore(wrongAddress, 'password123')).toThrow(/address differs/);
  });
});
