// The smallest surface the PostgreSQL store calls (after Kysely's dialects): anything that can run
// a parameterised query, a transaction and hold one connection for a while. node-postgres' Pool
// implements it in pg-pool-driver.ts; the tests also run it on PGlite (an in-process PostgreSQL).

export interface PgQueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface PgQueryable {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<PgQueryResult<R>>;
}

export interface PgDriver extends PgQueryable {
  /** BEGIN … COMMIT on one connection; ROLLBACK when `fn` throws. */
  transaction<T>(fn: (tx: PgQueryable) => Promise<T>): Promise<T>;
  /** One connection for the duration of `fn` (session-level advisory locks need that). */
  withConnection<T>(fn: (conn: PgQueryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
