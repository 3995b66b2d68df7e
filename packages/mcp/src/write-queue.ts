import type { McpLogger } from './sink.js';

export interface WriteQueueOptions<T> {
  /** Drains `queue.items` (taking what it wrote, putting back what must be retried). */
  drain: (queue: WriteQueue<T>) => Promise<void>;
  /** A push is written at most this long after it was queued. */
  intervalMs: number;
  /** Items kept while the destination is down; past it the oldest are dropped. */
  maxBuffered: number;
  /** After a drain that left items behind: when to try again. */
  retryMs: () => number;
  log: McpLogger;
  /** Names the queue in log lines ("write", "send"). */
  what: string;
}

/**
 * The queue both sinks write through: bounded (the oldest item goes first), drained by one `drain`
 * at a time, a short while after a push (so that a burst of tool calls becomes one batch), and
 * again later when a drain could not write everything. Requests never wait for it.
 */
export class WriteQueue<T> {
  items: T[] = [];
  dropped = 0;
  closed = false;
  readonly #o: WriteQueueOptions<T>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(options: WriteQueueOptions<T>) {
    this.#o = options;
  }

  push(item: T): void {
    if (this.items.length >= this.#o.maxBuffered) {
      this.items.shift();
      if (this.dropped++ % 1000 === 0)
        this.#o.log.warn({ dropped: this.dropped }, `sessiontrack: ${this.#o.what} queue full`);
    }
    this.items.push(item);
    this.#schedule(this.#o.intervalMs);
  }

  /** Waits for a running drain, then drains what is queued once more. */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
    if (this.items.length === 0) return;
    this.#running = this.#o.drain(this).finally(() => {
      this.#running = undefined;
      if (this.items.length > 0) this.#schedule(this.#o.retryMs());
    });
    return this.#running;
  }

  /** No more timers; one last flush; what is still queued then is dropped and logged. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
    if (this.items.length > 0) {
      this.#o.log.warn({ dropped: this.items.length }, `sessiontrack: ${this.#o.what}s dropped at shutdown`);
      this.dropped += this.items.length;
      this.items = [];
    }
  }

  #schedule(ms: number): void {
    if (this.#timer || this.#running || this.closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, ms);
    this.#timer.unref();
  }
}
