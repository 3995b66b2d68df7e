import {
  type AnalyticsEvent,
  type AnalyticsOptions,
  type CountDim,
  type Counts,
  clientOf,
  type DayRollup,
  type DayTotals,
  DEFAULT_BOUNCE,
  durationBucket,
  durationMs,
  isBounce,
  MAX_PAIR_ACTIONS,
  MAX_PATH_STEPS,
  NONE,
  PATH_DIMS,
  userKey,
  workflowIdOf,
  zeroTotals,
} from './analytics.js';
import { latencyBucket } from './latency.js';
import { effectiveSession } from './lifecycle.js';
import { addDays, type LocalTime, zoneClock } from './time.js';
import type { Project, Session, SessionKind } from './types.js';

// Maintained aggregates (docs/metrics.md, "When a number is final"): what one session adds to
// its start day's totals, counts and users, so that the store can keep the day's aggregates up to
// date inside the transaction that changes the session, and a stats answer reads days × distinct
// values instead of sessions or events.
//
// A session's contribution is a function of its stored row and its *facets* (the little its
// events add: action names, tool calls, workflow outcomes), kept with the session so that a batch
// never reads events. A batch adds, per session it touches, contribution(after) − contribution(before),
// summed per (project, day, dimension, value): counted once per batch, not per event. What is fixed
// at start (entry, source, device, geo, transport, weekday × hour, the session itself) cancels
// out after the start; counters (actions, tool calls, error sessions) and facets move while the
// session is live; the end figures (duration, bounce, exit page / reason / action, duration bucket,
// abandoned workflows) appear when the session is written as ended — explicitly, by a lazy timeout
// end in a batch, or by the sweeper.
//
// The core's own definition (computeDays) is the sum of these contributions over the raw rows
// with the clock applied, so maintained, rebuilt and computed answers can only differ by what was
// not written yet (an expired session the sweeper has not ended).

/** A project's analytics settings (its zone and bounce thresholds; absent thresholds: the defaults). */
export function analyticsOptions(
  project: Pick<Project, 'timeZone' | 'bounceSeconds' | 'bounceMaxActions'>,
): AnalyticsOptions {
  return {
    timeZone: project.timeZone,
    bounceSeconds: project.bounceSeconds ?? DEFAULT_BOUNCE.bounceSeconds,
    bounceMaxActions: project.bounceMaxActions ?? DEFAULT_BOUNCE.bounceMaxActions,
  };
}

/** What a session's accepted events add to analytics: order-independent, so batches can fold them. */
export interface SessionFacets {
  /** The first MAX_PAIR_ACTIONS distinct action names (sorted): the only ones `action` and `pair` count. */
  a: string[];
  /** Tool name → [tool_call events, failed ones]. */
  t: Record<string, [number, number]>;
  /** Workflow id → flags: 1 started, 2 completed, 4 failed. */
  w: Record<string, number>;
  /** The page path: the first MAX_PATH_STEPS pages of its pageviews, consecutive repeats collapsed. */
  p: string[];
  /** The tool path: the same of its tool_call names (an MCP session's path). */
  q: string[];
  /** Tool name → latency bucket (latency.ts) → tool_call events with that details.durationMs. */
  d: Record<string, Record<string, number>>;
}

/**
 * A path step's length cap: five steps and their separators stay far below PostgreSQL's index
 * entry limit (~2.7 kB) on rollup_counts' value, whatever the characters.
 */
const MAX_STEP_CHARS = 160;

/** A page or tool name as a path step: tabs (the step separator) as spaces, cut at MAX_STEP_CHARS. */
export function pathStep(value: string): string {
  let s = value.replace(/\t/g, ' ');
  if (s.length > MAX_STEP_CHARS) {
    s = s.slice(0, MAX_STEP_CHARS);
    // Never half a surrogate pair.
    if (/[\uD800-\uDBFF]$/.test(s)) s = s.slice(0, -1);
  }
  return s;
}

/** The path with one more step (the same array when the step repeats the last one or the path is full). */
function extendPath(path: string[], value: string): string[] {
  if (path.length >= MAX_PATH_STEPS) return path;
  const step = pathStep(value);
  return path[path.length - 1] === step ? path : [...path, step];
}

const WF_STARTED = 1;
const WF_COMPLETED = 2;
const WF_FAILED = 4;

export const emptyFacets = (): SessionFacets => ({ a: [], t: {}, w: {}, p: [], q: [], d: {} });

const failed = (e: Pick<AnalyticsEvent, 'details'>): boolean =>
  e.details?.isError === true || e.details?.error === true;

/** What the facets read of an event. */
export type FacetEvent = Pick<AnalyticsEvent, 'type' | 'name' | 'details' | 'page'>;

/**
 * The facets with one more accepted event. Returns `f` itself when the event changes nothing
 * (a repeated action name, a pageview past the path's fifth step), so callers can tell a changed
 * session by identity. Order-independent except for the paths, which take the events in the
 * order they were accepted (a batch's in operation order; stored ones by arrival, `seq`).
 */
export function addEventToFacets(f: SessionFacets, e: FacetEvent): SessionFacets {
  switch (e.type) {
    case 'pageview': {
      if (e.page === null || e.page === undefined) return f;
      const p = extendPath(f.p, e.page);
      return p === f.p ? f : { ...f, p };
    }
    case 'action': {
      const name = e.name;
      if (name === null || f.a.includes(name)) return f;
      // Only the alphabetically first names count; one that sorts after all of them never will.
      if (f.a.length >= MAX_PAIR_ACTIONS && name > (f.a[f.a.length - 1] as string)) return f;
      const a = [...f.a, name].sort().slice(0, MAX_PAIR_ACTIONS);
      return { ...f, a };
    }
    case 'tool_call': {
      if (e.name === null) return f;
      const [calls, errors] = f.t[e.name] ?? [0, 0];
      const next: SessionFacets = { ...f, t: { ...f.t, [e.name]: [calls + 1, errors + (failed(e) ? 1 : 0)] } };
      const q = extendPath(f.q, e.name);
      if (q !== f.q) next.q = q;
      const bucket = latencyBucket(e.details?.durationMs);
      if (bucket !== null) {
        const hist = f.d[e.name] ?? {};
        next.d = { ...f.d, [e.name]: { ...hist, [bucket]: (hist[bucket] ?? 0) + 1 } };
      }
      return next;
    }
    case 'workflow_start':
    case 'workflow_complete':
    case 'workflow_fail': {
      const id = workflowIdOf(e);
      if (id === null) return f;
      const bit = e.type === 'workflow_start' ? WF_STARTED : e.type === 'workflow_complete' ? WF_COMPLETED : WF_FAILED;
      const flags = f.w[id] ?? 0;
      if ((flags & bit) !== 0) return f;
      return { ...f, w: { ...f.w, [id]: flags | bit } };
    }
    default:
      return f;
  }
}

/** The facets of a session from its events (any order). */
export function facetsOf(events: Iterable<FacetEvent>): SessionFacets {
  let f = emptyFacets();
  for (const e of events) f = addEventToFacets(f, e);
  return f;
}

/**
 * Facets as stored with the session: NULL for none (sessions without pageviews, actions, tool
 * calls or workflows), else a short JSON text without its empty parts (a web session that only
 * views pages stores its path: `{"p":[…]}`).
 */
export function facetsToText(f: SessionFacets): string | null {
  const out: Partial<SessionFacets> = {};
  if (f.a.length > 0) out.a = f.a;
  if (Object.keys(f.t).length > 0) out.t = f.t;
  if (Object.keys(f.w).length > 0) out.w = f.w;
  if (f.p.length > 0) out.p = f.p;
  if (f.q.length > 0) out.q = f.q;
  if (Object.keys(f.d).length > 0) out.d = f.d;
  return Object.keys(out).length === 0 ? null : JSON.stringify(out);
}

/**
 * Stored facets back. Anything but NULL or facets JSON — the 'unknown' that migration 6 wrote on
 * sessions stored before facets existed — answers null: recompute them from the session's events.
 */
export function facetsFromText(text: unknown): SessionFacets | null {
  if (text === null || text === undefined) return emptyFacets();
  if (typeof text !== 'string') return null;
  try {
    const v = JSON.parse(text) as Partial<SessionFacets> | null;
    if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
    const list = (x: unknown): x is string[] => x === undefined || Array.isArray(x);
    const map = (x: unknown): boolean => x === undefined || (typeof x === 'object' && x !== null && !Array.isArray(x));
    if (!list(v.a) || !list(v.p) || !list(v.q) || !map(v.t) || !map(v.w) || !map(v.d)) return null;
    return { a: v.a ?? [], t: v.t ?? {}, w: v.w ?? {}, p: v.p ?? [], q: v.q ?? [], d: v.d ?? {} };
  } catch {
    return null;
  }
}

const TOTAL_KEYS = [
  'sessions',
  'endedSessions',
  'durationMsSum',
  'bounces',
  'errorSessions',
  'actions',
  'toolCalls',
  'engagedSessions',
  'engagedMsSum',
] as const satisfies readonly (keyof DayTotals)[];

/**
 * The kind of the aggregate rows written before aggregates were kept per kind (migration 11): the
 * rebuild splits them by kind while the raw rows exist; days past retention keep them, and they
 * count only in answers over all kinds (docs/metrics.md).
 */
export const UNKNOWN_KIND = '';
/** A session kind, or UNKNOWN_KIND for rows of before migration 11. */
export type AggregateKind = SessionKind | typeof UNKNOWN_KIND;

/** One session's share of its start day's aggregates. */
export interface SessionContribution {
  /** Start day in the project's zone. */
  date: string;
  kind: SessionKind;
  /** The user key (`userKey`), or null. */
  user: string | null;
  totals: DayTotals;
  /** (dimension, value, n), n > 0. */
  counts: [CountDim, string, number][];
}

const key = (v: string | null): string => v ?? NONE;

export type LocalClock = (epochMs: number) => Readonly<LocalTime>;

/**
 * What a session adds to its day, as it is *written* (`s.status`): the reference passes
 * `effectiveSession(s, now)` to apply the clock, the store passes the row it commits.
 */
export function contributionOf(
  s: Session,
  f: SessionFacets,
  opts: AnalyticsOptions,
  clock: LocalClock = zoneClock(opts.timeZone),
): SessionContribution {
  const local = clock(s.startedAt);
  const ended = s.status === 'ended';
  const totals: DayTotals = {
    sessions: 1,
    endedSessions: 0,
    durationMsSum: 0,
    bounces: 0,
    errorSessions: s.errors > 0 ? 1 : 0,
    actions: s.actions,
    toolCalls: s.toolCalls,
    engagedSessions: 0,
    engagedMsSum: 0,
  };
  const counts: [CountDim, string, number][] = [
    ['country', key(s.geo.country), 1],
    ['region', `${key(s.geo.country)}\t${key(s.geo.region)}`, 1],
    ['continent', key(s.geo.continent), 1],
    ['deviceType', key(s.device.type), 1],
    ['browser', key(s.device.browser), 1],
    ['os', key(s.device.os), 1],
    ['entryPage', key(s.entry.page), 1],
    ['source', key(s.entry.source), 1],
    ['referrer', key(s.entry.referrer), 1],
    ['campaign', key(s.entry.campaign), 1],
    ['transport', key(s.transport), 1],
    ['client', key(clientOf(s)), 1],
    ['cell', `${local.weekday}:${local.hour}`, 1],
  ];
  if (ended) {
    const ms = durationMs(s);
    totals.endedSessions = 1;
    totals.durationMsSum = ms;
    totals.bounces = isBounce(s, opts) ? 1 : 0;
    if (s.engagedMs !== null) {
      // As the session object's engagedSeconds: never above the wall-clock duration.
      totals.engagedSessions = 1;
      totals.engagedMsSum = Math.min(Math.max(0, s.engagedMs), ms);
    }
    counts.push(
      ['exitPage', key(s.exit.page), 1],
      ['exitReason', key(s.exit.reason), 1],
      ['exitAction', key(s.exit.lastAction), 1],
      ['duration', durationBucket(ms), 1],
    );
  }
  for (const [tool, [calls, errors]] of Object.entries(f.t)) {
    counts.push(['tool', tool, 1], ['toolCall', tool, calls]);
    if (errors > 0) counts.push(['toolError', tool, errors]);
  }
  for (const [tool, hist] of Object.entries(f.d)) {
    for (const [bucket, n] of Object.entries(hist)) counts.push(['toolMs', `${tool}\t${bucket}`, n]);
  }
  // Web and API sessions walk pages, MCP sessions call tools (docs/metrics.md, "Paths").
  const path = s.kind === 'mcp' ? f.q : f.p;
  for (let k = 1; k <= path.length; k++) counts.push([PATH_DIMS[k - 1] as CountDim, path.slice(0, k).join('\t'), 1]);
  const names = f.a;
  for (let i = 0; i < names.length; i++) {
    counts.push(['action', names[i] as string, 1]);
    for (let j = i + 1; j < names.length; j++) counts.push(['pair', `${names[i]}\t${names[j]}`, 1]);
  }
  for (const [id, flags] of Object.entries(f.w)) {
    const started = (flags & WF_STARTED) !== 0;
    const completed = (flags & WF_COMPLETED) !== 0;
    const fail = (flags & WF_FAILED) !== 0 && !completed;
    if (started) counts.push(['wfStarted', id, 1]);
    if (completed) counts.push(['wfCompleted', id, 1]);
    if (fail) counts.push(['wfFailed', id, 1]);
    if (started && !completed && !fail && ended) counts.push(['wfAbandoned', id, 1]);
  }
  return { date: local.date, kind: s.kind, user: userKey(s), totals, counts };
}

/**
 * The rollups of the days [fromDate, toDate] from raw rows: `sessions` are those that started in
 * that span (others are ignored), `events` theirs (only the types of ANALYTICS_EVENT_TYPES are
 * read). Every date of the span gets a rollup, empty ones included. `now` decides which sessions
 * have ended: one past its idle timeout has, at its last activity (the definition; the maintained
 * aggregates see it once it is written, see docs/metrics.md).
 */
export function computeDays(
  sessions: readonly Session[],
  events: readonly AnalyticsEvent[],
  fromDate: string,
  toDate: string,
  opts: AnalyticsOptions,
  now: number,
): DayRollup[] {
  const days = new Map<string, DayRollup & { userSet: Set<string> }>();
  for (let d = fromDate; d <= toDate; d = addDays(d, 1)) {
    days.set(d, {
      date: d,
      ...zeroTotals(),
      uniqueUsers: 0,
      users: [],
      counts: {},
      userSet: new Set(),
    });
  }
  const eventsBySession = new Map<string, AnalyticsEvent[]>();
  for (const e of events) {
    let list = eventsBySession.get(e.sessionId);
    if (!list) {
      list = [];
      eventsBySession.set(e.sessionId, list);
    }
    list.push(e);
  }
  const clock = zoneClock(opts.timeZone);
  for (const stored of sessions) {
    const day = days.get(clock(stored.startedAt).date);
    if (!day) continue;
    const s = effectiveSession(stored, now);
    const c = contributionOf(s, facetsOf(eventsBySession.get(s.id) ?? []), opts, clock);
    for (const k of TOTAL_KEYS) day[k] += c.totals[k];
    for (const [dim, value, n] of c.counts) {
      let counts: Counts | undefined = day.counts[dim];
      if (!counts) {
        counts = {};
        day.counts[dim] = counts;
      }
      counts[value] = (counts[value] ?? 0) + n;
    }
    if (c.user !== null) day.userSet.add(c.user);
  }
  return [...days.values()].map(({ userSet, ...day }) => {
    const users = [...userSet].sort();
    return { ...day, users, uniqueUsers: users.length };
  });
}

// ---------------------------------------------------------------------------------------------
// Deltas: what one batch (or a sweep, an import, an erase, a rebuild) changes, summed.

export interface DayDelta extends DayTotals {
  projectId: string;
  date: string;
  kind: AggregateKind;
}
export interface CountDelta {
  projectId: string;
  date: string;
  kind: AggregateKind;
  dim: CountDim;
  value: string;
  n: number;
}
export interface UserDelta {
  projectId: string;
  date: string;
  userKey: string;
  /** Change in that user's sessions on that day. */
  n: number;
}
/** The same per kind (rollup_kind_users): distinct users of one kind. */
export interface KindUserDelta extends UserDelta {
  kind: SessionKind;
}

/** A session as the aggregates see it: the stored row and its facets. */
export interface AggregateInput {
  session: Session;
  facets: SessionFacets;
}

const SEP = '\u0000';

/**
 * Sums contributions per (project, day, kind, dimension, value), per (project, day, user) and per
 * (project, kind, day, user). Rows whose sum is zero are dropped, except that every (day, kind)
 * with any change keeps its day row: the store writes that row in every transaction that changes
 * the day, which is what a rebuild locks on.
 */
export class AggregateDelta {
  readonly #days = new Map<string, DayDelta>();
  readonly #counts = new Map<string, CountDelta>();
  readonly #users = new Map<string, UserDelta>();
  readonly #kindUsers = new Map<string, KindUserDelta>();
  readonly #options: (projectId: string) => { opts: AnalyticsOptions; clock: LocalClock };

  /** `options` gives a project's analytics options and local clock, as the batch's transaction read them. */
  constructor(options: (projectId: string) => { opts: AnalyticsOptions; clock: LocalClock }) {
    this.#options = options;
  }

  #day(projectId: string, date: string, kind: AggregateKind): DayDelta {
    const k = projectId + SEP + date + SEP + kind;
    let d = this.#days.get(k);
    if (!d) {
      d = {
        projectId,
        date,
        kind,
        ...zeroTotals(),
      };
      this.#days.set(k, d);
    }
    return d;
  }

  /** Adds (sign 1) or removes (sign −1) one contribution. */
  add(projectId: string, c: SessionContribution, sign: 1 | -1): void {
    const day = this.#day(projectId, c.date, c.kind);
    for (const k of TOTAL_KEYS) day[k] += sign * c.totals[k];
    for (const [dim, value, n] of c.counts) this.addCount(projectId, c.date, c.kind, dim, value, sign * n);
    if (c.user !== null) {
      this.addUser(projectId, c.date, c.user, sign);
      this.addKindUser(projectId, c.kind, c.date, c.user, sign);
    }
  }

  /** Stored totals in or out (a rebuild takes out what is stored and puts in what the raw rows say). */
  addTotals(projectId: string, date: string, kind: AggregateKind, totals: DayTotals, sign: 1 | -1): void {
    const day = this.#day(projectId, date, kind);
    for (const k of TOTAL_KEYS) day[k] += sign * totals[k];
  }

  /** One stored count in or out (a rebuild). */
  addCount(projectId: string, date: string, kind: AggregateKind, dim: CountDim, value: string, n: number): void {
    this.#day(projectId, date, kind);
    const k = projectId + SEP + date + SEP + kind + SEP + dim + SEP + value;
    const row = this.#counts.get(k);
    if (row) row.n += n;
    else this.#counts.set(k, { projectId, date, kind, dim, value, n });
  }

  /**
   * A change of one user's sessions on a day, over all kinds (also used alone by a rebuild and an
   * erase). Touches no day row: the caller's change of the day does (an erase of a day past
   * retention changes users only, and nothing rebuilds such a day).
   */
  addUser(projectId: string, date: string, user: string, n: number): void {
    const k = projectId + SEP + date + SEP + user;
    const row = this.#users.get(k);
    if (row) row.n += n;
    else this.#users.set(k, { projectId, date, userKey: user, n });
  }

  /** The same for the user's sessions of one kind. */
  addKindUser(projectId: string, kind: SessionKind, date: string, user: string, n: number): void {
    const k = projectId + SEP + kind + SEP + date + SEP + user;
    const row = this.#kindUsers.get(k);
    if (row) row.n += n;
    else this.#kindUsers.set(k, { projectId, kind, date, userKey: user, n });
  }

  /**
   * A session went from `before` to `after` (null: did not exist / no longer exists). The common
   * case — a live session whose counters moved — touches the day totals only.
   */
  change(before: AggregateInput | null, after: AggregateInput | null): void {
    const any = after ?? before;
    if (!any) return;
    const projectId = any.session.projectId;
    if (before && after && before.facets === after.facets && sameFigures(before.session, after.session)) {
      const b = before.session;
      const a = after.session;
      if (a.actions === b.actions && a.toolCalls === b.toolCalls && a.errors > 0 === b.errors > 0) return;
      const day = this.#day(projectId, this.#options(projectId).clock(a.startedAt).date, a.kind);
      day.actions += a.actions - b.actions;
      day.toolCalls += a.toolCalls - b.toolCalls;
      day.errorSessions += (a.errors > 0 ? 1 : 0) - (b.errors > 0 ? 1 : 0);
      return;
    }
    const { opts, clock } = this.#options(projectId);
    if (before) this.add(before.session.projectId, contributionOf(before.session, before.facets, opts, clock), -1);
    if (after) this.add(after.session.projectId, contributionOf(after.session, after.facets, opts, clock), 1);
  }

  /**
   * The rows to apply, each list sorted by its key (concurrent PostgreSQL writers then lock rows
   * in one order and never deadlock on them).
   */
  rows(): { days: DayDelta[]; counts: CountDelta[]; users: UserDelta[]; kindUsers: KindUserDelta[] } {
    const counts = [...this.#counts.values()].filter((r) => r.n !== 0);
    const users = [...this.#users.values()].filter((r) => r.n !== 0);
    const kindUsers = [...this.#kindUsers.values()].filter((r) => r.n !== 0);
    const changed = new Set<string>();
    for (const r of counts) changed.add(r.projectId + SEP + r.date + SEP + r.kind);
    for (const r of kindUsers) changed.add(r.projectId + SEP + r.date + SEP + r.kind);
    const days = [...this.#days.values()].filter(
      (d) => changed.has(d.projectId + SEP + d.date + SEP + d.kind) || TOTAL_KEYS.some((k) => d[k] !== 0),
    );
    // A day whose users (over all kinds) changed alone — an erase on a day of before migration 11 —
    // still writes a day row: its unknown-kind one.
    const written = new Set(days.map((d) => d.projectId + SEP + d.date));
    for (const r of users) {
      const k = r.projectId + SEP + r.date;
      if (written.has(k)) continue;
      written.add(k);
      days.push({ projectId: r.projectId, date: r.date, kind: UNKNOWN_KIND, ...zeroTotals() });
    }
    const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    days.sort((a, b) => cmp(a.projectId, b.projectId) || cmp(a.date, b.date) || cmp(a.kind, b.kind));
    counts.sort(
      (a, b) =>
        cmp(a.projectId, b.projectId) ||
        cmp(a.dim, b.dim) ||
        cmp(a.date, b.date) ||
        cmp(a.value, b.value) ||
        cmp(a.kind, b.kind),
    );
    users.sort((a, b) => cmp(a.projectId, b.projectId) || cmp(a.date, b.date) || cmp(a.userKey, b.userKey));
    kindUsers.sort(
      (a, b) =>
        cmp(a.projectId, b.projectId) || cmp(a.kind, b.kind) || cmp(a.date, b.date) || cmp(a.userKey, b.userKey),
    );
    return { days, counts, users, kindUsers };
  }
}

/** Both live, same user: their contributions differ only in the live counters. */
function sameFigures(a: Session, b: Session): boolean {
  return (
    a.status !== 'ended' &&
    b.status !== 'ended' &&
    a.kind === b.kind &&
    a.userId === b.userId &&
    a.anonymousId === b.anonymousId
  );
}

// ---------------------------------------------------------------------------------------------
// Distinct users over any range, exactly, in days × days.
//
// Each (user, active day) links to the user's previous active day ('' for the first). A user is
// counted once in [from, to] on their first active day in it, which is the day whose previous
// active day is before `from`. So the store keeps, per project and day, how many of that day's
// users have each previous day — (day, prev, n) — and
//   distinct users of [from, to] = Σ n over day ∈ [from, to] and prev < from,
//   distinct users of one day    = Σ n over that day.
// A user-day appears when the user's first session of that day is counted, and vanishes when the
// last one is taken away (identify() moved the session to another key, an erase); only the links
// next to the change move.

/** The previous day of a user's first active day. */
export const NO_DAY = '';

/**
 * The change in (day, prev) links when a user's active days within a span change. `after` are the
 * user's days in the span as they are now, sorted; `appeared` and `vanished` the days that changed;
 * `hasLo` says whether the span starts at an unchanged day before the first change (whose own link
 * is unchanged), else it starts at the user's first day. Returns `day\tprev` → change.
 */
export function linkChanges(
  after: readonly string[],
  appeared: ReadonlySet<string>,
  vanished: ReadonlySet<string>,
  hasLo: boolean,
): Map<string, number> {
  const before = [...after.filter((d) => !appeared.has(d)), ...vanished].sort();
  const out = new Map<string, number>();
  const links = (days: readonly string[], sign: number) => {
    for (let i = hasLo ? 1 : 0; i < days.length; i++) {
      const k = `${days[i]}\t${i === 0 ? NO_DAY : days[i - 1]}`;
      out.set(k, (out.get(k) ?? 0) + sign);
    }
  };
  links(before, -1);
  links(after, 1);
  for (const [k, n] of out) if (n === 0) out.delete(k);
  return out;
}

/** Distinct users of [from, …] and of each day, from the (day, prev, n) links of the range's days. */
export function uniqueUsersOf(
  links: Iterable<{ date: string; prev: string; n: number }>,
  from: string,
): { range: number; days: Map<string, number> } {
  let range = 0;
  const days = new Map<string, number>();
  for (const l of links) {
    days.set(l.date, (days.get(l.date) ?? 0) + l.n);
    if (l.prev < from) range += l.n;
  }
  return { range, days };
}
