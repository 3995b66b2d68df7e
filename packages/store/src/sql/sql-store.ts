import {
  ANALYTICS_EVENT_TYPES,
  type AnalyticsEvent,
  analyticsOptions,
  type CountDim,
  type Counts,
  type ImportedSession,
  type Project,
  type ProjectChanges,
  type ProjectShare,
  type Session,
  type SessionKind,
  type StoredEvent,
  type UserActivity,
  type UserDay,
} from '@sessiontrack/core';
import { type EventRow, keyOf, sessionKey } from '../batch.js';
import { type DirtyMark, dirtyMarks } from '../rollup-marks.js';
import {
  EVENT_COLUMNS,
  eventValues,
  projectToRow,
  rowToAgentState,
  rowToAnalyticsEvent,
  rowToEvent,
  rowToProject,
  rowToSession,
  rowToShare,
  SESSION_COLUMNS,
  sessionColumnType,
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
  type Store,
  type StoredRollup,
  type WriteOp,
  type WriteResult,
} from '../store.js';
import {
  addImported,
  dayCountsSql,
  forgetUser,
  ProjectOptions,
  readDaysSql,
  rebuildDayProgram,
  runAsync,
  type SqlProgram,
  type StoredSession,
  storedSession,
  subtractSessions,
  sumCountsSql,
  sweepRound,
  totalsOf,
  userLinksSql,
  usersOf,
} from './aggregates-sql.js';
import type { SqlDialect } from './dialect.js';
import type { SqlDriver, SqlQueryable } from './driver.js';
import {
  type Compiled,
  compile,
  greatest,
  inList,
  inPairs,
  join,
  json,
  raw,
  rows,
  type Sql,
  sql,
  values,
} from './sql.js';
import { newUserDaysProgram, userActivityOf, userActivitySql } from './users-sql.js';

type Row = Record<string, unknown>;

/** Sessions deleted per transaction by cleanup and erase. */
const CHUNK = 2_000;
/** Sessions the sweeper ends per transaction. */
const SWEEP_ROUND = 1_000;
const DAY_MS = 86_400_000;

const NONE = raw('');

/**
 * Per-project tables besides sessions and their events and agent state (deleted in chunks): what
 * deleting a project removes. A migration adding a project_id table adds it here too.
 */
const PROJECT_DATA_TABLES = [
  'rollup_user_prev',
  'rollup_kind_user_prev',
  'rollup_days',
  'rollup_counts',
  'rollup_users',
  'rollup_kind_users',
  'rollup_dirty',
];

/**
 * Every Store method whose SQL is the same in each dialect, written once over a driver and a
 * dialect (sql/dialect.ts). A backend (sqlite/, postgres/) adds only what truly differs: how a
 * batch commits and locks, `runExclusive`, bulk deletes of raw events, its migrations and its
 * driver — and overrides nothing else.
 */
export abstract class SqlStore implements Store {
  abstract readonly backend: string;
  abstract readonly concurrentWriters: number;
  protected readonly db: SqlDriver;
  protected readonly dialect: SqlDialect;
  /** Projects' zones and bounce thresholds, for the aggregates every writer maintains. */
  protected readonly projectOptions = new ProjectOptions();

  constructor(db: SqlDriver, dialect: SqlDialect) {
    this.db = db;
    this.dialect = dialect;
  }

  abstract commit(ops: readonly WriteOp[], now: number): Promise<WriteResult[]>;
  abstract runExclusive(job: string, fn: () => Promise<void>): Promise<boolean>;
  abstract close(): Promise<void>;

  /** Sessions were changed or deleted outside `commit`: a backend that caches them forgets them. */
  protected sessionsChanged(): void {}

  protected compile(q: Sql): Compiled {
    return compile(q, this.dialect);
  }

  protected async all<R = Row>(q: Sql, on: SqlQueryable = this.db): Promise<R[]> {
    const { text, params } = this.compile(q);
    return (await on.query<R>(text, params)).rows;
  }

  /** Runs a program of statements (sql/aggregates-sql.ts) on `on`. */
  protected program<T>(p: SqlProgram<T>, on: SqlQueryable = this.db): Promise<T> {
    return runAsync(p, (q) => this.all(q, on));
  }

  /** Runs a statement; answers how many rows it changed. */
  protected async run(q: Sql, on: SqlQueryable = this.db): Promise<number> {
    const { text, params } = this.compile(q);
    return (await on.query(text, params)).rowCount;
  }

  // ---- shared statements of the write paths ----

  /**
   * Inserts sessions in one statement, with their facets (by sessionKey; absent: none); answers
   * the keys stored (with `skipExisting`, the new ones).
   */
  protected async insertSessions(
    tx: SqlQueryable,
    sessions: readonly Session[],
    skipExisting: boolean,
    facets: ReadonlyMap<string, string | null> = new Map(),
  ) {
    const list = sessions.map((s) => {
      const row = sessionToRow(s);
      return [...SESSION_COLUMNS.map((c) => row[c]), facets.get(keyOf(s)) ?? null];
    });
    const types = [...SESSION_COLUMNS.map((c) => [c, sessionColumnType(c)] as const), ['facets', 'text'] as const];
    return this.all<{ id: string; project_id: string }>(
      sql`INSERT INTO sessions (${raw(SESSION_COLUMNS.join(', '))}, facets)
        SELECT * FROM ${rows('s', types, list)} WHERE true
        ${skipExisting ? raw('ON CONFLICT DO NOTHING') : NONE} RETURNING id, project_id`,
      tx,
    );
  }

  /**
   * All events of a batch in one INSERT. Answers, per row, whether it was new; a second copy of an
   * id inside the same batch is a duplicate.
   */
  protected async insertEvents(tx: SqlQueryable, list: readonly EventRow[]): Promise<boolean[]> {
    if (list.length === 0) return [];
    const added = await this.all<{ project_id: string; session_id: string; event_id: string }>(
      sql`INSERT INTO events (${raw(EVENT_COLUMNS.map(([c]) => c).join(', '))})
        SELECT * FROM ${rows('e', EVENT_COLUMNS, list.map(eventValues))} WHERE true
        ON CONFLICT DO NOTHING RETURNING project_id, session_id, event_id`,
      tx,
    );
    const fresh = new Set(added.map((r) => `${sessionKey(r.project_id, r.session_id)}\u0000${r.event_id}`));
    return list.map((e) => fresh.delete(`${sessionKey(e.projectId, e.sessionId)}\u0000${e.id}`));
  }

  // ---- sessions and events ----

  async getSession(projectId: string, id: string): Promise<Session | null> {
    const [r] = await this.all(sql`SELECT * FROM sessions WHERE id = ${id} AND project_id = ${projectId}`);
    return r ? rowToSession(r) : null;
  }

  async sessionsById(id: string): Promise<Session[]> {
    // The key leads with the id: one probe, whatever the number of projects.
    return (await this.all(sql`SELECT * FROM sessions WHERE id = ${id} ORDER BY project_id`)).map(rowToSession);
  }

  async getEvents(projectId: string, sessionId: string): Promise<StoredEvent[]> {
    return (
      await this.all(
        sql`SELECT * FROM events WHERE session_id = ${sessionId} AND project_id = ${projectId} ORDER BY ts, seq`,
      )
    ).map(rowToEvent);
  }

  async listSessions(q: SessionQuery, now: number): Promise<SessionPage> {
    const where = [sql`project_id = ${q.projectId}`];
    if (q.from !== undefined) where.push(sql`started_at >= ${q.from}`);
    if (q.to !== undefined) where.push(sql`started_at < ${q.to}`);
    if (q.userId !== undefined) where.push(sql`user_id = ${q.userId}`);
    if (q.kind !== undefined) where.push(sql`kind = ${q.kind}`);
    if (q.status !== undefined) where.push(statusCondition(q.status, now));
    if (q.cursor !== undefined) {
      const c = decodeCursor(q.cursor);
      if (!c) throw new RangeError('cursor: malformed');
      // A row value: one index range in both dialects (the OR form scans twice and sorts).
      where.push(sql`(started_at, id) < (${c.startedAt}, ${c.id})`);
    }
    const found = await this.all(
      sql`SELECT * FROM sessions WHERE ${join(where, ' AND ')} ORDER BY started_at DESC, id DESC LIMIT ${q.limit + 1}`,
    );
    const sessions = found.slice(0, q.limit).map(rowToSession);
    const last = sessions.at(-1);
    return { sessions, nextCursor: found.length > q.limit && last ? encodeCursor(last) : null };
  }

  async countLive(projectId: string | null, now: number): Promise<number> {
    const [r] = await this.all<{ n: unknown }>(
      sql`SELECT count(*) AS n FROM sessions WHERE status <> 'ended' AND expires_at > ${now}${
        projectId ? sql` AND project_id = ${projectId}` : NONE
      }`,
    );
    return Number(r?.n ?? 0);
  }

  async importSessions(items: readonly ImportedSession[]): Promise<ImportResult> {
    if (items.length === 0) return { sessions: 0, skippedSessions: 0, events: 0 };
    return this.db.transaction(async (tx) => {
      const fresh = new Set(
        (
          await this.insertSessions(
            tx,
            items.map((i) => i.session),
            true,
          )
        ).map((r) => sessionKey(r.project_id, r.id)),
      );
      // The first item of an id is the one stored (a repeated id later in the list is skipped).
      const stored = items.filter((i) => fresh.delete(keyOf(i.session)));
      const inserted = await this.insertEvents(
        tx,
        stored.flatMap(({ session, events }) =>
          events.map((e) => ({ ...e, projectId: session.projectId, sessionId: session.id, receivedAt: e.ts })),
        ),
      );
      // Into the aggregates in this transaction, with the facets of the events that were new.
      const events = new Map<string, ImportedSession['events']>();
      let i = 0;
      for (const { session, events: list } of stored) {
        events.set(
          keyOf(session),
          list.filter(() => inserted[i++]),
        );
      }
      await this.program(
        addImported(
          this.projectOptions,
          stored.map((x) => x.session),
          events,
        ),
        tx,
      );
      return {
        sessions: stored.length,
        skippedSessions: items.length - stored.length,
        events: inserted.filter(Boolean).length,
      };
    });
  }

  // ---- maintenance ----

  /**
   * Ends expired sessions in rounds of SWEEP_ROUND, each one transaction that also folds their end
   * figures into the aggregates (sql/aggregates-sql.ts `sweepRound`).
   */
  async sweepExpired(now: number, projectId?: string): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.db.transaction((tx) =>
        this.program(sweepRound(this.projectOptions, now, SWEEP_ROUND, this.dialect.rowLocks, projectId), tx),
      );
      this.sessionsChanged();
      total += n;
      if (n < SWEEP_ROUND) return total;
    }
  }

  async cleanup(projectId: string | null, before: number, chunk = CHUNK): Promise<CleanupResult> {
    // Expired sessions not swept yet would leave without their end figures: end them first (at
    // `before` they had expired already). The aggregates keep everything else: counts stay.
    await this.sweepExpired(before, projectId ?? undefined);
    return this.#deleteSessions(
      sql`last_activity_at < ${before} AND (status = 'ended' OR expires_at <= ${before})${
        projectId ? sql` AND project_id = ${projectId}` : NONE
      }`,
      chunk,
    );
  }

  /**
   * Erases a user: their sessions leave the aggregates as they are deleted (so today and every
   * day whose raw rows remain count as if the user had never been), and their key leaves every
   * day's users, also days whose raw rows retention already deleted (those days keep the counts).
   */
  async eraseUser(projectId: string, userId: string): Promise<CleanupResult> {
    const r = await this.#deleteSessions(sql`project_id = ${projectId} AND user_id = ${userId}`, CHUNK, true);
    await this.db.transaction((tx) => this.program(forgetUser(this.projectOptions, projectId, `u:${userId}`), tx));
    return r;
  }

  /**
   * Deletes the sessions `scope` selects with their events and agent state, at most `chunk` per
   * transaction, so that ingest waits for one chunk at most (SQLite's one writer; PostgreSQL's
   * row locks, taken in the select).
   */
  async #deleteSessions(scope: Sql, chunk: number, fromAggregates = false): Promise<CleanupResult> {
    const total: CleanupResult = { deletedSessions: 0, deletedEvents: 0 };
    const lock = this.dialect.rowLocks ? raw(' FOR UPDATE') : NONE;
    for (;;) {
      const r = await this.db.transaction(async (tx) => {
        /** [id, projectId] of each session: another project's session of the same id stays. */
        let keys: [string, string][];
        if (fromAggregates) {
          const found: StoredSession[] = (
            await this.all(sql`SELECT * FROM sessions WHERE ${scope} LIMIT ${chunk}${lock}`, tx)
          ).map(storedSession);
          keys = found.map((x) => [x.session.id, x.session.projectId]);
          await this.program(subtractSessions(this.projectOptions, found), tx);
        } else {
          keys = (
            await this.all<{ id: string; project_id: string }>(
              sql`SELECT id, project_id FROM sessions WHERE ${scope} LIMIT ${chunk}${lock}`,
              tx,
            )
          ).map((x) => [x.id, x.project_id]);
        }
        if (keys.length === 0) return { sessions: 0, events: 0 };
        await this.run(sql`DELETE FROM agent_state WHERE ${inPairs('session_id', 'project_id', keys)}`, tx);
        const events = await this.run(sql`DELETE FROM events WHERE ${inPairs('session_id', 'project_id', keys)}`, tx);
        return {
          sessions: await this.run(sql`DELETE FROM sessions WHERE ${inPairs('id', 'project_id', keys)}`, tx),
          events,
        };
      });
      // After every round: commits that ran between rounds may have cached what this one deleted.
      this.sessionsChanged();
      total.deletedSessions += r.sessions;
      total.deletedEvents += r.events;
      if (r.sessions < chunk) return total;
      // Let queued requests (and their commits) run between chunks.
      await new Promise((ok) => setImmediate(ok));
    }
  }

  /**
   * Bulk-deletes raw events (retention) in one statement. SQLite keeps no index on received_at:
   * it would cost every insert, and an hourly scan is cheap next to that on a single-machine
   * database. PostgreSQL deletes in slices instead (pg-store.ts).
   */
  async deleteEventsBefore(before: number, projectId?: string): Promise<number> {
    return this.run(
      sql`DELETE FROM events WHERE received_at < ${before}${projectId ? sql` AND project_id = ${projectId}` : NONE}`,
    );
  }

  // ---- analytics: raw rows and the maintained aggregates (sql/aggregates-sql.ts) ----

  async analyticsRows(
    projectId: string,
    from: number,
    to: number,
    withEvents: boolean,
  ): Promise<{ sessions: Session[]; events: AnalyticsEvent[] }> {
    const sessions = (
      await this.all(
        sql`SELECT * FROM sessions WHERE project_id = ${projectId} AND started_at >= ${from} AND started_at < ${to}`,
      )
    ).map(rowToSession);
    if (!withEvents) return { sessions, events: [] };
    const events = await this.all(
      sql`SELECT session_id, type, name, page, details FROM events
        WHERE ${inList(
          'session_id',
          sessions.map((s) => s.id),
        )} AND project_id = ${projectId} AND ${inList('type', ANALYTICS_EVENT_TYPES)}
        ORDER BY seq`,
    );
    return { sessions, events: events.map(rowToAnalyticsEvent) };
  }

  async markRollupDirty(marks: readonly RollupMark[]): Promise<void> {
    if (marks.length === 0) return;
    const wall = Date.now();
    // Deduplicated and sorted: writers lock these rows in one order and never deadlock on them.
    await this.run(this.#markDirty(dirtyMarks(marks), wall));
  }

  /**
   * The UTC days from the project's oldest raw session to tomorrow, with a day's margin on each
   * side: every local day a zone change can move rows into or out of.
   */
  async #rawDays(projectId: string, tx: SqlQueryable): Promise<DirtyMark[]> {
    const [r] = await this.all<{ t: unknown }>(
      sql`SELECT min(started_at) AS t FROM sessions WHERE project_id = ${projectId}`,
      tx,
    );
    if (r?.t === null || r?.t === undefined) return [];
    const marks: DirtyMark[] = [];
    const last = Math.floor(Date.now() / DAY_MS) + 1;
    for (let d = Math.floor(Number(r.t) / DAY_MS) - 1; d <= last; d++) marks.push({ projectId, utcDay: d });
    return marks;
  }

  /** The rollup_dirty upsert: a mark only ever moves forward in time. */
  #markDirty(marks: readonly DirtyMark[], wall: number): Sql {
    const list = marks.map((m) => [m.projectId, m.utcDay]);
    // `WHERE true`: SQLite would read ON CONFLICT after a bare FROM as a join constraint.
    return sql`INSERT INTO rollup_dirty (project_id, utc_day, marked_at)
      SELECT p, d, ${wall} FROM ${rows(
        'm',
        [
          ['p', 'text'],
          ['d', 'bigint'],
        ],
        list,
      )} WHERE true
      ON CONFLICT (project_id, utc_day) DO UPDATE SET marked_at = ${greatest('rollup_dirty.marked_at', 'excluded.marked_at')}`;
  }
  async rollupDirty(projectId: string): Promise<{ utcDay: number; markedAt: number }[]> {
    const found = await this.all<{ utc_day: unknown; marked_at: unknown }>(
      sql`SELECT utc_day, marked_at FROM rollup_dirty WHERE project_id = ${projectId} ORDER BY utc_day`,
    );
    return found.map((r) => ({ utcDay: Number(r.utc_day), markedAt: Number(r.marked_at) }));
  }

  async clearRollupDirty(projectId: string, marks: readonly { utcDay: number; markedAt: number }[]): Promise<void> {
    // Only marks not renewed since they were read: a newer one still asks for a rebuild.
    for (const m of marks) {
      await this.run(
        sql`DELETE FROM rollup_dirty WHERE project_id = ${projectId} AND utc_day = ${m.utcDay} AND marked_at <= ${m.markedAt}`,
      );
    }
  }

  async readRollups(
    projectId: string,
    fromDate: string,
    toDate: string,
    dims: readonly CountDim[],
    kind?: SessionKind,
  ): Promise<StoredRollup[]> {
    const [days, counts] = await Promise.all([
      this.all(readDaysSql(projectId, fromDate, toDate, kind)),
      dims.length > 0 ? this.all(dayCountsSql(projectId, fromDate, toDate, dims, kind)) : [],
    ]);
    const out = days.map(
      (r): StoredRollup => ({
        computedAt: Number(r.computed_at),
        rollup: { date: String(r.day), ...totalsOf(r), uniqueUsers: 0, users: [], counts: {} },
      }),
    );
    const byDay = new Map(out.map((r) => [r.rollup.date, r.rollup]));
    for (const r of counts) {
      const day = byDay.get(String(r.day));
      if (!day) continue;
      const dim = r.dim as CountDim;
      const c = day.counts[dim] ?? {};
      day.counts[dim] = c;
      c[String(r.value)] = Number(r.n);
    }
    return out;
  }

  async sumRollupCounts(
    projectId: string,
    fromDate: string,
    toDate: string,
    dim: CountDim,
    kind?: SessionKind,
  ): Promise<Counts> {
    const out: Counts = {};
    for (const r of await this.all(sumCountsSql(projectId, fromDate, toDate, dim, kind)))
      out[String(r.value)] = Number(r.n);
    return out;
  }

  async uniqueUsers(
    projectId: string,
    fromDate: string,
    toDate: string,
    kind?: SessionKind,
  ): Promise<{ range: number; days: Record<string, number> }> {
    const u = usersOf(await this.all(userLinksSql(projectId, fromDate, toDate, kind)), fromDate);
    return { range: u.range, days: Object.fromEntries(u.days) };
  }

  async newUserDays(projectId: string, fromDate: string, toDate: string, kind?: SessionKind): Promise<UserDay[]> {
    return this.program(newUserDaysProgram(projectId, fromDate, toDate, kind));
  }

  async userActivity(projectId: string, from: number, to: number): Promise<UserActivity[]> {
    return userActivityOf(await this.all(userActivitySql(projectId, from, to)));
  }

  async rebuildDay(project: Project, date: string, computedAt: number): Promise<void> {
    await this.db.transaction((tx) =>
      this.program(rebuildDayProgram(this.projectOptions, project, date, computedAt), tx),
    );
  }

  // ---- projects ----

  /** Moves the projects' version stamp (in the transaction of the change it announces). */
  #bumpProjectsVersion(tx: SqlQueryable): Promise<number> {
    return this.run(sql`UPDATE projects_version SET version = version + 1 WHERE id = 1`, tx);
  }

  async createProject(project: Project): Promise<Project> {
    const row = projectToRow(project);
    await this.db.transaction(async (tx) => {
      await this.run(
        sql`INSERT INTO projects (${raw(Object.keys(row).join(', '))}) VALUES (${values(Object.values(row))})`,
        tx,
      );
      await this.#bumpProjectsVersion(tx);
    });
    return project;
  }

  async listProjects(): Promise<Project[]> {
    return (await this.all(sql`SELECT * FROM projects ORDER BY created_at, id`)).map(rowToProject);
  }

  async getProject(id: string): Promise<Project | null> {
    const [r] = await this.all(sql`SELECT * FROM projects WHERE id = ${id}`);
    return r ? rowToProject(r) : null;
  }

  async projectByWriteKey(key: string, now: number): Promise<Project | null> {
    // Two unique indexes, one probe each.
    const [r] = await this.all(
      sql`SELECT * FROM projects WHERE write_key = ${key}
        UNION ALL SELECT * FROM projects WHERE previous_write_key = ${key} AND previous_key_valid_until > ${now}`,
    );
    return r ? rowToProject(r) : null;
  }

  async updateProject(
    id: string,
    changes: ProjectChanges,
    key?: { writeKey: string; previousWriteKey: string; previousValidUntil: number },
  ): Promise<Project | null> {
    const row: Record<string, unknown> = {};
    const set = (column: string, v: unknown) => {
      if (v !== undefined) row[column] = v;
    };
    set('name', changes.name);
    set('allowed_origins', changes.allowedOrigins && JSON.stringify(changes.allowedOrigins));
    set('time_zone', changes.timeZone);
    set('idle_timeout_ms', changes.idleTimeoutMs);
    set('absolute_timeout_ms', changes.absoluteTimeoutMs);
    set('retention_days', changes.retentionDays);
    set('rate_limit_per_minute', changes.rateLimitPerMinute);
    set('bounce_seconds', changes.bounceSeconds);
    set('bounce_max_actions', changes.bounceMaxActions);
    if (key) {
      row.write_key = key.writeKey;
      row.previous_write_key = key.previousWriteKey;
      row.previous_key_valid_until = key.previousValidUntil;
    }
    return this.db.transaction(async (tx) => {
      const [was] = await this.all(sql`SELECT * FROM projects WHERE id = ${id}`, tx);
      if (!was) return null;
      const assignments = Object.entries(row).map(([c, v]) => sql`${raw(c)} = ${v}`);
      if (assignments.length === 0) return rowToProject(was);
      const [r] = await this.all(sql`UPDATE projects SET ${join(assignments, ', ')} WHERE id = ${id} RETURNING *`, tx);
      if (!r) return null;
      await this.#bumpProjectsVersion(tx);
      const before = analyticsOptions(rowToProject(was));
      const p = rowToProject(r);
      const after = analyticsOptions(p);
      if (
        before.timeZone !== after.timeZone ||
        before.bounceSeconds !== after.bounceSeconds ||
        before.bounceMaxActions !== after.bounceMaxActions
      ) {
        // The aggregates were counted by the old zone or rule: every day that still has raw rows
        // is marked for the rollup job to recount (docs/metrics.md). Writers on every instance
        // count by the new options from their next batch on (ProjectOptions.load).
        const marks = await this.#rawDays(id, tx);
        if (marks.length > 0) await this.run(this.#markDirty(marks, Date.now()), tx);
      }
      return p;
    });
  }

  async deleteProject(id: string): Promise<CleanupResult | null> {
    // The project row first: its keys and shares stop working at once (on other instances within
    // their cache's second), then its data goes in chunks, so ingest never waits for all of it. A
    // crash in between leaves sessions no key or route reaches; cleanup's inactivity rule removes them.
    const gone = await this.db.transaction(async (tx) => {
      const n = await this.run(sql`DELETE FROM projects WHERE id = ${id}`, tx);
      if (n === 0) return false;
      await this.run(sql`DELETE FROM project_shares WHERE project_id = ${id}`, tx);
      await this.#bumpProjectsVersion(tx);
      return true;
    });
    if (!gone) return null;
    const r = await this.#deleteSessions(sql`project_id = ${id}`, CHUNK);
    await this.db.transaction(async (tx) => {
      for (const table of PROJECT_DATA_TABLES) {
        await this.run(sql`DELETE FROM ${raw(table)} WHERE project_id = ${id}`, tx);
      }
    });
    return r;
  }

  async projectsVersion(): Promise<number> {
    const [r] = await this.all<{ version: unknown }>(sql`SELECT version FROM projects_version WHERE id = 1`);
    return Number(r?.version ?? 0);
  }

  async createShare(share: ProjectShare): Promise<ProjectShare> {
    await this.db.transaction(async (tx) => {
      await this.run(
        sql`INSERT INTO project_shares (id, project_id, label, token_hash, created_at)
          VALUES (${share.id}, ${share.projectId}, ${share.label}, ${share.tokenHash}, ${share.createdAt})`,
        tx,
      );
      await this.#bumpProjectsVersion(tx);
    });
    return share;
  }

  async listShares(projectId?: string): Promise<ProjectShare[]> {
    return (
      await this.all(
        sql`SELECT * FROM project_shares${projectId === undefined ? NONE : sql` WHERE project_id = ${projectId}`}
          ORDER BY created_at, id`,
      )
    ).map(rowToShare);
  }

  async deleteShare(projectId: string, shareId: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const n = await this.run(sql`DELETE FROM project_shares WHERE id = ${shareId} AND project_id = ${projectId}`, tx);
      if (n > 0) await this.#bumpProjectsVersion(tx);
      return n > 0;
    });
  }

  async ping(): Promise<void> {
    await this.db.query('SELECT 1');
  }

  // ---- MCP agent state ----

  async getAgentState(
    projectId: string,
    sessionId: string,
    agentId: string,
    key: string,
    now: number,
  ): Promise<AgentStateEntry | null> {
    const [r] = await this.all(
      sql`SELECT * FROM agent_state WHERE session_id = ${sessionId} AND project_id = ${projectId}
        AND agent_id = ${agentId} AND key = ${key} AND (expires_at IS NULL OR expires_at > ${now})`,
    );
    if (!r) return null;
    return rowToAgentState(r, this.dialect.decodesJson ? r.value : JSON.parse(String(r.value)));
  }

  async setAgentState(e: AgentStateEntry): Promise<void> {
    await this.run(
      sql`INSERT INTO agent_state (project_id, session_id, agent_id, key, value, expires_at, updated_at)
        VALUES (${e.projectId}, ${e.sessionId}, ${e.agentId}, ${e.key}, ${json(e.value)}, ${e.expiresAt}, ${e.updatedAt})
        ON CONFLICT (session_id, project_id, agent_id, key) DO UPDATE SET
          value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
    );
  }

  async deleteAgentState(projectId: string, sessionId: string, agentId: string, key?: string): Promise<number> {
    return this.run(
      sql`DELETE FROM agent_state WHERE session_id = ${sessionId} AND project_id = ${projectId} AND agent_id = ${agentId}${
        key === undefined ? NONE : sql` AND key = ${key}`
      }`,
    );
  }

  async purgeAgentState(now: number): Promise<number> {
    return this.run(
      sql`DELETE FROM agent_state WHERE (expires_at IS NOT NULL AND expires_at <= ${now})
        OR NOT EXISTS (SELECT 1 FROM sessions
          WHERE sessions.id = agent_state.session_id AND sessions.project_id = agent_state.project_id)`,
    );
  }
}
