/**
 * Payment-channel vouchers (pure): the EIP-712 typed data a sender signs to pay a recipient, its
 * signing and verification, and the JSON wire format agents exchange.
 *
 * A voucher says "the TOTAL owed on channel `channelId` is `cumulativeAmount`". The domain binds the
 * chain id and the PaymentChannels contract address; the channel id binds sender, recipient, token and
 * the sender's nonce. Must match `contracts/PaymentChannels.sol` exactly.
 */
import {
  type Address,
  getAddress,
  type Hex,
  isAddress,
  isHex,
  type LocalAccount,
  recoverTypedDataAddress,
} from 'viem';
import { AgoraError } from '../errors.ts';

export const CHANNELS_EIP712_NAME = 'AgoraPaymentChannels';
export const CHANNELS_EIP712_VERSION = '1';

/** Where a voucher is valid: one chain, one PaymentChannels contract. */
export type ChannelsDomain = { chainId: number; verifyingContract: Address };

export type Eip712Domain = {
  name: string;
  version: string;
  chainId: number;
  verifyingContract: Address;
};

export const voucherTypes = {
  Voucher: [
    { name: 'channelId', type: 'bytes32' },
    { name: 'cumulativeAmount', type: 'uint256' },
  ],
} as const;

export const closeConsentTypes = {
  CloseConsent: [
    { name: 'channelId', type: 'bytes32' },
    { name: 'cumulativeAmount', type: 'uint256' },
  ],
} as const;

/** An unsigned voucher. */
export type VoucherMessage = { channelId: Hex; cumulativeAmount: bigint };

/** A voucher with the sender's 65-byte signature and the domain it was signed for. */
export type SignedVoucher = ChannelsDomain & VoucherMessage & { signature: Hex };

export type VoucherTypedData = {
  domain: Eip712Domain;
  types: typeof voucherTypes;
  primaryType: 'Voucher';
  message: VoucherMessage;
};

export type CloseConsentTypedData = {
  domain: Eip712Domain;
  types: typeof closeConsentTypes;
  primaryType: 'CloseConsent';
  message: VoucherMessage;
};

const MAX_UINT128 = (1n << 128n) - 1n;

export function channelsEip712Domain(d: ChannelsDomain): Eip712Domain {
  return {
    name: CHANNELS_EIP712_NAME,
    version: CHANNELS_EIP712_VERSION,
    chainId: d.chainId,
    verifyingContract: getAddress(d.verifyingContract),
  };
}

function checkMessage(m: VoucherMessage): void {
  if (!isHex(m.channelId) || m.channelId.length !== 66) {
    throw new AgoraError(
      'VOUCHER_BAD_CHANNEL_ID',
      `channel id ${String(m.channelId)} is not a 32-byte hex string`,
      {
        hint: 'use the id returned by PaymentChannels.open (0x + 64 hex digits)',
      },
    );
  }
  if (typeof m.cumulativeAmount !== 'bigint' || m.cumulativeAmount < 0n || m.cumulativeAmount > MAX_UINT128) {
    throw new AgoraError(
      'VOUCHER_BAD_AMOUNT',
      `cumulative amount ${String(m.cumulativeAmount)} is out of range`,
      {
        hint: 'amounts are bigint token base units in [0, 2^128)',
      },
    );
  }
}

/** The EIP-712 typed data of a voucher (what `signTypedData` signs). */
export function voucherTypedData(domain: ChannelsDomain, message: VoucherMessage): VoucherTypedData {
  checkMessage(message);
  return { domain: channelsEip712Domain(domain), types: voucherTypes, primaryType: 'Voucher', message };
}

/** The EIP-712 typed data of a cooperative-close consent. */
export function closeConsentTypedData(
  domain: ChannelsDomain,
  message: VoucherMessage,
): CloseConsentTypedData {
  checkMessage(message);
  return {
    domain: channelsEip712Domain(domain),
    types: closeConsentTypes,
    primaryType: 'CloseConsent',
    message,
  };
}

/** Signs a voucher with a local account (the channel's sender). */
export async function signVoucher(
  account: LocalAccount,
  domain: ChannelsDomain,
  message: VoucherMessage,
): Promise<SignedVoucher> {
  const signature = await account.signTypedData(voucherTypedData(domain, message));
  return {
    chainId: domain.chainId,
    verifyingContract: getAddress(domain.verifyingContract),
    channelId: message.channelId,
    cumulativeAmount: message.cumulativeAmount,
    signature,
  };
}

/** Signs a consent to close the channel at `cumulativeAmount` (sender or recipient). */
export async function signCloseConsent(
  account: LocalAccount,
  domain: ChannelsDomain,
  message: VoucherMessage,
): Promise<Hex> {
  return account.signTypedData(closeConsentTypedData(domain, message));
}

/** The address that signed the voucher; throws VOUCHER_BAD_SIGNATURE when the signature is malformed. */
export async function recoverVoucherSigner(v: SignedVoucher): Promise<Address> {
  try {
    return await recoverTypedDataAddress({ ...voucherTypedData(v, v), signature: v.signature });
  } catch (e) {
    throw new AgoraError(
      'VOUCHER_BAD_SIGNATURE',
      `the voucher signature for channel ${v.channelId} is malformed`,
      {
        hint: 'the sender must sign Voucher(channelId,cumulativeAmount) with EIP-712 (65-byte signature)',
        cause: e,
      },
    );
  }
}

/** True when `expectedSigner` signed the voucher (false for a malformed signature). */
export async function verifyVoucher(v: SignedVoucher, expectedSigner: Address): Promise<boolean> {
  try {
    return (await recoverVoucherSigner(v)) === getAddress(expectedSigner);
  } catch {
    return false;
  }
}

/** The JSON wire form of a voucher (amount as a decimal string). */
export type VoucherJson = {
  chainId: number;
  verifyingContract: string;
  channelId: string;
  cumulativeAmount: string;
  signature: string;
};

export function voucherToJson(v: SignedVoucher): VoucherJson {
  return {
    chainId: v.chainId,
    verifyingContract: v.verifyingContract,
    channelId: v.channelId,
    cumulativeAmount: v.cumulativeAmount.toString(),
    signature: v.signature,
  };
}

/** Parses a wire voucher; throws VOUCHER_MALFORMED saying which field is wrong. */
export function voucherFromJson(j: unknown): SignedVoucher {
  const bad = (field: string, why: string): never => {
    throw new AgoraError('VOUCHER_MALFORMED', `voucher field ${field} ${why}`, {
      hint: 'send {chainId, verifyingContract, channelId, cumulativeAmount (decimal string), signature}',
    });
  };
  if (typeof j !== 'object' || j === null) return bad('(root)', 'is not an object');
  const o = j as Record<string, unknown>;
  if (typeof o.chainId !== 'number' || !Number.isSafeInteger(o.chainId) || o.chainId <= 0)
    bad('chainId', 'is not a positive integer');
  if (typeof o.verifyingContract !== 'string' || !isAddress(o.verifyingContract))
    bad('verifyingContract', 'is not an address');
  if (typeof o.channelId !== 'string' || !isHex(o.channelId) || o.channelId.length !== 66)
    bad('channelId', 'is not 32 bytes of hex');
  if (typeof o.cumulativeAmount !== 'string' || !/^(0|[1-9][0-9]{0,38})$/.test(o.cumulativeAmount)) {
    bad('cumulativeAmount', 'is not a decimal integer string');
  }
  if (typeof o.signature !== 'string' || !isHex(o.signature) || o.signature.length !== 132)
    bad('signature', 'is not 65 bytes of hex');
  const v: SignedVoucher = {
    chainId: o.chainId as number,
    verifyingContract: getAddress(o.verifyingContract as string),
    channelId: (o.channelId as string).toLowerCase() as Hex,
    cumulativeAmount: BigInt(o.cumulativeAmount as string),
    signature: o.signature as Hex,
  };
  checkMessage(v);
  return v;
}
