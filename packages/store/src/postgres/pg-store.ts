import type { Project, Session, StoredEvent } from '@sessiontrack/core';
import { finishBatch, planBatch, sessionIdsOf } from '../batch.js';
import {
  MUTABLE_SESSION_COLUMNS,
  projectToRow,
  rowToAgentState,
  rowToEvent,
  rowToProject,
  rowToSession,
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
  type SessionPage,
  type SessionQuery,
  type Store,
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
    return this.#db.transaction(async (tx) => {
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
      return outcome.results;
    });
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
    const { rowCount } = await this.#db.query(
      `UPDATE sessions SET status = 'ended', ended_at = last_activity_at, expires_at = last_activity_at,
         disconnected_at = NULL, exit_reason = 'timeout'
       WHERE status <> 'ended' AND expires_at <= $1`,
      [now],
    );
    return rowCount;
  }

  async cleanup(projectId: string | null, before: number): Promise<CleanupResult> {
    return this.#db.transaction(async (tx) => {
      const scope = `last_activity_at < $1 AND (status = 'ended' OR expires_at <= $1)${
        projectId ? ' AND project_id = $2' : ''
      }`;
      const params = projectId ? [before, projectId] : [before];
      const { rows } = await tx.query<{ id: string }>(`DELETE FROM sessions WHERE ${scope} RETURNING id`, params);
      const ids = rows.map((r) => r.id);
      const events = ids.length
        ? await tx.query('DELETE FROM events WHERE session_id = ANY($1::text[])', [ids])
        : { rowCount: 0 };
      return { deletedSessions: ids.length, deletedEvents: events.rowCount };
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

  async deleteAgentStateOfSessions(sessionIds: readonly string[]): Promise<number> {
    if (sessionIds.length === 0) return 0;
    const { rowCount } = await this.#db.query('DELETE FROM agent_state WHERE session_id = ANY($1::text[])', [
      [...sessionIds],
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
