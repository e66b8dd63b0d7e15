import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Hex, parseEther } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgoraError } from '../../src/errors.ts';
import { ChannelClient } from '../../src/pay/channel-client.ts';
import { Payee } from '../../src/pay/payee.ts';
import { Payer } from '../../src/pay/payer.ts';
import { signVoucher, voucherToJson } from '../../src/pay/voucher.ts';
import { VoucherStore } from '../../src/pay/voucher-store.ts';
import { balanceOf, increaseTime, type PayFixture, startPayFixture } from './fixture.ts';

const E = (n: string) => parseEther(n);
let f: PayFixture;
let dir: string;

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AgoraError);
    return (e as AgoraError).code;
  }
  return 'NO_ERROR';
}

beforeAll(async () => {
  f = await startPayFixture();
  dir = mkdtempSync(join(tmpdir(), 'agora-ppq-'));
});
afterAll(async () => {
  await f?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function parties(name: string) {
  const payerAccount = f.accounts[1];
  const payeeAccount = f.accounts[2];
  const payerClient = new ChannelClient(f.conn, f.channels, payerAccount);
  const payeeClient = payerClient.as(payeeAccount);
  const payerStorePath = join(dir, `${name}-payer.sqlite`);
  const payerStore = new VoucherStore(payerStorePath);
  const payeeStore = new VoucherStore(join(dir, `${name}-payee.sqlite`));
  const payer = new Payer({ store: payerStore, account: payerAccount, domain: payerClient.domain });
  const payee = new Payee({ store: payeeStore, client: payeeClient, settleThreshold: E('5') });
  return { payerClient, payeeClient, payer, payee, payerStore, payeeStore, payerStorePath };
}

describe('pay-per-query over a payment channel', () => {
  it('pays per query, settles at the threshold, survives a payer restart, follows top-ups', async () => {
    const p = parties('a');
    const { channelId } = await p.payerClient.open({
      recipient: f.accounts[2].address,
      token: f.token,
      amount: E('10'),
    });
    await p.payer.track(p.payerClient, channelId);
    const r0 = await balanceOf(f.conn, f.token, f.accounts[2].address);
    const price = E('1');
    for (let i = 0; i < 4; i++) {
      const v = await p.payer.pay(channelId, price);
      // over the wire as JSON
      const res = await p.payee.accept(JSON.parse(JSON.stringify(voucherToJson(v))), price);
      expect(res.increment).toBe(price);
    }
    expect((await p.payee.tick()).settled).toEqual([]); // 4 < threshold 5
    await p.payee.accept(await p.payer.pay(channelId, price), price);
    expect(await p.payee.tick()).toEqual({ settled: [channelId], failed: [] });
    expect(await balanceOf(f.conn, f.token, f.accounts[2].address)).toBe(r0 + E('5'));
    const [e] = p.payee.earnings();
    expect(e).toMatchObject({ earned: E('5'), settled: E('5'), unsettled: 0n });

    // underpaying and replaying are refused, nothing stored
    const cheap = await p.payer.pay(channelId, E('0.5'));
    expect(await code(p.payee.accept(cheap, price))).toBe('PAY_UNDERPAID');
    expect(await code(p.payee.accept(cheap, E('0.5')))).toBe('NO_ERROR');
    expect(await code(p.payee.accept(cheap, E('0.5')))).toBe('PAY_NOT_INCREASING');

    // the payer restarts: its committed total is still there, and the latest voucher can be resent
    p.payerStore.close();
    const reopened = new Payer({
      store: new VoucherStore(p.payerStorePath),
      account: f.accounts[1],
      domain: p.payerClient.domain,
    });
    expect(reopened.spent(channelId)).toBe(E('5.5'));
    expect((await reopened.latestVoucher(channelId))?.cumulativeAmount).toBe(E('5.5'));
    expect(reopened.remaining(channelId)).toBe(E('4.5'));
    expect(await code(reopened.pay(channelId, E('5')))).toBe('PAY_OVER_DEPOSIT');

    // top-up: the payer refreshes; the payee picks the new deposit up from the chain by itself
    await p.payerClient.topUp(channelId, E('10'));
    await reopened.track(p.payerClient, channelId);
    const big = await reopened.pay(channelId, E('5'));
    expect(big.cumulativeAmount).toBe(E('10.5'));
    await p.payee.accept(big, E('5'));
    expect(p.payee.earnings()[0]).toMatchObject({ earned: E('10.5'), settled: E('5') });
    await p.payee.settle(channelId);
    expect((await p.payerClient.getChannel(channelId)).paid).toBe(E('10.5'));
    reopened.store.close();
    p.payeeStore.close();
  });

  it('settles before the challenge period ends when the payer starts closing', async () => {
    const p = parties('b');
    const { channelId } = await p.payerClient.open({
      recipient: f.accounts[2].address,
      token: f.token,
      amount: E('10'),
      challengePeriod: 600,
    });
    await p.payer.track(p.payerClient, channelId);
    await p.payee.accept(await p.payer.pay(channelId, E('2')), E('2')); // below the threshold
    const s0 = await balanceOf(f.conn, f.token, f.accounts[1].address);
    await p.payerClient.startClose(channelId);
    const { settled } = await p.payee.tick();
    expect(settled).toEqual([channelId]);
    expect((await p.payerClient.getChannel(channelId)).paid).toBe(E('2'));
    // no new payments on a closing channel, on either side
    expect(
      await code(
        p.payee.accept(
          await signVoucher(f.accounts[1], p.payerClient.domain, { channelId, cumulativeAmount: E('3') }),
          1n,
        ),
      ),
    ).toBe('PAY_CHANNEL_CLOSING');
    await p.payer.track(p.payerClient, channelId);
    expect(await code(p.payer.pay(channelId, E('1')))).toBe('PAY_CHANNEL_CLOSING');
    await increaseTime(f.chain, 600);
    await p.payerClient.withdraw(channelId);
    expect(await balanceOf(f.conn, f.token, f.accounts[1].address)).toBe(s0 + E('8'));
    expect(await p.payee.tick()).toEqual({ settled: [], failed: [] });
    p.payerStore.close();
    p.payeeStore.close();
  });

  it('closes cooperatively with the payer consent; refuses vouchers for another contract', async () => {
    const p = parties('c');
    const { channelId } = await p.payerClient.open({
      recipient: f.accounts[2].address,
      token: f.token,
      amount: E('10'),
    });
    await p.payer.track(p.payerClient, channelId);
    await p.payee.accept(await p.payer.pay(channelId, E('3')), E('3'));
    const consent = await p.payer.closeConsent(channelId);
    expect(consent.cumulativeAmount).toBe(E('3'));
    const s0 = await balanceOf(f.conn, f.token, f.accounts[1].address);
    await p.payeeClient.cooperativeClose(channelId, consent.cumulativeAmount, consent.signature);
    expect(await balanceOf(f.conn, f.token, f.accounts[1].address)).toBe(s0 + E('7'));
    const foreign = await signVoucher(
      f.accounts[1],
      { chainId: f.conn.chainId, verifyingContract: f.accounts[5].address },
      {
        channelId,
        cumulativeAmount: E('4'),
      },
    );
    expect(await code(p.payee.accept(foreign, 1n))).toBe('PAY_WRONG_DOMAIN');
    expect(
      await code(
        p.payee.accept(
          await signVoucher(f.accounts[1], p.payerClient.domain, {
            channelId: `0x${'42'.repeat(32)}` as Hex,
            cumulativeAmount: 1n,
          }),
          1n,
        ),
      ),
    ).toBe('PAY_UNKNOWN_CHANNEL');
    // a channel paying someone else is refused
    const { channelId: toOther } = await p.payerClient.open({
      recipient: f.accounts[3].address,
      token: f.token,
      amount: E('1'),
    });
    expect(
      await code(
        p.payee.accept(
          await signVoucher(f.accounts[1], p.payerClient.domain, {
            channelId: toOther,
            cumulativeAmount: 1n,
          }),
          1n,
        ),
      ),
    ).toBe('PAY_NOT_RECIPIENT');
    p.payerStore.close();
    p.payeeStore.close();
  });

  it('notices a close on accept when its copy is stale; a missed challenge period does not block other channels', async () => {
    const p = parties('e');
    const payee = new Payee({
      store: p.payeeStore,
      client: p.payeeClient,
      settleThreshold: E('100'),
      channelMaxAgeMs: 0,
    });
    const open = async () => {
      const { channelId } = await p.payerClient.open({
        recipient: f.accounts[2].address,
        token: f.token,
        amount: E('10'),
        challengePeriod: 600,
      });
      await p.payer.track(p.payerClient, channelId);
      return channelId;
    };
    const late = await open();
    const fine = await open();
    await payee.accept(await p.payer.pay(late, E('1')), E('1'));
    await payee.accept(await p.payer.pay(fine, E('1')), E('1'));
    await p.payerClient.startClose(late);
    // no tick in between: the stale copy (max age 0) is refreshed on accept
    const next = await signVoucher(f.accounts[1], p.payerClient.domain, {
      channelId: late,
      cumulativeAmount: E('2'),
    });
    expect(await code(payee.accept(next, E('1')))).toBe('PAY_CHANNEL_CLOSING');
    // the payee slept through the whole challenge period
    await increaseTime(f.chain, 601);
    await p.payerClient.startClose(fine);
    const r = await payee.tick();
    expect(r.settled).toEqual([fine]);
    expect(r.failed.map((x) => [x.channelId, (x.error as AgoraError).code])).toEqual([
      [late, 'CHANNEL_CHALLENGE_PERIOD_OVER'],
    ]);
    p.payerStore.close();
    p.payeeStore.close();
  });

  it('settles in the background with start()/stop()', async () => {
    const p = parties('d');
    const payee = new Payee({
      store: p.payeeStore,
      client: p.payeeClient,
      settleThreshold: 1n,
      pollIntervalMs: 20,
    });
    const { channelId } = await p.payerClient.open({
      recipient: f.accounts[2].address,
      token: f.token,
      amount: E('1'),
    });
    await p.payer.track(p.payerClient, channelId);
    await payee.accept(await p.payer.pay(channelId, 7n), 7n);
    await payee.start();
    for (let i = 0; i < 100 && payee.earnings()[0]?.unsettled !== 0n; i++)
      await new Promise((r) => setTimeout(r, 20));
    await payee.stop();
    expect((await p.payerClient.getChannel(channelId)).paid).toBe(7n);
    p.payerStore.close();
    p.payeeStore.close();
  });
});
