import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Session, SessionFacets } from '@sessiontrack/core';
import Database from 'better-sqlite3';
import { type BatchOutcome, finishBatch, keyOf, planBatch, sessionKey, sessionKeysOf, splitKey } from '../batch.js';
import type { Migration } from '../migration.js';
import { EVENT_COLUMNS, eventValues, MUTABLE_SESSION_COLUMNS, SESSION_COLUMNS, sessionToRow } from '../rows.js';
import { applyDelta, batchAggregates, runSync, type StoredSession, storedSession } from '../sql/aggregates-sql.js';
import type { Sql } from '../sql/sql.js';
import { SqlStore } from '../sql/sql-store.js';
import type { WriteOp, WriteResult } from '../store.js';
import { Checkpointer } from './sqlite-checkpointer.js';
import { SQLITE_DIALECT } from './sqlite-dialect.js';
import { SqliteDriver, unavailable } from './sqlite-driver.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';

export interface SqliteStoreOptions {
  /** A file path, or ':memory:'. */
  filename: string;
  /**
   * `normal` (default): a commit is in the WAL file before it is acknowledged, so it survives a
   * process crash; a power loss may lose the last commits. `full`: fsync on every commit.
   */
  synchronous?: 'normal' | 'full';
  /** Checkpoint the WAL from a worker thread every this many ms (file databases; 0 = SQLite's own). */
  checkpointIntervalMs?: number;
}

type Row = Record<string, unknown>;

/**
 * The embedded backend: one better-sqlite3 connection in WAL mode. SQLite has one writer, so a
 * batch is a plain synchronous transaction and needs no locking of its own; what is shared with
 * PostgreSQL lives in sql/sql-store.ts. This file keeps the commit hot path (synchronous, with a
 * write-through session cache) and the connection's set-up.
 */
export class SqliteStore extends SqlStore {
  readonly backend = 'sqlite';
  readonly concurrentWriters = 1;
  readonly #db: Database.Database;
  readonly #driver: SqliteDriver;
  readonly #stmt;
  #checkpointer: Checkpointer | undefined;
  /** Sessions with their facets (sql/aggregates-sql.ts) by sessionKey, as last committed by this process. */
  readonly #cache = new Map<string, StoredSession>();
  // Made once: better-sqlite3 builds four wrapper functions per transaction() call.
  readonly #commitTx: Database.Transaction<
    (ops: readonly WriteOp[], now: number) => BatchOutcome & { facets: Map<string, SessionFacets> }
  >;
  #dataVersion = -1;

  constructor(options: SqliteStoreOptions) {
    if (options.filename !== ':memory:') {
      mkdirSync(dirname(options.filename), { recursive: true });
      // The file holds user ids and metadata: a new one is its owner's only, as the admin token is.
      // SQLite gives the -wal and -shm files the main file's mode. An existing file keeps its own.
      closeSync(openSync(options.filename, 'a', 0o600));
    }
    const db = new Database(options.filename);
    const driver = new SqliteDriver(db);
    super(driver, SQLITE_DIALECT);
    this.#db = db;
    this.#driver = driver;
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('busy_timeout = 5000');
    // A larger page cache keeps the events index in memory as it grows (the default is 2 MiB).
    db.pragma('cache_size = -65536');
    db.pragma('foreign_keys = OFF');
    migrate(db, SQLITE_MIGRATIONS);
    const interval = options.checkpointIntervalMs ?? 1000;
    if (options.filename !== ':memory:' && interval > 0) {
      db.pragma('wal_autocheckpoint = 0');
      this.#checkpointer = new Checkpointer(options.filename, interval, () => {
        // Without the worker, fall back to SQLite's automatic checkpoints: slower, never unbounded.
        if (db.open) db.pragma('wal_autocheckpoint = 1000');
      });
    }

    const cols = SESSION_COLUMNS.join(', ');
    const params = SESSION_COLUMNS.map((c) => `@${c}`).join(', ');
    // Only the columns a session's life changes: SQLite rewrites every index whose columns are SET.
    const sets = (columns: readonly string[]) => columns.map((c) => `${c} = @${c}`).join(', ');
    this.#stmt = {
      loadSessions: db.prepare(
        `SELECT * FROM sessions WHERE (id, project_id) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`,
      ),
      insertSession: db.prepare(`INSERT INTO sessions (${cols}) VALUES (${params})`),
      updateSession: db.prepare(
        `UPDATE sessions SET ${sets(MUTABLE_SESSION_COLUMNS)} WHERE id = @id AND project_id = @project_id`,
      ),
      updateActivity: db.prepare(
        `UPDATE sessions SET ${sets(ACTIVITY_COLUMNS)} WHERE id = @id AND project_id = @project_id`,
      ),
      insertEvent: db.prepare(
        `INSERT INTO events (${EVENT_COLUMNS.map(([c]) => c).join(', ')})
         VALUES (${EVENT_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`,
      ),
      setFacets: db.prepare('UPDATE sessions SET facets = ? WHERE project_id = ? AND id = ?'),
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
      // Moved by every change of a project, by any process: its options are read only then.
      projectsVersion: db.prepare('SELECT version FROM projects_version WHERE id = 1').pluck(),
    };
    this.#commitTx = db.transaction((ops: readonly WriteOp[], now: number) => this.#applyBatch(ops, now));
  }

  async commit(ops: readonly WriteOp[], now: number): Promise<WriteResult[]> {
    // After any open transaction of the shared layer, checked and run in one turn (sqlite-driver.ts).
    while (this.#driver.open) await this.#driver.open;
    return this.commitSync(ops, now);
  }

  /**
   * The synchronous core of `commit`, one transaction (exposed for benchmarks; call it only when
   * nothing else uses the store). Every write transaction here is BEGIN IMMEDIATE: another process
   * may write the same file (an MCP server's embedded sink beside `sessiontrack serve`), and a
   * deferred transaction that reads and then writes fails at once with SQLITE_BUSY when that
   * process committed in between, while an immediate one waits for the write lock (busy_timeout).
   */
  commitSync(ops: readonly WriteOp[], now: number): WriteResult[] {
    try {
      const outcome = this.#commitTx.immediate(ops, now);
      for (const session of [...outcome.inserts, ...outcome.updates]) {
        this.#remember({ session, facets: outcome.facets.get(keyOf(session)) ?? null });
      }
      return outcome.results;
    } catch (err) {
      this.#cache.clear();
      throw unavailable(err);
    }
  }

  #applyBatch(ops: readonly WriteOp[], now: number): BatchOutcome & { facets: Map<string, SessionFacets> } {
    const s = this.#stmt;
    const stored = this.#loadSessions(sessionKeysOf(ops));
    const loaded = new Map<string, Session>();
    for (const [key, x] of stored) loaded.set(key, x.session);
    const plan = planBatch(ops, loaded, now);
    const inserted = plan.rows.map((e) => s.insertEvent.run(...eventValues(e)).changes === 1);
    const outcome = finishBatch(plan, inserted);
    const exec = (q: Sql) => {
      const { text, params } = this.compile(q);
      return this.#driver.querySync<Record<string, unknown>>(text, params).rows;
    };
    const version = Number(s.projectsVersion.get());
    const agg = runSync(batchAggregates(this.projectOptions, stored, plan, inserted, outcome, version), exec);
    for (const session of outcome.inserts) s.insertSession.run(sessionToRow(session));
    for (const session of outcome.updates) {
      // Most updates are activity only, and that statement touches no index at all.
      const before = loaded.get(keyOf(session));
      const lifecycleChanged =
        !before ||
        before.userId !== session.userId ||
        before.status !== session.status ||
        before.endedAt !== session.endedAt ||
        before.disconnectedAt !== session.disconnectedAt ||
        before.recoveryAttempts !== session.recoveryAttempts;
      // (A statement reads the named parameters it has from the whole row.)
      (lifecycleChanged ? s.updateSession : s.updateActivity).run(sessionToRow(session));
    }
    for (const [key, text] of agg.facets) s.setFacets.run(text, ...splitKey(key));
    runSync(applyDelta(agg.delta), exec);
    return { ...outcome, facets: agg.after };
  }

  /**
   * Sessions of a batch: from the write-through cache when nothing else has written the file
   * since (PRAGMA data_version moves only on other connections' commits), else from the table.
   * Loading the touched sessions was the largest cost of a small batch.
   */
  #loadSessions(keys: [id: string, projectId: string][]): Map<string, StoredSession> {
    const version = this.#stmt.dataVersion.get() as number;
    if (version !== this.#dataVersion) {
      this.#cache.clear();
      this.#dataVersion = version;
    }
    const loaded = new Map<string, StoredSession>();
    const missing: [string, string][] = [];
    for (const k of keys) {
      const key = sessionKey(k[1], k[0]);
      const hit = this.#cache.get(key);
      if (hit) loaded.set(key, hit);
      else missing.push(k);
    }
    if (missing.length > 0) {
      for (const r of this.#stmt.loadSessions.all(JSON.stringify(missing)) as Row[]) {
        const stored = storedSession(r);
        loaded.set(keyOf(stored.session), stored);
        this.#remember(stored);
      }
    }
    return loaded;
  }

  #remember(stored: StoredSession): void {
    // Map order is insertion order: re-inserting moves a session to the young end.
    const key = keyOf(stored.session);
    this.#cache.delete(key);
    this.#cache.set(key, stored);
    if (this.#cache.size > SESSION_CACHE_SIZE) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
  }

  protected override sessionsChanged(): void {
    this.#cache.clear();
  }

  /** A single server per file: every job runs. */
  async runExclusive(_job: string, fn: () => Promise<void>): Promise<boolean> {
    await fn();
    return true;
  }

  async close(): Promise<void> {
    await this.#checkpointer?.stop();
    this.#checkpointer = undefined;
    if (!this.#db.open) return;
    try {
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // another connection holds the database: the next open checkpoints instead
    }
    this.#db.close();
  }
}

const SESSION_CACHE_SIZE = 20_000;

/** What activity alone changes: no index covers these columns. */
const ACTIVITY_COLUMNS = [
  'last_activity_at',
  'expires_at',
  'exit_page',
  'last_action',
  'actions',
  'errors',
  'tool_calls',
  'workflows',
  'engaged_ms',
] as const satisfies readonly (typeof MUTABLE_SESSION_COLUMNS)[number][];

/** Synchronous, at open: the constructor answers a ready store. */
function migrate(db: Database.Database, migrations: readonly Migration[]): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
  );
  const isApplied = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?');
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      // Another process may have applied it since the read above (it held the write lock).
      if (isApplied.get(m.version)) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        Date.now(),
      );
    }).immediate();
  }
}
