import type { PGlite } from '@electric-sql/pglite';
import type { PgDriver, PgQueryable, PgQueryResult } from './pg-driver.js';

// PGlite (PostgreSQL compiled to WASM, in-process) behind the PgDriver surface, so the PostgreSQL
// store runs its conformance suite on a machine without a PostgreSQL server. Tests only.
// PGlite is a single connection that queues queries and transactions itself.

export class PgliteDriver implements PgDriver {
  readonly #db: PGlite;
  readonly #owned: boolean;
  #closed = false;

  /** `owned: false` leaves the PGlite instance open on close (tests share one: it boots in seconds). */
  constructor(db: PGlite, { owned = true }: { owned?: boolean } = {}) {
    this.#db = db;
    this.#owned = owned;
  }

  query<R>(sql: string, params?: unknown[]): Promise<PgQueryResult<R>> {
    if (this.#closed) return Promise.reject(new Error('the store is closed'));
    return run<R>(this.#db, sql, params);
  }

  transaction<T>(fn: (tx: PgQueryable) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('the store is closed'));
    return this.#db.transaction((tx) =>
      fn({
        async query<R>(sql: string, params?: unknown[]) {
          const r = await tx.query<R>(sql, params);
          return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
        },
      }),
    );
  }

  withConnection<T>(fn: (conn: PgQueryable) => Promise<T>): Promise<T> {
    return fn(this);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#owned) await this.#db.close();
  }
}

async function run<R>(db: PGlite, sql: string, params?: unknown[]): Promise<PgQueryResult<R>> {
  if (params === undefined || params.length === 0) {
    // exec runs several statements (migrations); the last one's rows are the result.
    const results = await db.exec(sql);
    const last = results.at(-1);
    return { rows: (last?.rows ?? []) as R[], rowCount: last?.affectedRows ?? last?.rows.length ?? 0 };
  }
  const r = await db.query<R>(sql, params);
  return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
}
