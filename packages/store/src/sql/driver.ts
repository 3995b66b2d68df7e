// The smallest surface the shared SQL layer calls (after Kysely's drivers): run one parameterised
// statement, and run a function inside one transaction. node-postgres and PGlite already have this
// shape (postgres/pg-driver.ts extends it); better-sqlite3 is adapted in sqlite/sqlite-driver.ts.

export interface SqlResult<R> {
  rows: R[];
  /** Rows the statement changed (INSERT/UPDATE/DELETE), or returned (SELECT, RETURNING). */
  rowCount: number;
}

export interface SqlQueryable {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<SqlResult<R>>;
}

export interface SqlDriver extends SqlQueryable {
  /** BEGIN … COMMIT, taking the write lock up front; ROLLBACK when `fn` throws. */
  transaction<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T>;
}
