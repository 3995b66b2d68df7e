import type { Session } from '@sessiontrack/core';
import { finishBatch, keyOf, planBatch, sessionKeysOf } from '../batch.js';
import type { Migration } from '../migration.js';
import { MUTABLE_SESSION_COLUMNS, SESSION_COLUMNS, sessionColumnType, sessionToRow } from '../rows.js';
import { applyDelta, batchAggregates, type StoredSession, storedSession, WRITER_SLOTS } from '../sql/aggregates-sql.js';
import { inPairs, raw, rows, type Sql, sql } from '../sql/sql.js';
import { SqlStore } from '../sql/sql-store.js';
import type { WriteOp, WriteResult } from '../store.js';
import { PG_DIALECT } from './pg-dialect.js';
import type { PgDriver, PgQueryable } from './pg-driver.js';
import { PG_MIGRATIONS } from './pg-migrations.js';

/** Advisory-lock keys: one for migrations, one per background job (hashed from its name). */
const MIGRATION_LOCK = 7_150_001;

const UPDATE_COLUMNS = (['id', 'project_id', ...MUTABLE_SESSION_COLUMNS] as const).map(
  (c) => [c, sessionColumnType(c)] as const,
);

/**
 * What the commit reads of a session, named: a prepared statement (postgres/pg-pool-driver.ts)
 * then keeps its result type when a migration adds a column, where `*` would fail.
 */
const LOCKED_COLUMNS = raw([...SESSION_COLUMNS, 'facets'].join(', '));

/**
 * One statement for a batch's updated sessions, their facets included where the batch changed
 * them (`facets` by sessionKey, as BatchAggregates has them).
 */
function updateSessionsSql(updates: readonly Session[], facets: ReadonlyMap<string, string | null>): Sql {
  const list = updates.map((s) => {
    const row = sessionToRow(s);
    const k = keyOf(s);
    return [...UPDATE_COLUMNS.map(([c]) => row[c]), facets.has(k) ? 1 : 0, facets.get(k) ?? null];
  });
  return sql`UPDATE sessions s SET ${raw(MUTABLE_SESSION_COLUMNS.map((c) => `${c} = r.${c}`).join(', '))},
      facets = CASE WHEN r.set_facets = 1 THEN r.facets ELSE s.facets END
    FROM ${rows('r', [...UPDATE_COLUMNS, ['set_facets', 'bigint'], ['facets', 'text']], list)}
    WHERE s.id = r.id AND s.project_id = r.project_id`;
}

/**
 * The shared backend: any number of server processes on one PostgreSQL. A batch is one
 * transaction that locks the sessions it touches (in id order, so two instances never deadlock),
 * inserts all its events with one statement and writes each touched session once.
 * Nothing is cached between batches: another instance may have changed any session.
 * What is shared with SQLite lives in sql/sql-store.ts.
 */
export class PostgresStore extends SqlStore {
  readonly backend: string;
  /**
   * Batches committed at once per process. Sessions are locked in id order, so concurrent batches
   * touching the same sessions queue on the row locks instead of deadlocking. Leaves most of the
   * default pool of 10 for reads. One writer slot each (sql/aggregates-sql.ts), so they do not
   * queue on the day rows either.
   */
  readonly concurrentWriters = WRITER_SLOTS;
  readonly #pg: PgDriver;
  /** Writer slots (sql/aggregates-sql.ts) no commit of this process holds. */
  readonly #freeSlots = Array.from({ length: WRITER_SLOTS }, (_, i) => WRITER_SLOTS - 1 - i);

  private constructor(db: PgDriver, backend: string) {
    super(db, PG_DIALECT);
    this.#pg = db;
    this.backend = backend;
  }

  /** Opens the store and applies pending migrations under a lock (instances may start together). */
  static async open(db: PgDriver, backend = 'postgres'): Promise<PostgresStore> {
    await migrate(db, PG_MIGRATIONS);
    return new PostgresStore(db, backend);
  }

  async commit(ops: readonly WriteOp[], now: number): Promise<WriteResult[]> {
    // Its own slot of the day rows while it runs (the write buffer runs at most
    // concurrentWriters commits at once; a caller running more shares slot 0).
    const slot = this.#freeSlots.pop();
    try {
      return await this.#commit(ops, now, slot ?? 0);
    } finally {
      if (slot !== undefined) this.#freeSlots.push(slot);
    }
  }

  async #commit(ops: readonly WriteOp[], now: number, slot: number): Promise<WriteResult[]> {
    return this.db.transaction(async (tx) => {
      const stored = new Map<string, StoredSession>();
      // Locked in key order, so that two instances never deadlock on them; with the projects
      // version in the same round trip (one row of nulls when the batch names no stored session),
      // so that the projects' options are read only when a project changed (ProjectOptions).
      const found = await this.all(
        sql`SELECT v.version AS projects_version, s.* FROM projects_version v LEFT JOIN LATERAL (
            SELECT ${LOCKED_COLUMNS} FROM sessions WHERE ${inPairs('id', 'project_id', sessionKeysOf(ops))}
            ORDER BY id, project_id FOR UPDATE) s ON true
          WHERE v.id = 1`,
        tx,
      );
      for (const r of found) {
        if (r.id === null) continue;
        const s = storedSession(r);
        stored.set(keyOf(s.session), s);
      }
      const loaded = new Map([...stored].map(([key, s]) => [key, s.session]));
      const plan = planBatch(ops, loaded, now);
      const inserted = await this.insertEvents(tx, plan.rows);
      const outcome = finishBatch(plan, inserted);
      const version = found[0] === undefined ? undefined : Number(found[0].projects_version);
      const agg = await this.program(
        batchAggregates(this.projectOptions, stored, plan, inserted, outcome, version),
        tx,
      );
      // A plain insert: a session id another instance took meanwhile fails the batch, and the
      // write buffer's one-by-one retry then answers that operation 409. Before the day rows, as
      // it may wait for that instance's insert.
      if (outcome.inserts.length > 0) await this.insertSessions(tx, outcome.inserts, false, agg.facets);
      // The updated sessions are locked already: their update goes with the day rows, which are
      // the rows every writer of today waits for, so they are held from here to the commit only.
      const updates = outcome.updates.length > 0 ? [updateSessionsSql(outcome.updates, agg.facets)] : [];
      await this.program(applyDelta(agg.delta, updates, slot), tx);
      return outcome.results;
    });
  }

  override async deleteEventsBefore(before: number, projectId?: string, batchSize = 50_000): Promise<number> {
    // In slices, so a retention run never holds one huge transaction (or blocks ingest) for long.
    let total = 0;
    for (;;) {
      const { rowCount } = await this.#pg.query(
        `DELETE FROM events WHERE ctid = ANY(ARRAY(
           SELECT ctid FROM events WHERE received_at < $1 ${projectId ? 'AND project_id = $3' : ''} LIMIT $2))`,
        projectId ? [before, batchSize, projectId] : [before, batchSize],
      );
      total += rowCount;
      if (rowCount < batchSize) return total;
    }
  }

  async runExclusive(job: string, fn: () => Promise<void>): Promise<boolean> {
    return this.#pg.withConnection((conn) => withLock(conn, `sessiontrack:${job}`, false, fn));
  }

  async close(): Promise<void> {
    await this.#pg.close();
  }
}

/**
 * Runs `fn` holding a session-level advisory lock on `key` (a job's name, hashed, or a number);
 * `wait` for it, or give up at once. Answers whether `fn` ran.
 */
async function withLock(conn: PgQueryable, key: string | number, wait: boolean, fn: () => Promise<unknown>) {
  const k = typeof key === 'number' ? '$1::bigint' : 'hashtext($1)';
  const take = wait ? 'pg_advisory_lock' : 'pg_try_advisory_lock';
  const { rows } = await conn.query<{ locked: unknown }>(`SELECT ${take}(${k}) AS locked`, [key]);
  if (!wait && !rows[0]?.locked) return false;
  try {
    await fn();
  } finally {
    await conn.query(`SELECT pg_advisory_unlock(${k})`, [key]);
  }
  return true;
}

/** Applies pending migrations while holding an advisory lock: concurrent starters wait, then skip. */
async function migrate(db: PgDriver, migrations: readonly Migration[]): Promise<void> {
  await db.withConnection((conn) =>
    withLock(conn, MIGRATION_LOCK, true, async () => {
      await conn.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
      const { rows } = await conn.query<{ version: number }>('SELECT version FROM schema_migrations');
      const applied = new Set(rows.map((r) => Number(r.version)));
      for (const m of migrations) {
        if (applied.has(m.version)) continue;
        await conn.query('BEGIN');
        try {
          await conn.query(m.sql);
          const record = 'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)';
          await conn.query(record, [m.version, m.name, Date.now()]);
          await conn.query('COMMIT');
        } catch (err) {
          await conn.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }
    }),
  );
}
