/** Shared synthetic pseudo-gradients for the verify tests: honest workers around a common direction, and attacks. */
import { createRng, normal } from '../../src/train/data/rng.ts';

export type AttackKind = 'sign-flip' | 'scaled' | 'noise' | 'zeros';

/** `n` honest deltas: base direction (N(0, 1)·scale) + per-worker noise (relative `spread`). */
export function honestDeltas(
  n: number,
  dim: number,
  seed: number,
  spread = 0.5,
  scale = 1e-2,
): Float32Array[] {
  const rng = createRng(seed);
  const base = Float64Array.from({ length: dim }, () => normal(rng) * scale);
  return Array.from({ length: n }, () => Float32Array.from(base, (b) => b + normal(rng) * scale * spread));
}

export function attack(kind: AttackKind, honest: Float32Array, seed: number): Float32Array {
  const rng = createRng(seed);
  switch (kind) {
    case 'sign-flip':
      return honest.map((x) => -x);
    case 'scaled':
      return honest.map((x) => x * 100);
    case 'noise': {
      let s = 0;
      for (const x of honest) s += x * x;
      const sigma = (Math.sqrt(s / honest.length) || 1) * 20;
      return Float32Array.from(honest, () => normal(rng) * sigma);
    }
    case 'zeros':
      return new Float32Array(honest.length);
  }
}

export function mean(vs: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(vs[0].length);
  for (const v of vs) for (let i = 0; i < v.length; i++) out[i] += v[i] / vs.length;
  return out;
}

/** ‖a − b‖ / ‖b‖. */
export function relErr(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / n);
}
