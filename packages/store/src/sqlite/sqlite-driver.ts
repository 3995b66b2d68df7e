import type { SqlDriver, SqlQueryable, SqlResult } from '../sql/driver.js';
import { StorageUnavailableError } from '../store.js';

// better-sqlite3 behind the shared SqlDriver, described by the one method called (after Kysely's
// SqliteDatabase), its prepared statements cached by text. better-sqlite3 is synchronous, but an
// async transaction function spans microtask turns, and on the one connection whatever ran
// meanwhile would land inside it (and vanish with its rollback). So while one is open every other
// statement and transaction waits for it: the order a synchronous transaction gets by blocking.

export interface SqliteStatement {
  /** Whether the statement returns rows (SELECT, RETURNING). */
  readonly reader: boolean;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number };
}

export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
}

export class SqliteDriver implements SqlDriver {
  readonly #db: SqliteDatabase;
  readonly #statements = new Map<string, SqliteStatement>();
  #open: Promise<unknown> | null = null;

  constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  /** Runs one statement now (callers inside a synchronous transaction of their own use this). */
  querySync<R>(sql: string, params: readonly unknown[] = []): SqlResult<R> {
    let st = this.#statements.get(sql);
    if (!st) {
      // A bounded cache: the statement texts are the store's own, a few dozen variants.
      if (this.#statements.size >= 500) this.#statements.clear();
      st = this.#db.prepare(sql);
      this.#statements.set(sql, st);
    }
    try {
      if (st.reader) {
        const rows = st.all(...params) as R[];
        return { rows, rowCount: rows.length };
      }
      return { rows: [], rowCount: st.run(...params).changes };
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** The open transaction: `while (d.open) await d.open`, then act in that turn (another may open). */
  get open(): Promise<unknown> | null {
    return this.#open;
  }

  async query<R>(sql: string, params?: unknown[]): Promise<SqlResult<R>> {
    while (this.#open) await this.#open;
    return this.querySync<R>(sql, params);
  }

  async transaction<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    while (this.#open) await this.#open;
    // IMMEDIATE: take the write lock now (why: SqliteStore.commitSync).
    this.querySync('BEGIN IMMEDIATE');
    const tx: SqlQueryable = { query: async <R>(sql: string, params?: unknown[]) => this.querySync<R>(sql, params) };
    const run = (async () => {
      try {
        const result = await fn(tx);
        this.querySync('COMMIT');
        return result;
      } catch (err) {
        // SQLite may have rolled back already (some errors end the transaction themselves).
        try {
          this.querySync('ROLLBACK');
        } catch {}
        throw err;
      } finally {
        this.#open = null;
      }
    })();
    this.#open = run.catch(() => undefined);
    return run;
  }
}

export const isBusy = (err: unknown): boolean => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
};

/** Still locked by another process after busy_timeout: nothing was written, and a retry may succeed. */
export function unavailable(err: unknown): unknown {
  return isBusy(err)
    ? new StorageUnavailableError('the SQLite database is locked by another process', { cause: err })
    : err;
}
