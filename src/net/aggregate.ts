/**
 * Per-shard aggregation for the all-reduce (pure). The shard holder calls an `Aggregator` with
 * the decoded contributions of the included peers, always in the same canonical order (sorted
 * PeerIds), so every holder computes bit-identical results. Robust aggregators (trimmed mean,
 * centered clip) from the validator work plug in here with the same signature.
 */
export interface Contribution {
  /** PeerId (base58) of the contributor */
  peer: string;
  vector: Float32Array;
}

export type Aggregator = (contributions: readonly Contribution[]) => Float32Array;

/** Element-wise mean, accumulated in float64. */
export const meanAggregator: Aggregator = (contributions) => {
  if (contributions.length === 0) throw new Error('mean of zero contributions');
  const n = contributions[0].vector.length;
  const acc = new Float64Array(n);
  for (const c of contributions) {
    if (c.vector.length !== n)
      throw new Error(`contribution from ${c.peer} has ${c.vector.length} elements, expected ${n}`);
    const v = c.vector;
    for (let i = 0; i < n; i++) acc[i] += v[i];
  }
  const out = new Float32Array(n);
  const k = contributions.length;
  for (let i = 0; i < n; i++) out[i] = acc[i] / k;
  return out;
};
