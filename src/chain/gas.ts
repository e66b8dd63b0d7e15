/**
 * How much gas a transaction may use: the node's estimate plus a margin that covers the state the
 * transaction may meet when it is mined rather than the state it was estimated against. On a chain
 * with blocks every few seconds several transactions land in one block, each estimated before the
 * others ran: the K-th `joinJob` of a block starts the job (and pays the treasury its fee), a claim
 * may be the first to write a zero slot (20k gas instead of 2.9k). A gas limit above what is used
 * costs nothing (only gas used is paid), so the margin is generous. Pure.
 */

/** Relative margin on every estimate (percent). */
export const GAS_MARGIN_PERCENT = 30n;
/** Absolute floor of the margin: a cold zero-to-nonzero SSTORE (22.1k) plus an event and calls. */
export const GAS_MARGIN_MIN = 40_000n;

export type GasPolicy = {
  /** Extra gas for a known worse path than the estimated one (e.g. the join that starts a job). */
  extra?: bigint;
  /** The block gas limit: never ask for more. */
  cap?: bigint;
};

/** The gas limit for a transaction whose estimate is `estimate`. */
export function gasLimitFor(estimate: bigint, policy: GasPolicy = {}): bigint {
  const rel = (estimate * GAS_MARGIN_PERCENT) / 100n;
  const limit = estimate + (rel > GAS_MARGIN_MIN ? rel : GAS_MARGIN_MIN) + (policy.extra ?? 0n);
  return policy.cap !== undefined && policy.cap > 0n && limit > policy.cap ? policy.cap : limit;
}

/**
 * Whether a reverted transaction ran out of gas: it used (almost) all of its limit. The EVM keeps
 * 1/64 of the gas back from a sub-call, so a transaction that failed in a sub-call for lack of gas
 * used at least 63/64 of its limit.
 */
export function ranOutOfGas(gasUsed: bigint, gasLimit: bigint): boolean {
  return gasLimit > 0n && gasUsed * 64n >= gasLimit * 63n;
}

/**
 * The worst path of `joinJob` beyond its estimate: the join that fills the job also sets it
 * running, emits JobStarted with every participant (a cold read and 32 bytes of log each) and
 * sends the protocol fee to the treasury (a token transfer to a cold account). Measured on the
 * embedded chain (3 workers): 129,024 gas for a join, 184,711 for the one that starts the job.
 */
export function joinJobWorstPathExtra(workers: number): bigint {
  return 60_000n + 4_000n * BigInt(Math.max(0, workers));
}
