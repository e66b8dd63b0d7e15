/**
 * What the server asks of a payment scheme (x402 v2): the requirement it advertises for a price, and
 * the check of a client's payload for that price. A scheme resolves only once the payment is
 * durable (voucher persisted, or transfer settled), so the server serves only paid work.
 */
import type { Address } from 'viem';
import { AgoraError } from '../errors.ts';
import type { ChannelGate } from './channel-gate.ts';
import {
  CHANNEL_SCHEME,
  type ChannelExtra,
  channelVoucherOf,
  evmNetwork,
  type PaymentPayload,
  type PaymentRequirements,
  type SettleResponse,
} from './x402.ts';

export type PriceContext = { price: bigint; unitPrice: bigint; modelHash: string; jobId: string | null };

export interface PaymentScheme {
  readonly scheme: string;
  requirement(ctx: PriceContext): PaymentRequirements;
  /** Checks and makes durable a payment of `ctx.price`; throws an AgoraError saying why it is refused. */
  pay(payload: PaymentPayload, ctx: PriceContext): Promise<SettleResponse>;
}

/** `agora-channel`: cumulative vouchers on a PaymentChannels channel to the server. */
export class ChannelScheme implements PaymentScheme {
  readonly scheme = CHANNEL_SCHEME;
  readonly gate: ChannelGate;
  readonly token: Address;
  readonly minChallengePeriod: number;

  constructor(gate: ChannelGate, token: Address, minChallengePeriod = 0) {
    this.gate = gate;
    this.token = token;
    this.minChallengePeriod = minChallengePeriod;
  }

  requirement(ctx: PriceContext): PaymentRequirements {
    const extra: ChannelExtra = {
      paymentChannels: this.gate.contract,
      minChallengePeriod: this.minChallengePeriod,
      unitPrice: ctx.unitPrice.toString(),
      modelHash: ctx.modelHash,
      jobId: ctx.jobId,
    };
    return {
      scheme: CHANNEL_SCHEME,
      network: evmNetwork(this.gate.chainId),
      asset: this.token,
      amount: ctx.price.toString(),
      payTo: this.gate.recipient,
      maxTimeoutSeconds: 60,
      extra,
    };
  }

  async pay(payload: PaymentPayload, ctx: PriceContext): Promise<SettleResponse> {
    const v = channelVoucherOf(payload);
    const r = await this.gate.accept(v, ctx.price, ctx.modelHash);
    return {
      success: true,
      transaction: '',
      network: evmNetwork(this.gate.chainId),
      amount: r.increment.toString(),
      extra: {
        channelId: v.channelId,
        cumulativeAmount: r.cumulative.toString(),
        previous: r.previous.toString(),
      },
    };
  }
}

export function schemeMismatch(got: unknown, want: readonly string[]): AgoraError {
  return new AgoraError('X402_UNSUPPORTED_SCHEME', `payment scheme ${String(got)} is not accepted here`, {
    hint: `pay with one of: ${want.join(', ')}`,
  });
}
