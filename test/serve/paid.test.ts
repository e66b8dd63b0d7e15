/**
 * Pay-per-query over x402 v2 with the `agora-channel` scheme on the embedded chain: a trained MNIST
 * model served for a price, 1,000 predictions bought through one channel, settled by the server,
 * closed by the payer, balances exact to the wei; and every kind of bad voucher refused with 402.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getAddress, type Hex, parseEther } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChannelClient } from '../../src/pay/channel-client.ts';
import { Payer } from '../../src/pay/payer.ts';
import { signVoucher, voucherToJson } from '../../src/pay/voucher.ts';
import { VoucherStore } from '../../src/pay/voucher-store.ts';
import { verifyAnnouncement } from '../../src/serve/announcement.ts';
import { PayingClient } from '../../src/serve/client.ts';
import { loadModelDir } from '../../src/serve/model.ts';
import { ServeService } from '../../src/serve/service.ts';
import {
  channelPayload,
  decodePaymentRequired,
  decodePaymentResponse,
  encodeHeader,
  type PaymentRequirements,
} from '../../src/serve/x402.ts';
import { type TrainedMnist, trainMnistModel } from '../helpers/mnist-model.ts';
import { balanceOf, increaseTime, type PayFixture, startPayFixture } from '../pay/fixture.ts';

const PRICE = parseEther('0.001');
let fx: PayFixture;
let trained: TrainedMnist;
let service: ServeService;
let dir: string;
let predictUrl: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'agora-paid-'));
  [fx, trained] = await Promise.all([
    startPayFixture(4),
    trainMnistModel(join(dir, 'model'), { jobId: '3' }),
  ]);
  service = new ServeService({
    models: [loadModelDir(trained.dir)],
    payment: {
      conn: fx.conn,
      account: fx.accounts[1],
      paymentChannels: fx.channels,
      token: fx.token,
      store: new VoucherStore(join(dir, 'server.sqlite')),
      unitPrice: PRICE,
      settleThreshold: parseEther('0.25'),
      pollIntervalMs: 60_000, // ticks are driven by the test
      minChallengePeriod: 600,
    },
  });
  await service.start();
  predictUrl = `${service.url}/v1/models/3/predict`;
}, 90_000);
afterAll(async () => {
  await service?.stop();
  await fx?.stop();
});

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(predictUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('agora-channel over x402 v2', () => {
  it('answers an unpaid request with 402 and a PAYMENT-REQUIRED header in the x402 v2 form', async () => {
    const res = await post({ input: [trained.samples[0].input, trained.samples[1].input] });
    expect(res.status).toBe(402);
    const doc = decodePaymentRequired(res.headers.get('payment-required')!);
    expect(doc.x402Version).toBe(2);
    expect(doc.resource.url).toBe(predictUrl);
    expect(doc.accepts).toEqual([
      {
        scheme: 'agora-channel',
        network: 'eip155:31337',
        asset: fx.token,
        amount: (2n * PRICE).toString(), // two rows
        payTo: fx.accounts[1].address,
        maxTimeoutSeconds: 60,
        extra: expect.objectContaining({
          paymentChannels: fx.channels,
          unitPrice: PRICE.toString(),
          modelHash: trained.modelHash,
          jobId: '3',
        }),
      },
    ]);
  });

  it('announces its models, price and endpoint, signed by the seller', async () => {
    const j = (await (await fetch(`${service.url}/v1/announcement`)).json()) as Record<string, unknown>;
    const a = await verifyAnnouncement(j);
    expect(a).toMatchObject({
      endpoint: service.url,
      seller: fx.accounts[1].address,
      chainId: 31337,
      paymentChannels: fx.channels,
      schemes: ['agora-channel'],
    });
    expect(a.models).toEqual([
      expect.objectContaining({
        id: '3',
        jobId: '3',
        modelHash: trained.modelHash,
        unitPrice: PRICE.toString(),
      }),
    ]);
    await expect(verifyAnnouncement({ ...j, endpoint: 'http://evil.example' })).rejects.toMatchObject({
      code: 'ANNOUNCE_INVALID',
    });
  });

  it('buys 1,000 predictions through one channel; the server settles, the payer closes, balances add up to the wei', async () => {
    const [buyer, seller] = [fx.accounts[2], fx.accounts[1]];
    const buyerStore = new VoucherStore(join(dir, 'buyer.sqlite'));
    const client = new PayingClient({
      conn: fx.conn,
      account: buyer,
      store: buyerStore,
      paymentChannels: fx.channels,
      asset: fx.token,
      maxPrice: PRICE,
      budget: parseEther('1.5'),
      deposit: parseEther('2'),
    });
    const buyer0 = await balanceOf(fx.conn, fx.token, buyer.address);
    const seller0 = await balanceOf(fx.conn, fx.token, seller.address);
    let correct = 0;
    let channelId: Hex | undefined;
    for (let i = 0; i < 1000; i++) {
      const s = trained.samples[i % trained.samples.length];
      const r = await client.postJson<{ predictions: { class: number }[]; modelHash: string }>(predictUrl, {
        input: s.input,
      });
      expect(r.paid).toBe(PRICE);
      channelId ??= r.channelId;
      expect(r.channelId).toBe(channelId);
      expect(r.payment?.success).toBe(true);
      if (r.body.predictions[0].class === s.label) correct++;
      if (i === 0) expect(r.body.modelHash).toBe(trained.modelHash);
    }
    expect(correct / 1000).toBeGreaterThan(0.8);
    expect(client.spent).toBe(1000n * PRICE);
    // The budget stops the client before it commits more.
    const rich = new PayingClient({
      conn: fx.conn,
      account: buyer,
      store: buyerStore,
      paymentChannels: fx.channels,
      asset: fx.token,
      budget: 0n,
    });
    await expect(rich.postJson(predictUrl, { input: trained.samples[0].input })).rejects.toMatchObject({
      code: 'QUERY_OVER_BUDGET',
    });
    const cheap = new PayingClient({
      conn: fx.conn,
      account: buyer,
      store: buyerStore,
      paymentChannels: fx.channels,
      asset: fx.token,
      maxPrice: PRICE - 1n,
    });
    await expect(cheap.postJson(predictUrl, { input: trained.samples[0].input })).rejects.toMatchObject({
      code: 'QUERY_TOO_EXPENSIVE',
    });

    // The server holds every voucher; a tick settles whatever its background settler has not yet
    // (that one runs every 60 s and may have settled part of it during a slow run).
    const payee = service.payee!;
    const key = payee.key(channelId!);
    expect(payee.store.received(key)?.cumulative).toBe(1000n * PRICE);
    expect(payee.store.earned(trained.modelHash)).toBe(1000n * PRICE); // counted for the model with each voucher
    await payee.tick();
    expect((await payee.client.getChannel(channelId!)).paid).toBe(1000n * PRICE);
    expect(payee.store.received(key)?.settled).toBe(1000n * PRICE);
    expect(await balanceOf(fx.conn, fx.token, seller.address)).toBe(seller0 + 1000n * PRICE);

    // The payer closes: startClose, the challenge period passes, withdraw.
    const buyerChannels = new ChannelClient(fx.conn, fx.channels, buyer);
    await buyerChannels.startClose(channelId!);
    expect((await payee.tick()).settled).toEqual([]); // nothing unsettled left
    await increaseTime(fx.chain, 3_601);
    await buyerChannels.withdraw(channelId!);
    expect(await balanceOf(fx.conn, fx.token, buyer.address)).toBe(buyer0 - 1000n * PRICE);
    expect(await balanceOf(fx.conn, fx.token, seller.address)).toBe(seller0 + 1000n * PRICE);
    expect(await balanceOf(fx.conn, fx.token, fx.channels)).toBe(0n);
    buyerStore.close();
  }, 120_000);

  it('refuses replayed, stale, over-deposit, wrong-channel, wrong-chain, wrong-contract and forged vouchers with 402 and a reason', async () => {
    const payerAcct = fx.accounts[3];
    const store = new VoucherStore(':memory:');
    const channels = new ChannelClient(fx.conn, fx.channels, payerAcct);
    const { channelId } = await channels.open({
      recipient: fx.accounts[1].address,
      token: fx.token,
      amount: parseEther('0.01'),
    });
    const { channelId: otherId } = await channels.open({
      recipient: fx.accounts[0].address,
      token: fx.token,
      amount: parseEther('1'),
    });
    const payer = new Payer({ store, account: payerAcct, domain: channels.domain });
    await payer.track(channels, channelId);
    const first = await post({ input: trained.samples[0].input });
    const req = decodePaymentRequired(first.headers.get('payment-required')!)
      .accepts[0] as PaymentRequirements;
    const send = (v: Parameters<typeof voucherToJson>[0]) =>
      post(
        { input: trained.samples[0].input },
        { 'PAYMENT-SIGNATURE': encodeHeader(channelPayload(req, voucherToJson(v))) },
      );
    const reason = async (res: Response) => {
      expect(res.status).toBe(402);
      const doc = decodePaymentRequired(res.headers.get('payment-required')!);
      const body = (await res.json()) as { error: { code: string } };
      expect(doc.error).toContain(body.error.code);
      return body.error.code;
    };

    const v1 = await payer.pay(channelId, PRICE);
    const ok = await send(v1);
    expect(ok.status).toBe(200);
    expect(decodePaymentResponse(ok.headers.get('payment-response')!)).toMatchObject({
      success: true,
      amount: PRICE.toString(),
    });
    expect(await reason(await send(v1))).toBe('PAY_NOT_INCREASING'); // replayed
    const v2 = await payer.pay(channelId, PRICE);
    const v3 = await payer.pay(channelId, PRICE);
    expect((await send(v3)).status).toBe(200);
    expect(await reason(await send(v2))).toBe('PAY_NOT_INCREASING'); // stale
    const sign = (
      over: { channelId?: Hex; cumulativeAmount: bigint; chainId?: number; verifyingContract?: Hex },
      who = payerAcct,
    ) =>
      signVoucher(
        who,
        { chainId: over.chainId ?? 31337, verifyingContract: over.verifyingContract ?? fx.channels },
        {
          channelId: over.channelId ?? channelId,
          cumulativeAmount: over.cumulativeAmount,
        },
      );
    expect(await reason(await send(await sign({ cumulativeAmount: parseEther('0.02') })))).toBe(
      'PAY_OVER_DEPOSIT',
    );
    expect(await reason(await send(await sign({ cumulativeAmount: 4n * PRICE - 1n })))).toBe('PAY_UNDERPAID');
    expect(await reason(await send(await sign({ channelId: otherId, cumulativeAmount: PRICE })))).toBe(
      'PAY_NOT_RECIPIENT',
    );
    expect(
      await reason(await send(await sign({ channelId: `0x${'ab'.repeat(32)}`, cumulativeAmount: PRICE }))),
    ).toBe('PAY_UNKNOWN_CHANNEL');
    expect(await reason(await send(await sign({ chainId: 1, cumulativeAmount: 4n * PRICE })))).toBe(
      'PAY_WRONG_CHAIN',
    );
    expect(
      await reason(await send(await sign({ verifyingContract: fx.token, cumulativeAmount: 4n * PRICE }))),
    ).toBe('PAY_WRONG_CONTRACT');
    expect(await reason(await send(await sign({ cumulativeAmount: 4n * PRICE }, fx.accounts[0])))).toBe(
      'PAY_BAD_SIGNATURE',
    );
    // A voucher signed for another contract but sent as if for this one fails its signature check.
    const foreign = await sign({ verifyingContract: fx.token, cumulativeAmount: 4n * PRICE });
    expect(await reason(await send({ ...foreign, verifyingContract: getAddress(fx.channels) }))).toBe(
      'PAY_BAD_SIGNATURE',
    );
    const garbage = await post({ input: trained.samples[0].input }, { 'PAYMENT-SIGNATURE': 'not base64!' });
    expect(await reason(garbage)).toBe('X402_MALFORMED');
    // Nothing refused was stored: the server still holds v3, and v3 settles.
    const key = service.payee!.key(channelId);
    expect(service.payee!.store.received(key)?.cumulative).toBe(3n * PRICE);
    expect((await service.payee!.settle(channelId))?.hash).toMatch(/^0x/);
    store.close();
  }, 90_000);
});
