/**
 * Riding over a chain node that is briefly unreachable (restarted, `agora chain start --state`): a
 * read the job loops poll all the time is retried while the node cannot be reached, instead of
 * failing the whole job runner (whose restart makes a provider sit out the round in flight, and all
 * of them at once when they all lost the node). Any other error is thrown at once.
 */
import { classifyRpcError } from '../chain/rpc-errors.ts';
import { AgoraError } from '../errors.ts';

const OUTAGE_CODES = new Set(['CHAIN_UNREACHABLE', 'CHAIN_TIMEOUT']);

/** Whether `e` says the chain node could not be reached (as opposed to an answer that is an error). */
export function isChainOutage(e: unknown): boolean {
  if (e instanceof AgoraError) return OUTAGE_CODES.has(e.code);
  const kind = classifyRpcError(e).kind;
  return kind === 'unreachable' || kind === 'timeout';
}

/** Calls `read` until it answers; retries while the chain is unreachable, up to `ms` (default 120 s). */
export async function readThroughOutage<T>(
  read: () => Promise<T>,
  opts: { ms?: number; signal?: AbortSignal | undefined } = {},
): Promise<T> {
  const until = Date.now() + (opts.ms ?? 120_000);
  for (;;) {
    try {
      return await read();
    } catch (e) {
      if (!isChainOutage(e) || Date.now() > until || opts.signal?.aborted) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
