import pg from 'pg';
import { StorageUnavailableError } from '../store.js';
import type { PgDriver, PgQueryable, PgQueryResult } from './pg-driver.js';

export interface PgPoolOptions {
  connectionString: string;
  /** Connections per server process. Default 10: a group commit needs one, reads the rest. */
  max?: number;
  /** Per statement, so a stuck query cannot hold a connection (and the write buffer) forever. */
  statementTimeoutMs?: number;
  /** How long to wait for a connection before the request fails with 503. */
  connectionTimeoutMs?: number;
  onError?: (err: Error) => void;
}

/** Distinct statement texts prepared per process: more are sent unnamed (parsed every time). */
const MAX_PREPARED = 500;

/** node-postgres' Pool behind the PgDriver surface. */
export class PgPoolDriver implements PgDriver {
  readonly pool: pg.Pool;
  /**
   * Statement texts seen inside transactions → their prepared statement's name (once seen twice;
   * null: seen once). The write path's statements have one text whatever their data (lists and
   * rows travel as arrays, postgres/pg-dialect.ts), so each is parsed and planned once per
   * connection instead of in every batch: parsing and planning were half of PostgreSQL's time
   * in a small batch (bench:ingest). Only inside transactions, where a connection that fails
   * is dropped (see `withConnection`); reads go unnamed.
   */
  readonly #prepared = new Map<string, string | null>();
  #named = 0;

  constructor(options: PgPoolOptions) {
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.max ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 3000,
      idleTimeoutMillis: 30_000,
      statement_timeout: options.statementTimeoutMs ?? 10_000,
      idle_in_transaction_session_timeout: 30_000,
      application_name: 'sessiontrack',
      // A statement sent before the previous one's answer is in (only `transaction` does: its
      // BEGIN) instead of being queued behind it.
      pipeline: true,
      // No JIT: it compiles plans whose *estimated* cost is high, and for sessiontrack's short
      // queries the compilation (20-30 ms, measured by bench:query) costs more than it saves.
      options: '-c jit=off',
    });
    // An idle connection that dies (PostgreSQL restarted) emits here; unhandled, it would crash
    // the process. The pool replaces it on the next query.
    this.pool.on('error', (err) => options.onError?.(err));
  }

  async query<R>(sql: string, params?: unknown[]): Promise<PgQueryResult<R>> {
    try {
      const r = await this.pool.query(sql, params);
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
    } catch (err) {
      throw unavailable(err);
    }
  }

  async transaction<T>(fn: (tx: PgQueryable) => Promise<T>): Promise<T> {
    return this.withConnection(async (conn) => {
      // The clients pipeline (see the constructor): BEGIN goes out with the first statement of
      // `fn`, not a round trip ahead of it — the commit waits on round trips more than on work.
      const begun = conn.query('BEGIN');
      const tx: PgQueryable = {
        query: <R>(text: string, params?: unknown[]) =>
          Promise.all([begun, conn.query<R>(text, params)]).then(([, result]) => result),
      };
      try {
        const result = await fn(tx);
        await begun;
        await conn.query('COMMIT');
        return result;
      } catch (err) {
        // (`fn` may have failed before its first statement, with BEGIN still in flight.)
        await begun.catch(() => undefined);
        await conn.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async withConnection<T>(fn: (conn: PgQueryable) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw unavailable(err);
    }
    let broken: Error | undefined;
    // While checked out, a client has no listener of the pool's: a connection that dies (PostgreSQL
    // stopped or restarted) would emit 'error' unhandled and crash the process. Note it instead;
    // the query in flight, if any, fails on its own, and the client does not go back to the pool.
    const onError = (err: Error) => {
      broken ??= err;
    };
    client.on('error', onError);
    const nameOf = (text: string) => this.#nameOf(text);
    try {
      return await fn({
        async query<R>(sql: string, params?: unknown[]) {
          try {
            const name = params === undefined ? undefined : nameOf(sql);
            const r = await client.query({ name, text: sql, values: params });
            return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
          } catch (err) {
            // A connection-level failure must not go back to the pool, nor one whose prepared
            // statements no longer fit the schema (another instance migrated it: "cached plan
            // must not change result type"); the next connection prepares them anew.
            if (isConnectionError(err) || (err as { code?: unknown }).code === '0A000') broken = err as Error;
            throw unavailable(err);
          }
        },
      });
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  /** The prepared statement's name for this text, if it has one by now (see #prepared). */
  #nameOf(text: string): string | undefined {
    const name = this.#prepared.get(text);
    if (name) return name;
    if (name === undefined) {
      if (this.#prepared.size < MAX_PREPARED) this.#prepared.set(text, null);
      return undefined;
    }
    const made = `sessiontrack_${++this.#named}`;
    this.#prepared.set(text, made);
    return made;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * Errors that mean "PostgreSQL is not there right now": no SQLSTATE at all (socket refused, reset,
 * timed out), class 08 (connection exception), 57P0x (shutting down, cannot connect now) and
 * 57014 (statement timeout).
 */
function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return code.startsWith('08') || code.startsWith('57P') || code === '57014';
}

function unavailable(err: unknown): unknown {
  return isConnectionError(err)
    ? new StorageUnavailableError(`PostgreSQL: ${(err as Error).message}`, { cause: err })
    : err;
}
