import { type Hex, hashTypedData } from 'viem';
import { describe, expect, it } from 'vitest';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { AgoraError } from '../../src/errors.ts';
import {
  closeConsentTypedData,
  recoverVoucherSigner,
  signVoucher,
  verifyVoucher,
  voucherFromJson,
  voucherToJson,
  voucherTypedData,
} from '../../src/pay/voucher.ts';

const sender = devnetAccount(1);
const other = devnetAccount(2);
const domain = { chainId: 31337, verifyingContract: '0x5FbDB2315678afecb367f032d93F642f64180aa3' as const };
const channelId = `0x${'ab'.repeat(32)}` as Hex;

describe('vouchers', () => {
  it('builds EIP-712 typed data bound to chain, contract and channel', () => {
    const td = voucherTypedData(domain, { channelId, cumulativeAmount: 5n });
    expect(td.domain).toEqual({ name: 'AgoraPaymentChannels', version: '1', ...domain });
    expect(td.primaryType).toBe('Voucher');
    const h = hashTypedData(td);
    expect(
      hashTypedData(voucherTypedData({ ...domain, chainId: 1 }, { channelId, cumulativeAmount: 5n })),
    ).not.toBe(h);
    expect(
      hashTypedData(
        voucherTypedData(
          { ...domain, verifyingContract: other.address },
          { channelId, cumulativeAmount: 5n },
        ),
      ),
    ).not.toBe(h);
    expect(
      hashTypedData(voucherTypedData(domain, { channelId: `0x${'cd'.repeat(32)}`, cumulativeAmount: 5n })),
    ).not.toBe(h);
    expect(hashTypedData(voucherTypedData(domain, { channelId, cumulativeAmount: 6n }))).not.toBe(h);
    // a close consent over the same fields is a different message
    expect(hashTypedData(closeConsentTypedData(domain, { channelId, cumulativeAmount: 5n }))).not.toBe(h);
  });

  it('signs, recovers and verifies; rejects tampering and other signers', async () => {
    const v = await signVoucher(sender, domain, { channelId, cumulativeAmount: 10n ** 18n });
    expect(await recoverVoucherSigner(v)).toBe(sender.address);
    expect(await verifyVoucher(v, sender.address)).toBe(true);
    expect(await verifyVoucher(v, other.address)).toBe(false);
    expect(await verifyVoucher({ ...v, cumulativeAmount: v.cumulativeAmount + 1n }, sender.address)).toBe(
      false,
    );
    expect(await verifyVoucher({ ...v, chainId: 1 }, sender.address)).toBe(false);
    expect(await verifyVoucher({ ...v, signature: '0x1234' }, sender.address)).toBe(false);
    await expect(recoverVoucherSigner({ ...v, signature: '0x1234' })).rejects.toMatchObject({
      code: 'VOUCHER_BAD_SIGNATURE',
    });
  });

  it('rejects bad fields', async () => {
    await expect(
      signVoucher(sender, domain, { channelId: '0x12', cumulativeAmount: 1n }),
    ).rejects.toBeInstanceOf(AgoraError);
    expect(() => voucherTypedData(domain, { channelId, cumulativeAmount: -1n })).toThrow(AgoraError);
    expect(() => voucherTypedData(domain, { channelId, cumulativeAmount: 1n << 128n })).toThrow(
      /out of range/,
    );
  });

  it('round-trips the JSON wire format and rejects malformed input', async () => {
    const v = await signVoucher(sender, domain, {
      channelId,
      cumulativeAmount: 123456789012345678901234567n,
    });
    const j = JSON.parse(JSON.stringify(voucherToJson(v)));
    expect(voucherFromJson(j)).toEqual(v);
    const bad = (patch: Record<string, unknown>) => () => voucherFromJson({ ...j, ...patch });
    expect(bad({ cumulativeAmount: '-1' })).toThrow(/cumulativeAmount/);
    expect(bad({ cumulativeAmount: '1e18' })).toThrow(/cumulativeAmount/);
    expect(bad({ cumulativeAmount: 5 })).toThrow(/cumulativeAmount/);
    expect(bad({ chainId: '31337' })).toThrow(/chainId/);
    expect(bad({ verifyingContract: '0x12' })).toThrow(/verifyingContract/);
    expect(bad({ channelId: '0xzz' })).toThrow(/channelId/);
    expect(bad({ signature: '0x00' })).toThrow(/signature/);
    expect(() => voucherFromJson(null)).toThrow(AgoraError);
  });
});
