/**
 * x402 v2 over HTTP headers (pure): `PAYMENT-REQUIRED` (server → client, with a 402), the client's
 * `PAYMENT-SIGNATURE` and the server's `PAYMENT-RESPONSE`, each base64 of a JSON document whose
 * shapes are @x402/core's `PaymentRequired`, `PaymentPayload` and `SettleResponse`.
 *
 * Agora's metered scheme, `agora-channel`: the requirement names the PaymentChannels contract and
 * the payee; the payload carries a cumulative EIP-712 voucher (src/pay/voucher.ts wire form) on an
 * open channel to `payTo`; the response says what the server now holds (no transaction per query).
 */
import type { PaymentPayload, PaymentRequired, PaymentRequirements, SettleResponse } from '@x402/core/types';
import { AgoraError } from '../errors.ts';
import { type SignedVoucher, type VoucherJson, voucherFromJson } from '../pay/voucher.ts';

export type { PaymentPayload, PaymentRequired, PaymentRequirements, SettleResponse };

export const X402_VERSION = 2;
export const CHANNEL_SCHEME = 'agora-channel';
export const HEADER_REQUIRED = 'PAYMENT-REQUIRED';
export const HEADER_SIGNATURE = 'PAYMENT-SIGNATURE';
export const HEADER_RESPONSE = 'PAYMENT-RESPONSE';

/** CAIP-2 network id of an EVM chain, as x402 v2 names it. */
export function evmNetwork(chainId: number): `eip155:${number}` {
  return `eip155:${chainId}`;
}

export function chainIdOfNetwork(network: string): number | undefined {
  const m = /^eip155:([0-9]{1,15})$/.exec(network);
  return m ? Number(m[1]) : undefined;
}

/** `extra` of an `agora-channel` requirement. */
export type ChannelExtra = {
  /** The PaymentChannels contract the channel must live on. */
  paymentChannels: string;
  /** The shortest challenge period (s) the server accepts for a channel it is paid through. */
  minChallengePeriod?: number;
  /** What the price buys: one input row. The request's price is `amount` (all rows). */
  unitPrice?: string;
  modelHash?: string;
  jobId?: string | null;
};

export function encodeHeader(doc: unknown): string {
  return Buffer.from(JSON.stringify(doc), 'utf8').toString('base64');
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function decodeHeader(value: string, what: string): unknown {
  const bad = (why: string, cause?: unknown): never => {
    throw new AgoraError('X402_MALFORMED', `the ${what} header ${why}`, {
      hint: 'send base64 of the x402 v2 JSON document',
      cause,
    });
  };
  if (value.length > 16_384) bad('is too long');
  if (!BASE64.test(value)) bad('is not base64');
  try {
    return JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
  } catch (e) {
    return bad('is not base64 JSON', e);
  }
}

export function decodePaymentRequired(value: string): PaymentRequired {
  const d = decodeHeader(value, HEADER_REQUIRED) as PaymentRequired;
  if (typeof d !== 'object' || d === null || !Array.isArray(d.accepts)) {
    throw new AgoraError('X402_MALFORMED', `the ${HEADER_REQUIRED} header has no accepts list`, {
      hint: 'the server does not speak x402 v2',
    });
  }
  return d;
}

export function decodePaymentResponse(value: string): SettleResponse {
  return decodeHeader(value, HEADER_RESPONSE) as SettleResponse;
}

/** The payload of a `PAYMENT-SIGNATURE` header (scheme and requirement checked by the caller). */
export function decodePaymentPayload(value: string): PaymentPayload {
  const d = decodeHeader(value, HEADER_SIGNATURE) as PaymentPayload;
  if (
    typeof d !== 'object' ||
    d === null ||
    typeof d.accepted !== 'object' ||
    d.accepted === null ||
    typeof d.payload !== 'object' ||
    d.payload === null
  ) {
    throw new AgoraError('X402_MALFORMED', `the ${HEADER_SIGNATURE} header is not an x402 payment payload`, {
      hint: 'send {x402Version: 2, accepted: <one of the accepts>, payload: {...}}',
    });
  }
  if (d.x402Version !== X402_VERSION) {
    throw new AgoraError('X402_VERSION', `x402 version ${String(d.x402Version)} is not supported`, {
      hint: `use x402 version ${X402_VERSION}`,
    });
  }
  return d;
}

/** The voucher of an `agora-channel` payment payload. */
export function channelVoucherOf(p: PaymentPayload): SignedVoucher {
  return voucherFromJson((p.payload as { voucher?: unknown }).voucher);
}

export function channelPayload(
  accepted: PaymentRequirements,
  voucher: VoucherJson,
  url?: string,
): PaymentPayload {
  return {
    x402Version: X402_VERSION,
    ...(url ? { resource: { url } } : {}),
    accepted,
    payload: { voucher },
  };
}
