// Token buckets keyed by a string (project id, client address). A bucket holds `perMinute`
// tokens and refills continuously, so a burst up to the limit passes and a steady rate above it
// is refused with the exact wait until the next token.

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();

  /** Returns 0 when allowed, else the seconds to wait (for `Retry-After`). */
  take(key: string, perMinute: number, now: number): number {
    if (perMinute <= 0) return 0;
    const ratePerMs = perMinute / 60_000;
    let b = this.#buckets.get(key);
    if (!b) {
      b = { tokens: perMinute, at: now };
      this.#buckets.set(key, b);
    } else {
      b.tokens = Math.min(perMinute, b.tokens + (now - b.at) * ratePerMs);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / ratePerMs / 1000));
  }

  /** Drops buckets that have refilled completely: they hold no information. Called by a timer. */
  prune(now: number, perMinute: (key: string) => number): void {
    for (const [key, b] of this.#buckets) {
      const limit = perMinute(key);
      if (limit <= 0 || b.tokens + (now - b.at) * (limit / 60_000) >= limit) this.#buckets.delete(key);
    }
  }

  get size(): number {
    return this.#buckets.size;
  }
}
