/**
 * The channel client sends through the chain layer's gas-safe `sendTx`: an account with tokens but
 * no ETH for gas gets CHAIN_NO_FUNDS with a hint (not a raw RPC error), a revert is a
 * `CHANNEL_<ERROR>` AgoraError, and concurrent sends from one account take distinct nonces.
 */
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walletClientFor } from '../../src/chain/connect.ts';
import { AgoraError } from '../../src/errors.ts';
import { ChannelClient } from '../../src/pay/channel-client.ts';
import { signVoucher } from '../../src/pay/voucher.ts';
import { type PayFixture, startPayFixture } from './fixture.ts';

describe('channel client transactions', () => {
  let f: PayFixture;
  beforeAll(async () => {
    f = await startPayFixture(4);
  });
  afterAll(() => f.stop());

  it('no ETH for gas: CHAIN_NO_FUNDS with what to do', async () => {
    const poor = privateKeyToAccount(generatePrivateKey());
    // it holds AGORA (and has approved nothing yet), but no ETH
    await walletClientFor(f.conn, f.accounts[0]).writeContract({
      address: f.token,
      abi: [
        {
          type: 'function',
          name: 'transfer',
          stateMutability: 'nonpayable',
          inputs: [
            { name: 'to', type: 'address' },
            { name: 'amount', type: 'uint256' },
          ],
          outputs: [{ type: 'bool' }],
        },
      ],
      functionName: 'transfer',
      args: [poor.address, 10n ** 18n],
    });
    const c = new ChannelClient(f.conn, f.channels, poor);
    const e = await c.open({ recipient: f.accounts[1].address, token: f.token, amount: 10n }).catch((x) => x);
    expect(e).toBeInstanceOf(AgoraError);
    expect((e as AgoraError).code).toBe('CHAIN_NO_FUNDS');
    expect((e as AgoraError).hint).toBeTruthy();
    expect((e as AgoraError).message).not.toMatch(/Missing or invalid parameters/);
  });

  it('a revert is a CHANNEL_ error; concurrent sends from one account all land', async () => {
    const sender = new ChannelClient(f.conn, f.channels, f.accounts[2]);
    const opened = await Promise.all(
      [1n, 2n, 3n].map((amount) =>
        sender.open({ recipient: f.accounts[3].address, token: f.token, amount: amount * 100n }),
      ),
    );
    expect(new Set(opened.map((o) => o.receipt.transactionHash)).size).toBe(3);
    expect(new Set(opened.map((o) => o.channelId)).size).toBe(3);
    // a voucher signed by the recipient instead of the sender: WrongSigner, decoded
    const v = await signVoucher(f.accounts[3], sender.domain, {
      channelId: opened[0].channelId,
      cumulativeAmount: 50n,
    });
    const e = await sender
      .as(f.accounts[3])
      .settle(v)
      .catch((x) => x);
    expect(e).toBeInstanceOf(AgoraError);
    expect((e as AgoraError).code).toBe('CHANNEL_WRONG_SIGNER');
    expect((e as AgoraError).hint).toMatch(/signed by the channel sender/);
  });
});
