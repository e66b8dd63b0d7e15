/**
 * Fast verification of payment-channel vouchers for a server that takes thousands per second (pure).
 *
 * A voucher is an EIP-712 signature; its digest is two Keccak-256 hashes (done here directly, no
 * typed-data encoder per request). The first voucher of a sender is checked by full public-key
 * recovery (the recovered address must be the channel's sender). After that the sender's public
 * key is known, and each voucher is checked as ECDSA with a precomputed window table (w = 6) for that key:
 * u1·G + u2·Q with both multiplications on precomputed tables, about 3× faster than recovery.
 * The check also pins the recovery byte `v` (27/28) to the parity of R, so every accepted voucher
 * recovers to the sender on-chain too (OpenZeppelin's ECDSA: low s, v ∈ {27, 28}).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import {
  type Address,
  domainSeparator,
  getAddress,
  type Hex,
  hexToBytes,
  keccak256,
  toBytes,
  toHex,
} from 'viem';
import {
  CHANNELS_EIP712_NAME,
  CHANNELS_EIP712_VERSION,
  type ChannelsDomain,
  type SignedVoucher,
} from '../pay/voucher.ts';

const { Point } = secp256k1;
type PointT = InstanceType<typeof Point>;
const Fn = Point.Fn;
const N = Point.CURVE().n;
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

/** keccak256(0x1901 ‖ domainSeparator ‖ keccak256(typehash ‖ channelId ‖ cumulativeAmount)). */
export function voucherDigest(separator: Uint8Array, channelId: Hex, cumulativeAmount: bigint): Uint8Array {
  const s = new Uint8Array(96);
  s.set(VOUCHER_TYPEHASH, 0);
  s.set(hexToBytes(channelId), 32);
  u256(cumulativeAmount, s, 64);
  const d = new Uint8Array(66);
  d[0] = 0x19;
  d[1] = 0x01;
  d.set(separator, 2);
  d.set(keccak_256(s), 34);
  return keccak_256(d);
}

function bytesToBig(b: Uint8Array, from: number, to: number): bigint {
  let x = 0n;
  for (let i = from; i < to; i++) x = (x << 8n) | BigInt(b[i]);
  return x;
}

export type ParsedSignature = { r: bigint; s: bigint; recovery: 0 | 1 };

/** r, s, recovery bit of a 65-byte signature, or undefined when it is not one OpenZeppelin accepts. */
export function parseSignature(sig: Hex): ParsedSignature | undefined {
  if (sig.length !== 132) return undefined;
  const b = hexToBytes(sig);
  const r = bytesToBig(b, 0, 32);
  const s = bytesToBig(b, 32, 64);
  const v = b[64];
  if (r === 0n || r >= N || s === 0n || s > HALF_N) return undefined;
  if (v !== 27 && v !== 28) return undefined;
  return { r, s, recovery: (v - 27) as 0 | 1 };
}

/** The Ethereum address of an uncompressed public key point. */
export function pointAddress(p: PointT): Address {
  const raw = p.toBytes(false);
  return getAddress(toHex(keccak_256(raw.subarray(1)).subarray(12)));
}

/** Full recovery: the public key that made `sig` over `digest` (undefined when none). */
export function recoverPoint(digest: Uint8Array, sig: ParsedSignature): PointT | undefined {
  try {
    const signature = new secp256k1.Signature(sig.r, sig.s, sig.recovery);
    return signature.recoverPublicKey(digest);
  } catch {
    return undefined;
  }
}

/** ECDSA check of `sig` over `digest` by the (precomputed) key `q`, including the recovery bit. */
export function verifyWithKey(q: PointT, digest: Uint8Array, sig: ParsedSignature): boolean {
  const z = Fn.create(bytesToBig(digest, 0, 32));
  const si = Fn.inv(sig.s);
  const R = Point.BASE.multiplyUnsafe(Fn.mul(z, si)).add(q.multiplyUnsafe(Fn.mul(sig.r, si)));
  if (R.equals(Point.ZERO)) return false;
  const a = R.toAffine();
  // x ≥ n would need the overflow recovery ids (2, 3) that ecrecover does not take: refuse.
  if (a.x !== sig.r) return false;
  return Number(a.y & 1n) === sig.recovery;
}

/**
 * Remembers each sender's public key (learned by a full recovery that matched the sender address)
 * with its precomputed multiplication table, and checks vouchers against it.
 */
export class SenderKeys {
  readonly #keys = new Map<Address, PointT>();
  readonly #separators = new Map<string, Uint8Array>();
  readonly maxKeys: number;

  constructor(maxKeys = 10_000) {
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
    const digest = voucherDigest(this.separator(v), v.channelId, v.cumulativeAmount);
    const known = this.#keys.get(sender);
    if (known) return verifyWithKey(known, digest, sig);
    const q = recoverPoint(digest, sig);
    if (!q || pointAddress(q) !== getAddress(sender)) return false;
    if (this.#keys.size >= this.maxKeys) this.#keys.delete(this.#keys.keys().next().value as Address);
    q.precompute(6, false); // window 6: ~50 ms once per sender, ~90% of window 8's speed (~150 ms)
    this.#keys.set(sender, q);
    return true;
  }
}
