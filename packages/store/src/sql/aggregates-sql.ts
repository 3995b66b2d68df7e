import {
  AggregateDelta,
  type AggregateInput,
  type AggregateKind,
  ANALYTICS_EVENT_TYPES,
  type AnalyticsOptions,
  addDays,
  addEventToFacets,
  analyticsOptions,
  COUNT_DIMS,
  type CountDim,
  type Counts,
  type DayDelta,
  type DayTotals,
  dayStart,
  emptyFacets,
  type FacetEvent,
  facetsFromText,
  facetsOf,
  facetsToText,
  type LocalClock,
  linkChanges,
  type Project,
  SESSION_KINDS,
  type Session,
  type SessionFacets,
  type SessionKind,
  timeoutEnd,
  UNKNOWN_KIND,
  uniqueUsersOf,
  zoneClock,
} from '@sessiontrack/core';
import { type BatchOutcome, type BatchPlan, type EventRow, keyOf, sessionKey, splitKey } from '../batch.js';
import { rowToAnalyticsEvent, rowToSession } from '../rows.js';
import { inList, inPairs, join, listAgg, raw, rows, Sql, sql } from './sql.js';

// The maintained aggregates in SQL, written once for every dialect (docs/metrics.md, "When a
// number is final"; the definitions are core's aggregates.ts). Three writers share `applyDelta`:
// a batch commit, the sweeper and the other maintenance calls (erase, import, rebuild); the
// readers are the stats routes (store/analytics.ts).
//
// Tables (migration 6):
//   rollup_days      (project, day) → the day's additive totals; every transaction that changes a
//                    day writes this row, so a rebuild that holds it sees no commit slip between
//                    its read of the raw rows and its write (PostgreSQL row lock; SQLite: one writer).
//   rollup_counts    (project, dim, day, value) → n.
//   rollup_users     (project, day, user key) → the user's sessions that day (a count, so that
//                    identify() and erase can take a session away exactly).
//   rollup_user_prev (project, day, previous active day of the user) → users: distinct users over
//                    any range in days × days (core's linkChanges / uniqueUsersOf).
// Migration 11 keys rollup_days and rollup_counts by session kind as well ('' for rows of before
// it, UNKNOWN_KIND) and adds rollup_kind_users / rollup_kind_user_prev: the same two user tables
// per (project, kind), so distinct users stay exact for one kind too. rollup_users and
// rollup_user_prev keep their meaning (all kinds).
//
// A program is a generator of statements that receives each statement's rows: SQLite's commit runs
// it synchronously inside its transaction, everything else awaits it. One text for both.

type Row = Record<string, unknown>;
export type SqlProgram<T> = Generator<Sql, T, Row[]>;

export function runSync<T>(program: SqlProgram<T>, exec: (q: Sql) => Row[]): T {
  let step = program.next();
  while (!step.done) step = program.next(exec(step.value));
  return step.value;
}

export async function runAsync<T>(program: SqlProgram<T>, exec: (q: Sql) => Promise<Row[]>): Promise<T> {
  let step = program.next();
  while (!step.done) step = program.next(await exec(step.value));
  return step.value;
}

const SEP = '\u0000';
const num = (v: unknown): number => Number(v ?? 0);

/**
 * Adds a delta to the aggregates. Rows are written in one order (days, counts, users, links, kind
 * users, kind links; each sorted), so concurrent PostgreSQL writers wait for each other instead of
 * deadlocking.
 *
 * `alongside`: statements that wait for no row lock (a commit's update of the sessions it locked
 * first), sent in the day rows' round trip as data-modifying WITH clauses of one statement — a
 * round trip less per batch on a commit that spends most of its time waiting for round trips.
 * Only for dialects with such clauses (PostgreSQL's commit; SQLite's runs in process).
 */
export function* applyDelta(delta: AggregateDelta, alongside: readonly Sql[] = [], slot = 0): SqlProgram<void> {
  const { days, counts, users, kindUsers } = delta.rows();
  const first = days.length > 0 ? [...alongside, upsertDays(days, slot)] : alongside;
  if (first.length === 1) yield first[0] as Sql;
  else if (first.length > 1) {
    yield sql`WITH ${join(
      first.map((q, i) => sql`${raw(`w${i}`)} AS (${q})`),
      ', ',
    )} SELECT 1`;
  }
  if (days.length === 0) return;
  if (counts.length > 0) {
    yield sql`INSERT INTO rollup_counts (project_id, dim, day, value, kind, n${SLOT})
      SELECT p, m, d, v, k, n${slotValue(slot)} FROM ${rows(
        'x',
        [
          ['p', 'text'],
          ['m', 'text'],
          ['d', 'text'],
          ['v', 'text'],
          ['k', 'text'],
          ['n', 'bigint'],
        ],
        counts.map((r) => [r.projectId, r.dim, r.date, r.value, r.kind, r.n]),
      )} WHERE true
      ON CONFLICT (project_id, dim, day, value, kind${SLOT}) DO UPDATE SET n = rollup_counts.n + excluded.n`;
  }
  yield* applyUsers(ALL_KINDS_USERS, users);
  yield* applyUsers(
    KIND_USERS,
    kindUsers.map((u) => ({ ...u, projectId: u.projectId + SEP + u.kind })),
  );
}

/**
 * Writer slots (dialect `writerSlots`): a commit adds to the day and count rows of its own slot,
 * 0 … WRITER_SLOTS − 1 (PostgresStore gives each commit in flight its own), so commits of one day
 * do not queue on one row lock held to their COMMIT (bench:ingest on PostgreSQL, 1 event/request:
 * 21 % below the same commit without aggregates before, 4 % after). Every other writer uses slot
 * 0; a rebuild locks every slot's row.
 */
export const WRITER_SLOTS = 4;
/** `, slot` where rows have slots: in a column list and a conflict target. */
const SLOT = new Sql((d) => (d.writerSlots ? ', slot' : ''));
const slotValue = (slot: number): Sql => new Sql((d, bind) => (d.writerSlots ? `, ${bind(slot)}::smallint` : ''));
/** `, <column>` where rows have slots: a bound row's slot in a select list. */
const slotOf = (column: string): Sql => new Sql((d) => (d.writerSlots ? `, ${column}::smallint` : ''));

/** The day rows' upsert (adds the totals to what is stored). */
function upsertDays(days: readonly DayDelta[], slot: number): Sql {
  return sql`INSERT INTO rollup_days (project_id, day, kind, computed_at, sessions, ended_sessions, duration_ms_sum,
      bounces, error_sessions, actions, tool_calls, engaged_sessions, engaged_ms_sum, unique_users${SLOT})
    SELECT p, d, k, 0, s, e, ms, b, er, a, t, es, ems, 0${slotValue(slot)} FROM ${rows(
      'x',
      [
        ['p', 'text'],
        ['d', 'text'],
        ['k', 'text'],
        ['s', 'bigint'],
        ['e', 'bigint'],
        ['ms', 'bigint'],
        ['b', 'bigint'],
        ['er', 'bigint'],
        ['a', 'bigint'],
        ['t', 'bigint'],
        ['es', 'bigint'],
        ['ems', 'bigint'],
      ],
      days.map((r) => [
        r.projectId,
        r.date,
        r.kind,
        r.sessions,
        r.endedSessions,
        r.durationMsSum,
        r.bounces,
        r.errorSessions,
        r.actions,
        r.toolCalls,
        r.engagedSessions,
        r.engagedMsSum,
      ]),
    )} WHERE true
    ON CONFLICT (project_id, day, kind${SLOT}) DO UPDATE SET
      sessions = rollup_days.sessions + excluded.sessions,
      ended_sessions = rollup_days.ended_sessions + excluded.ended_sessions,
      duration_ms_sum = rollup_days.duration_ms_sum + excluded.duration_ms_sum,
      bounces = rollup_days.bounces + excluded.bounces,
      error_sessions = rollup_days.error_sessions + excluded.error_sessions,
      actions = rollup_days.actions + excluded.actions,
      tool_calls = rollup_days.tool_calls + excluded.tool_calls,
      engaged_sessions = rollup_days.engaged_sessions + excluded.engaged_sessions,
      engaged_ms_sum = rollup_days.engaged_ms_sum + excluded.engaged_ms_sum`;
}

/**
 * A user table and its link table: all kinds (rollup_users, rollup_user_prev; their meaning is
 * unchanged since migration 6, others read them) or per kind (rollup_kind_users,
 * rollup_kind_user_prev, migration 11). `scope` is what the user's days are counted within: the
 * project, or the project and kind, passed to applyUsers as one string joined by SEP.
 */
interface UserTables {
  users: string;
  links: string;
  /** The scope's columns (bound rows carry them as s0, s1, …). */
  scope: readonly string[];
}
const ALL_KINDS_USERS: UserTables = { users: 'rollup_users', links: 'rollup_user_prev', scope: ['project_id'] };
const KIND_USERS: UserTables = {
  users: 'rollup_kind_users',
  links: 'rollup_kind_user_prev',
  scope: ['project_id', 'kind'],
};

function* applyUsers(
  t: UserTables,
  users: readonly { projectId: string; date: string; userKey: string; n: number }[],
): SqlProgram<void> {
  if (users.length === 0) return;
  const scopeCols = t.scope.map((_, i) => [`s${i}`, 'text'] as const);
  const split = (scope: string): string[] => {
    const parts = scope.split(SEP);
    return t.scope.map((_, i) => parts[i] ?? '');
  };
  const cols = t.scope.join(', ');
  const sv = scopeCols.map(([c]) => c).join(', ');
  const usersTable = raw(t.users);
  const linksTable = raw(t.links);
  const changed = yield sql`INSERT INTO ${usersTable} (${raw(cols)}, day, user_key, n)
    SELECT ${raw(sv)}, d, uk, n FROM ${rows(
      'x',
      [...scopeCols, ['d', 'text'], ['uk', 'text'], ['n', 'bigint']],
      users.map((r) => [...split(r.projectId), r.date, r.userKey, r.n]),
    )} WHERE true
    ON CONFLICT (${raw(cols)}, day, user_key) DO UPDATE SET n = ${usersTable}.n + excluded.n
    RETURNING ${raw(cols)}, day, user_key, n`;
  const scopeOf = (r: Row): string => t.scope.map((c) => String(r[c])).join(SEP);
  // A user-day appears when its count leaves 0 and vanishes when it returns there: only then do
  // the user's (day, previous day) links move.
  const added = new Map(users.map((u) => [u.projectId + SEP + u.date + SEP + u.userKey, u.n]));
  const moved = new Map<string, { p: string; k: string; appeared: Set<string>; vanished: Set<string> }>();
  const gone: string[][] = [];
  for (const r of changed) {
    const p = scopeOf(r);
    const d = String(r.day);
    const k = String(r.user_key);
    const n = num(r.n);
    const old = n - (added.get(p + SEP + d + SEP + k) ?? 0);
    if (n <= 0) gone.push([...split(p), d, k]);
    if (old > 0 === n > 0) continue;
    let m = moved.get(p + SEP + k);
    if (!m) {
      m = { p, k, appeared: new Set(), vanished: new Set() };
      moved.set(p + SEP + k, m);
    }
    (n > 0 ? m.appeared : m.vanished).add(d);
  }
  if (gone.length > 0) {
    yield sql`DELETE FROM ${usersTable} WHERE n <= 0 AND (${raw(cols)}, day, user_key) IN (SELECT ${raw(sv)}, d, uk FROM ${rows(
      'x',
      [...scopeCols, ['d', 'text'], ['uk', 'text']],
      gone,
    )})`;
  }
  if (moved.size === 0) return;
  const list = [...moved.values()].map((m) => {
    const days = [...m.appeared, ...m.vanished].sort();
    return [...split(m.p), m.k, days[0] as string, days[days.length - 1] as string];
  });
  // Per moved user, its days from the last one before the first change to the first one after
  // the last change: scalar subqueries per user, each an index probe or a short range on the user
  // table's key index. Not a join: without statistics (PostgreSQL before its first ANALYZE, or
  // with autovacuum off) a join of these rows with the user table was planned as a sort of the
  // whole table — a second at 140,000 user-days, past the statement timeout at a million.
  const same = (a: string, b: string) => t.scope.map((col, i) => `${a}.${col} = ${b}.s${i}`).join(' AND ');
  const edge = (fn: 'max' | 'min', op: '<' | '>', bound: string) =>
    `(SELECT ${fn}(y.day) FROM ${t.users} y WHERE ${same('y', 'c')} AND y.user_key = c.k AND y.day ${op} ${bound})`;
  const span = yield sql`SELECT ${raw(scopeCols.map(([c]) => `c.${c} AS ${c}`).join(', '))}, c.k AS k,
      ${raw(edge('max', '<', 'c.mn'))} AS lo,
      (SELECT ${listAgg('u.day')} FROM ${usersTable} u WHERE ${raw(same('u', 'c'))} AND u.user_key = c.k
        AND u.day >= coalesce(${raw(edge('max', '<', 'c.mn'))}, '')
        AND u.day <= coalesce(${raw(edge('min', '>', 'c.mx'))}, '~')) AS days
    FROM ${rows('c', [...scopeCols, ['k', 'text'], ['mn', 'text'], ['mx', 'text']], list)}`;
  const spans = new Map<string, { days: string[]; hasLo: boolean }>();
  for (const r of span) {
    const k = scopeCols.map(([c]) => String(r[c])).join(SEP) + SEP + String(r.k);
    const days = r.days === null || r.days === undefined || r.days === '' ? [] : String(r.days).split(',').sort();
    spans.set(k, { days, hasLo: r.lo !== null && r.lo !== undefined });
  }
  const links = new Map<string, [string, string, string, number]>();
  for (const [k, m] of moved) {
    const s = spans.get(k) ?? { days: [], hasLo: false };
    for (const [link, n] of linkChanges(s.days, m.appeared, m.vanished, s.hasLo)) {
      const [day = '', prev = ''] = link.split('\t');
      const lk = m.p + SEP + day + SEP + prev;
      const row = links.get(lk);
      if (row) row[3] += n;
      else links.set(lk, [m.p, day, prev, n]);
    }
  }
  const linkRows = [...links.values()]
    .filter((r) => r[3] !== 0)
    .sort((a, b) => (a[0] + SEP + a[1] + SEP + a[2] < b[0] + SEP + b[1] + SEP + b[2] ? -1 : 1));
  if (linkRows.length === 0) return;
  yield sql`INSERT INTO ${linksTable} (${raw(cols)}, day, prev_day, n)
    SELECT ${raw(sv)}, d, v, n FROM ${rows(
      'x',
      [...scopeCols, ['d', 'text'], ['v', 'text'], ['n', 'bigint']],
      linkRows.map(([p, d, v, n]) => [...split(p), d, v, n]),
    )} WHERE true
    ON CONFLICT (${raw(cols)}, day, prev_day) DO UPDATE SET n = ${linksTable}.n + excluded.n`;
}

// ---- reads (the port of store.ts: AggregateReads) ----

// Aggregate rows are kept per kind (migration 11). A read of one kind reads that kind's rows; a
// read over all kinds sums the kinds — the unknown kind of days of before migration 11 past
// retention included, which is why those days count only there (docs/metrics.md). Distinct users
// are not a sum: over all kinds they come from rollup_user_prev, per kind from
// rollup_kind_user_prev.

const ofKind = (kind: SessionKind | undefined): Sql => (kind === undefined ? raw('') : sql` AND kind = ${kind}`);

const DAY_SUMS = raw(
  [
    'max(computed_at) AS computed_at',
    ...[
      'sessions',
      'ended_sessions',
      'duration_ms_sum',
      'bounces',
      'error_sessions',
      'actions',
      'tool_calls',
      'engaged_sessions',
      'engaged_ms_sum',
    ].map((c) => `sum(${c}) AS ${c}`),
  ].join(', '),
);

export const readDaysSql = (projectId: string, fromDate: string, toDate: string, kind?: SessionKind): Sql =>
  sql`SELECT day, ${DAY_SUMS} FROM rollup_days
    WHERE project_id = ${projectId} AND day >= ${fromDate} AND day <= ${toDate}${ofKind(kind)}
    GROUP BY day ORDER BY day`;

export const dayCountsSql = (
  projectId: string,
  fromDate: string,
  toDate: string,
  dims: readonly CountDim[],
  kind?: SessionKind,
): Sql =>
  sql`SELECT dim, day, value, sum(n) AS n FROM rollup_counts
    WHERE project_id = ${projectId} AND ${inList('dim', dims)} AND day >= ${fromDate} AND day <= ${toDate}${ofKind(kind)}
    GROUP BY dim, day, value HAVING sum(n) <> 0`;

export const sumCountsSql = (
  projectId: string,
  fromDate: string,
  toDate: string,
  dim: CountDim,
  kind?: SessionKind,
): Sql =>
  sql`SELECT value, sum(n) AS n FROM rollup_counts
    WHERE project_id = ${projectId} AND dim = ${dim} AND day >= ${fromDate} AND day <= ${toDate}${ofKind(kind)}
    GROUP BY value HAVING sum(n) <> 0`;

export function countsOf(found: readonly Row[]): Counts {
  const out: Counts = {};
  for (const r of found) out[String(r.value)] = num(r.n);
  return out;
}

export const userLinksSql = (projectId: string, fromDate: string, toDate: string, kind?: SessionKind): Sql =>
  kind === undefined
    ? sql`SELECT day, prev_day, n FROM rollup_user_prev
    WHERE project_id = ${projectId} AND day >= ${fromDate} AND day <= ${toDate} AND n <> 0`
    : sql`SELECT day, prev_day, n FROM rollup_kind_user_prev
    WHERE project_id = ${projectId} AND kind = ${kind} AND day >= ${fromDate} AND day <= ${toDate} AND n <> 0`;

export function usersOf(found: readonly Row[], fromDate: string) {
  return uniqueUsersOf(
    found.map((r) => ({ date: String(r.day), prev: String(r.prev_day), n: num(r.n) })),
    fromDate,
  );
}

/** rollup_days row (or a sum of a day's kinds) → totals. */
export function totalsOf(r: Row): DayTotals {
  return {
    sessions: num(r.sessions),
    endedSessions: num(r.ended_sessions),
    durationMsSum: num(r.duration_ms_sum),
    bounces: num(r.bounces),
    errorSessions: num(r.error_sessions),
    actions: num(r.actions),
    toolCalls: num(r.tool_calls),
    engagedSessions: num(r.engaged_sessions),
    engagedMsSum: num(r.engaged_ms_sum),
  };
}

// ---- the writers' programs ----

/**
 * Projects' analytics options and local clocks, as the transaction that counts with them sees
 * them. `load` reads the touched projects' zone and bounce rule (one indexed read per batch, not
 * per event): a change made on another instance counts from this instance's next batch on, not
 * from its restart. A caller that read the projects version (projects_version, which every
 * change of a project moves) in the same transaction passes it, and the read is skipped while the
 * version is the one the options were read at. What was counted before a change of zone or bounce
 * rule is recounted by the rebuild the change marks (`updateProject`).
 */
export class ProjectOptions {
  readonly #known = new Map<string, { opts: AnalyticsOptions; clock: LocalClock }>();
  /** Projects without a row (see `of`), as of #version. */
  readonly #absent = new Set<string>();
  /** The projects version every entry of #known and #absent is at least as new as (null: unknown). */
  #version: number | null = null;
  /** Clocks by zone: building one costs far more than using it. */
  readonly #clocks = new Map<string, LocalClock>();

  /**
   * Reads the options of these projects (a project without a row: UTC and the default rule).
   * `version`: the projects version this transaction read, when it read one.
   */
  *load(ids: Iterable<string>, version?: number): SqlProgram<void> {
    const list = [...new Set(ids)];
    if (list.length === 0) return;
    if (version !== undefined && version === this.#version) {
      if (list.every((id) => this.#known.has(id) || this.#absent.has(id))) return;
    } else if (version !== undefined) {
      // Any project may have changed since the options were read: none of them is current.
      this.#known.clear();
      this.#absent.clear();
      this.#version = version;
    }
    const found = new Set<string>();
    const current: Row[] = yield sql`SELECT id, time_zone, bounce_seconds, bounce_max_actions FROM projects
      WHERE ${inList('id', list)}`;
    for (const r of current) {
      const id = String(r.id);
      found.add(id);
      this.#set(id, {
        timeZone: String(r.time_zone),
        bounceSeconds: r.bounce_seconds === null ? undefined : Number(r.bounce_seconds),
        bounceMaxActions: r.bounce_max_actions === null ? undefined : Number(r.bounce_max_actions),
      });
    }
    for (const id of list) {
      if (found.has(id)) {
        this.#absent.delete(id);
      } else {
        this.#known.delete(id);
        this.#absent.add(id);
      }
    }
  }

  /** A project as the caller holds it (a rebuild of its days). */
  remember(p: Project): void {
    // The caller's copy may be older than the version the options were read at: read again next.
    this.#version = null;
    this.#absent.delete(p.id);
    this.#set(p.id, p);
  }

  #set(id: string, p: Pick<Project, 'timeZone' | 'bounceSeconds' | 'bounceMaxActions'>): void {
    const opts = analyticsOptions(p);
    const known = this.#known.get(id)?.opts;
    if (
      known?.timeZone === opts.timeZone &&
      known.bounceSeconds === opts.bounceSeconds &&
      known.bounceMaxActions === opts.bounceMaxActions
    ) {
      return;
    }
    let clock = this.#clocks.get(opts.timeZone);
    if (!clock) {
      clock = zoneClock(opts.timeZone);
      this.#clocks.set(opts.timeZone, clock);
    }
    this.#known.set(id, { opts, clock });
  }

  /**
   * For AggregateDelta. A project without a row (an embedded MCP sink writing for a project id
   * no one created) counts in UTC with the default thresholds until its row exists; a rebuild
   * moves its days once it has another zone.
   */
  readonly of = (projectId: string): { opts: AnalyticsOptions; clock: LocalClock } =>
    this.#known.get(projectId) ?? UNKNOWN_PROJECT;
}

const UNKNOWN_PROJECT = (() => {
  const opts = analyticsOptions({ timeZone: 'UTC' });
  return { opts, clock: zoneClock(opts.timeZone) };
})();

/**
 * Facets of sessions stored before facets existed (migration 6 wrote 'unknown'), from their
 * events, by sessionKey, without the events listed in `except` (`sessionKey\0event` ids: a
 * batch's own new rows, which are folded in afterwards).
 */
export function* facetsFromEvents(
  sessions: readonly Pick<Session, 'projectId' | 'id'>[],
  except: ReadonlySet<string> = new Set(),
): SqlProgram<Map<string, SessionFacets>> {
  const out = new Map<string, SessionFacets>(sessions.map((s) => [keyOf(s), emptyFacets()]));
  if (sessions.length === 0) return out;
  // In arrival order: the paths are (core's addEventToFacets), the rest does not care.
  const found = yield sql`SELECT project_id, session_id, event_id, type, name, page, details FROM events
    WHERE ${inPairs(
      'session_id',
      'project_id',
      sessions.map((s) => [s.id, s.projectId]),
    )} AND ${inList('type', ANALYTICS_EVENT_TYPES)} ORDER BY seq`;
  for (const r of found) {
    const key = sessionKey(String(r.project_id), String(r.session_id));
    const f = out.get(key);
    if (!f || except.has(`${key}${SEP}${r.event_id}`)) continue;
    out.set(key, addEventToFacets(f, rowToAnalyticsEvent(r)));
  }
  return out;
}

/** A stored session as the aggregates see it: facets null = unknown (see facetsFromEvents). */
export interface StoredSession {
  session: Session;
  facets: SessionFacets | null;
}

export function storedSession(r: Row): StoredSession {
  return { session: rowToSession(r), facets: facetsFromText(r.facets) };
}

/** Fills unknown facets from the events (before the session's rows are deleted or changed). */
export function* knownFacets(
  list: readonly StoredSession[],
  except?: ReadonlySet<string>,
): SqlProgram<AggregateInput[]> {
  const unknown = list.filter((s) => s.facets === null).map((s) => s.session);
  const found = unknown.length > 0 ? yield* facetsFromEvents(unknown, except) : new Map<string, SessionFacets>();
  return list.map((s) => ({ session: s.session, facets: s.facets ?? found.get(keyOf(s.session)) ?? emptyFacets() }));
}

export interface BatchAggregates {
  delta: AggregateDelta;
  /** Sessions of the batch whose facets changed, by sessionKey: what to store with them (null: none). */
  facets: Map<string, string | null>;
  /** Every touched session's facets after the batch, by sessionKey (a backend's cache keeps them). */
  after: Map<string, SessionFacets>;
}

/**
 * What a committed batch changes in the aggregates: per session it touched, after − before, with
 * the facets of the events that were new (duplicates do not count, like the counters). `before`:
 * the stored sessions by sessionKey; `projectsVersion`: as ProjectOptions.load takes it.
 */
export function* batchAggregates(
  options: ProjectOptions,
  before: ReadonlyMap<string, StoredSession>,
  plan: BatchPlan,
  inserted: readonly boolean[],
  outcome: BatchOutcome,
  projectsVersion?: number,
): SqlProgram<BatchAggregates> {
  const touched = [...outcome.inserts, ...outcome.updates];
  yield* options.load(
    touched.map((s) => s.projectId),
    projectsVersion,
  );
  // The batch's new events by session, in order (the plan's event steps name the session), so
  // that each session's key is made once: this runs for every batch, on every backend.
  const added = new Map<string, EventRow[]>();
  for (const step of plan.steps) {
    if (step.t !== 'events') continue;
    for (let i = step.from; i < step.to; i++) {
      const row = plan.rows[i];
      if (!inserted[i] || !row) continue;
      const list = added.get(step.key);
      if (list) list.push(row);
      else added.set(step.key, [row]);
    }
  }
  const updates = outcome.updates.map((s) => {
    const k = keyOf(s);
    return { s, k, was: before.get(k) };
  });
  const unknown = updates.filter((u) => u.was?.facets === null).map((u) => u.s);
  let recovered = new Map<string, SessionFacets>();
  if (unknown.length > 0) {
    const fresh = new Set<string>();
    for (const [key, list] of added) for (const e of list) fresh.add(`${key}${SEP}${e.id}`);
    recovered = yield* facetsFromEvents(unknown, fresh);
  }
  const fold = (key: string, f0: SessionFacets): SessionFacets => {
    let f = f0;
    for (const e of added.get(key) ?? []) f = addEventToFacets(f, e);
    return f;
  };
  const delta = new AggregateDelta(options.of);
  const facets = new Map<string, string | null>();
  const after = new Map<string, SessionFacets>();
  for (const s of outcome.inserts) {
    const k = keyOf(s);
    const f0 = emptyFacets();
    const f = fold(k, f0);
    after.set(k, f);
    delta.change(null, { session: s, facets: f });
    if (f !== f0) facets.set(k, facetsToText(f));
  }
  for (const { s, k, was } of updates) {
    const f0 = was?.facets ?? recovered.get(k) ?? emptyFacets();
    const f = fold(k, f0);
    after.set(k, f);
    if (was) delta.change({ session: was.session, facets: f0 }, { session: s, facets: f });
    if (f !== f0 || was?.facets === null) facets.set(k, facetsToText(f));
  }
  return { delta, facets, after };
}

/** Stores facets with their sessions, by sessionKey (only those that changed: most batches change none). */
export function setFacetsSql(list: ReadonlyMap<string, string | null>): Sql {
  return sql`UPDATE sessions SET facets = f.v FROM ${rows(
    'f',
    [
      ['id', 'text'],
      ['p', 'text'],
      ['v', 'text'],
    ],
    [...list]
      .map(([key, v]) => {
        const [p, id] = splitKey(key);
        return [id, p, v] as const;
      })
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1)),
  )} WHERE sessions.id = f.id AND sessions.project_id = f.p`;
}

/**
 * The sweeper's round: writes the timeout end of up to `limit` expired sessions and folds their
 * end figures into the aggregates, in the caller's transaction. Answers how many it ended.
 */
export function* sweepRound(
  options: ProjectOptions,
  now: number,
  limit: number,
  rowLocks: boolean,
  projectId?: string,
): SqlProgram<number> {
  const found = (yield sql`SELECT * FROM sessions WHERE status <> 'ended' AND expires_at <= ${now}${
    projectId === undefined ? raw('') : sql` AND project_id = ${projectId}`
  } ORDER BY id, project_id LIMIT ${limit}${raw(rowLocks ? ' FOR UPDATE' : '')}`).map(storedSession);
  if (found.length === 0) return 0;
  yield sql`UPDATE sessions SET status = 'ended', ended_at = last_activity_at, expires_at = last_activity_at,
      disconnected_at = NULL, exit_reason = 'timeout'
    WHERE ${inPairs(
      'id',
      'project_id',
      found.map((s) => [s.session.id, s.session.projectId]),
    )}`;
  const list = yield* knownFacets(found);
  const unknown = new Set(found.filter((s) => s.facets === null).map((s) => keyOf(s.session)));
  if (unknown.size > 0) {
    yield setFacetsSql(
      new Map(list.filter((s) => unknown.has(keyOf(s.session))).map((s) => [keyOf(s.session), facetsToText(s.facets)])),
    );
  }
  yield* options.load(found.map((s) => s.session.projectId));
  const delta = new AggregateDelta(options.of);
  for (const s of list) {
    delta.change(s, { session: { ...s.session, ...timeoutEnd(s.session), disconnectedAt: null }, facets: s.facets });
  }
  yield* applyDelta(delta);
  return found.length;
}

/** Takes sessions about to be deleted (an erase) out of the aggregates, in the caller's transaction. */
export function* subtractSessions(options: ProjectOptions, found: readonly StoredSession[]): SqlProgram<void> {
  if (found.length === 0) return;
  const list = yield* knownFacets(found);
  yield* options.load(found.map((s) => s.session.projectId));
  const delta = new AggregateDelta(options.of);
  for (const s of list) delta.change(s, null);
  yield* applyDelta(delta);
}

/** Removes a user key from every day's users (what is left after their sessions were taken out). */
export function* forgetUser(options: ProjectOptions, projectId: string, user: string): SqlProgram<void> {
  const left = yield sql`SELECT day, n FROM rollup_users WHERE project_id = ${projectId} AND user_key = ${user}`;
  const leftOfKind = yield sql`SELECT kind, day, n FROM rollup_kind_users
    WHERE project_id = ${projectId} AND user_key = ${user}`;
  if (left.length === 0 && leftOfKind.length === 0) return;
  const delta = new AggregateDelta(options.of);
  for (const r of left) delta.addUser(projectId, String(r.day), user, -num(r.n));
  for (const r of leftOfKind) delta.addKindUser(projectId, r.kind as SessionKind, String(r.day), user, -num(r.n));
  yield* applyDelta(delta);
}

/** Adds imported sessions (new, with their new events by sessionKey) to the aggregates and stores their facets. */
export function* addImported(
  options: ProjectOptions,
  sessions: readonly Session[],
  events: ReadonlyMap<string, readonly FacetEvent[]>,
): SqlProgram<void> {
  if (sessions.length === 0) return;
  yield* options.load(sessions.map((s) => s.projectId));
  const delta = new AggregateDelta(options.of);
  const facets = new Map<string, string | null>();
  for (const s of sessions) {
    const f = facetsOf(events.get(keyOf(s)) ?? []);
    delta.change(null, { session: s, facets: f });
    const text = facetsToText(f);
    if (text !== null) facets.set(keyOf(s), text);
  }
  if (facets.size > 0) yield setFacetsSql(facets);
  yield* applyDelta(delta);
}

/** Sessions a rebuild reads at once. */
const REBUILD_PAGE = 5_000;

/**
 * Rebuilds one day of a project from its raw rows, in the caller's transaction: first the day's
 * row is written (PostgreSQL: locked; no commit changes the day until this transaction ends),
 * then the raw rows are read a page at a time, and the stored aggregates corrected by
 * (raw − stored). Sessions count as written (an expired session the sweeper has not ended yet is
 * live here too), so a rebuild and the maintained figures agree at any moment.
 */
export function* rebuildDayProgram(
  options: ProjectOptions,
  project: Project,
  date: string,
  computedAt: number,
): SqlProgram<void> {
  options.remember(project);
  const p = project.id;
  // The day's row of every kind and slot, the unknown kind included: a commit of any kind writes one.
  const kinds = [UNKNOWN_KIND, ...SESSION_KINDS];
  yield sql`INSERT INTO rollup_days (project_id, day, kind, computed_at, sessions, ended_sessions, duration_ms_sum,
      bounces, error_sessions, actions, tool_calls, engaged_sessions, engaged_ms_sum, unique_users${SLOT})
    SELECT ${p}, ${date}, k, ${computedAt}, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0${slotOf('s')} FROM ${new Sql((d, bind) =>
      d.rows(
        'x',
        [
          ['k', 'text'],
          ['s', 'bigint'],
        ],
        kinds.flatMap((k) => Array.from({ length: d.writerSlots ? WRITER_SLOTS : 1 }, (_, n) => [k, n])),
        bind,
      ),
    )} WHERE true
    ON CONFLICT (project_id, day, kind${SLOT}) DO UPDATE SET computed_at = excluded.computed_at`;
  const delta = new AggregateDelta(options.of);
  const from = dayStart(date, project.timeZone);
  const to = dayStart(addDays(date, 1), project.timeZone);
  // In pages of REBUILD_PAGE sessions (keyset on the start index): the memory of a page, not a day.
  let after: [number, string] = [from - 1, ''];
  for (;;) {
    const found = (yield sql`SELECT * FROM sessions WHERE project_id = ${p} AND started_at >= ${from}
      AND started_at < ${to} AND (started_at, id) > (${after[0]}, ${after[1]})
      ORDER BY started_at, id LIMIT ${REBUILD_PAGE}`).map(rowToSession);
    const facets = found.length > 0 ? yield* facetsFromEvents(found) : new Map<string, SessionFacets>();
    for (const s of found) delta.change(null, { session: s, facets: facets.get(keyOf(s)) ?? emptyFacets() });
    const last = found.at(-1);
    if (!last || found.length < REBUILD_PAGE) break;
    after = [last.startedAt, last.id];
  }
  for (const r of yield sql`SELECT * FROM rollup_days WHERE project_id = ${p} AND day = ${date}`) {
    delta.addTotals(p, date, String(r.kind) as AggregateKind, totalsOf(r), -1);
  }
  for (const r of yield sql`SELECT dim, value, kind, n FROM rollup_counts
    WHERE project_id = ${p} AND ${inList('dim', COUNT_DIMS)} AND day = ${date}`) {
    delta.addCount(p, date, String(r.kind) as AggregateKind, String(r.dim) as CountDim, String(r.value), -num(r.n));
  }
  for (const r of yield sql`SELECT user_key, n FROM rollup_users WHERE project_id = ${p} AND day = ${date}`) {
    delta.addUser(p, date, String(r.user_key), -num(r.n));
  }
  for (const r of yield sql`SELECT kind, user_key, n FROM rollup_kind_users WHERE project_id = ${p} AND day = ${date}`) {
    delta.addKindUser(p, r.kind as SessionKind, date, String(r.user_key), -num(r.n));
  }
  yield* applyDelta(delta);
}
