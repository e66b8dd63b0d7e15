/**
 * Communication accounting (bytes each worker SENDS; received bytes are symmetric).
 *
 * DDP baseline: gradients averaged every step with a ring all-reduce of fp32 gradients
 * (reduce-scatter then all-gather, each worker sends 2·(K−1) chunks of P/K floats):
 *   bytes per worker per step = 2 · P · 4 · (K − 1) / K     (no headers; a lower bound for DDP).
 *
 * DiLoCo / FedAvg: one codec-compressed butterfly all-reduce per round, simulated exactly by
 * `simulateAllReduce` (allreduce-sim.ts): bytes = Σ of `encode(...).byteLength` of every message
 * the worker sends (headers included) — (K−1) encoded slices of its pseudo-gradient, then its
 * encoded mean slice to the (K−1) other workers. ≈ 2·(K−1)/K · |encode(Δ)|.
 */

/** Bytes one worker sends per DDP step: ring all-reduce of P fp32 gradients among K workers. */
export function ddpBytesPerStep(paramCount: number, workers: number): number {
  if (workers <= 1) return 0;
  return (2 * paramCount * 4 * (workers - 1)) / workers;
}

/** The contiguous slice [start, end) of a length-n vector owned by worker i of K (sizes differ by ≤ 1). */
export function sliceBounds(n: number, k: number, i: number): [number, number] {
  const base = Math.floor(n / k);
  const extra = n % k;
  const start = i * base + Math.min(i, extra);
  return [start, start + base + (i < extra ? 1 : 0)];
}
