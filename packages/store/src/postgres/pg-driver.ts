import type { SqlDriver, SqlQueryable, SqlResult } from '../sql/driver.js';

// The surface the PostgreSQL store calls (after Kysely's dialects): the shared SqlDriver, plus one
// connection held for a while. node-postgres' Pool implements it in pg-pool-driver.ts; the tests
// also run it on PGlite (an in-process PostgreSQL).

export type PgQueryResult<R> = SqlResult<R>;
export type PgQueryable = SqlQueryable;

export interface PgDriver extends SqlDriver {
  /** One connection for the duration of `fn` (session-level advisory locks need that). */
  withConnection<T>(fn: (conn: PgQueryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
