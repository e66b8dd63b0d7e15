/**
 * The paid side of pay-per-query: check and persist each voucher before serving the work, track earned
 * (highest voucher) against settled (paid on-chain), and settle on-chain when the unsettled amount reaches
 * a threshold or as soon as the payer starts closing the channel (before its challenge period ends).
 */
import { getAddress, type Hex } from 'viem';
import { AgoraError } from '../errors.ts';
import type { ChannelClient, TxResult } from './channel-client.ts';
import { channelStateToStored } from './payer.ts';
import { type SignedVoucher, type VoucherJson, voucherFromJson } from './voucher.ts';
import {
  type AcceptResult,
  type ChannelKey,
  type StoredChannel,
  type VoucherStore,
  voucherKey,
} from './voucher-store.ts';

export type PayeeOptions = {
  store: VoucherStore;
  /** A ChannelClient acting as the recipient (it sends the settle transactions). */
  client: ChannelClient;
  /** Settle once this much is earned but unsettled on a channel. */
  settleThreshold: bigint;
  /** Re-read a channel from the chain before accepting a voucher when our copy is older than this, ms
   *  (default 30 s): bounds how long we keep serving on a channel the payer has started closing. */
  channelMaxAgeMs?: number;
  /** How often `start()` polls the chain, ms (default 15 s). */
  pollIntervalMs?: number;
  /** Called with errors from background ticks (default: ignored; they are retried next tick). */
  onError?: (e: unknown) => void;
};

export type ChannelEarnings = {
  key: ChannelKey;
  earned: bigint;
  settled: bigint;
  unsettled: bigint;
  closesAt: number;
};

export class Payee {
  readonly store: VoucherStore;
  readonly client: ChannelClient;
  readonly settleThreshold: bigint;
  readonly #pollIntervalMs: number;
  readonly #channelMaxAgeMs: number;
  readonly #onError: (e: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<unknown> | undefined;
  /** Settlement passes run one at a time: two passes racing would settle one channel twice, out of order. */
  #serial: Promise<unknown> = Promise.resolve();

  constructor(opts: PayeeOptions) {
    if (!opts.client.account) {
      throw new AgoraError('PAY_NO_ACCOUNT', 'the payee needs a ChannelClient with the recipient account', {
        hint: 'new ChannelClient(conn, address, recipientAccount)',
      });
    }
    this.store = opts.store;
    this.client = opts.client;
    this.settleThreshold = opts.settleThreshold;
    this.#pollIntervalMs = opts.pollIntervalMs ?? 15_000;
    this.#channelMaxAgeMs = opts.channelMaxAgeMs ?? 30_000;
    this.#onError = opts.onError ?? (() => {});
  }

  get address() {
    return this.client.account!.address;
  }

  key(channelId: Hex): ChannelKey {
    return { chainId: this.client.conn.chainId, contract: this.client.address, channelId };
  }

  /** Reads the channel from the chain into the store. */
  async refresh(channelId: Hex): Promise<StoredChannel> {
    const c = await this.client.getChannel(channelId);
    if (!c.exists) {
      throw new AgoraError(
        'PAY_UNKNOWN_CHANNEL',
        `channel ${channelId} does not exist on ${this.client.address} (chain ${this.client.conn.chainId})`,
        {
          hint: 'the payer must open a channel to us on this chain and contract',
        },
      );
    }
    const stored = channelStateToStored(this.client.domain, c);
    this.store.recordChannel(stored);
    return this.store.getChannel(stored)!;
  }

  /**
   * Checks a voucher paying at least `price` and persists it. Serve the work only after this resolves.
   * Throws an AgoraError (nothing stored) for anything wrong with it.
   */
  async accept(voucher: SignedVoucher | VoucherJson, price: bigint): Promise<AcceptResult> {
    const v =
      typeof (voucher as SignedVoucher).cumulativeAmount === 'bigint'
        ? (voucher as SignedVoucher)
        : voucherFromJson(voucher);
    if (v.chainId !== this.client.conn.chainId || getAddress(v.verifyingContract) !== this.client.address) {
      throw new AgoraError(
        'PAY_WRONG_DOMAIN',
        `voucher is for chain ${v.chainId} contract ${v.verifyingContract}; we take chain ${this.client.conn.chainId} contract ${this.client.address}`,
        { hint: 'pay through a channel on our chain and PaymentChannels contract' },
      );
    }
    const key = voucherKey(v);
    const known = this.store.getChannel(key);
    // Unknown channel, or a voucher over the deposit we know: the sender may have opened or topped up.
    // A stale copy: the sender may have started closing.
    const stale = !known || Date.now() - (known.updatedAt ?? 0) > this.#channelMaxAgeMs;
    if (stale || v.cumulativeAmount > known.deposit) await this.refresh(v.channelId);
    return this.store.acceptVoucher(v, { recipient: this.address, minIncrement: price });
  }

  /** Earned (highest voucher), settled and unsettled amounts of each channel that pays us. */
  earnings(): ChannelEarnings[] {
    return this.store.listChannels({ recipient: this.address }).flatMap((c) => {
      if (c.chainId !== this.client.conn.chainId || c.contract !== this.client.address) return [];
      const r = this.store.received(c);
      const earned = r?.cumulative ?? 0n;
      const settled = r?.settled ?? 0n;
      return [
        {
          key: c,
          earned,
          settled,
          unsettled: earned > settled ? earned - settled : 0n,
          closesAt: c.closesAt,
        },
      ];
    });
  }

  #oneAtATime<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#serial.then(run);
    this.#serial = next.catch(() => {});
    return next;
  }

  /** Settles the highest voucher of the channel on-chain (no-op when nothing is unsettled). */
  settle(channelId: Hex): Promise<TxResult | undefined> {
    return this.#oneAtATime(() => this.#settle(channelId));
  }

  async #settle(channelId: Hex): Promise<TxResult | undefined> {
    const key = this.key(channelId);
    const v = this.store.highestVoucher(key);
    if (!v) return undefined;
    const onChain = await this.client.getChannel(channelId);
    if (onChain.paid >= v.cumulativeAmount) {
      this.store.markSettled(key, onChain.paid);
      return undefined;
    }
    const r = await this.client.settle(v);
    this.store.markSettled(key, v.cumulativeAmount);
    return r;
  }

  /**
   * One pass: refresh every channel paying us with unsettled earnings, and settle those at or over the
   * threshold or closing (a closing channel is settled at once, well before its challenge period ends).
   * A pass asked for while another runs (the background poll) starts after it ends.
   */
  tick(): Promise<{ settled: Hex[]; failed: { channelId: Hex; error: unknown }[] }> {
    return this.#oneAtATime(() => this.#tick());
  }

  async #tick(): Promise<{ settled: Hex[]; failed: { channelId: Hex; error: unknown }[] }> {
    const settled: Hex[] = [];
    const failed: { channelId: Hex; error: unknown }[] = [];
    for (const e of this.earnings()) {
      if (e.unsettled === 0n) continue;
      // One channel failing (e.g. its challenge period already ended) must not stop the others.
      try {
        const c = await this.refresh(e.key.channelId);
        if (c.finalized) continue;
        if (e.unsettled >= this.settleThreshold || c.closesAt !== 0) {
          if (await this.#settle(e.key.channelId)) settled.push(e.key.channelId);
        }
      } catch (error) {
        failed.push({ channelId: e.key.channelId, error });
        this.#onError(error);
      }
    }
    return { settled, failed };
  }

  /** Polls `tick()` every `pollIntervalMs` until `stop()`. */
  async start(): Promise<void> {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      if (this.#ticking) return;
      this.#ticking = this.tick()
        .catch(this.#onError)
        .finally(() => {
          this.#ticking = undefined;
        });
    }, this.#pollIntervalMs);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#ticking;
  }
}
