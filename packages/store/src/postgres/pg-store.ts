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
import { finishBatch, planBatch, sessionIdsOf } from '../batch.js';
import { type LiveDay, type LiveDayQuery, liveDay, namedPg, RolledUserCounts } from '../live-sql.js';
import { RecentMarks } from '../rollup-marks.js';
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
  type SessionRow,
  sessionToRow,
  statusCondition,
} from '../rows.js';
import type { Migration } from '../sqlite/sqlite-migrations.js';
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
import type { PgDriver, PgQueryable } from './pg-driver.js';
import { PG_MIGRATIONS } from './pg-migrations.js';

type Row = Record<string, unknown>;

/** Advisory-lock keys: one for migrations, one per background job (hashed from its name). */
const MIGRATION_LOCK = 7_150_001;

/**
 * The shared backend: any number of server processes on one PostgreSQL. A batch is one
 * transaction that locks the sessions it touches (in id order, so two instances never deadlock),
 * inserts all its events with one statement and writes each touched session once.
 * Nothing is cached between batches: another instance may have changed any session.
 */
export class PostgresStore implements Store {
  readonly backend: string;
  /**
   * Batches committed at once per process. Sessions are locked in id order, so concurrent batches
   * touching the same sessions queue on the row locks instead of deadlocking. Leaves most of the
   * default pool of 10 for reads.
   */
  readonly concurrentWriters = 4;
  readonly #db: PgDriver;
  readonly #marks = new RecentMarks();
  readonly #rolledUsers = new RolledUserCounts();

  private constructor(db: PgDriver, backend: string) {
    this.#db = db;
    this.backend = backend;
  }

  /** Opens the store and applies pending migrations under a lock (instances may start together). */
  static async open(db: PgDriver, backend = 'postgres'): Promise<PostgresStore> {
    await migrate(db, PG_MIGRATIONS);
    return new PostgresStore(db, backend);
  }

  async commit(ops: readonly WriteOp[], now: number): Promise<WriteResult[]> {
    const wall = Date.now();
    let marks: ReturnType<RecentMarks['pending']> = [];
    const results = await this.#db.transaction(async (tx) => {
      const ids = sessionIdsOf(ops).sort();
      const loaded = new Map<string, Session>();
      const { rows: found } = await tx.query<Row>(
        'SELECT * FROM sessions WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE',
        [ids],
      );
      for (const r of found) {
        const s = rowToSession(r);
        loaded.set(s.id, s);
      }
      const plan = planBatch(ops, loaded, now);
      const inserted = await insertEvents(tx, plan.rows);
      const outcome = finishBatch(plan, inserted);
      if (outcome.inserts.length > 0) {
        // A plain insert: a session id another instance took meanwhile fails the batch, and the
        // write buffer's one-by-one retry then answers that operation 409.
        await tx.query(`INSERT INTO sessions SELECT * FROM jsonb_populate_recordset(NULL::sessions, $1::jsonb)`, [
          JSON.stringify(outcome.inserts.map(pgRow)),
        ]);
      }
      if (outcome.updates.length > 0) {
        await tx.query(
          `UPDATE sessions s SET ${MUTABLE_SESSION_COLUMNS.map((c) => `${c} = r.${c}`).join(', ')}
           FROM jsonb_populate_recordset(NULL::sessions, $1::jsonb) r WHERE s.id = r.id`,
          [JSON.stringify(outcome.updates.map(pgRow))],
        );
      }
      // Rollup days this batch touched; mostly none new (rollup-marks.ts), so the row lock this
      // upsert takes is held by one batch a minute per day, not by every batch.
      marks = this.#marks.pending([...outcome.inserts, ...outcome.updates], wall);
      if (marks.length > 0) {
        await tx.query(
          `INSERT INTO rollup_dirty (project_id, utc_day, marked_at) SELECT p, d, $3 FROM unnest($1::text[], $2::bigint[]) AS m(p, d)
           ON CONFLICT (project_id, utc_day) DO UPDATE SET marked_at = GREATEST(rollup_dirty.marked_at, excluded.marked_at)`,
          [marks.map((m) => m.projectId), marks.map((m) => m.utcDay), wall],
        );
      }
      return outcome.results;
    });
    this.#marks.committed(marks, wall);
    return results;
  }

  async getSession(id: string): Promise<Session | null> {
    const { rows } = await this.#db.query<Row>('SELECT * FROM sessions WHERE id = $1', [id]);
    return rows[0] ? rowToSession(rows[0]) : null;
  }

  async getEvents(sessionId: string): Promise<StoredEvent[]> {
    const { rows } = await this.#db.query<Row>('SELECT * FROM events WHERE session_id = $1 ORDER BY ts, seq', [
      sessionId,
    ]);
    return rows.map(rowToEvent);
  }

  async listSessions(q: SessionQuery, now: number): Promise<SessionPage> {
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    const where = [`project_id = ${p(q.projectId)}`];
    if (q.from !== undefined) where.push(`started_at >= ${p(q.from)}`);
    if (q.to !== undefined) where.push(`started_at < ${p(q.to)}`);
    if (q.userId !== undefined) where.push(`user_id = ${p(q.userId)}`);
    if (q.kind !== undefined) where.push(`kind = ${p(q.kind)}`);
    if (q.status !== undefined) where.push(statusCondition(q.status, p(now)));
    if (q.cursor !== undefined) {
      const c = decodeCursor(q.cursor);
      if (!c) throw new RangeError('cursor: malformed');
      where.push(`(started_at, id) < (${p(c.startedAt)}, ${p(c.id)})`);
    }
    const { rows } = await this.#db.query<Row>(
      `SELECT * FROM sessions WHERE ${where.join(' AND ')} ORDER BY started_at DESC, id DESC LIMIT ${p(q.limit + 1)}`,
      params,
    );
    const sessions = rows.slice(0, q.limit).map(rowToSession);
    const last = sessions.at(-1);
    return { sessions, nextCursor: rows.length > q.limit && last ? encodeCursor(last) : null };
  }

  async countLive(projectId: string | null, now: number): Promise<number> {
    const { rows } = projectId
      ? await this.#db.query<{ n: string }>(
          `SELECT count(*) AS n FROM sessions WHERE status <> 'ended' AND expires_at > $1 AND project_id = $2`,
          [now, projectId],
        )
      : await this.#db.query<{ n: string }>(
          `SELECT count(*) AS n FROM sessions WHERE status <> 'ended' AND expires_at > $1`,
          [now],
        );
    return Number(rows[0]?.n ?? 0);
  }

  async sweepExpired(now: number): Promise<number> {
    const { rows } = await this.#db.query<{ project_id: string; started_at: string }>(
      `UPDATE sessions SET status = 'ended', ended_at = last_activity_at, expires_at = last_activity_at,
         disconnected_at = NULL, exit_reason = 'timeout'
       WHERE status <> 'ended' AND expires_at <= $1 RETURNING project_id, started_at`,
      [now],
    );
    await this.markRollupDirty(rows.map((r) => ({ projectId: r.project_id, startedAt: Number(r.started_at) })));
    return rows.length;
  }

  async cleanup(projectId: string | null, before: number, chunk = CHUNK): Promise<CleanupResult> {
    const scope = `last_activity_at < $1 AND (status = 'ended' OR expires_at <= $1)${projectId ? ' AND project_id = $3' : ''}`;
    return this.#deleteSessions(
      `SELECT id FROM sessions WHERE ${scope} LIMIT $2`,
      projectId ? [before, chunk, projectId] : [before, chunk],
      chunk,
    );
  }

  /** Deletes the sessions a query selects, `chunk` per transaction, with their events. */
  async #deleteSessions(select: string, params: unknown[], chunk: number): Promise<CleanupResult> {
    const total: CleanupResult = { deletedSessions: 0, deletedEvents: 0 };
    for (;;) {
      const r = await this.#db.transaction(async (tx) => {
        const { rows } = await tx.query<{ id: string }>(
          `DELETE FROM sessions WHERE id IN (${select} FOR UPDATE) RETURNING id`,
          params,
        );
        const ids = rows.map((x) => x.id);
        const events = ids.length
          ? await tx.query('DELETE FROM events WHERE session_id = ANY($1::text[])', [ids])
          : { rowCount: 0 };
        if (ids.length) await tx.query('DELETE FROM agent_state WHERE session_id = ANY($1::text[])', [ids]);
        return { sessions: ids.length, events: events.rowCount };
      });
      total.deletedSessions += r.sessions;
      total.deletedEvents += r.events;
      if (r.sessions < chunk) return total;
    }
  }

  async eraseUser(projectId: string, userId: string): Promise<CleanupResult> {
    const r = await this.#deleteSessions(
      'SELECT id FROM sessions WHERE project_id = $1 AND user_id = $2 LIMIT $3',
      [projectId, userId, CHUNK],
      CHUNK,
    );
    await this.#db.query('DELETE FROM rollup_users WHERE project_id = $1 AND user_key = $2', [
      projectId,
      `u:${userId}`,
    ]);
    this.#rolledUsers.clear();
    return r;
  }

  async analyticsRows(
    projectId: string,
    from: number,
    to: number,
    withEvents: boolean,
  ): Promise<{ sessions: Session[]; events: AnalyticsEvent[] }> {
    const { rows } = await this.#db.query<Row>(
      'SELECT * FROM sessions WHERE project_id = $1 AND started_at >= $2 AND started_at < $3',
      [projectId, from, to],
    );
    const sessions = rows.map(rowToSession);
    if (!withEvents) return { sessions, events: [] };
    const { rows: events } = await this.#db.query<Row>(
      `SELECT session_id, type, name, details FROM events
       WHERE session_id = ANY($1::text[]) AND type = ANY($2::text[]) ORDER BY ts, seq`,
      [sessions.map((s) => s.id), ANALYTICS_EVENT_TYPES],
    );
    return { sessions, events: events.map(rowToAnalyticsEvent) };
  }

  async liveDay(q: LiveDayQuery): Promise<LiveDay> {
    return liveDay(q, async (sql, params) => (await this.#db.query<Row>(sql, params)).rows, namedPg, 'chr(9)');
  }

  async markRollupDirty(marks: readonly RollupMark[]): Promise<void> {
    if (marks.length === 0) return;
    const days = new Map<string, { p: string; d: number }>();
    for (const m of marks) {
      const d = Math.floor(m.startedAt / 86_400_000);
      days.set(`${m.projectId}\u0000${d}`, { p: m.projectId, d });
    }
    const list = [...days.values()].sort((a, b) => (a.p < b.p ? -1 : a.p > b.p ? 1 : a.d - b.d));
    await this.#db.query(
      `INSERT INTO rollup_dirty (project_id, utc_day, marked_at) SELECT p, d, $3 FROM unnest($1::text[], $2::bigint[]) AS m(p, d)
       ON CONFLICT (project_id, utc_day) DO UPDATE SET marked_at = GREATEST(rollup_dirty.marked_at, excluded.marked_at)`,
      [list.map((x) => x.p), list.map((x) => x.d), Date.now()],
    );
  }

  async rollupDirty(projectId: string): Promise<{ utcDay: number; markedAt: number }[]> {
    this.#marks.clear();
    const { rows } = await this.#db.query<{ utc_day: string; marked_at: string }>(
      'SELECT utc_day, marked_at FROM rollup_dirty WHERE project_id = $1 ORDER BY utc_day',
      [projectId],
    );
    return rows.map((r) => ({ utcDay: Number(r.utc_day), markedAt: Number(r.marked_at) }));
  }

  async readRollups(
    projectId: string,
    fromDate: string,
    toDate: string,
    dims: readonly CountDim[],
  ): Promise<StoredRollup[]> {
    const { rows } = await this.#db.query<Row>(
      'SELECT * FROM rollup_days WHERE project_id = $1 AND day >= $2 AND day <= $3 ORDER BY day',
      [projectId, fromDate, toDate],
    );
    const out = rows.map(rowToStoredRollup);
    if (dims.length === 0 || out.length === 0) return out;
    const byDay = new Map(out.map((r) => [r.rollup.date, r.rollup]));
    const { rows: counts } = await this.#db.query<{ dim: CountDim; day: string; value: string; n: string }>(
      `SELECT dim, day, value, n FROM rollup_counts
       WHERE project_id = $1 AND dim = ANY($2::text[]) AND day >= $3 AND day <= $4`,
      [projectId, dims, fromDate, toDate],
    );
    for (const r of counts) {
      const day = byDay.get(r.day);
      if (!day) continue;
      const c = day.counts[r.dim] ?? {};
      day.counts[r.dim] = c;
      c[r.value] = Number(r.n);
    }
    return out;
  }

  async sumRollupCounts(projectId: string, dates: readonly string[], dim: CountDim): Promise<Counts> {
    if (dates.length === 0) return {};
    const { rows } = await this.#db.query<{ value: string; n: string }>(
      `SELECT value, sum(n) AS n FROM rollup_counts
       WHERE project_id = $1 AND dim = $2 AND day = ANY($3::text[]) GROUP BY value`,
      [projectId, dim, dates],
    );
    const out: Counts = {};
    for (const r of rows) out[r.value] = Number(r.n);
    return out;
  }

  async countRollupUsers(
    projectId: string,
    dates: readonly string[],
    extra: readonly string[],
    version: number,
  ): Promise<number> {
    const sorted = [...dates].sort();
    const first = sorted[0] ?? '';
    const last = sorted[sorted.length - 1] ?? '';
    const base = await this.#rolledUsers.of(projectId, dates, version, async () => {
      // A date range, not `= ANY(dates)`: user rows exist only for rolled days, and `dates` are all
      // the rolled days between its first and last, so the range selects the same rows — as one
      // index range scan.
      const { rows } = await this.#db.query<{ n: string }>(
        'SELECT count(DISTINCT user_key) AS n FROM rollup_users WHERE project_id = $1 AND day >= $2 AND day <= $3',
        [projectId, first, last],
      );
      return Number(rows[0]?.n ?? 0);
    });
    if (extra.length === 0) return base;
    // Live users not among the rolled days' users (one index probe each).
    const { rows } = await this.#db.query<{ n: string }>(
      // A scalar subquery per key (one index-only probe each): as NOT EXISTS the planner may pick a
      // hash anti-join that reads every user row of the range (180 ms at 500,000 rows, measured).
      `SELECT count(*) AS n FROM unnest($2::text[]) AS k(v) WHERE (
         SELECT 1 FROM rollup_users r
         WHERE r.project_id = $1 AND r.user_key = k.v AND r.day >= $3 AND r.day <= $4 LIMIT 1) IS NULL`,
      [projectId, extra, first, last],
    );
    return base + Number(rows[0]?.n ?? 0);
  }

  async writeRollup(projectId: string, r: DayRollup, computedAt: number): Promise<void> {
    const counts = rollupCountRows(r);
    await this.#db.transaction(async (tx) => {
      await tx.query('DELETE FROM rollup_counts WHERE project_id = $1 AND day = $2', [projectId, r.date]);
      await tx.query('DELETE FROM rollup_users WHERE project_id = $1 AND day = $2', [projectId, r.date]);
      await tx.query(
        `INSERT INTO rollup_days (${ROLLUP_DAY_COLUMNS.join(', ')})
         VALUES (${ROLLUP_DAY_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
         ON CONFLICT (project_id, day) DO UPDATE SET ${ROLLUP_DAY_COLUMNS.slice(2)
           .map((c) => `${c} = excluded.${c}`)
           .join(', ')}`,
        rollupDayValues(projectId, r, computedAt),
      );
      await tx.query(
        `INSERT INTO rollup_counts (project_id, dim, day, value, n)
         SELECT $1, d, $2, v, n FROM unnest($3::text[], $4::text[], $5::bigint[]) AS c(d, v, n)`,
        [projectId, r.date, counts.map((c) => c[0]), counts.map((c) => c[1]), counts.map((c) => c[2])],
      );
      await tx.query('INSERT INTO rollup_users (project_id, day, user_key) SELECT $1, $2, unnest($3::text[])', [
        projectId,
        r.date,
        r.users,
      ]);
    });
  }

  async deleteEventsBefore(before: number, projectId?: string, batchSize = 50_000): Promise<number> {
    // In slices, so a retention run never holds one huge transaction (or blocks ingest) for long.
    let total = 0;
    for (;;) {
      const { rowCount } = await this.#db.query(
        `DELETE FROM events WHERE ctid = ANY(ARRAY(
           SELECT ctid FROM events WHERE received_at < $1 ${projectId ? 'AND project_id = $3' : ''} LIMIT $2))`,
        projectId ? [before, batchSize, projectId] : [before, batchSize],
      );
      total += rowCount;
      if (rowCount < batchSize) return total;
    }
  }

  async runExclusive(job: string, fn: () => Promise<void>): Promise<boolean> {
    return this.#db.withConnection(async (conn) => {
      const { rows } = await conn.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [
        `sessiontrack:${job}`,
      ]);
      if (!rows[0]?.locked) return false;
      try {
        await fn();
      } finally {
        await conn.query('SELECT pg_advisory_unlock(hashtext($1))', [`sessiontrack:${job}`]);
      }
      return true;
    });
  }

  async importSessions(items: readonly ImportedSession[]): Promise<ImportResult> {
    if (items.length === 0) return { sessions: 0, skippedSessions: 0, events: 0 };
    return this.#db.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO sessions SELECT * FROM jsonb_populate_recordset(NULL::sessions, $1::jsonb)
         ON CONFLICT (id) DO NOTHING RETURNING id`,
        [JSON.stringify(items.map((i) => pgRow(i.session)))],
      );
      const fresh = new Set(rows.map((r) => r.id));
      const events = items
        .filter((i) => fresh.has(i.session.id))
        .flatMap(({ session, events }) =>
          events.map((e) => ({ ...e, projectId: session.projectId, sessionId: session.id, receivedAt: e.ts })),
        );
      const inserted = await insertEvents(tx, events);
      // Past days changed: the rollup job must recompute them (in this transaction, so an import
      // that committed is never missed). Sorted, as every writer of these rows locks them.
      const marks = new RecentMarks(0).pending(
        items.filter((i) => fresh.has(i.session.id)).map((i) => i.session),
        Date.now(),
      );
      if (marks.length > 0) {
        await tx.query(
          `INSERT INTO rollup_dirty (project_id, utc_day, marked_at) SELECT p, d, $3 FROM unnest($1::text[], $2::bigint[]) AS m(p, d)
           ON CONFLICT (project_id, utc_day) DO UPDATE SET marked_at = GREATEST(rollup_dirty.marked_at, excluded.marked_at)`,
          [marks.map((m) => m.projectId), marks.map((m) => m.utcDay), Date.now()],
        );
      }
      return {
        sessions: fresh.size,
        skippedSessions: items.length - fresh.size,
        events: inserted.filter(Boolean).length,
      };
    });
  }

  async createProject(project: Project): Promise<Project> {
    const row = projectToRow(project);
    const cols = Object.keys(row);
    await this.#db.query(
      `INSERT INTO projects (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`,
      Object.values(row),
    );
    return project;
  }

  async listProjects(): Promise<Project[]> {
    const { rows } = await this.#db.query<Row>('SELECT * FROM projects ORDER BY created_at, id');
    return rows.map(rowToProject);
  }

  async ping(): Promise<void> {
    await this.#db.query('SELECT 1');
  }

  async getAgentState(sessionId: string, agentId: string, key: string, now: number): Promise<AgentStateEntry | null> {
    const { rows } = await this.#db.query<Row>(
      `SELECT * FROM agent_state WHERE session_id = $1 AND agent_id = $2 AND key = $3
         AND (expires_at IS NULL OR expires_at > $4)`,
      [sessionId, agentId, key, now],
    );
    const r = rows[0];
    return r ? rowToAgentState(r, r.value) : null;
  }

  async setAgentState(e: AgentStateEntry): Promise<void> {
    await this.#db.query(
      `INSERT INTO agent_state (project_id, session_id, agent_id, key, value, expires_at, updated_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
       ON CONFLICT (session_id, agent_id, key) DO UPDATE SET
         project_id = excluded.project_id, value = excluded.value, expires_at = excluded.expires_at,
         updated_at = excluded.updated_at`,
      [e.projectId, e.sessionId, e.agentId, e.key, JSON.stringify(e.value), e.expiresAt, e.updatedAt],
    );
  }

  async deleteAgentState(sessionId: string, agentId: string, key?: string): Promise<number> {
    const { rowCount } =
      key === undefined
        ? await this.#db.query('DELETE FROM agent_state WHERE session_id = $1 AND agent_id = $2', [sessionId, agentId])
        : await this.#db.query('DELETE FROM agent_state WHERE session_id = $1 AND agent_id = $2 AND key = $3', [
            sessionId,
            agentId,
            key,
          ]);
    return rowCount;
  }

  async purgeAgentState(now: number): Promise<number> {
    const { rowCount } = await this.#db.query(
      `DELETE FROM agent_state WHERE (expires_at IS NOT NULL AND expires_at <= $1)
         OR NOT EXISTS (SELECT 1 FROM sessions WHERE sessions.id = agent_state.session_id)`,
      [now],
    );
    return rowCount;
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}

/** Sessions deleted per transaction by cleanup and erase. */
const CHUNK = 2_000;

/** A row for jsonb_populate_recordset: metadata as JSON, not as a JSON string. */
function pgRow(s: Session): Omit<SessionRow, 'metadata'> & { metadata: Record<string, unknown> | null } {
  return { ...sessionToRow(s), metadata: s.metadata };
}

/**
 * All events of a batch in one INSERT (unnest of column arrays: one statement, no parameter limit).
 * Returns, per row, whether it was new; a second copy of an id inside the same batch is a duplicate.
 */
async function insertEvents(tx: PgQueryable, rows: ReturnType<typeof planBatch>['rows']): Promise<boolean[]> {
  if (rows.length === 0) return [];
  const { rows: added } = await tx.query<{ session_id: string; event_id: string }>(
    `INSERT INTO events (project_id, session_id, event_id, type, name, ts, received_at, page, resource_id, details)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
                          $8::text[], $9::text[], $10::jsonb[])
     ON CONFLICT DO NOTHING RETURNING session_id, event_id`,
    [
      rows.map((e) => e.projectId),
      rows.map((e) => e.sessionId),
      rows.map((e) => e.id),
      rows.map((e) => e.type),
      rows.map((e) => e.name),
      rows.map((e) => e.ts),
      rows.map((e) => e.receivedAt),
      rows.map((e) => e.page),
      rows.map((e) => e.resourceId),
      rows.map((e) => (e.details ? JSON.stringify(e.details) : null)),
    ],
  );
  const fresh = new Set(added.map((r) => `${r.session_id}\u0000${r.event_id}`));
  return rows.map((e) => fresh.delete(`${e.sessionId}\u0000${e.id}`));
}

/** Applies pending migrations while holding an advisory lock: concurrent starters wait, then skip. */
async function migrate(db: PgDriver, migrations: readonly Migration[]): Promise<void> {
  await db.withConnection(async (conn) => {
    await conn.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await conn.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
      const { rows } = await conn.query<{ version: number }>('SELECT version FROM schema_migrations');
      const applied = new Set(rows.map((r) => Number(r.version)));
      for (const m of migrations) {
        if (applied.has(m.version)) continue;
        await conn.query('BEGIN');
        try {
          await conn.query(m.sql);
          await conn.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            Date.now(),
          ]);
          await conn.query('COMMIT');
        } catch (err) {
          await conn.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }
    } finally {
      await conn.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  });
}
