/**
 * x402 `exact` with a stock client: `@x402/fetch` + `@x402/evm` (no Agora code on the client side)
 * pay one prediction with an EIP-3009 authorization of AgoraToken; and the EIP-3009 rules of the
 * token itself (replay, cancel, receive only by the payee, validity window).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExactEvmScheme } from '@x402/evm/exact/client';
import { wrapFetchWithPayment, x402Client } from '@x402/fetch';
import { type Hex, keccak256, parseEther, toHex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgoraToken } from '../../artifacts/index.ts';
import { walletClientFor } from '../../src/chain/connect.ts';
import { VoucherStore } from '../../src/pay/voucher-store.ts';
import { TRANSFER_WITH_AUTHORIZATION_TYPES } from '../../src/serve/exact-scheme.ts';
import { loadModelDir } from '../../src/serve/model.ts';
import { ServeService } from '../../src/serve/service.ts';
import { decodePaymentRequired, decodePaymentResponse } from '../../src/serve/x402.ts';
import { type TrainedMnist, trainMnistModel } from '../helpers/mnist-model.ts';
import { balanceOf, type PayFixture, startPayFixture } from '../pay/fixture.ts';

const PRICE = parseEther('0.05');
let fx: PayFixture;
let trained: TrainedMnist;
let service: ServeService;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'agora-exact-'));
  [fx, trained] = await Promise.all([
    startPayFixture(5),
    trainMnistModel(join(dir, 'model'), { jobId: '4' }),
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
      exact: true,
      pollIntervalMs: 60_000,
    },
  });
  await service.start();
}, 90_000);
afterAll(async () => {
  await service?.stop();
  await fx?.stop();
});

const authTypes = TRANSFER_WITH_AUTHORIZATION_TYPES;

describe('x402 exact with EIP-3009', () => {
  it('a stock @x402/fetch + @x402/evm client pays one prediction', async () => {
    const url = `${service.url}/v1/models/4/predict`;
    const unpaid = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: trained.samples[0].input }),
    });
    const accepts = decodePaymentRequired(unpaid.headers.get('payment-required')!).accepts;
    expect(accepts.map((a) => a.scheme)).toEqual(['agora-channel', 'exact']);
    expect(accepts[1].extra).toMatchObject({ name: 'Agora', version: '1' });

    const buyer = fx.accounts[3];
    // The buyer opts in to AGORA on the devnet with a per-payment cap (stock spend controls).
    const client = x402Client.fromConfig({
      schemes: [{ network: 'eip155:31337', client: new ExactEvmScheme(buyer) }],
      spendControls: {
        allowedAssets: [{ network: 'eip155:31337', asset: fx.token, maxAmountPerPayment: PRICE.toString() }],
      },
    });
    const fetchWithPay = wrapFetchWithPayment(fetch, client);
    const before = await balanceOf(fx.conn, fx.token, buyer.address);
    const seller0 = await balanceOf(fx.conn, fx.token, fx.accounts[1].address);
    const res = await fetchWithPay(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: trained.samples[0].input }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { predictions: { class: number }[]; modelHash: string };
    expect(body.predictions[0].class).toBe(trained.samples[0].label);
    expect(body.modelHash).toBe(trained.modelHash);
    const settled = decodePaymentResponse(res.headers.get('payment-response')!);
    expect(settled).toMatchObject({
      success: true,
      payer: buyer.address,
      amount: PRICE.toString(),
      network: 'eip155:31337',
    });
    expect(settled.transaction).toMatch(/^0x[0-9a-f]{64}$/);
    expect(await balanceOf(fx.conn, fx.token, buyer.address)).toBe(before - PRICE);
    expect(await balanceOf(fx.conn, fx.token, fx.accounts[1].address)).toBe(seller0 + PRICE);
  }, 60_000);

  it('the token enforces EIP-3009: no replay, cancel, receive only by the payee, validity window', async () => {
    const [from, to, other] = [fx.accounts[2], fx.accounts[4], fx.accounts[0]];
    const domain = { name: 'Agora', version: '1', chainId: 31337, verifyingContract: fx.token };
    const now = BigInt(Math.floor(Date.now() / 1000));
    const msg = (nonce: Hex, over: Partial<{ validAfter: bigint; validBefore: bigint }> = {}) => ({
      from: from.address,
      to: to.address,
      value: parseEther('1'),
      validAfter: 0n,
      validBefore: now + 3600n,
      nonce,
      ...over,
    });
    const sign = (
      m: ReturnType<typeof msg>,
      primaryType: 'TransferWithAuthorization' | 'ReceiveWithAuthorization' = 'TransferWithAuthorization',
    ) =>
      from.signTypedData({
        domain,
        types:
          primaryType === 'TransferWithAuthorization'
            ? authTypes
            : { ReceiveWithAuthorization: authTypes.TransferWithAuthorization },
        primaryType,
        message: m,
      } as never);
    const w = (who: typeof other) => walletClientFor(fx.conn, who);
    const call = async (who: typeof other, functionName: string, args: unknown[]) => {
      const hash = await w(who).writeContract({
        address: fx.token,
        abi: AgoraToken.abi,
        functionName,
        args,
      } as never);
      return fx.conn.publicClient.waitForTransactionReceipt({ hash });
    };
    const fails = (who: typeof other, functionName: string, args: unknown[], error: string) =>
      expect(
        fx.conn.publicClient.simulateContract({
          account: who,
          address: fx.token,
          abi: AgoraToken.abi,
          functionName,
          args,
        } as never),
      ).rejects.toThrow(error);
    const n1 = keccak256(toHex('n1'));
    const m1 = msg(n1);
    const s1 = await sign(m1);
    const to0 = await balanceOf(fx.conn, fx.token, to.address);
    const rec = await call(other, 'transferWithAuthorization', [
      m1.from,
      m1.to,
      m1.value,
      m1.validAfter,
      m1.validBefore,
      m1.nonce,
      s1,
    ]);
    expect(rec.status).toBe('success');
    expect(await balanceOf(fx.conn, fx.token, to.address)).toBe(to0 + parseEther('1'));
    await fails(
      other,
      'transferWithAuthorization',
      [m1.from, m1.to, m1.value, m1.validAfter, m1.validBefore, m1.nonce, s1],
      'AuthorizationUsedOrCanceled',
    );
    // Tampered value.
    const n2 = keccak256(toHex('n2'));
    const m2 = msg(n2);
    await fails(
      other,
      'transferWithAuthorization',
      [m2.from, m2.to, parseEther('2'), m2.validAfter, m2.validBefore, m2.nonce, await sign(m2)],
      'InvalidAuthorizationSignature',
    );
    // Expired, not yet valid.
    const m3 = msg(keccak256(toHex('n3')), { validBefore: now - 10n });
    await fails(
      other,
      'transferWithAuthorization',
      [m3.from, m3.to, m3.value, m3.validAfter, m3.validBefore, m3.nonce, await sign(m3)],
      'AuthorizationExpired',
    );
    const m4 = msg(keccak256(toHex('n4')), { validAfter: now + 3000n });
    await fails(
      other,
      'transferWithAuthorization',
      [m4.from, m4.to, m4.value, m4.validAfter, m4.validBefore, m4.nonce, await sign(m4)],
      'AuthorizationNotYetValid',
    );
    // receiveWithAuthorization: only the payee may submit.
    const m5 = msg(keccak256(toHex('n5')));
    const s5 = await sign(m5, 'ReceiveWithAuthorization');
    const split = (sig: Hex) => [
      Number(`0x${sig.slice(130, 132)}`),
      `0x${sig.slice(2, 66)}`,
      `0x${sig.slice(66, 130)}`,
    ];
    const args5 = [m5.from, m5.to, m5.value, m5.validAfter, m5.validBefore, m5.nonce, ...split(s5)];
    await fails(other, 'receiveWithAuthorization', args5, 'CallerMustBePayee');
    expect((await call(to, 'receiveWithAuthorization', args5)).status).toBe('success');
    // cancelAuthorization burns an unused nonce.
    const n6 = keccak256(toHex('n6'));
    const c6 = await from.signTypedData({
      domain,
      types: {
        CancelAuthorization: [
          { name: 'authorizer', type: 'address' },
          { name: 'nonce', type: 'bytes32' },
        ],
      },
      primaryType: 'CancelAuthorization',
      message: { authorizer: from.address, nonce: n6 },
    });
    expect((await call(other, 'cancelAuthorization', [from.address, n6, ...split(c6)])).status).toBe(
      'success',
    );
    const m6 = msg(n6);
    await fails(
      other,
      'transferWithAuthorization',
      [m6.from, m6.to, m6.value, m6.validAfter, m6.validBefore, m6.nonce, await sign(m6)],
      'AuthorizationUsedOrCanceled',
    );
    expect(
      await fx.conn.publicClient.readContract({
        address: fx.token,
        abi: AgoraToken.abi,
        functionName: 'authorizationState',
        args: [from.address, n6],
      }),
    ).toBe(true);
  }, 60_000);
});
