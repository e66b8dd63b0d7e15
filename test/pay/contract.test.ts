import { type Address, encodeFunctionData, type Hex, parseEther, zeroAddress } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChannelBoundsMock,
  ChannelFeeToken,
  ChannelReentrantToken,
  PaymentChannels,
} from '../../artifacts/index.ts';
import { walletClientFor } from '../../src/chain/connect.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import { deployContract } from '../../src/chain/deploy-contract.ts';
import { AgoraError } from '../../src/errors.ts';
import { ChannelClient } from '../../src/pay/channel-client.ts';
import { deployPaymentChannels } from '../../src/pay/deploy-channels.ts';
import { signCloseConsent, signVoucher } from '../../src/pay/voucher.ts';
import { balanceOf, increaseTime, type PayFixture, startPayFixture, TEST_BOUNDS } from './fixture.ts';

let f: PayFixture;
let senderC: ChannelClient;
let recipientC: ChannelClient;
let strangerC: ChannelClient;
const E = (n: string) => parseEther(n);

async function rejects(p: Promise<unknown>, code: string): Promise<AgoraError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AgoraError);
    expect((e as AgoraError).code).toBe(code);
    return e as AgoraError;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

async function openChannel(amount = E('100'), challengePeriod?: number): Promise<Hex> {
  const r = await senderC.open({ recipient: f.accounts[2].address, token: f.token, amount, challengePeriod });
  return r.channelId;
}

const sign = (channelId: Hex, cumulativeAmount: bigint, domain = senderC.domain, who = f.accounts[1]) =>
  signVoucher(who, domain, { channelId, cumulativeAmount });

beforeAll(async () => {
  f = await startPayFixture();
  senderC = new ChannelClient(f.conn, f.channels, f.accounts[1]);
  recipientC = senderC.as(f.accounts[2]);
  strangerC = senderC.as(f.accounts[3]);
});
afterAll(async () => f?.stop());

describe('PaymentChannels: open and topUp', () => {
  it('opens with the default and an explicit challenge period; ids follow the per-sender nonce', async () => {
    const contract = { address: f.channels, abi: PaymentChannels.abi } as const;
    const nonce = await f.conn.publicClient.readContract({
      ...contract,
      functionName: 'nonceOf',
      args: [f.accounts[1].address],
    });
    const before = await balanceOf(f.conn, f.token, f.accounts[1].address);
    const id = await openChannel(E('10'));
    const expected = await f.conn.publicClient.readContract({
      ...contract,
      functionName: 'channelIdFor',
      args: [f.accounts[1].address, f.accounts[2].address, f.token, nonce],
    });
    expect(id).toBe(expected);
    const c = await senderC.getChannel(id);
    expect(c).toMatchObject({
      exists: true,
      sender: f.accounts[1].address,
      recipient: f.accounts[2].address,
      token: f.token,
      deposit: E('10'),
      paid: 0n,
      challengePeriod: TEST_BOUNDS.default,
      closesAt: 0,
      finalized: false,
    });
    expect(await balanceOf(f.conn, f.token, f.accounts[1].address)).toBe(before - E('10'));
    const id2 = await openChannel(E('10'), 120);
    expect(id2).not.toBe(id);
    expect((await senderC.getChannel(id2)).challengePeriod).toBe(120);
    expect(await senderC.bounds()).toEqual(TEST_BOUNDS);
  });

  it('rejects bad opens', async () => {
    const base = { recipient: f.accounts[2].address, token: f.token, amount: E('1') };
    await rejects(
      senderC.open({ ...base, challengePeriod: TEST_BOUNDS.min - 1 }),
      'CHANNEL_CHALLENGE_PERIOD_OUT_OF_BOUNDS',
    );
    await rejects(
      senderC.open({ ...base, challengePeriod: TEST_BOUNDS.max + 1 }),
      'CHANNEL_CHALLENGE_PERIOD_OUT_OF_BOUNDS',
    );
    await rejects(senderC.open({ ...base, recipient: zeroAddress }), 'CHANNEL_INVALID_RECIPIENT');
    await rejects(senderC.open({ ...base, recipient: f.accounts[1].address }), 'CHANNEL_INVALID_RECIPIENT');
    await rejects(senderC.open({ ...base, token: f.accounts[4].address }), 'CHANNEL_INVALID_TOKEN');
    await rejects(senderC.open({ ...base, amount: 0n }), 'CHANNEL_ZERO_DEPOSIT');
    // account 4 never approved the contract
    await rejects(
      senderC.as(f.accounts[4]).open({ ...base, amount: E('1'), approve: false }),
      'CHANNEL_ERC20_INSUFFICIENT_ALLOWANCE',
    );
    await rejects(senderC.open({ ...base, amount: E('10000000') }), 'CHANNEL_ERC20_INSUFFICIENT_BALANCE');
  });

  it('tops up (sender only, not while closing)', async () => {
    const id = await openChannel(E('5'));
    await senderC.topUp(id, E('7'));
    expect((await senderC.getChannel(id)).deposit).toBe(E('12'));
    await rejects(recipientC.topUp(id, E('1')), 'CHANNEL_UNAUTHORIZED');
    await rejects(senderC.topUp(id, 0n), 'CHANNEL_ZERO_DEPOSIT');
    await rejects(senderC.topUp(`0x${'11'.repeat(32)}`, E('1')), 'CHANNEL_CHANNEL_NOT_FOUND');
    await senderC.startClose(id);
    await rejects(senderC.topUp(id, E('1')), 'CHANNEL_CLOSE_ALREADY_STARTED');
  });

  it('credits what actually arrived for a fee-on-transfer token', async () => {
    const fee = await deployContract(
      f.conn.publicClient,
      walletClientFor(f.conn, f.accounts[1]),
      ChannelFeeToken,
      [E('1000')],
    );
    const r = await senderC.open({ recipient: f.accounts[2].address, token: fee, amount: E('100') });
    const c = await senderC.getChannel(r.channelId);
    expect(c.deposit).toBe(E('99'));
    expect(await balanceOf(f.conn, fee, f.channels)).toBe(E('99'));
    // the whole credited deposit can be paid out (the recipient receives 99% of it)
    await recipientC.settle(await sign(r.channelId, E('99')));
    expect(await balanceOf(f.conn, fee, f.channels)).toBe(0n);
  });
});

describe('PaymentChannels: settle', () => {
  it('pays the increase, repeatedly, and keeps the channel open', async () => {
    const id = await openChannel(E('10'));
    const r0 = await balanceOf(f.conn, f.token, f.accounts[2].address);
    const s1 = await recipientC.settle(await sign(id, E('3')));
    expect(s1.gasUsed).toBeLessThan(100_000n);
    expect(await balanceOf(f.conn, f.token, f.accounts[2].address)).toBe(r0 + E('3'));
    const s2 = await recipientC.settle(await sign(id, E('10')));
    expect(s2.gasUsed).toBeLessThan(100_000n);
    expect(await balanceOf(f.conn, f.token, f.accounts[2].address)).toBe(r0 + E('10'));
    const c = await senderC.getChannel(id);
    expect(c.paid).toBe(E('10'));
    expect(c.finalized).toBe(false);
    expect(await balanceOf(f.conn, f.token, f.channels)).toBeGreaterThanOrEqual(0n);
  });

  it('rejects lower or equal amounts, over-deposit, wrong signer, malformed signatures, wrong caller', async () => {
    const id = await openChannel(E('10'));
    await recipientC.settle(await sign(id, E('4')));
    await rejects(recipientC.settle(await sign(id, E('4'))), 'CHANNEL_AMOUNT_NOT_INCREASING');
    await rejects(recipientC.settle(await sign(id, E('3'))), 'CHANNEL_AMOUNT_NOT_INCREASING');
    await rejects(recipientC.settle(await sign(id, E('10') + 1n)), 'CHANNEL_AMOUNT_EXCEEDS_DEPOSIT');
    const forged = await sign(id, E('5'), senderC.domain, f.accounts[3]);
    const err = await rejects(recipientC.settle(forged), 'CHANNEL_WRONG_SIGNER');
    expect(err.message).toContain(f.accounts[3].address);
    // the recipient cannot pay itself by signing its own voucher either
    await rejects(
      recipientC.settle(await sign(id, E('5'), senderC.domain, f.accounts[2])),
      'CHANNEL_WRONG_SIGNER',
    );
    const good = await sign(id, E('5'));
    await rejects(
      recipientC.settle({ ...good, signature: good.signature.slice(0, 130) as Hex }),
      'CHANNEL_MALFORMED_SIGNATURE',
    );
    await rejects(strangerC.settle(good), 'CHANNEL_UNAUTHORIZED');
    await rejects(senderC.settle(good), 'CHANNEL_UNAUTHORIZED');
    await rejects(recipientC.settle(await sign(`0x${'22'.repeat(32)}`, E('1'))), 'CHANNEL_CHANNEL_NOT_FOUND');
    await recipientC.settle(good);
    expect((await senderC.getChannel(id)).paid).toBe(E('5'));
  });

  it('rejects a voucher replayed on another channel', async () => {
    const a = await openChannel(E('10'));
    const b = await openChannel(E('10'));
    const va = await sign(a, E('2'));
    await rejects(recipientC.settle({ ...va, channelId: b }), 'CHANNEL_WRONG_SIGNER');
    await recipientC.settle(va);
  });

  it('rejects a voucher replayed on another chain id or another contract instance', async () => {
    // a fresh sender so that its first channel has the same id on both instances
    const sender = f.accounts[5];
    const other = await deployPaymentChannels(f.conn, f.accounts[0], { bounds: TEST_BOUNDS });
    const onA = new ChannelClient(f.conn, f.channels, sender);
    const onB = new ChannelClient(f.conn, other, sender);
    const { channelId } = await onA.open({
      recipient: f.accounts[2].address,
      token: f.token,
      amount: E('10'),
    });
    const { channelId: idB } = await onB.open({
      recipient: f.accounts[2].address,
      token: f.token,
      amount: E('10'),
    });
    expect(idB).toBe(channelId);
    const v = await signVoucher(sender, onA.domain, { channelId, cumulativeAmount: E('1') });
    await rejects(onB.as(f.accounts[2]).settle({ ...v, verifyingContract: other }), 'CHANNEL_WRONG_SIGNER');
    const otherChain = await signVoucher(
      sender,
      { chainId: 1, verifyingContract: f.channels },
      { channelId, cumulativeAmount: E('1') },
    );
    await rejects(
      onA.as(f.accounts[2]).settle({ ...otherChain, chainId: f.conn.chainId }),
      'CHANNEL_WRONG_SIGNER',
    );
    // and the client refuses a voucher whose stated domain is not its own
    await rejects(onB.as(f.accounts[2]).settle(v), 'CHANNEL_WRONG_DOMAIN');
    await onA.as(f.accounts[2]).settle(v);
  });
});

describe('PaymentChannels: startClose, challenge period, withdraw', () => {
  it('lets the recipient settle during the challenge period, then returns the rest to the sender', async () => {
    const id = await openChannel(E('10'), 120);
    await rejects(recipientC.startClose(id), 'CHANNEL_UNAUTHORIZED');
    await rejects(senderC.withdraw(id), 'CHANNEL_CLOSE_NOT_STARTED');
    await senderC.startClose(id);
    await rejects(senderC.startClose(id), 'CHANNEL_CLOSE_ALREADY_STARTED');
    const c = await senderC.getChannel(id);
    expect(c.closesAt).toBeGreaterThan(0);
    await rejects(senderC.withdraw(id), 'CHANNEL_CHALLENGE_PERIOD_NOT_OVER');
    await recipientC.settle(await sign(id, E('6')));
    await increaseTime(f.chain, 121);
    await rejects(recipientC.settle(await sign(id, E('7'))), 'CHANNEL_CHALLENGE_PERIOD_OVER');
    await rejects(recipientC.withdraw(id), 'CHANNEL_UNAUTHORIZED');
    const s0 = await balanceOf(f.conn, f.token, f.accounts[1].address);
    await senderC.withdraw(id);
    expect(await balanceOf(f.conn, f.token, f.accounts[1].address)).toBe(s0 + E('4'));
    const after = await senderC.getChannel(id);
    expect(after.finalized).toBe(true);
    expect(after.paid).toBe(E('6'));
    await rejects(senderC.withdraw(id), 'CHANNEL_CHANNEL_ALREADY_FINALIZED');
    await rejects(recipientC.settle(await sign(id, E('7'))), 'CHANNEL_CHANNEL_ALREADY_FINALIZED');
    await rejects(senderC.topUp(id, E('1')), 'CHANNEL_CHANNEL_ALREADY_FINALIZED');
    await rejects(senderC.startClose(id), 'CHANNEL_CHANNEL_ALREADY_FINALIZED');
  });

  it('withdraws nothing extra when the deposit was fully paid', async () => {
    const id = await openChannel(E('3'), 60);
    await recipientC.settle(await sign(id, E('3')));
    await senderC.startClose(id);
    await increaseTime(f.chain, 60);
    const s0 = await balanceOf(f.conn, f.token, f.accounts[1].address);
    await senderC.withdraw(id);
    expect(await balanceOf(f.conn, f.token, f.accounts[1].address)).toBe(s0);
  });
});

describe('PaymentChannels: cooperativeClose', () => {
  it('recipient closes with the sender consent: no wait', async () => {
    const id = await openChannel(E('10'));
    await recipientC.settle(await sign(id, E('2')));
    const s0 = await balanceOf(f.conn, f.token, f.accounts[1].address);
    const r0 = await balanceOf(f.conn, f.token, f.accounts[2].address);
    const senderSig = await signCloseConsent(f.accounts[1], senderC.domain, {
      channelId: id,
      cumulativeAmount: E('7'),
    });
    // a plain voucher is not a close consent
    const voucher = await sign(id, E('7'));
    await rejects(recipientC.cooperativeClose(id, E('7'), voucher.signature), 'CHANNEL_WRONG_SIGNER');
    // the consent binds the amount
    await rejects(recipientC.cooperativeClose(id, E('8'), senderSig), 'CHANNEL_WRONG_SIGNER');
    await recipientC.cooperativeClose(id, E('7'), senderSig);
    expect(await balanceOf(f.conn, f.token, f.accounts[1].address)).toBe(s0 + E('3'));
    expect(await balanceOf(f.conn, f.token, f.accounts[2].address)).toBe(r0 + E('5'));
    expect((await senderC.getChannel(id)).finalized).toBe(true);
    await rejects(recipientC.cooperativeClose(id, E('7'), senderSig), 'CHANNEL_CHANNEL_ALREADY_FINALIZED');
    await rejects(recipientC.settle(await sign(id, E('9'))), 'CHANNEL_CHANNEL_ALREADY_FINALIZED');
  });

  it('sender closes with the recipient consent, during the challenge period', async () => {
    const id = await openChannel(E('10'));
    await senderC.startClose(id);
    const recipientSig = await signCloseConsent(f.accounts[2], senderC.domain, {
      channelId: id,
      cumulativeAmount: E('4'),
    });
    await rejects(senderC.cooperativeClose(id, E('4'), '0x', '0x'), 'CHANNEL_MALFORMED_SIGNATURE');
    const s0 = await balanceOf(f.conn, f.token, f.accounts[1].address);
    await senderC.cooperativeClose(id, E('4'), '0x', recipientSig);
    expect(await balanceOf(f.conn, f.token, f.accounts[1].address)).toBe(s0 + E('6'));
  });

  it('a third party needs both consents; amounts must be within [paid, deposit]', async () => {
    const id = await openChannel(E('10'));
    await recipientC.settle(await sign(id, E('5')));
    const consent = async (amount: bigint) => ({
      s: await signCloseConsent(f.accounts[1], senderC.domain, { channelId: id, cumulativeAmount: amount }),
      r: await signCloseConsent(f.accounts[2], senderC.domain, { channelId: id, cumulativeAmount: amount }),
    });
    const low = await consent(E('4'));
    await rejects(strangerC.cooperativeClose(id, E('4'), low.s, low.r), 'CHANNEL_AMOUNT_BELOW_PAID');
    const high = await consent(E('11'));
    await rejects(strangerC.cooperativeClose(id, E('11'), high.s, high.r), 'CHANNEL_AMOUNT_EXCEEDS_DEPOSIT');
    const ok = await consent(E('5'));
    await rejects(strangerC.cooperativeClose(id, E('5'), ok.s, '0x'), 'CHANNEL_MALFORMED_SIGNATURE');
    await rejects(strangerC.cooperativeClose(id, E('5'), ok.r, ok.r), 'CHANNEL_WRONG_SIGNER');
    const r = await strangerC.cooperativeClose(id, E('5'), ok.s, ok.r);
    expect(r.gasUsed).toBeLessThan(150_000n);
    const c = await senderC.getChannel(id);
    expect(c.finalized).toBe(true);
    expect(c.paid).toBe(E('5'));
  });
});

describe('PaymentChannels: reentrancy through a malicious token', () => {
  let evil: Address;
  const arm = async (payload: Hex) => {
    const w = walletClientFor(f.conn, f.accounts[1]);
    const hash = await w.writeContract({
      address: evil,
      abi: ChannelReentrantToken.abi,
      functionName: 'arm',
      args: [f.channels, payload],
    });
    await f.conn.publicClient.waitForTransactionReceipt({ hash });
  };
  const disarm = async () => {
    const w = walletClientFor(f.conn, f.accounts[1]);
    const hash = await w.writeContract({
      address: evil,
      abi: ChannelReentrantToken.abi,
      functionName: 'disarm',
    });
    await f.conn.publicClient.waitForTransactionReceipt({ hash });
  };
  const call = (functionName: string, args: readonly unknown[]) =>
    encodeFunctionData({ abi: PaymentChannels.abi, functionName, args } as never);

  beforeAll(async () => {
    evil = await deployContract(
      f.conn.publicClient,
      walletClientFor(f.conn, f.accounts[1]),
      ChannelReentrantToken,
      [E('1000')],
    );
  });

  it('blocks re-entry from settle, withdraw, cooperativeClose and open', async () => {
    const { channelId: id } = await senderC.open({
      recipient: f.accounts[2].address,
      token: evil,
      amount: E('10'),
      challengePeriod: 60,
    });
    const v5 = await sign(id, E('5'));
    const v9 = await sign(id, E('9'));
    // settle -> token.transfer -> settle again (double pay attempt)
    await arm(call('settle', [id, v9.cumulativeAmount, v9.signature]));
    await rejects(recipientC.settle(v5), 'CHANNEL_REENTRANCY_GUARD_REENTRANT_CALL');
    expect((await senderC.getChannel(id)).paid).toBe(0n);
    expect(await balanceOf(f.conn, evil, f.channels)).toBe(E('10'));
    // settle -> token.transfer -> withdraw
    await arm(call('withdraw', [id]));
    await rejects(recipientC.settle(v5), 'CHANNEL_REENTRANCY_GUARD_REENTRANT_CALL');
    // open -> token.transferFrom -> open again
    await arm(call('open', [f.accounts[2].address, evil, E('1')]));
    await rejects(
      senderC.open({ recipient: f.accounts[2].address, token: evil, amount: E('1') }),
      'CHANNEL_REENTRANCY_GUARD_REENTRANT_CALL',
    );
    // cooperativeClose -> token.transfer -> settle
    const consent = await signCloseConsent(f.accounts[1], senderC.domain, {
      channelId: id,
      cumulativeAmount: E('5'),
    });
    await arm(call('settle', [id, v9.cumulativeAmount, v9.signature]));
    await rejects(
      recipientC.cooperativeClose(id, E('5'), consent),
      'CHANNEL_REENTRANCY_GUARD_REENTRANT_CALL',
    );
    // withdraw -> token.transfer -> settle
    await disarm();
    await senderC.startClose(id);
    await increaseTime(f.chain, 60);
    await arm(call('settle', [id, v9.cumulativeAmount, v9.signature]));
    await rejects(senderC.withdraw(id), 'CHANNEL_REENTRANCY_GUARD_REENTRANT_CALL');
    const c = await senderC.getChannel(id);
    expect(c.paid).toBe(0n);
    expect(c.finalized).toBe(false);
    expect(await balanceOf(f.conn, evil, f.channels)).toBe(E('10'));
    // with the token disarmed, the channel still works normally
    await disarm();
    await senderC.withdraw(id);
    expect(await balanceOf(f.conn, evil, f.channels)).toBe(0n);
    expect(await balanceOf(f.conn, evil, f.accounts[1].address)).toBe(E('1000'));
  });
});

describe('PaymentChannels: challenge-period bounds', () => {
  it('reads live bounds from a ProtocolParams-like contract and clamps the default', async () => {
    const w = walletClientFor(f.conn, f.accounts[0]);
    const mock = await deployContract(f.conn.publicClient, w, ChannelBoundsMock, [100n, 1000n]);
    const addr = await deployPaymentChannels(f.conn, f.accounts[0], {
      params: mock,
      bounds: { min: 0, max: 0, default: 5000 },
    });
    const c = new ChannelClient(f.conn, addr, f.accounts[1]);
    expect(await c.bounds()).toEqual({ min: 100, max: 1000, default: 1000 });
    const base = { recipient: f.accounts[2].address, token: f.token, amount: E('1') };
    await rejects(c.open({ ...base, challengePeriod: 99 }), 'CHANNEL_CHALLENGE_PERIOD_OUT_OF_BOUNDS');
    const { channelId } = await c.open(base);
    expect((await c.getChannel(channelId)).challengePeriod).toBe(1000);
    // governance changes the bounds: new channels follow, existing ones keep their period
    const hash = await w.writeContract({
      address: mock,
      abi: ChannelBoundsMock.abi,
      functionName: 'set',
      args: [10n, 50n],
    });
    await f.conn.publicClient.waitForTransactionReceipt({ hash });
    expect(await c.bounds()).toEqual({ min: 10, max: 50, default: 50 });
    await rejects(c.open({ ...base, challengePeriod: 100 }), 'CHANNEL_CHALLENGE_PERIOD_OUT_OF_BOUNDS');
    const { channelId: id2 } = await c.open({ ...base, challengePeriod: 10 });
    expect((await c.getChannel(id2)).challengePeriod).toBe(10);
    expect((await c.getChannel(channelId)).challengePeriod).toBe(1000);
  });

  it('rejects inconsistent fixed bounds at deployment', async () => {
    await rejects(
      deployPaymentChannels(f.conn, f.accounts[0], { bounds: { min: 100, max: 50, default: 60 } }),
      'CHANNEL_BAD_BOUNDS',
    );
  });

  it('is part of deployProtocol, with bounds from ProtocolParams', async () => {
    const d = await deployProtocol(f.conn, f.accounts[0]);
    expect(d.contracts.PaymentChannels).toBeDefined();
    const c = new ChannelClient(f.conn, d.contracts.PaymentChannels!, f.accounts[1]);
    const params = await f.conn.publicClient.readContract({
      address: d.contracts.PaymentChannels!,
      abi: PaymentChannels.abi,
      functionName: 'params',
    });
    expect(params.toLowerCase()).toBe(d.contracts.ProtocolParams!.toLowerCase());
    const b = await c.bounds();
    expect(b.min).toBeGreaterThan(0);
    expect(b.default).toBeGreaterThanOrEqual(b.min);
    expect(b.default).toBeLessThanOrEqual(b.max);
    const { channelId } = await c.open({
      recipient: f.accounts[2].address,
      token: d.contracts.AgoraToken!,
      amount: E('1'),
    });
    const v = await signVoucher(f.accounts[1], c.domain, { channelId, cumulativeAmount: E('1') });
    await c.as(f.accounts[2]).settle(v);
    expect((await c.getChannel(channelId)).paid).toBe(E('1'));
  });
});
