import type {
  AnalyticsEvent,
  CountDim,
  Counts,
  DayRollup,
  EndReason,
  ImportedSession,
  NewEvent,
  Project,
  Session,
  SessionKind,
  SessionStatus,
  StoredEvent,
} from '@sessiontrack/core';
import type { LiveDay, LiveDayQuery } from './live-sql.js';

// The interface every backend implements, in ports (below). Writes arrive as batches of operations
// (the server's group commit); each batch is one transaction and every operation gets its own result.

export type WriteOp =
  | { op: 'start'; session: Session }
  | { op: 'events'; projectId: string; sessionId: string; events: NewEvent[] }
  | { op: 'heartbeat'; projectId: string; sessionId: string; page: string | null; engagedMs?: number | undefined }
  | {
      op: 'end';
      projectId: string;
      sessionId: string;
      reason: EndReason;
      page: string | null;
      lastAction: string | null;
    }
  /** Transport closed without an explicit end (MCP): the session may be recovered within its grace. */
  | { op: 'disconnect'; projectId: string; sessionId: string }
  | {
      op: 'track';
      projectId: string;
      /** The session the client believes it is in; null for a first call. */
      sessionId: string | null;
      /** Used only when the old session cannot be continued. */
      newSession: Session;
      events: NewEvent[];
      end: EndReason | null;
      /** The client's engaged-time total so far, if it reports one. */
      engagedMs?: number | undefined;
    };

export type WriteError = 'not_found' | 'session_ended' | 'conflict';

export type WriteResult =
  | { ok: true; session: Session; accepted: number; duplicates: number; rotated: boolean }
  | { ok: false; error: WriteError };

export interface SessionQuery {
  projectId: string;
  /** Started at or after (epoch ms). */
  from?: number | undefined;
  /** Started before (epoch ms). */
  to?: number | undefined;
  userId?: string | undefined;
  /** Effective status at `now`; `live` = active or disconnected and not expired. */
  status?: SessionStatus | 'live' | undefined;
  kind?: SessionKind | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface SessionPage {
  sessions: Session[];
  nextCursor: string | null;
}

export interface CleanupResult {
  deletedSessions: number;
  deletedEvents: number;
}

export interface ImportResult {
  /** Sessions stored by this call. */
  sessions: number;
  /** Sessions skipped because their id was already stored (a re-import), with their events. */
  skippedSessions: number;
  /** Events stored with the new sessions. */
  events: number;
}

/** A session (re)written outside `commit`, whose start day's rollup must be recomputed. */
export interface RollupMark {
  projectId: string;
  startedAt: number;
}

/** A stored day rollup (its `users` are not loaded: see `countRollupUsers`). */
export interface StoredRollup {
  rollup: DayRollup;
  /** Wall-clock time the rollup job started computing it. */
  computedAt: number;
}

// The Store, split into ports by role: each caller depends on the part it uses (the MCP embedded
// sink on writes, reads and agent state; the rollup job on aggregates; …). `Store` is all of them,
// and every backend implements all of them (sql/sql-store.ts).

/** Which backend answers, whether it answers, and letting go of it. */
export interface StoreHandle {
  /** Which implementation answers, for logs and test output. */
  readonly backend: string;
  /** Throws when storage does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Sessions and their events written: ingest's batches and the admin import. */
export interface SessionWriteStore {
  /** How many `commit` transactions may run at once (SQLite: 1 writer; PostgreSQL: several). */
  readonly concurrentWriters: number;
  /** One transaction for the whole batch; results in the order of `ops`. */
  commit(ops: readonly WriteOp[], now: number): Promise<WriteResult[]>;
  /**
   * Admin import of whole sessions with past times (demo data, migrations): one transaction.
   * Idempotent by session id: a session whose id is stored already is skipped with its events;
   * event ids are unique per session as on ingest. Events are kept as received at their own time.
   */
  importSessions(items: readonly ImportedSession[]): Promise<ImportResult>;
}

/** Sessions and events read back. */
export interface SessionReadStore {
  getSession(id: string): Promise<Session | null>;
  /** Oldest first. */
  getEvents(sessionId: string): Promise<StoredEvent[]>;
  listSessions(query: SessionQuery, now: number): Promise<SessionPage>;
  countLive(projectId: string | null, now: number): Promise<number>;
}

/** Analytics (issue #6): raw rows for the definitions of core's analytics.ts, live days and rollups. */
export interface AggregateStore {
  /** Sessions that started in [from, to), and (withEvents) their events of ANALYTICS_EVENT_TYPES. */
  analyticsRows(
    projectId: string,
    from: number,
    to: number,
    withEvents: boolean,
  ): Promise<{ sessions: Session[]; events: AnalyticsEvent[] }>;
  /** A day (or any span) without a rollup, aggregated in SQL: see live-sql.ts. */
  liveDay(q: LiveDayQuery): Promise<LiveDay>;
  /**
   * Marks the start days of these sessions for the rollup job. `commit` and `sweepExpired` do it
   * themselves; anything else that writes sessions (an import of past data) must call it.
   */
  markRollupDirty(marks: readonly RollupMark[]): Promise<void>;
  /** Dirty marks of a project: UTC day (epoch ms / 1 day) and the wall-clock time of the last mark. */
  rollupDirty(projectId: string): Promise<{ utcDay: number; markedAt: number }[]>;
  /** Stored rollups of the dates [fromDate, toDate], with per-day counts of `dims` only. */
  readRollups(projectId: string, fromDate: string, toDate: string, dims: readonly CountDim[]): Promise<StoredRollup[]>;
  /** One dimension's counts summed over the stored rollups of `dates`. */
  sumRollupCounts(projectId: string, dates: readonly string[], dim: CountDim): Promise<Counts>;
  /**
   * Distinct user keys of the stored rollups of `dates` together with `extra` (distinct keys).
   * `dates` are all the stored rollups between the first and the last of them (as `loadRange`
   * passes them). `version` (the newest computedAt of those rollups) lets the store cache the
   * rolled part.
   */
  countRollupUsers(
    projectId: string,
    dates: readonly string[],
    extra: readonly string[],
    version: number,
  ): Promise<number>;
  /** Replaces one day's rollup (idempotent). */
  writeRollup(projectId: string, rollup: DayRollup, computedAt: number): Promise<void>;
}

export interface ProjectStore {
  createProject(project: Project): Promise<Project>;
  listProjects(): Promise<Project[]>;
}

/**
 * MCP agent state (issue #5): JSON values per (session, agent, key). Expired entries are
 * invisible to reads at `now` and removed by `purgeAgentState`.
 */
export interface AgentStateStore {
  getAgentState(sessionId: string, agentId: string, key: string, now: number): Promise<AgentStateEntry | null>;
  /** Inserts or replaces the entry of (sessionId, agentId, key). */
  setAgentState(entry: AgentStateEntry): Promise<void>;
  /** Deletes one key, or every key of the agent in the session when `key` is omitted; returns how many. */
  deleteAgentState(sessionId: string, agentId: string, key?: string): Promise<number>;
  /** Deletes entries expired at `now` and those whose session no longer exists; returns how many. */
  purgeAgentState(now: number): Promise<number>;
}

/** The background jobs' and the admin's bulk work: expiry, retention, erasure, job locks. */
export interface MaintenanceStore {
  /** Writes the timeout end of every session past its expiry; returns how many. */
  sweepExpired(now: number): Promise<number>;
  /** Deletes sessions (with their events and agent state) whose last activity is before `before`. */
  cleanup(projectId: string | null, before: number): Promise<CleanupResult>;
  /** Bulk-deletes raw events received before `before` (retention; sessions and rollups stay). */
  deleteEventsBefore(before: number, projectId?: string): Promise<number>;
  /**
   * Runs a background job only if no other process runs it now (several instances share one
   * PostgreSQL; SQLite has a single server and always runs it). Returns whether it ran.
   */
  runExclusive(job: string, fn: () => Promise<void>): Promise<boolean>;
  /**
   * Erases a user: their sessions, events and agent state, and their key from the rollups' user lists (the
   * rollups' counts stay). Chunked like cleanup.
   */
  eraseUser(projectId: string, userId: string): Promise<CleanupResult>;
}

/** Everything a backend implements: the sum of the ports. */
export type Store = StoreHandle &
  SessionWriteStore &
  SessionReadStore &
  AggregateStore &
  ProjectStore &
  AgentStateStore &
  MaintenanceStore;

export interface AgentStateEntry {
  projectId: string;
  sessionId: string;
  agentId: string;
  key: string;
  /** Any JSON value. */
  value: unknown;
  /** Epoch ms; null = kept as long as the session. */
  expiresAt: number | null;
  updatedAt: number;
}

/** Keyset cursor over (startedAt, id), newest first. Opaque to clients. */
export function encodeCursor(s: Pick<Session, 'startedAt' | 'id'>): string {
  return Buffer.from(JSON.stringify([s.startedAt, s.id])).toString('base64url');
}

export function decodeCursor(cursor: string): { startedAt: number; id: string } | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'string') {
      return { startedAt: v[0], id: v[1] };
    }
  } catch {
    // fall through: a malformed cursor is answered as a validation error by the caller
  }
  return null;
}

/**
 * Storage did not answer (connection refused or lost, timeout, database shutting down). Nothing
 * of the failed call was written; the server answers 503 and the client retries.
 */
export class StorageUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageUnavailableError';
  }
}
