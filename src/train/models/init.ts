/**
 * Deterministic parameter initialization: parameter `i` draws from its own PRNG stream
 * `Rng(seed, i)`, so adding a parameter never changes the others' values.
 */
import { Rng } from './prng.ts';
import type { ParamSpec } from './spec.ts';

export function initParam(p: ParamSpec, seed: number, index: number): Float32Array {
  const n = p.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const init = p.init;
  if (init.kind === 'const') return out.fill(init.value);
  const rng = new Rng(seed, index);
  if (init.kind === 'uniform') {
    for (let i = 0; i < n; i++) out[i] = (2 * rng.uniform() - 1) * init.bound;
  } else {
    for (let i = 0; i < n; i++) out[i] = rng.normal() * init.std;
  }
  return out;
}

export function initParams(params: readonly ParamSpec[], seed: number): Float32Array[] {
  return params.map((p, i) => initParam(p, seed, i));
}
