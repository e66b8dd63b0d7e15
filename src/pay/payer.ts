/**
 * The paying side of pay-per-query: for each query, commit the price in the voucher store (persisted
 * first), then sign and hand out the voucher for the new cumulative total.
 */
import { getAddress, type Hex, type LocalAccount } from 'viem';
import { AgoraError } from '../errors.ts';
import type { ChannelClient, ChannelState } from './channel-client.ts';
import { type ChannelsDomain, type SignedVoucher, signCloseConsent, signVoucher } from './voucher.ts';
import type { ChannelKey, StoredChannel, VoucherStore } from './voucher-store.ts';

export type PayerOptions = {
  store: VoucherStore;
  /** The channel sender's key (signs vouchers locally). */
  account: LocalAccount;
  /** The chain and PaymentChannels contract the channels live on. */
  domain: ChannelsDomain;
};

export function channelStateToStored(domain: ChannelsDomain, c: ChannelState): StoredChannel {
  return {
    chainId: domain.chainId,
    contract: getAddress(domain.verifyingContract),
    channelId: c.channelId,
    sender: c.sender,
    recipient: c.recipient,
    token: c.token,
    deposit: c.deposit,
    challengePeriod: c.challengePeriod,
    closesAt: c.closesAt,
    finalized: c.finalized,
  };
}

export class Payer {
  readonly store: VoucherStore;
  readonly account: LocalAccount;
  readonly domain: ChannelsDomain;

  constructor(opts: PayerOptions) {
    this.store = opts.store;
    this.account = opts.account;
    this.domain = opts.domain;
  }

  key(channelId: Hex): ChannelKey {
    return { chainId: this.domain.chainId, contract: this.domain.verifyingContract, channelId };
  }

  /** Reads the channel from the chain and records it (after open or topUp). */
  async track(client: ChannelClient, channelId: Hex): Promise<StoredChannel> {
    const c = await client.getChannel(channelId);
    if (!c.exists) {
      throw new AgoraError(
        'PAY_UNKNOWN_CHANNEL',
        `channel ${channelId} does not exist on ${client.address}`,
        {
          hint: 'open the channel first',
        },
      );
    }
    const stored = channelStateToStored(this.domain, c);
    this.store.recordChannel(stored);
    return this.store.getChannel(stored)!;
  }

  /** The voucher paying `price` more on the channel. The new total is persisted before it is signed. */
  async pay(channelId: Hex, price: bigint): Promise<SignedVoucher> {
    const key = this.key(channelId);
    const cumulativeAmount = this.store.reserve(key, price, this.account.address);
    const v = await signVoucher(this.account, this.domain, { channelId, cumulativeAmount });
    this.store.recordSignature(key, cumulativeAmount, v.signature);
    return v;
  }

  /** The latest voucher (re-signed if a crash happened between persisting and signing), to resend. */
  async latestVoucher(channelId: Hex): Promise<SignedVoucher | undefined> {
    const key = this.key(channelId);
    const s = this.store.sent(key);
    if (!s) return undefined;
    if (s.signature)
      return { ...this.domain, channelId, cumulativeAmount: s.cumulative, signature: s.signature };
    const v = await signVoucher(this.account, this.domain, { channelId, cumulativeAmount: s.cumulative });
    this.store.recordSignature(key, s.cumulative, v.signature);
    return v;
  }

  /** Total committed on the channel so far. */
  spent(channelId: Hex): bigint {
    return this.store.sent(this.key(channelId))?.cumulative ?? 0n;
  }

  /** Deposit not yet committed. */
  remaining(channelId: Hex): bigint {
    const c = this.store.getChannel(this.key(channelId));
    return c ? c.deposit - this.spent(channelId) : 0n;
  }

  /** Consent to close the channel at everything committed so far (for the recipient's cooperativeClose). */
  closeConsent(channelId: Hex): Promise<{ cumulativeAmount: bigint; signature: Hex }> {
    const cumulativeAmount = this.spent(channelId);
    return signCloseConsent(this.account, this.domain, { channelId, cumulativeAmount }).then((signature) => ({
      cumulativeAmount,
      signature,
    }));
  }
}
