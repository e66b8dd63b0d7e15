/** Voucher signature checks: the fast path agrees with viem's recovery, on this thread and in workers. */
import { parseSignature, serializeSignature } from 'viem';
import { afterAll, describe, expect, it } from 'vitest';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { signVoucher } from '../../src/pay/voucher.ts';
import { InlineVerifier, VerifierPool } from '../../src/serve/verifier-pool.ts';

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
});
