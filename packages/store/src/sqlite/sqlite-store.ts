import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  ANALYTICS_EVENT_TYPES,
  type AnalyticsEvent,
  type CountDim,
  type Counts,
  type DayRollup,
  type ImportedSession,
  type Project,
  type Session,
  type StoredEvent,
} from '@sessiontrack/core';
import Database from 'better-sqlite3';
import { type BatchOutcome, type EventRow, finishBatch, planBatch, sessionIdsOf } from '../batch.js';
import { type LiveDay, type LiveDayQuery, liveDay, namedSqlite, RolledUserCounts } from '../live-sql.js';
import { type DirtyMark, RecentMarks } from '../rollup-marks.js';
import {
  MUTABLE_SESSION_COLUMNS,
  projectToRow,
  ROLLUP_DAY_COLUMNS,
  rollupCountRows,
  rollupDayValues,
  rowToAgentState,
  rowToAnalyticsEvent,
  rowToEvent,
  rowToProject,
  rowToSession,
  rowToStoredRollup,
  SESSION_COLUMNS,
  sessionToRow,
  statusCondition,
} from '../rows.js';
import {
  type AgentStateEntry,
  type CleanupResult,
  decodeCursor,
  encodeCursor,
  type ImportResult,
  type RollupMark,
  type SessionPage,
  type SessionQuery,
  StorageUnavailableError,
  type Store,
  type StoredRollup,
  type WriteOp,
  type WriteResult,
} from '../store.js';
import { Checkpointer } from './sqlite-checkpointer.js';
import { type Migration, SQLITE_MIGRATIONS } from './sqlite-migrations.js';

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
 * batch is a plain synchronous transaction and needs no locking of its own.
 */
export class SqliteStore implements Store {
  readonly backend = 'sqlite';
  readonly concurrentWriters = 1;
  readonly #db: Database.Database;
  readonly #stmt;
  #checkpointer: Checkpointer | undefined;
  readonly #cache = new Map<string, Session>();
  // Made once: better-sqlite3 builds four wrapper functions per transaction() call.
  readonly #commitTx: Database.Transaction<
    (ops: readonly WriteOp[], now: number) => BatchOutcome & { marks: DirtyMark[]; wall: number }
  >;
  #dataVersion = -1;
  readonly #marks = new RecentMarks();
  readonly #rolledUsers = new RolledUserCounts();

  constructor(options: SqliteStoreOptions) {
    if (options.filename !== ':memory:') mkdirSync(dirname(options.filename), { recursive: true });
    this.#db = new Database(options.filename);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    this.#db.pragma('busy_timeout = 5000');
    // A larger page cache keeps the events index in memory as it grows (the default is 2 MiB).
    this.#db.pragma('cache_size = -65536');
    this.#db.pragma('foreign_keys = OFF');
    migrate(this.#db, SQLITE_MIGRATIONS);
    const interval = options.checkpointIntervalMs ?? 1000;
    if (options.filename !== ':memory:' && interval > 0) {
      this.#db.pragma('wal_autocheckpoint = 0');
      this.#checkpointer = new Checkpointer(options.filename, interval, () => {
        // Without the worker, fall back to SQLite's automatic checkpoints: slower, never unbounded.
        if (this.#db.open) this.#db.pragma('wal_autocheckpoint = 1000');
      });
    }

    const cols = SESSION_COLUMNS.join(', ');
    const params = SESSION_COLUMNS.map((c) => `@${c}`).join(', ');
    // Only the columns a session's life changes: SQLite rewrites every index whose columns are SET.
    const sets = (columns: readonly string[]) => columns.map((c) => `${c} = @${c}`).join(', ');
    const db = this.#db;
    this.#stmt = {
      loadSessions: db.prepare(`SELECT * FROM sessions WHERE id IN (SELECT value FROM json_each(?))`),
      getSession: db.prepare('SELECT * FROM sessions WHERE id = ?'),
      insertSession: db.prepare(`INSERT INTO sessions (${cols}) VALUES (${params})`),
      importSession: db.prepare(`INSERT INTO sessions (${cols}) VALUES (${params}) ON CONFLICT DO NOTHING`),
      updateSession: db.prepare(`UPDATE sessions SET ${sets(MUTABLE_SESSION_COLUMNS)} WHERE id = @id`),
      updateActivity: db.prepare(`UPDATE sessions SET ${sets(ACTIVITY_COLUMNS)} WHERE id = @id`),
      insertEvent: db.prepare(
        `INSERT INTO events (project_id, session_id, event_id, type, name, ts, received_at, page, resource_id, details)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      events: db.prepare('SELECT * FROM events WHERE session_id = ? ORDER BY ts, seq'),
      countLive: db.prepare(`SELECT count(*) AS n FROM sessions WHERE status <> 'ended' AND expires_at > ?`),
      countLiveIn: db.prepare(
        `SELECT count(*) AS n FROM sessions WHERE status <> 'ended' AND expires_at > ? AND project_id = ?`,
      ),
      sweep: db.prepare(
        `UPDATE sessions SET status = 'ended', ended_at = last_activity_at, expires_at = last_activity_at,
           disconnected_at = NULL, exit_reason = 'timeout'
         WHERE status <> 'ended' AND expires_at <= ? RETURNING project_id, started_at`,
      ),
      markDirty: db.prepare(
        `INSERT INTO rollup_dirty (project_id, utc_day, marked_at) VALUES (?, ?, ?)
         ON CONFLICT (project_id, utc_day) DO UPDATE SET marked_at = max(marked_at, excluded.marked_at)`,
      ),
      insertProject: db.prepare(
        `INSERT INTO projects (id, name, write_key, allowed_origins, time_zone, idle_timeout_ms, absolute_timeout_ms,
           retention_days, rate_limit_per_minute, created_at, bounce_seconds, bounce_max_actions)
         VALUES (@id, @name, @write_key, @allowed_origins, @time_zone, @idle_timeout_ms, @absolute_timeout_ms,
           @retention_days, @rate_limit_per_minute, @created_at, @bounce_seconds, @bounce_max_actions)`,
      ),
      listProjects: db.prepare('SELECT * FROM projects ORDER BY created_at, id'),
      ping: db.prepare('SELECT 1'),
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
    };
    this.#commitTx = db.transaction((ops: readonly WriteOp[], now: number) => this.#applyBatch(ops, now));
  }

  async commit(ops: readonly WriteOp[], now: number): Promise<WriteResult[]> {
    return this.commitSync(ops, now);
  }

  /**
   * The synchronous core of `commit`, one transaction (exposed for benchmarks). Every write
   * transaction here is BEGIN IMMEDIATE: another process may write the same file (an MCP server's
   * embedded sink beside `sessiontrack serve`), and a deferred transaction that reads and then
   * writes fails at once with SQLITE_BUSY when that process committed in between, while an
   * immediate one waits for the write lock (busy_timeout).
   */
  commitSync(ops: readonly WriteOp[], now: number): WriteResult[] {
    try {
      const outcome = this.#commitTx.immediate(ops, now);
      for (const session of outcome.inserts) this.#remember(session);
      for (const session of outcome.updates) this.#remember(session);
      this.#marks.committed(outcome.marks, outcome.wall);
      return outcome.results;
    } catch (err) {
      this.#cache.clear();
      // Still locked after busy_timeout: nothing was written, and a retry may succeed.
      if (isBusy(err))
        throw new StorageUnavailableError('the SQLite database is locked by another process', { cause: err });
      throw err;
    }
  }

  #applyBatch(ops: readonly WriteOp[], now: number): BatchOutcome & { marks: DirtyMark[]; wall: number } {
    const s = this.#stmt;
    const loaded = this.#loadSessions(sessionIdsOf(ops));
    const plan = planBatch(ops, loaded, now);
    const inserted = plan.rows.map((e: EventRow) => {
      const info = s.insertEvent.run(
        e.projectId,
        e.sessionId,
        e.id,
        e.type,
        e.name,
        e.ts,
        e.receivedAt,
        e.page,
        e.resourceId,
        e.details ? JSON.stringify(e.details) : null,
      );
      return info.changes === 1;
    });
    const outcome = finishBatch(plan, inserted);
    for (const session of outcome.inserts) s.insertSession.run(sessionToRow(session));
    for (const session of outcome.updates) {
      // Most updates are activity only, and that statement touches no index at all.
      const before = loaded.get(session.id);
      const lifecycleChanged =
        !before ||
        before.userId !== session.userId ||
        before.status !== session.status ||
        before.endedAt !== session.endedAt ||
        before.disconnectedAt !== session.disconnectedAt ||
        before.recoveryAttempts !== session.recoveryAttempts;
      if (lifecycleChanged) s.updateSession.run(pick(session, MUTABLE_SESSION_COLUMNS));
      else s.updateActivity.run(pick(session, ACTIVITY_COLUMNS));
    }
    // Rollup days this batch touched (usually none new: see rollup-marks.ts).
    const wall = Date.now();
    const marks = this.#marks.pending([...outcome.inserts, ...outcome.updates], wall);
    for (const m of marks) s.markDirty.run(m.projectId, m.utcDay, wall);
    return { ...outcome, marks, wall };
  }

  /**
   * Sessions of a batch: from the write-through cache when nothing else has written the file
   * since (PRAGMA data_version moves only on other connections' commits), else from the table.
   * Loading the touched sessions was the largest cost of a small batch.
   */
  #loadSessions(ids: string[]): Map<string, Session> {
    const version = this.#stmt.dataVersion.get() as number;
    if (version !== this.#dataVersion) {
      this.#cache.clear();
      this.#dataVersion = version;
    }
    const loaded = new Map<string, Session>();
    const missing: string[] = [];
    for (const id of ids) {
      const hit = this.#cache.get(id);
      if (hit) loaded.set(id, hit);
      else missing.push(id);
    }
    if (missing.length > 0) {
      for (const r of this.#stmt.loadSessions.all(JSON.stringify(missing)) as Row[]) {
        const session = rowToSession(r);
        loaded.set(session.id, session);
        this.#remember(session);
      }
    }
    return loaded;
  }

  #remember(session: Session): void {
    // Map order is insertion order: re-inserting moves a session to the young end.
    this.#cache.delete(session.id);
    this.#cache.set(session.id, session);
    if (this.#cache.size > SESSION_CACHE_SIZE) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
  }

  async getSession(id: string): Promise<Session | null> {
    const r = this.#stmt.getSession.get(id) as Row | undefined;
    return r ? rowToSession(r) : null;
  }

  async getEvents(sessionId: string): Promise<StoredEvent[]> {
    return (this.#stmt.events.all(sessionId) as Row[]).map(rowToEvent);
  }

  async listSessions(q: SessionQuery, now: number): Promise<SessionPage> {
    const where = ['project_id = @projectId'];
    const p: Record<string, string | number> = { projectId: q.projectId, now, limit: q.limit + 1 };
    if (q.from !== undefined) {
      where.push('started_at >= @from');
      p.from = q.from;
    }
    if (q.to !== undefined) {
      where.push('started_at < @to');
      p.to = q.to;
    }
    if (q.userId !== undefined) {
      where.push('user_id = @userId');
      p.userId = q.userId;
    }
    if (q.kind !== undefined) {
      where.push('kind = @kind');
      p.kind = q.kind;
    }
    if (q.status !== undefined) where.push(statusCondition(q.status, '@now'));
    if (q.cursor !== undefined) {
      const c = decodeCursor(q.cursor);
      if (!c) throw new RangeError('cursor: malformed');
      where.push('(started_at < @cStarted OR (started_at = @cStarted AND id < @cId))');
      p.cStarted = c.startedAt;
      p.cId = c.id;
    }
    const rows = this.#db
      .prepare(`SELECT * FROM sessions WHERE ${where.join(' AND ')} ORDER BY started_at DESC, id DESC LIMIT @limit`)
      .all(p) as Row[];
    const sessions = rows.slice(0, q.limit).map(rowToSession);
    const last = sessions.at(-1);
    return { sessions, nextCursor: rows.length > q.limit && last ? encodeCursor(last) : null };
  }

  async countLive(projectId: string | null, now: number): Promise<number> {
    const r = (projectId ? this.#stmt.countLiveIn.get(now, projectId) : this.#stmt.countLive.get(now)) as { n: number };
    return r.n;
  }

  async sweepExpired(now: number): Promise<number> {
    this.#cache.clear();
    const ended = this.#stmt.sweep.all(now) as { project_id: string; started_at: number }[];
    await this.markRollupDirty(ended.map((r) => ({ projectId: r.project_id, startedAt: r.started_at })));
    return ended.length;
  }

  async cleanup(projectId: string | null, before: number, chunk = CHUNK): Promise<CleanupResult> {
    const scope = `last_activity_at < @before AND (status = 'ended' OR expires_at <= @before)${
      projectId ? ' AND project_id = @projectId' : ''
    }`;
    const p = projectId ? { before, projectId } : { before };
    return this.#deleteSessions(`SELECT id FROM sessions WHERE ${scope} LIMIT ${chunk}`, p, chunk);
  }

  /**
   * Deletes the sessions a query selects (at most `chunk` per round) with their events, one short
   * transaction per round, so that ingest (the same single writer) waits for one chunk at most.
   */
  async #deleteSessions(select: string, params: Record<string, unknown>, chunk: number): Promise<CleanupResult> {
    const pick = this.#db.prepare(select).pluck();
    const delEvents = this.#db.prepare('DELETE FROM events WHERE session_id IN (SELECT value FROM json_each(?))');
    const delSessions = this.#db.prepare('DELETE FROM sessions WHERE id IN (SELECT value FROM json_each(?))');
    const delState = this.#db.prepare('DELETE FROM agent_state WHERE session_id IN (SELECT value FROM json_each(?))');
    const round = this.#db.transaction(() => {
      const ids = JSON.stringify(pick.all(params));
      delState.run(ids);
      return { events: delEvents.run(ids).changes, sessions: delSessions.run(ids).changes };
    });
    const total: CleanupResult = { deletedSessions: 0, deletedEvents: 0 };
    this.#cache.clear();
    for (;;) {
      const r = round.immediate();
      total.deletedSessions += r.sessions;
      total.deletedEvents += r.events;
      if (r.sessions < chunk) return total;
      // Let queued requests (and their commits) run between chunks.
      await new Promise((ok) => setImmediate(ok));
    }
  }

  async eraseUser(projectId: string, userId: string): Promise<CleanupResult> {
    const r = await this.#deleteSessions(
      `SELECT id FROM sessions WHERE project_id = @projectId AND user_id = @userId LIMIT ${CHUNK}`,
      { projectId, userId },
      CHUNK,
    );
    this.#db.prepare('DELETE FROM rollup_users WHERE project_id = ? AND user_key = ?').run(projectId, `u:${userId}`);
    this.#rolledUsers.clear();
    return r;
  }

  async analyticsRows(
    projectId: string,
    from: number,
    to: number,
    withEvents: boolean,
  ): Promise<{ sessions: Session[]; events: AnalyticsEvent[] }> {
    const sessions = (
      this.#db
        .prepare('SELECT * FROM sessions WHERE project_id = ? AND started_at >= ? AND started_at < ?')
        .all(projectId, from, to) as Row[]
    ).map(rowToSession);
    if (!withEvents) return { sessions, events: [] };
    const rows = this.#db
      .prepare(
        `SELECT session_id, type, name, details FROM events
         WHERE session_id IN (SELECT id FROM sessions WHERE project_id = ? AND started_at >= ? AND started_at < ?)
           AND type IN (SELECT value FROM json_each(?))
         ORDER BY ts, seq`,
      )
      .all(projectId, from, to, JSON.stringify(ANALYTICS_EVENT_TYPES)) as Row[];
    return { sessions, events: rows.map(rowToAnalyticsEvent) };
  }

  async liveDay(q: LiveDayQuery): Promise<LiveDay> {
    return liveDay(q, async (sql, params) => this.#db.prepare(sql).all(...params) as Row[], namedSqlite, 'char(9)');
  }

  async markRollupDirty(marks: readonly RollupMark[]): Promise<void> {
    if (marks.length === 0) return;
    const wall = Date.now();
    this.#db
      .transaction(() => {
        for (const m of marks) this.#stmt.markDirty.run(m.projectId, Math.floor(m.startedAt / 86_400_000), wall);
      })
      .immediate();
  }

  async rollupDirty(projectId: string): Promise<{ utcDay: number; markedAt: number }[]> {
    this.#marks.clear();
    return (
      this.#db
        .prepare('SELECT utc_day, marked_at FROM rollup_dirty WHERE project_id = ? ORDER BY utc_day')
        .all(projectId) as { utc_day: number; marked_at: number }[]
    ).map((r) => ({ utcDay: r.utc_day, markedAt: r.marked_at }));
  }

  async readRollups(
    projectId: string,
    fromDate: string,
    toDate: string,
    dims: readonly CountDim[],
  ): Promise<StoredRollup[]> {
    const days = this.#db
      .prepare('SELECT * FROM rollup_days WHERE project_id = ? AND day >= ? AND day <= ? ORDER BY day')
      .all(projectId, fromDate, toDate) as Row[];
    const out = days.map(rowToStoredRollup);
    if (dims.length === 0 || out.length === 0) return out;
    const byDay = new Map(out.map((r) => [r.rollup.date, r.rollup]));
    const rows = this.#db
      .prepare(
        `SELECT dim, day, value, n FROM rollup_counts
         WHERE project_id = ? AND dim IN (SELECT value FROM json_each(?)) AND day >= ? AND day <= ?`,
      )
      .all(projectId, JSON.stringify(dims), fromDate, toDate) as {
      dim: CountDim;
      day: string;
      value: string;
      n: number;
    }[];
    for (const r of rows) {
      const day = byDay.get(r.day);
      if (!day) continue;
      const counts = day.counts[r.dim] ?? {};
      day.counts[r.dim] = counts;
      counts[r.value] = r.n;
    }
    return out;
  }

  async sumRollupCounts(projectId: string, dates: readonly string[], dim: CountDim): Promise<Counts> {
    if (dates.length === 0) return {};
    const rows = this.#db
      .prepare(
        `SELECT value, sum(n) AS n FROM rollup_counts
         WHERE project_id = ? AND dim = ? AND day IN (SELECT value FROM json_each(?)) GROUP BY value`,
      )
      .all(projectId, dim, JSON.stringify(dates)) as { value: string; n: number }[];
    const out: Counts = {};
    for (const r of rows) out[r.value] = r.n;
    return out;
  }

  async countRollupUsers(
    projectId: string,
    dates: readonly string[],
    extra: readonly string[],
    version: number,
  ): Promise<number> {
    const base = await this.#rolledUsers.of(
      projectId,
      dates,
      version,
      () =>
        (
          this.#db
            .prepare(
              `SELECT count(DISTINCT user_key) AS n FROM rollup_users
               WHERE project_id = ? AND day IN (SELECT value FROM json_each(?))`,
            )
            .get(projectId, JSON.stringify(dates)) as { n: number }
        ).n,
    );
    if (extra.length === 0) return base;
    // Live users not among the rolled days' users (one index probe each).
    const r = this.#db
      .prepare(
        `SELECT count(*) AS n FROM json_each(?) k WHERE NOT EXISTS (
           SELECT 1 FROM rollup_users r WHERE r.project_id = ? AND r.user_key = k.value
             AND r.day IN (SELECT value FROM json_each(?)))`,
      )
      .get(JSON.stringify(extra), projectId, JSON.stringify(dates)) as { n: number };
    return base + r.n;
  }

  async writeRollup(projectId: string, r: DayRollup, computedAt: number): Promise<void> {
    const db = this.#db;
    db.transaction(() => {
      db.prepare('DELETE FROM rollup_counts WHERE project_id = ? AND day = ?').run(projectId, r.date);
      db.prepare('DELETE FROM rollup_users WHERE project_id = ? AND day = ?').run(projectId, r.date);
      db.prepare(
        `INSERT OR REPLACE INTO rollup_days (${ROLLUP_DAY_COLUMNS.join(', ')})
         VALUES (${ROLLUP_DAY_COLUMNS.map(() => '?').join(', ')})`,
      ).run(rollupDayValues(projectId, r, computedAt));
      const count = db.prepare('INSERT INTO rollup_counts (project_id, dim, day, value, n) VALUES (?, ?, ?, ?, ?)');
      for (const [dim, value, n] of rollupCountRows(r)) count.run(projectId, dim, r.date, value, n);
      const user = db.prepare('INSERT INTO rollup_users (project_id, day, user_key) VALUES (?, ?, ?)');
      for (const u of r.users) user.run(projectId, r.date, u);
    }).immediate();
  }

  async deleteEventsBefore(before: number, projectId?: string): Promise<number> {
    // No index on received_at here: it would cost every insert, and an hourly retention scan is
    // cheap next to that on a single-machine database.
    return projectId
      ? this.#db.prepare('DELETE FROM events WHERE received_at < ? AND project_id = ?').run(before, projectId).changes
      : this.#db.prepare('DELETE FROM events WHERE received_at < ?').run(before).changes;
  }

  async runExclusive(_job: string, fn: () => Promise<void>): Promise<boolean> {
    await fn();
    return true;
  }

  async importSessions(items: readonly ImportedSession[]): Promise<ImportResult> {
    const s = this.#stmt;
    return this.#db
      .transaction(() => {
        const result: ImportResult = { sessions: 0, skippedSessions: 0, events: 0 };
        const stored: Session[] = [];
        for (const { session, events } of items) {
          if (s.importSession.run(sessionToRow(session)).changes === 0) {
            result.skippedSessions++;
            continue;
          }
          result.sessions++;
          stored.push(session);
          for (const e of events) {
            const details = e.details ? JSON.stringify(e.details) : null;
            const p = [session.projectId, session.id, e.id, e.type, e.name, e.ts, e.ts, e.page, e.resourceId, details];
            result.events += s.insertEvent.run(...p).changes;
          }
        }
        // Past days changed: the rollup job must recompute them (in this transaction, so an import
        // that committed is never missed).
        const wall = Date.now();
        for (const m of new RecentMarks(0).pending(stored, wall)) s.markDirty.run(m.projectId, m.utcDay, wall);
        return result;
      })
      .immediate();
  }

  async createProject(project: Project): Promise<Project> {
    this.#stmt.insertProject.run(projectToRow(project));
    return project;
  }

  async listProjects(): Promise<Project[]> {
    return (this.#stmt.listProjects.all() as Row[]).map(rowToProject);
  }

  async ping(): Promise<void> {
    this.#stmt.ping.get();
  }

  async getAgentState(sessionId: string, agentId: string, key: string, now: number): Promise<AgentStateEntry | null> {
    const r = this.#db
      .prepare(
        `SELECT * FROM agent_state WHERE session_id = ? AND agent_id = ? AND key = ?
           AND (expires_at IS NULL OR expires_at > ?)`,
      )
      .get(sessionId, agentId, key, now) as Row | undefined;
    return r ? rowToAgentState(r, JSON.parse(r.value as string)) : null;
  }

  async setAgentState(e: AgentStateEntry): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO agent_state (project_id, session_id, agent_id, key, value, expires_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (session_id, agent_id, key) DO UPDATE SET
           project_id = excluded.project_id, value = excluded.value, expires_at = excluded.expires_at,
           updated_at = excluded.updated_at`,
      )
      .run(e.projectId, e.sessionId, e.agentId, e.key, JSON.stringify(e.value), e.expiresAt, e.updatedAt);
  }

  async deleteAgentState(sessionId: string, agentId: string, key?: string): Promise<number> {
    return key === undefined
      ? this.#db.prepare('DELETE FROM agent_state WHERE session_id = ? AND agent_id = ?').run(sessionId, agentId)
          .changes
      : this.#db
          .prepare('DELETE FROM agent_state WHERE session_id = ? AND agent_id = ? AND key = ?')
          .run(sessionId, agentId, key).changes;
  }

  async purgeAgentState(now: number): Promise<number> {
    return this.#db
      .prepare(
        `DELETE FROM agent_state WHERE (expires_at IS NOT NULL AND expires_at <= ?)
           OR NOT EXISTS (SELECT 1 FROM sessions WHERE sessions.id = agent_state.session_id)`,
      )
      .run(now).changes;
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
/** Sessions deleted per transaction by cleanup and erase. */
const CHUNK = 2_000;

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
] as const satisfies readonly (typeof MUTABLE_SESSION_COLUMNS)[number][];

function pick(
  s: Session,
  columns: readonly (typeof SESSION_COLUMNS)[number][],
): Record<string, string | number | null> {
  const row = sessionToRow(s);
  const out: Record<string, string | number | null> = { id: row.id };
  for (const c of columns) out[c] = row[c];
  return out;
}

const isBusy = (err: unknown): boolean => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
};

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
