/**
 * x402 v2 `exact` on EVM with AgoraToken's EIP-3009 `transferWithAuthorization`: one signed transfer
 * per query, which any stock x402 client (`@x402/fetch` + `@x402/evm`) makes with no Agora code. The
 * server is its own facilitator: it checks the authorization (payee, amount, validity window, unused
 * nonce, signature, balance), submits it, and serves only once the transfer is mined. Meant for
 * occasional buyers; agents that query often use `agora-channel` (no transaction per query).
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
import { AgoraToken } from '../../artifacts/index.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { walletClientFor } from '../chain/connect.ts';
import { readTx, sendTx } from '../chain/tx.ts';
import { AgoraError } from '../errors.ts';
import type { PaymentScheme, PriceContext } from './payment.ts';
import { evmNetwork, type PaymentPayload, type PaymentRequirements, type SettleResponse } from './x402.ts';

export const EXACT_SCHEME = 'exact';

/** EIP-3009 `TransferWithAuthorization` typed-data types (the token's domain: name Agora, version 1). */
export const TRANSFER_WITH_AUTHORIZATION_TYPES = {
  TransferWithAuthorization: [
    { name: 'from', type: 'address' },
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' },
    { name: 'nonce', type: 'bytes32' },
  ],
} as const;

type Authorization = {
  from: Address;
  to: Address;
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  nonce: Hex;
};

function refuse(code: string, message: string, hint: string): never {
  throw new AgoraError(code, message, { hint });
}

function parseAuthorization(p: PaymentPayload): { a: Authorization; signature: Hex } {
  const o = p.payload as { authorization?: Record<string, unknown>; signature?: unknown };
  const a = o.authorization;
  const int = (v: unknown) => typeof v === 'string' && /^[0-9]{1,78}$/.test(v);
  if (
    !a ||
    typeof a.from !== 'string' ||
    !isAddress(a.from) ||
    typeof a.to !== 'string' ||
    !isAddress(a.to) ||
    !int(a.value) ||
    !int(a.validAfter) ||
    !int(a.validBefore) ||
    typeof a.nonce !== 'string' ||
    !isHex(a.nonce) ||
    a.nonce.length !== 66 ||
    typeof o.signature !== 'string' ||
    !isHex(o.signature)
  ) {
    refuse(
      'X402_MALFORMED',
      'the exact payload is not an EIP-3009 authorization',
      'send {authorization: {from, to, value, validAfter, validBefore, nonce}, signature}',
    );
  }
  return {
    a: {
      from: getAddress(a!.from as string),
      to: getAddress(a!.to as string),
      value: BigInt(a!.value as string),
      validAfter: BigInt(a!.validAfter as string),
      validBefore: BigInt(a!.validBefore as string),
      nonce: (a!.nonce as string).toLowerCase() as Hex,
    },
    signature: o.signature as Hex,
  };
}

export class ExactScheme implements PaymentScheme {
  readonly scheme = EXACT_SCHEME;
  readonly #conn: ChainConnection;
  readonly #account: LocalAccount;
  readonly token: Address;
  readonly #domain: { name: string; version: string };
  readonly #pending = new Set<string>();
  /** Where settled payments are counted as earned per model (optional). */
  earnings?: { addEarning(tag: string, amount: bigint): void };

  private constructor(
    conn: ChainConnection,
    account: LocalAccount,
    token: Address,
    domain: { name: string; version: string },
  ) {
    this.#conn = conn;
    this.#account = account;
    this.token = getAddress(token);
    this.#domain = domain;
  }

  /** Reads the token's EIP-712 domain (ERC-5267) so clients sign for the right name and version. */
  static async create(conn: ChainConnection, account: LocalAccount, token: Address): Promise<ExactScheme> {
    const d = await readTx<readonly [Hex, string, string]>(conn, {
      label: 'AgoraToken.eip712Domain',
      address: token,
      abi: AgoraToken.abi,
      functionName: 'eip712Domain',
    });
    return new ExactScheme(conn, account, token, { name: d[1], version: d[2] });
  }

  requirement(ctx: PriceContext): PaymentRequirements {
    return {
      scheme: EXACT_SCHEME,
      network: evmNetwork(this.#conn.chainId),
      asset: this.token,
      amount: ctx.price.toString(),
      payTo: this.#account.address,
      maxTimeoutSeconds: 120,
      extra: { name: this.#domain.name, version: this.#domain.version, assetTransferMethod: 'eip3009' },
    };
  }

  async pay(payload: PaymentPayload, ctx: PriceContext): Promise<SettleResponse> {
    const { a, signature } = parseAuthorization(payload);
    if (a.to !== this.#account.address)
      refuse(
        'PAY_WRONG_PAYEE',
        `the authorization pays ${a.to}, not this server (${this.#account.address})`,
        'pay the payTo address of the requirement',
      );
    if (a.value < ctx.price)
      refuse(
        'PAY_UNDERPAID',
        `the authorization pays ${a.value}, the price is ${ctx.price}`,
        `authorize ${ctx.price}`,
      );
    const now = BigInt(Math.floor(Date.now() / 1000));
    if (a.validAfter >= now)
      refuse(
        'PAY_NOT_YET_VALID',
        `the authorization is valid only after ${a.validAfter}`,
        'use validAfter 0',
      );
    if (a.validBefore <= now + 6n)
      refuse('PAY_EXPIRED', `the authorization expires at ${a.validBefore}`, 'sign a fresh authorization');
    const signer = await recoverTypedDataAddress({
      domain: { ...this.#domain, chainId: this.#conn.chainId, verifyingContract: this.token },
      types: TRANSFER_WITH_AUTHORIZATION_TYPES,
      primaryType: 'TransferWithAuthorization',
      message: a,
      signature,
    }).catch(() => undefined);
    if (signer !== a.from)
      refuse(
        'PAY_BAD_SIGNATURE',
        `the authorization is not signed by ${a.from}`,
        `sign TransferWithAuthorization for token ${this.token} on chain ${this.#conn.chainId}`,
      );
    const key = `${a.from}:${a.nonce}`;
    if (this.#pending.has(key))
      refuse(
        'PAY_NOT_INCREASING',
        `authorization ${a.nonce} of ${a.from} is already being settled`,
        'sign a new authorization with a fresh nonce',
      );
    this.#pending.add(key);
    try {
      const read = <T>(functionName: string, args: unknown[]) =>
        readTx<T>(this.#conn, {
          label: `AgoraToken.${functionName}`,
          address: this.token,
          abi: AgoraToken.abi,
          functionName,
          args,
        });
      if (await read<boolean>('authorizationState', [a.from, a.nonce])) {
        refuse(
          'PAY_NOT_INCREASING',
          `authorization ${a.nonce} of ${a.from} was already used (replayed)`,
          'sign a new authorization with a fresh nonce',
        );
      }
      const balance = await read<bigint>('balanceOf', [a.from]);
      if (balance < a.value)
        refuse(
          'PAY_INSUFFICIENT_FUNDS',
          `${a.from} holds ${balance}, the authorization moves ${a.value}`,
          'fund the paying account',
        );
      // Settle before serving: the transfer is the payment.
      const receipt = await sendTx(this.#conn, walletClientFor(this.#conn, this.#account), {
        label: 'AgoraToken.transferWithAuthorization',
        address: this.token,
        abi: AgoraToken.abi,
        functionName: 'transferWithAuthorization',
        args: [a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, signature],
      });
      return {
        success: true,
        transaction: receipt.transactionHash,
        network: evmNetwork(this.#conn.chainId),
        payer: a.from,
        amount: a.value.toString(),
      };
    } finally {
      this.#pending.delete(key);
    }
  }
}
