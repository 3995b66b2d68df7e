import type { SessionWriteStore, WriteOp, WriteResult } from '@sessiontrack/store';
import { type Clock, systemClock } from './clock.js';
import { ApiError } from './errors.js';

// Group commit (README "Write path: group commit"). Requests hand their operation to one bounded
// buffer and wait; one transaction commits everything gathered, and each request is answered
// only after its operation is committed. No fixed timer: when no commit is running the next
// request commits on the next turn of the event loop (so requests parsed in the same turn share
// it); while one runs, new requests gather and go together the moment it finishes.

export interface WriteBufferOptions {
  /** Events (plus one per operation) allowed to wait; beyond that, 503 with Retry-After. */
  maxPending: number;
  /** Events per transaction, so one commit never holds the writer for long. */
  maxBatch: number;
  /**
   * Transactions in flight at once (the store's `concurrentWriters`): 1 for SQLite's single
   * writer; more for PostgreSQL, where a commit waits on the network and the server's disk.
   */
  maxConcurrent?: number;
  /** The time each commit is stamped with (default: the system clock). */
  now?: Clock;
  onCommit?: (info: { ops: number; events: number; ms: number }) => void;
  onError?: (err: unknown, ops: number) => void;
}

interface Pending {
  op: WriteOp;
  weight: number;
  resolve: (r: WriteResult) => void;
  reject: (e: unknown) => void;
}

export class WriteBuffer {
  /** The one port it uses: the batch commit. */
  readonly #store: Pick<SessionWriteStore, 'commit'>;
  readonly #opts: WriteBufferOptions;
  readonly #now: Clock;
  #queue: Pending[] = [];
  #pending = 0;
  /** Commit loops running (each commits one batch at a time). */
  #lanes = 0;
  #scheduled = false;
  #closed = false;
  #idle: (() => void)[] = [];

  constructor(store: Pick<SessionWriteStore, 'commit'>, opts: WriteBufferOptions) {
    this.#store = store;
    this.#opts = opts;
    this.#now = opts.now ?? systemClock;
  }

  get pending(): number {
    return this.#pending;
  }

  submit(op: WriteOp): Promise<WriteResult> {
    if (this.#closed) return Promise.reject(new ApiError('unavailable', 'server is shutting down', [], 1));
    const weight = 1 + ('events' in op ? op.events.length : 0);
    if (this.#pending + weight > this.#opts.maxPending) {
      return Promise.reject(new ApiError('unavailable', 'write buffer is full', [], 1));
    }
    this.#pending += weight;
    return new Promise<WriteResult>((resolve, reject) => {
      this.#queue.push({ op, weight, resolve, reject });
      this.#schedule();
    });
  }

  /** Stops taking operations and resolves once everything taken is committed (or failed). */
  drain(): Promise<void> {
    this.#closed = true;
    if (this.#lanes === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #schedule(): void {
    if (this.#scheduled || this.#lanes >= (this.#opts.maxConcurrent ?? 1)) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#queue.length > 0 && this.#lanes < (this.#opts.maxConcurrent ?? 1)) void this.#run();
    });
  }

  async #run(): Promise<void> {
    this.#lanes++;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#take();
        await this.#commit(batch);
      }
    } finally {
      this.#lanes--;
      if (this.#queue.length > 0) this.#schedule();
      else if (this.#lanes === 0) for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  #take(): Pending[] {
    let events = 0;
    let n = 0;
    while (n < this.#queue.length) {
      const w = (this.#queue[n] as Pending).weight;
      if (n > 0 && events + w > this.#opts.maxBatch) break;
      events += w;
      n++;
    }
    return this.#queue.splice(0, n);
  }

  async #commit(batch: Pending[]): Promise<void> {
    const started = performance.now();
    const events = batch.reduce((sum, p) => sum + p.weight - 1, 0);
    try {
      const results = await this.#store.commit(
        batch.map((p) => p.op),
        this.#now(),
      );
      this.#opts.onCommit?.({ ops: batch.length, events, ms: performance.now() - started });
      for (const [i, p] of batch.entries()) p.resolve(results[i] as WriteResult);
    } catch (err) {
      this.#opts.onError?.(err, batch.length);
      if (batch.length > 1) {
        // The whole transaction rolled back. Commit each operation alone, so that one poisoned
        // operation fails by itself and the others still land.
        for (const p of batch) await this.#commitOne(p);
      } else {
        for (const p of batch) p.reject(storageError(err));
      }
    } finally {
      for (const p of batch) this.#pending -= p.weight;
    }
  }

  async #commitOne(p: Pending): Promise<void> {
    try {
      const [result] = await this.#store.commit([p.op], this.#now());
      p.resolve(result as WriteResult);
    } catch (err) {
      p.reject(storageError(err));
    }
  }
}

/** A failed transaction wrote nothing: the client may retry the same batch (it is idempotent). */
function storageError(err: unknown): ApiError {
  const e = new ApiError('unavailable', 'storage is unavailable; nothing was written', [], 2);
  e.cause = err;
  return e;
}
