/**
 * The paid side of `agora-channel` at server speed: check a voucher (domain, channel, signature),
 * then persist it with the other vouchers of the same moment in ONE sqlite transaction (group
 * commit), and only then let the request be served. Settlement (at a threshold, and at once when
 * the payer starts closing) is the Payee's (src/pay/payee.ts).
 */
import { type Address, getAddress, type Hex } from 'viem';
import { AgoraError } from '../errors.ts';
import type { Payee } from '../pay/payee.ts';
import type { SignedVoucher } from '../pay/voucher.ts';
import {
  type AcceptResult,
  type StoredChannel,
  type VoucherStore,
  voucherKey,
} from '../pay/voucher-store.ts';
import { InlineVerifier, type VoucherVerifier } from './verifier-pool.ts';

export type ChannelGateOptions = {
  payee: Payee;
  /** Re-read a channel from the chain when our copy is older than this (ms, default 30 s). */
  channelMaxAgeMs?: number;
  /** Refuse channels whose challenge period is shorter (s, default 0: the contract's bounds). */
  minChallengePeriod?: number;
  /** Where signatures are checked (default: on this thread; `VerifierPool` for worker threads). */
  verifier?: VoucherVerifier;
};

type Waiting = {
  v: SignedVoucher;
  price: bigint;
  tag?: string;
  resolve: (r: AcceptResult) => void;
  reject: (e: unknown) => void;
};

export type GateStats = { accepted: number; refused: number; commits: number };

export class ChannelGate {
  readonly payee: Payee;
  readonly store: VoucherStore;
  readonly recipient: Address;
  readonly chainId: number;
  readonly contract: Address;
  readonly verifier: VoucherVerifier;
  readonly #maxAge: number;
  readonly #minPeriod: number;
  readonly #refreshing = new Map<Hex, Promise<StoredChannel>>();
  /**
   * Per channel (by id: chain and contract are checked first), its state as last read and the highest
   * amount this gate stored: the checks before the signature run from memory. Re-read from the store
   * (and the chain) when older than the max age or when a voucher exceeds the known deposit. The
   * commit re-checks everything inside its transaction, so a stale entry costs a refusal, never money.
   */
  readonly #known = new Map<string, { c: StoredChannel; received: bigint }>();
  #queue: Waiting[] = [];
  #scheduled = false;
  readonly stats: GateStats = { accepted: 0, refused: 0, commits: 0 };

  constructor(opts: ChannelGateOptions) {
    this.payee = opts.payee;
    this.store = opts.payee.store;
    this.recipient = getAddress(opts.payee.address);
    this.chainId = opts.payee.client.conn.chainId;
    this.contract = opts.payee.client.address;
    this.#maxAge = opts.channelMaxAgeMs ?? 30_000;
    this.#minPeriod = opts.minChallengePeriod ?? 0;
    this.verifier = opts.verifier ?? new InlineVerifier();
  }

  #refresh(channelId: Hex): Promise<StoredChannel> {
    let p = this.#refreshing.get(channelId);
    if (!p) {
      p = this.payee.refresh(channelId).finally(() => this.#refreshing.delete(channelId));
      this.#refreshing.set(channelId, p);
    }
    return p;
  }

  /**
   * Checks the voucher pays at least `price` more on a channel to us, and persists it (with the
   * increment counted as earned for `tag`, e.g. the model hash, in the same transaction). Resolves once
   * it is committed to disk: serve the request only then. Rejects with an AgoraError saying why.
   */
  async accept(v: SignedVoucher, price: bigint, tag?: string): Promise<AcceptResult> {
    try {
      if (v.chainId !== this.chainId) {
        throw new AgoraError(
          'PAY_WRONG_CHAIN',
          `the voucher is for chain ${v.chainId}; this server is paid on chain ${this.chainId}`,
          {
            hint: `open a channel on chain ${this.chainId}`,
          },
        );
      }
      if (getAddress(v.verifyingContract) !== this.contract) {
        throw new AgoraError(
          'PAY_WRONG_CONTRACT',
          `the voucher is for PaymentChannels ${v.verifyingContract}; this server takes ${this.contract}`,
          { hint: `open the channel on ${this.contract}` },
        );
      }
      const key = voucherKey(v);
      const id = v.channelId.toLowerCase();
      let known = this.#known.get(id);
      if (
        !known ||
        Date.now() - (known.c.updatedAt ?? 0) > this.#maxAge ||
        v.cumulativeAmount > known.c.deposit
      ) {
        let c = this.store.getChannel(key);
        const stale = !c || Date.now() - (c.updatedAt ?? 0) > this.#maxAge;
        if (stale || v.cumulativeAmount > c!.deposit) c = await this.#refresh(v.channelId);
        if (!c) throw new AgoraError('PAY_UNKNOWN_CHANNEL', `channel ${v.channelId} is unknown`);
        known = { c, received: this.store.received(key)?.cumulative ?? 0n };
        if (this.#known.size >= 100_000) this.#known.delete(this.#known.keys().next().value as string);
        this.#known.set(id, known);
      }
      const c = known.c;
      if (c.recipient !== this.recipient) {
        throw new AgoraError(
          'PAY_NOT_RECIPIENT',
          `channel ${v.channelId} pays ${c.recipient}, not this server (${this.recipient})`,
          {
            hint: 'open a channel to the payTo address of the PAYMENT-REQUIRED header',
          },
        );
      }
      if (c.challengePeriod < this.#minPeriod) {
        throw new AgoraError(
          'PAY_SHORT_CHALLENGE',
          `channel ${v.channelId} has a ${c.challengePeriod} s challenge period; this server needs ${this.#minPeriod} s`,
          { hint: `open a channel with a challenge period of at least ${this.#minPeriod} s` },
        );
      }
      // Cheap refusals before the signature check: replays and stale vouchers (from what this gate
      // last stored; the commit re-checks everything against the store).
      const prev = known.received;
      if (v.cumulativeAmount <= prev) {
        throw new AgoraError(
          'PAY_NOT_INCREASING',
          `voucher amount ${v.cumulativeAmount} on channel ${v.channelId} is not above ${prev} (replayed or stale)`,
          {
            hint: `sign a voucher for cumulative ${prev + price} or more`,
          },
        );
      }
      if (!(await this.verifier.verify(v, c.sender))) {
        throw new AgoraError(
          'PAY_BAD_SIGNATURE',
          `the voucher on channel ${v.channelId} is not signed by its sender ${c.sender}`,
          {
            hint: 'sign Voucher(channelId,cumulativeAmount) with EIP-712 for this chain and contract, with the channel sender key',
          },
        );
      }
    } catch (e) {
      this.stats.refused++;
      throw e;
    }
    return new Promise<AcceptResult>((resolve, reject) => {
      this.#queue.push({ v, price, tag, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#commit());
      }
    });
  }

  #commit(): void {
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    let results: (AcceptResult | AgoraError)[];
    try {
      results = this.store.acceptVerifiedBatch(
        batch.map((w) => ({ v: w.v, minIncrement: w.price, recipient: this.recipient, tag: w.tag })),
      );
      this.stats.commits++;
    } catch (e) {
      const err = new AgoraError('PAY_STORE_FAILED', `could not persist vouchers: ${(e as Error).message}`, {
        hint: 'nothing was charged; retry the request',
        cause: e,
      });
      for (const w of batch) w.reject(err);
      this.stats.refused += batch.length;
      return;
    }
    results.forEach((r, i) => {
      if (r instanceof AgoraError) {
        this.stats.refused++;
        batch[i].reject(r);
      } else {
        this.stats.accepted++;
        const known = this.#known.get(batch[i].v.channelId.toLowerCase());
        if (known && r.cumulative > known.received) known.received = r.cumulative;
        batch[i].resolve(r);
      }
    });
  }
}
