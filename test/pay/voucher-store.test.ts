import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Address, Hex } from 'viem';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { AgoraError } from '../../src/errors.ts';
import { signVoucher } from '../../src/pay/voucher.ts';
import { type StoredChannel, VoucherStore } from '../../src/pay/voucher-store.ts';

const sender = devnetAccount(1);
const recipient = devnetAccount(2);
const contract = '0x5FbDB2315678afecb367f032d93F642f64180aa3' as Address;
const domain = { chainId: 31337, verifyingContract: contract };
const channelId = `0x${'ab'.repeat(32)}` as Hex;
const channel: StoredChannel = {
  chainId: 31337,
  contract,
  channelId,
  sender: sender.address,
  recipient: recipient.address,
  token: '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512',
  deposit: 100n,
  challengePeriod: 3600,
  closesAt: 0,
  finalized: false,
};
const sign = (amount: bigint, id: Hex = channelId, who = sender, d = domain) =>
  signVoucher(who, d, { channelId: id, cumulativeAmount: amount });

async function expectCode(p: Promise<unknown> | (() => unknown), code: string) {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(AgoraError);
    expect((e as AgoraError).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'agora-vstore-'));
  path = join(dir, 'vouchers.sqlite');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('VoucherStore: sender side', () => {
  it('reserves increasing cumulative amounts, persisted across reopen', async () => {
    let s = new VoucherStore(path);
    s.recordChannel(channel);
    expect(s.reserve(channel, 10n, sender.address)).toBe(10n);
    expect(s.reserve(channel, 15n)).toBe(25n);
    expect(s.sent(channel)).toEqual({ cumulative: 25n, signature: undefined });
    const v = await sign(25n);
    s.recordSignature(channel, 25n, v.signature);
    s.recordSignature(channel, 10n, '0xdead'); // stale: ignored
    s.close();
    s = new VoucherStore(path);
    expect(s.sent(channel)).toEqual({ cumulative: 25n, signature: v.signature });
    expect(s.reserve(channel, 1n)).toBe(26n);
    s.close();
  });

  it('rejects over-deposit, non-positive, unknown, wrong sender, closing and finalized channels; nothing changes', async () => {
    const s = new VoucherStore(path);
    s.recordChannel(channel);
    s.reserve(channel, 90n);
    await expectCode(() => s.reserve(channel, 11n), 'PAY_OVER_DEPOSIT');
    await expectCode(() => s.reserve(channel, 0n), 'PAY_BAD_AMOUNT');
    await expectCode(() => s.reserve({ ...channel, chainId: 1 }, 1n), 'PAY_UNKNOWN_CHANNEL');
    await expectCode(() => s.reserve(channel, 1n, recipient.address), 'PAY_NOT_SENDER');
    expect(s.sent(channel)?.cumulative).toBe(90n);
    // a top-up raises the deposit; a refresh never lowers it
    s.recordChannel({ ...channel, deposit: 200n });
    s.recordChannel({ ...channel, deposit: 100n });
    expect(s.getChannel(channel)?.deposit).toBe(200n);
    expect(s.reserve(channel, 11n)).toBe(101n);
    s.recordChannel({ ...channel, deposit: 200n, closesAt: 1_000 });
    await expectCode(() => s.reserve(channel, 1n), 'PAY_CHANNEL_CLOSING');
    s.recordChannel({ ...channel, deposit: 200n, closesAt: 0 }); // a refresh never un-closes
    expect(s.getChannel(channel)?.closesAt).toBe(1_000);
    s.recordChannel({ ...channel, finalized: true });
    await expectCode(() => s.reserve(channel, 1n), 'PAY_CHANNEL_FINALIZED');
    await expectCode(
      () => s.recordChannel({ ...channel, recipient: sender.address }),
      'PAY_CHANNEL_MISMATCH',
    );
    expect(s.sent(channel)?.cumulative).toBe(101n);
    s.close();
  });
});

describe('VoucherStore: recipient side', () => {
  it('accepts increasing vouchers, keeps the highest across reopen, tracks settled', async () => {
    let s = new VoucherStore(path);
    s.recordChannel(channel);
    expect(
      await s.acceptVoucher(await sign(10n), { recipient: recipient.address, minIncrement: 10n }),
    ).toEqual({
      previous: 0n,
      cumulative: 10n,
      increment: 10n,
    });
    const v30 = await sign(30n);
    expect((await s.acceptVoucher(v30)).increment).toBe(20n);
    s.markSettled(channel, 10n);
    s.close();
    s = new VoucherStore(path);
    expect(s.received(channel)).toEqual({ cumulative: 30n, signature: v30.signature, settled: 10n });
    expect(s.highestVoucher(channel)).toEqual(v30);
    s.markSettled(channel, 5n); // never lowers
    expect(s.received(channel)?.settled).toBe(10n);
    expect(s.listChannels({ recipient: recipient.address })).toHaveLength(1);
    expect(s.listChannels({ sender: recipient.address })).toHaveLength(0);
    s.close();
  });

  it('rejects bad vouchers without storing anything', async () => {
    const s = new VoucherStore(path);
    s.recordChannel(channel);
    await s.acceptVoucher(await sign(20n));
    await expectCode(s.acceptVoucher(await sign(20n)), 'PAY_NOT_INCREASING');
    await expectCode(s.acceptVoucher(await sign(19n)), 'PAY_NOT_INCREASING');
    await expectCode(s.acceptVoucher(await sign(25n), { minIncrement: 10n }), 'PAY_UNDERPAID');
    await expectCode(s.acceptVoucher(await sign(101n)), 'PAY_OVER_DEPOSIT');
    await expectCode(s.acceptVoucher(await sign(30n, channelId, recipient)), 'PAY_BAD_SIGNATURE');
    // signed for another chain or contract but presented as ours: the signature does not match
    const otherChain = await sign(30n, channelId, sender, { ...domain, chainId: 1 });
    await expectCode(s.acceptVoucher({ ...otherChain, chainId: 31337 }), 'PAY_BAD_SIGNATURE');
    const otherContract = await sign(30n, channelId, sender, {
      ...domain,
      verifyingContract: recipient.address,
    });
    await expectCode(s.acceptVoucher({ ...otherContract, verifyingContract: contract }), 'PAY_BAD_SIGNATURE');
    // presented with its own domain: that channel is unknown here
    await expectCode(s.acceptVoucher(otherChain), 'PAY_UNKNOWN_CHANNEL');
    await expectCode(s.acceptVoucher(otherContract), 'PAY_UNKNOWN_CHANNEL');
    // another channel
    await expectCode(s.acceptVoucher(await sign(30n, `0x${'cd'.repeat(32)}`)), 'PAY_UNKNOWN_CHANNEL');
    const v = await sign(30n);
    await expectCode(s.acceptVoucher({ ...v, signature: '0x1234' }), 'VOUCHER_BAD_SIGNATURE');
    await expectCode(s.acceptVoucher(v, { recipient: sender.address }), 'PAY_NOT_RECIPIENT');
    s.recordChannel({ ...channel, closesAt: 12345 });
    await expectCode(s.acceptVoucher(v), 'PAY_CHANNEL_CLOSING');
    s.recordChannel({ ...channel, finalized: true });
    await expectCode(s.acceptVoucher(v), 'PAY_CHANNEL_FINALIZED');
    expect(s.received(channel)?.cumulative).toBe(20n);
    s.close();
  });

  it('serializes concurrent vouchers: only increases win, two handles on one file agree', async () => {
    const a = new VoucherStore(path);
    const b = new VoucherStore(path);
    a.recordChannel(channel);
    const vs = await Promise.all([5n, 7n, 6n, 9n, 8n].map((n) => sign(n)));
    const results = await Promise.allSettled(vs.map((v, i) => (i % 2 ? a : b).acceptVoucher(v)));
    const accepted = results.filter((r) => r.status === 'fulfilled').length;
    expect(accepted).toBeGreaterThanOrEqual(1);
    expect(a.received(channel)?.cumulative).toBe(9n);
    expect(b.received(channel)?.cumulative).toBe(9n);
    a.close();
    b.close();
  });

  it('reports an unopenable file clearly', async () => {
    await expectCode(() => new VoucherStore(join(dir, 'missing-dir', 'x.sqlite')), 'PAY_STORE_OPEN');
  });
});
