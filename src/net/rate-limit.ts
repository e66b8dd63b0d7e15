/**
 * Per-peer token-bucket rate limiter (pure logic; the clock is injectable for tests). Used to cap
 * inbound streams per peer per second on each protocol.
 */
export interface RateLimitOptions {
  /** tokens refilled per second */
  ratePerSec: number;
  /** bucket size (largest burst) */
  burst: number;
  /** forget a peer's bucket after this long idle (bounds memory) */
  idleMs?: number;
  now?: () => number;
}

export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #idleMs: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(opts: RateLimitOptions) {
    this.#rate = opts.ratePerSec;
    this.#burst = opts.burst;
    this.#idleMs = opts.idleMs ?? 60_000;
    this.#now = opts.now ?? Date.now;
  }

  /** Takes `cost` tokens from `key`'s bucket; false means "over the limit, refuse". */
  take(key: string, cost = 1): boolean {
    const now = this.#now();
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size > 10_000) this.#sweep(now);
      b = { tokens: this.#burst, at: now };
      this.#buckets.set(key, b);
    }
    b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate);
    b.at = now;
    if (b.tokens < cost) return false;
    b.tokens -= cost;
    return true;
  }

  #sweep(now: number): void {
    for (const [k, b] of this.#buckets) if (now - b.at > this.#idleMs) this.#buckets.delete(k);
  }
}
