/**
 * The one answer to "may one more session start in this process?" (`maxSessions`), asked by a new
 * session, a recovery and a new sessionless group alike. Counted: what is held (live sessions and
 * sessionless groups, from `held`) and what is being built right now (initializes and recoveries
 * between their check and their registration, or their failure), so that a burst of them cannot
 * overshoot the limit.
 */
export class Capacity {
  readonly #max: number;
  readonly #held: () => number;
  #building = 0;

  constructor(max: number, held: () => number) {
    this.#max = max;
    this.#held = held;
  }

  hasRoom(): boolean {
    return this.#held() + this.#building < this.#max;
  }

  /** Runs `build` with a place held for it until it settles, whatever it registered. */
  async holding<T>(build: () => Promise<T>): Promise<T> {
    this.#building++;
    try {
      return await build();
    } finally {
      this.#building--;
    }
  }
}
