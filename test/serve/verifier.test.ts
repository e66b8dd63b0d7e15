/**
 * Voucher signature checks: libsecp256k1 recovery agrees with viem's (what a viem signer makes is
 * taken), and refuses exactly what the contract's OpenZeppelin ECDSA.tryRecover refuses (high s, v
 * outside 27/28, r or s out of range, wrong length), on this thread and in workers.
 */
import { parseSignature, serializeSignature } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, describe, expect, it } from 'vitest';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { recoverVoucherSigner, signVoucher } from '../../src/pay/voucher.ts';
import { secpBackend } from '../../src/serve/secp256k1-native.ts';
import { InlineVerifier, VerifierPool } from '../../src/serve/verifier-pool.ts';
import { SenderKeys } from '../../src/serve/voucher-check.ts';

const domain = { chainId: 31337, verifyingContract: '0x5FbDB2315678afecb367f032d93F642f64180aa3' as const };
const channelId = `0x${'11'.repeat(32)}` as const;
const pool = new VerifierPool(2);
afterAll(() => pool.close());

describe('voucher signature checks', () => {
  it('accept the sender, refuse others, wrong amounts, flipped v and high-s signatures', async () => {
    const [a, b] = [devnetAccount(2), devnetAccount(3)];
    const good = await Promise.all(
      [1n, 2n, 3n].map((x) => signVoucher(a, domain, { channelId, cumulativeAmount: x })),
    );
    const fromB = await signVoucher(b, domain, { channelId, cumulativeAmount: 4n });
    const sig = parseSignature(good[1].signature);
    const flippedV = {
      ...good[1],
      signature: serializeSignature({
        ...sig,
        v: sig.v === 27n ? 28n : 27n,
        yParity: 1 - (sig.yParity ?? 0),
      }),
    };
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const highS = {
      ...good[1],
      signature: serializeSignature({
        r: sig.r,
        s: `0x${(n - BigInt(sig.s)).toString(16).padStart(64, '0')}`,
        yParity: 1 - (sig.yParity ?? 0),
      }),
    };
    for (const v of [new InlineVerifier(), pool]) {
      for (const g of good) expect(await v.verify(g, a.address)).toBe(true); // first by recovery, then with the cached key
      expect(await v.verify(fromB, a.address)).toBe(false);
      expect(await v.verify({ ...good[0], cumulativeAmount: 9n }, a.address)).toBe(false);
      expect(await v.verify({ ...good[0], chainId: 1 }, a.address)).toBe(false);
      expect(await v.verify(flippedV, a.address)).toBe(false);
      expect(await v.verify(highS, a.address)).toBe(false);
    }
    // Many at once through the pool.
    const many = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        signVoucher(b, domain, { channelId, cumulativeAmount: BigInt(i + 1) }),
      ),
    );
    expect((await Promise.all(many.map((v) => pool.verify(v, b.address)))).every(Boolean)).toBe(true);
  }, 60_000);

  it('run on libsecp256k1 and agree with viem for many keys; malformed and malleable signatures refused', async () => {
    expect(secpBackend.name).toBe('libsecp256k1'); // the native build loads here (else a 30× slower fallback)
    const keys = new SenderKeys();
    for (let k = 0; k < 40; k++) {
      const a = privateKeyToAccount(generatePrivateKey());
      const v = await signVoucher(a, domain, { channelId, cumulativeAmount: BigInt(k * 7919 + 1) });
      expect(await recoverVoucherSigner(v)).toBe(a.address);
      expect(keys.verify(v, a.address)).toBe(true);
      expect(keys.verify(v, a.address)).toBe(true); // again, with the remembered key
      expect(keys.verify({ ...v, cumulativeAmount: v.cumulativeAmount + 1n }, a.address)).toBe(false);
    }
    const a = devnetAccount(5);
    const good = await signVoucher(a, domain, { channelId, cumulativeAmount: 77n });
    const hex = good.signature.slice(2);
    const r = hex.slice(0, 64);
    const s = hex.slice(64, 128);
    const v = hex.slice(128);
    const n = 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141';
    const with_ = (sig: string) => ({ ...good, signature: `0x${sig}` as `0x${string}` });
    expect(keys.verify(good, a.address)).toBe(true);
    for (const bad of [
      `${r}${s}${v === '1b' ? '00' : '01'}`, // v as a bare recovery id (0/1): ecrecover refuses it
      `${r}${s}1d`, // v = 29
      `${'0'.repeat(64)}${s}${v}`, // r = 0
      `${n}${s}${v}`, // r = n
      `${r}${'0'.repeat(64)}${v}`, // s = 0
      `${r}${s}`, // 64 bytes (EIP-2098 compact form: the contract's tryRecoverCalldata takes 65)
      `${r}${s}${v}00`, // 66 bytes
      `${r}${s}zz`, // not hex
    ]) {
      expect(keys.verify(with_(bad), a.address)).toBe(false);
    }
  });
});
