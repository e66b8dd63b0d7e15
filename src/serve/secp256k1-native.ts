/**
 * secp256k1 public-key recovery for the paid-serving hot path: libsecp256k1 through the `secp256k1`
 * package's N-API prebuilds (~18,000 recoveries/s on one core), or its pure-JS `elliptic` fallback
 * when the native build cannot load (about 30× slower). `secpBackend` says which one is in use;
 * `agora serve` logs it at start.
 */
import { createRequire } from 'node:module';

type Secp = {
  ecdsaRecover(
    sig: Uint8Array,
    recid: number,
    msg32: Uint8Array,
    compressed: false,
    output?: Uint8Array,
  ): Uint8Array;
};

const require = createRequire(import.meta.url);

function load(): { lib: Secp; backend: 'libsecp256k1' | 'elliptic'; why?: string } {
  try {
    return { lib: require('secp256k1/bindings.js') as Secp, backend: 'libsecp256k1' };
  } catch (e) {
    return {
      lib: require('secp256k1/elliptic.js') as Secp,
      backend: 'elliptic',
      why: (e as Error).message.split('\n')[0],
    };
  }
}

const loaded = load();

/** Which implementation recovers keys: the native library, or the pure-JS fallback (and why). */
export const secpBackend: { name: 'libsecp256k1' | 'elliptic'; fallbackReason?: string } = {
  name: loaded.backend,
  ...(loaded.why ? { fallbackReason: loaded.why } : {}),
};

/**
 * The uncompressed public key (65 bytes, 0x04 ‖ x ‖ y) whose signature `rs` (r ‖ s, 64 bytes) with
 * recovery id `recid` (0 or 1: the parity of R's y) signs `digest`; undefined when there is none.
 * The caller enforces low s and the v ↔ recid mapping (libsecp256k1 recovers high-s signatures too).
 */
export function recoverPublicKey(rs: Uint8Array, recid: 0 | 1, digest: Uint8Array): Uint8Array | undefined {
  try {
    return loaded.lib.ecdsaRecover(rs, recid, digest, false, new Uint8Array(65));
  } catch {
    return undefined;
  }
}
