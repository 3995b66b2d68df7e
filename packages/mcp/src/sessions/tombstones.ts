/** Why a session id is no longer served. */
export type Tombstone = { reason: 'logout' | 'expired' | 'unrecoverable'; at: number };

/**
 * The ids this process ended, expired or found unrecoverable, so that they answer 404 without a
 * sink lookup. Bounded both ways: at most `max` (the oldest go first) and at most `ttlMs` old
 * (`prune`, from the sweep). A Map iterates in insertion order, and burying again moves an id to
 * the end, so the iteration order is age order and both bounds stop at the first young entry.
 */
export class Tombstones {
  readonly #byId = new Map<string, Tombstone>();
  readonly #max: number;
  readonly #ttlMs: number;

  constructor(max: number, ttlMs: number) {
    this.#max = max;
    this.#ttlMs = ttlMs;
  }

  bury(id: string, reason: Tombstone['reason'], at: number): void {
    this.#byId.delete(id);
    this.#byId.set(id, { reason, at });
    for (const k of this.#byId.keys()) {
      if (this.#byId.size <= this.#max) break;
      this.#byId.delete(k);
    }
  }

  get(id: string): Tombstone | undefined {
    return this.#byId.get(id);
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /** Forgets the tombstones older than the TTL. */
  prune(at: number): void {
    for (const [k, t] of this.#byId) {
      if (at - t.at < this.#ttlMs) break;
      this.#byId.delete(k);
    }
  }

  get size(): number {
    return this.#byId.size;
  }
}
