import type {
  AnalyticsEvent,
  CountDim,
  Counts,
  DayRollup,
  EndReason,
  ImportedSession,
  NewEvent,
  Project,
  ProjectChanges,
  ProjectShare,
  Session,
  SessionKind,
  SessionStatus,
  StoredEvent,
  UserActivity,
  UserDay,
} from '@sessiontrack/core';

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

/** A session written by other means than the store's writers, whose start day must be rebuilt. */
export interface RollupMark {
  projectId: string;
  startedAt: number;
}

/** A day's maintained aggregates (its `users` are not loaded and `uniqueUsers` is 0: see `uniqueUsers`). */
export interface StoredRollup {
  rollup: DayRollup;
  /** Wall-clock time of the day's last rebuild (0: never rebuilt, maintained only). */
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
   * Idempotent by session: a session whose id its project has already is skipped with its events;
   * event ids are unique per session as on ingest. Events are kept as received at their own time.
   */
  importSessions(items: readonly ImportedSession[]): Promise<ImportResult>;
}

/** Sessions and events read back. */
/**
 * Session ids are unique per project, not across them (issue 14.10: another project's ids must look
 * absent, so a client may choose any id its own project has not used): every call by session id
 * names the project too, but `sessionsById`, the admin's look-up across projects.
 */
export interface SessionReadStore {
  getSession(projectId: string, id: string): Promise<Session | null>;
  /** Every project's session of this id (ordered by project id): the admin's read route. */
  sessionsById(id: string): Promise<Session[]>;
  /** Oldest first. */
  getEvents(projectId: string, sessionId: string): Promise<StoredEvent[]>;
  listSessions(query: SessionQuery, now: number): Promise<SessionPage>;
  countLive(projectId: string | null, now: number): Promise<number>;
  /**
   * The users overview's rows (core's usersOverviewOf): one per identified user with a session that
   * started in [from, to), with what the pattern label reads of its latest sessions. One query.
   */
  userActivity(projectId: string, from: number, to: number): Promise<UserActivity[]>;
}

/**
 * The maintained aggregates of the stats routes (docs/metrics.md, "When a number is final"), kept
 * up to date by every writer in the transaction that changes sessions (sql/aggregates-sql.ts), so
 * that each read below costs days × distinct values, never sessions or events, whether the day is
 * closed or today. Read through store/analytics.ts `loadRange`, or call these directly (a combined
 * endpoint may run several at once: each is one statement, and PostgreSQL serves them in parallel).
 */
export interface AggregateStore {
  // `kind`: the sessions of that kind only; omitted, all kinds (days of before migration 11 past
  // retention count only there: docs/metrics.md).
  /** Per-day totals of the dates [fromDate, toDate] that have any, with per-day counts of `dims` only. */
  readRollups(
    projectId: string,
    fromDate: string,
    toDate: string,
    dims: readonly CountDim[],
    kind?: SessionKind,
  ): Promise<StoredRollup[]>;
  /** One dimension's counts summed over the dates [fromDate, toDate] (values whose sum is 0 left out). */
  sumRollupCounts(
    projectId: string,
    fromDate: string,
    toDate: string,
    dim: CountDim,
    kind?: SessionKind,
  ): Promise<Counts>;
  /** Distinct users over the dates [fromDate, toDate], exactly, and per day (days without users left out). */
  uniqueUsers(
    projectId: string,
    fromDate: string,
    toDate: string,
    kind?: SessionKind,
  ): Promise<{ range: number; days: Record<string, number> }>;
  /**
   * Retention's input (core's retentionOf): the active days in [fromDate, toDate] of identified
   * users who had no session before fromDate (user = the userId). Cost: the range's user-days.
   * `kind`: sessions of that kind only (first ever = the first of that kind).
   */
  newUserDays(projectId: string, fromDate: string, toDate: string, kind?: SessionKind): Promise<UserDay[]>;
  /**
   * Recomputes one day's aggregates from its raw rows (one transaction; commits that change the day
   * wait for it). For days whose raw rows are complete: retention deletes raw rows and keeps the
   * aggregates, so a rebuild of such a day would lose counts (store/analytics.ts skips those).
   */
  rebuildDay(project: Project, date: string, computedAt: number): Promise<void>;
  /** Sessions that started in [from, to), and (withEvents) their events of ANALYTICS_EVENT_TYPES (raw rows). */
  analyticsRows(
    projectId: string,
    from: number,
    to: number,
    withEvents: boolean,
  ): Promise<{ sessions: Session[]; events: AnalyticsEvent[] }>;
  /**
   * Asks the rollup job to rebuild the start days of these sessions (rows written by other means
   * than the store's own writers). Commits, the sweeper, import and erase keep the aggregates
   * themselves and mark nothing.
   */
  markRollupDirty(marks: readonly RollupMark[]): Promise<void>;
  /** Days waiting for a rebuild: UTC day (epoch ms / 1 day) and the wall-clock time of the mark. */
  rollupDirty(projectId: string): Promise<{ utcDay: number; markedAt: number }[]>;
  /** Drops these marks (the ones `rollupDirty` answered) unless they were renewed since. */
  clearRollupDirty(projectId: string, marks: readonly { utcDay: number; markedAt: number }[]): Promise<void>;
}

/**
 * Projects and their share links. Every change moves `projectsVersion`, so that each instance
 * (several may share one PostgreSQL) can tell cheaply when its cache of them is stale.
 */
export interface ProjectStore {
  createProject(project: Project): Promise<Project>;
  listProjects(): Promise<Project[]>;
  getProject(id: string): Promise<Project | null>;
  /** The project whose write key is `key`, or whose previous key it is and still valid at `now`. */
  projectByWriteKey(key: string, now: number): Promise<Project | null>;
  /**
   * Applies `changes` (null: back to the default) and, with `key`, a new write key with the
   * previous one kept until `key.previousValidUntil`. Answers the project, null when unknown.
   */
  updateProject(
    id: string,
    changes: ProjectChanges,
    key?: { writeKey: string; previousWriteKey: string; previousValidUntil: number },
  ): Promise<Project | null>;
  /**
   * Deletes a project with its shares, sessions, events, agent state and rollups (sessions in
   * chunks, like cleanup). Null when unknown.
   */
  deleteProject(id: string): Promise<CleanupResult | null>;
  /** A number that changes with every change to projects or shares. */
  projectsVersion(): Promise<number>;
  createShare(share: ProjectShare): Promise<ProjectShare>;
  /** A project's shares, oldest first; every project's without `projectId`. */
  listShares(projectId?: string): Promise<ProjectShare[]>;
  /** Answers whether the share existed (in that project). */
  deleteShare(projectId: string, shareId: string): Promise<boolean>;
}

/**
 * MCP agent state (issue #5): JSON values per (project, session, agent, key). Expired entries are
 * invisible to reads at `now` and removed by `purgeAgentState`.
 */
export interface AgentStateStore {
  getAgentState(
    projectId: string,
    sessionId: string,
    agentId: string,
    key: string,
    now: number,
  ): Promise<AgentStateEntry | null>;
  /** Inserts or replaces the entry of (projectId, sessionId, agentId, key). */
  setAgentState(entry: AgentStateEntry): Promise<void>;
  /** Deletes one key, or every key of the agent in the session when `key` is omitted; returns how many. */
  deleteAgentState(projectId: string, sessionId: string, agentId: string, key?: string): Promise<number>;
  /** Deletes entries expired at `now` and those whose session no longer exists; returns how many. */
  purgeAgentState(now: number): Promise<number>;
}

/** The background jobs' and the admin's bulk work: expiry, retention, erasure, job locks. */
export interface MaintenanceStore {
  /**
   * Writes the timeout end of every session past its expiry (of one project, or all) and counts
   * their end figures in the aggregates; returns how many.
   */
  sweepExpired(now: number, projectId?: string): Promise<number>;
  /**
   * Deletes sessions (with their events and agent state) whose last activity is before `before`;
   * the aggregates keep their counts (expired ones are swept first, so their end figures count).
   */
  cleanup(projectId: string | null, before: number): Promise<CleanupResult>;
  /** Bulk-deletes raw events received before `before` (retention; sessions and rollups stay). */
  deleteEventsBefore(before: number, projectId?: string): Promise<number>;
  /**
   * Runs a background job only if no other process runs it now (several instances share one
   * PostgreSQL; SQLite has a single server and always runs it). Returns whether it ran.
   */
  runExclusive(job: string, fn: () => Promise<void>): Promise<boolean>;
  /**
   * Erases a user: their sessions, events and agent state; the sessions leave the aggregates, and
   * the user key every day's users (days past retention keep their counts). Chunked like cleanup.
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
