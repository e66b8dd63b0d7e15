/**
 * Fast verification of payment-channel vouchers for a server that takes thousands per second (pure
 * apart from the native recovery).
 *
 * A voucher is an EIP-712 signature; its digest is two Keccak-256 hashes (done here directly, no
 * typed-data encoder per request). The signer's public key is recovered with libsecp256k1
 * (src/serve/secp256k1-native.ts) and compared with the channel sender's: the first time by its
 * address (a third Keccak), then byte for byte with the key remembered for that sender.
 *
 * What is accepted is exactly what the contract accepts (OpenZeppelin ECDSA.tryRecover → ecrecover),
 * so a voucher taken here also settles on-chain: 65 bytes r ‖ s ‖ v, v ∈ {27, 28} (recovery id
 * v − 27: the parity of R's y; viem signs so), 0 < r < n, 0 < s ≤ n/2 (low s; a malleated high-s
 * twin is refused, as OpenZeppelin refuses it), and the recovered address must be the sender.
 */
import { keccak_256 } from '@noble/hashes/sha3.js';
import { type Address, domainSeparator, getAddress, type Hex, hexToBytes, keccak256, toBytes } from 'viem';
import {
  CHANNELS_EIP712_NAME,
  CHANNELS_EIP712_VERSION,
  type ChannelsDomain,
  type SignedVoucher,
} from '../pay/voucher.ts';
import { recoverPublicKey } from './secp256k1-native.ts';

/** The order of secp256k1's group, and half of it (the low-s bound), as 32 big-endian bytes. */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const HALF_N = N >> 1n;

const VOUCHER_TYPEHASH = hexToBytes(
  keccak256(toBytes('Voucher(bytes32 channelId,uint256 cumulativeAmount)')),
);

/** The EIP-712 domain separator of a PaymentChannels deployment (computed once per server). */
export function channelsDomainSeparator(d: ChannelsDomain): Uint8Array {
  return hexToBytes(
    domainSeparator({
      domain: {
        name: CHANNELS_EIP712_NAME,
        version: CHANNELS_EIP712_VERSION,
        chainId: d.chainId,
        verifyingContract: getAddress(d.verifyingContract),
      },
    }),
  );
}

function u256(x: bigint, out: Uint8Array, off: number): void {
  for (let i = 31; i >= 0; i--) {
    out[off + i] = Number(x & 0xffn);
    x >>= 8n;
  }
}

const HEX32 = /^0x[0-9a-fA-F]{64}$/;

/** keccak256(0x1901 ‖ domainSeparator ‖ keccak256(typehash ‖ channelId ‖ cumulativeAmount)). */
export function voucherDigest(separator: Uint8Array, channelId: Hex, cumulativeAmount: bigint): Uint8Array {
  const s = new Uint8Array(96);
  s.set(VOUCHER_TYPEHASH, 0);
  if (!HEX32.test(channelId)) throw new RangeError('channelId must be 32 bytes');
  s.set(Buffer.from(channelId.slice(2), 'hex'), 32);
  if (cumulativeAmount < 0n || cumulativeAmount >= 1n << 256n) throw new RangeError('amount out of uint256');
  u256(cumulativeAmount, s, 64);
  const d = new Uint8Array(66);
  d[0] = 0x19;
  d[1] = 0x01;
  d.set(separator, 2);
  d.set(keccak_256(s), 34);
  return keccak_256(d);
}

export type ParsedSignature = { r: bigint; s: bigint; recovery: 0 | 1; rs: Uint8Array };

const SIG65 = /^0x[0-9a-fA-F]{130}$/;

function bytesToBig(b: Uint8Array, from: number, to: number): bigint {
  let x = 0n;
  for (let i = from; i < to; i++) x = (x << 8n) | BigInt(b[i]);
  return x;
}

/** r, s, recovery id of a 65-byte signature, or undefined when it is not one OpenZeppelin's ECDSA accepts. */
export function parseSignature(sig: Hex): ParsedSignature | undefined {
  if (typeof sig !== 'string' || !SIG65.test(sig)) return undefined;
  const b = Buffer.from(sig.slice(2), 'hex');
  const r = bytesToBig(b, 0, 32);
  const s = bytesToBig(b, 32, 64);
  const v = b[64];
  if (r === 0n || r >= N || s === 0n || s > HALF_N) return undefined;
  if (v !== 27 && v !== 28) return undefined;
  return { r, s, recovery: (v - 27) as 0 | 1, rs: b.subarray(0, 64) };
}

/** The Ethereum address of an uncompressed public key (65 bytes, 0x04 ‖ x ‖ y). */
export function publicKeyAddress(pub: Uint8Array): Address {
  return getAddress(`0x${Buffer.from(keccak_256(pub.subarray(1)).subarray(12)).toString('hex')}`);
}

/** The address that signed `digest` with `sig` as ecrecover sees it (undefined when none). */
export function recoverSigner(digest: Uint8Array, sig: ParsedSignature): Address | undefined {
  const pub = recoverPublicKey(sig.rs, sig.recovery, digest);
  return pub ? publicKeyAddress(pub) : undefined;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

/**
 * Remembers each sender's public key (learned from a recovery that matched the sender's address),
 * and checks vouchers by recovery against it.
 */
export class SenderKeys {
  readonly #keys = new Map<Address, Uint8Array>();
  readonly #separators = new Map<string, Uint8Array>();
  readonly maxKeys: number;

  constructor(maxKeys = 100_000) {
    this.maxKeys = maxKeys;
  }

  separator(d: ChannelsDomain): Uint8Array {
    const k = `${d.chainId}:${d.verifyingContract.toLowerCase()}`;
    let s = this.#separators.get(k);
    if (!s) {
      s = channelsDomainSeparator(d);
      this.#separators.set(k, s);
    }
    return s;
  }

  /** True when `sender` signed the voucher (with a signature that also verifies on-chain). */
  verify(v: SignedVoucher, sender: Address): boolean {
    const sig = parseSignature(v.signature);
    if (!sig) return false;
    let digest: Uint8Array;
    try {
      digest = voucherDigest(this.separator(v), v.channelId, v.cumulativeAmount);
    } catch {
      return false;
    }
    const pub = recoverPublicKey(sig.rs, sig.recovery, digest);
    if (!pub) return false;
    const known = this.#keys.get(sender);
    if (known) return sameBytes(known, pub);
    if (publicKeyAddress(pub) !== getAddress(sender)) return false;
    if (this.#keys.size >= this.maxKeys) this.#keys.delete(this.#keys.keys().next().value as Address);
    this.#keys.set(sender, pub);
    return true;
  }
}
