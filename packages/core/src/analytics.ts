import { continentOf } from './continents.js';
import { latencyPercentile } from './latency.js';
import { addDays, dayStart, localDate } from './time.js';
import type { EventType, Session } from './types.js';

// The analytics definitions of docs/metrics.md, written once. Everything the stats routes answer is
// built from `DayRollup`s: one per project and calendar day (in the project's time zone), the sum
// of what the sessions that *started* that day contribute (aggregates.ts: `contributionOf`, and
// `computeDays` over raw rows). The store maintains the same sums as sessions change. Ranges are
// sums of days; only distinct users are not additive (aggregates.ts counts them over any range).

export interface AnalyticsOptions {
  timeZone: string;
  /** A bounce lasted under this many seconds … */
  bounceSeconds: number;
  /** … with at most this many actions. */
  bounceMaxActions: number;
}

export const DEFAULT_BOUNCE = { bounceSeconds: 30, bounceMaxActions: 1 } as const;

/** The `by` values of `/stats/breakdown`. */
export const BREAKDOWN_DIMS = [
  'country',
  'region',
  'continent',
  'deviceType',
  'browser',
  'os',
  'entryPage',
  'exitPage',
  'source',
  'referrer',
  'campaign',
  'exitReason',
  'exitAction',
  'transport',
  /** The MCP client's name (the session's `metadata.clientName`, as packages/mcp writes it). */
  'client',
  'tool',
] as const;
export type BreakdownDim = (typeof BREAKDOWN_DIMS)[number];

/** Every counted dimension of a day: the breakdowns plus what the insights need. */
export const COUNT_DIMS = [
  ...BREAKDOWN_DIMS,
  /** tool name → tool_call events (the breakdown counts sessions). */
  'toolCall',
  /** tool name → failed tool_call events (details.isError or details.error true), for error rates. */
  'toolError',
  /** `weekday:hour` of the session start → sessions. */
  'cell',
  /** action name → sessions that used it. */
  'action',
  /** `a\tb` (a < b) → sessions that used both. */
  'pair',
  /** duration bucket → ended sessions. */
  'duration',
  /** workflow id → (session, workflow) pairs started / completed / failed / abandoned. */
  'wfStarted',
  'wfCompleted',
  'wfFailed',
  'wfAbandoned',
  /**
   * `tool\tbucket` → tool_call events whose details.durationMs fell in that latency bucket
   * (latency.ts), for the tools' percentiles.
   */
  'toolMs',
  /**
   * The session's path (docs/metrics.md, "Paths"): pathK counts, per sequence of its first K
   * steps (joined by a tab), the sessions whose path has at least K steps. A session adds one row
   * per step it has (at most MAX_PATH_STEPS), so a longer path costs a write only when it grows.
   */
  'path1',
  'path2',
  'path3',
  'path4',
  'path5',
] as const;
export type CountDim = (typeof COUNT_DIMS)[number];

/** path1 … path5: the dimension that counts paths by their first K steps. */
export const PATH_DIMS = ['path1', 'path2', 'path3', 'path4', 'path5'] as const satisfies readonly CountDim[];
/** The longest path a session keeps (the `steps` of /stats/paths go up to it). */
export const MAX_PATH_STEPS = PATH_DIMS.length;

/** Dimensions that count ended sessions only (a live session has not exited yet). */
export const EXIT_DIMS: ReadonlySet<CountDim> = new Set(['exitPage', 'exitReason', 'exitAction', 'duration']);
/** Dimensions that need the sessions' events. */
export const EVENT_DIMS: ReadonlySet<CountDim> = new Set([
  'tool',
  'toolCall',
  'toolError',
  'action',
  'pair',
  'wfStarted',
  'wfCompleted',
  'wfFailed',
  'wfAbandoned',
  'toolMs',
  ...PATH_DIMS,
]);

/** The event types analytics reads (pageviews for the paths; custom events are not needed). */
export const ANALYTICS_EVENT_TYPES: readonly EventType[] = [
  'pageview',
  'action',
  'tool_call',
  'workflow_start',
  'workflow_complete',
  'workflow_fail',
];

/** The part of a stored event that analytics reads. */
export interface AnalyticsEvent {
  sessionId: string;
  type: EventType;
  name: string | null;
  /** The page of a pageview (the paths read it); absent or null for other events. */
  page?: string | null;
  details: Record<string, unknown> | null;
}

/** A null value of a dimension is stored under this key (and answered as null). */
export const NONE = '';
/** More distinct actions than this in one session: only the first (alphabetically) form pairs. */
export const MAX_PAIR_ACTIONS = 30;

export const DURATION_BUCKETS: readonly { label: string; underSeconds: number }[] = [
  { label: '0-10s', underSeconds: 10 },
  { label: '10-30s', underSeconds: 30 },
  { label: '30s-1m', underSeconds: 60 },
  { label: '1-5m', underSeconds: 300 },
  { label: '5-15m', underSeconds: 900 },
  { label: '15-30m', underSeconds: 1800 },
  { label: '30-60m', underSeconds: 3600 },
  { label: '1h+', underSeconds: Number.POSITIVE_INFINITY },
];

export type Counts = Record<string, number>;

export interface DayTotals {
  sessions: number;
  /** Sessions ended at `now` (written, or expired by the clock). */
  endedSessions: number;
  /** Sum of the ended sessions' durations. */
  durationMsSum: number;
  bounces: number;
  /** Sessions with at least one error. */
  errorSessions: number;
  actions: number;
  toolCalls: number;
  /** Ended sessions that reported engaged time (docs/metrics.md, "Engaged time"). */
  engagedSessions: number;
  /** Sum of their engaged time, each at most its session's duration. */
  engagedMsSum: number;
}

export interface DayRollup extends DayTotals {
  date: string;
  uniqueUsers: number;
  /** Distinct user keys (see `userKey`); kept in the rollup's user table, not in its counts. */
  users: string[];
  counts: Partial<Record<CountDim, Counts>>;
}

/** Who a session belongs to for "unique users": the user id, else the anonymous id, else nobody. */
export function userKey(s: Pick<Session, 'userId' | 'anonymousId'>): string | null {
  if (s.userId !== null) return `u:${s.userId}`;
  if (s.anonymousId !== null) return `a:${s.anonymousId}`;
  return null;
}

/** Longest client name counted (packages/mcp keeps at most 128 characters too). */
const MAX_CLIENT_NAME = 128;

/** The client of a session for `by=client`: its `metadata.clientName` when that is a non-empty string. */
export function clientOf(s: Pick<Session, 'metadata'>): string | null {
  const name = s.metadata?.clientName;
  return typeof name === 'string' && name !== '' ? name.slice(0, MAX_CLIENT_NAME) : null;
}

/** Duration in ms of an ended session (live sessions have none: they are not averaged). */
export function durationMs(s: Pick<Session, 'startedAt' | 'lastActivityAt' | 'endedAt'>): number {
  return Math.max(0, (s.endedAt ?? s.lastActivityAt) - s.startedAt);
}

/** Bounce: an ended session under `bounceSeconds` with at most `bounceMaxActions` actions. */
export function isBounce(s: Session, opts: Pick<AnalyticsOptions, 'bounceSeconds' | 'bounceMaxActions'>): boolean {
  return s.status === 'ended' && durationMs(s) < opts.bounceSeconds * 1000 && s.actions <= opts.bounceMaxActions;
}

export function durationBucket(ms: number): string {
  const seconds = ms / 1000;
  for (const b of DURATION_BUCKETS) if (seconds < b.underSeconds) return b.label;
  return DURATION_BUCKETS[DURATION_BUCKETS.length - 1]?.label ?? '1h+';
}

/** The workflow an event belongs to: `details.workflowId` (a string or number), else its name. */
export function workflowIdOf(e: Pick<AnalyticsEvent, 'name' | 'details'>): string | null {
  const id = e.details?.workflowId;
  if (typeof id === 'string' && id !== '') return id;
  if (typeof id === 'number' && Number.isFinite(id)) return String(id);
  return e.name;
}

export interface WorkflowOutcome {
  workflowId: string;
  started: boolean;
  completed: boolean;
  failed: boolean;
  abandoned: boolean;
}

/**
 * The workflows of one session: per workflow id, whether it was started, completed, failed
 * (a fail with no completion) and abandoned (started, neither completed nor failed, and the
 * session has ended — while it is live the workflow is still in progress).
 */
export function sessionWorkflows(
  events: readonly Pick<AnalyticsEvent, 'type' | 'name' | 'details'>[],
  ended: boolean,
): WorkflowOutcome[] {
  const byId = new Map<string, { started: boolean; completed: boolean; failed: boolean }>();
  for (const e of events) {
    if (e.type !== 'workflow_start' && e.type !== 'workflow_complete' && e.type !== 'workflow_fail') continue;
    const id = workflowIdOf(e);
    if (id === null) continue;
    let w = byId.get(id);
    if (!w) {
      w = { started: false, completed: false, failed: false };
      byId.set(id, w);
    }
    if (e.type === 'workflow_start') w.started = true;
    else if (e.type === 'workflow_complete') w.completed = true;
    else w.failed = true;
  }
  return [...byId]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([workflowId, w]) => ({
      workflowId,
      started: w.started,
      completed: w.completed,
      failed: w.failed && !w.completed,
      abandoned: w.started && !w.completed && !w.failed && ended,
    }));
}

function bump(counts: Partial<Record<CountDim, Counts>>, dim: CountDim, key: string, n = 1): void {
  let c = counts[dim];
  if (!c) {
    c = {};
    counts[dim] = c;
  }
  c[key] = (c[key] ?? 0) + n;
}

/** The UTC-day numbers (epoch ms / 1 day, floored) that a local calendar day overlaps. */
export function utcDaysOf(date: string, timeZone: string): number[] {
  const start = dayStart(date, timeZone);
  const end = dayStart(addDays(date, 1), timeZone) - 1;
  const out: number[] = [];
  for (let d = Math.floor(start / 86_400_000); d <= Math.floor(end / 86_400_000); d++) out.push(d);
  return out;
}

/** The local calendar days a UTC day (epoch ms / 1 day) overlaps in a time zone. */
export function localDatesOfUtcDay(utcDay: number, timeZone: string): string[] {
  const first = localDate(utcDay * 86_400_000, timeZone);
  const last = localDate((utcDay + 1) * 86_400_000 - 1, timeZone);
  const out: string[] = [];
  for (let d = first; d <= last; d = addDays(d, 1)) out.push(d);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Ranges: sums of days, and the answers of the stats routes.

export interface RangeTotals extends DayTotals {
  counts: Partial<Record<CountDim, Counts>>;
}

/** Every DayTotals figure at zero: the start of a day, a range or a batch delta. */
export function zeroTotals(): DayTotals {
  return {
    sessions: 0,
    endedSessions: 0,
    durationMsSum: 0,
    bounces: 0,
    errorSessions: 0,
    actions: 0,
    toolCalls: 0,
    engagedSessions: 0,
    engagedMsSum: 0,
  };
}

export function emptyTotals(): RangeTotals {
  return { ...zeroTotals(), counts: {} };
}

/** Adds a day (or any totals) into `into`; counts only for `dims` (all when omitted). */
export function addTotals(
  into: RangeTotals,
  day: DayTotals & { counts?: RangeTotals['counts'] },
  dims?: readonly CountDim[],
): RangeTotals {
  into.sessions += day.sessions;
  into.endedSessions += day.endedSessions;
  into.durationMsSum += day.durationMsSum;
  into.bounces += day.bounces;
  into.errorSessions += day.errorSessions;
  into.actions += day.actions;
  into.toolCalls += day.toolCalls;
  into.engagedSessions += day.engagedSessions;
  into.engagedMsSum += day.engagedMsSum;
  for (const dim of dims ?? (Object.keys(day.counts ?? {}) as CountDim[])) {
    const from = day.counts?.[dim];
    if (!from) continue;
    for (const [k, n] of Object.entries(from)) bump(into.counts, dim, k, n);
  }
  return into;
}

const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);
/** Seconds with one decimal. */
const seconds = (ms: number): number => Math.round(ms / 100) / 10;

export interface Summary {
  sessions: number;
  uniqueUsers: number;
  endedSessions: number;
  avgDurationSeconds: number;
  /** Over the ended sessions that reported engaged time; null when none did. */
  avgEngagedSeconds: number | null;
  bounceRate: number;
  errorRate: number;
  actions: number;
  toolCalls: number;
}

export function summaryOf(t: DayTotals, uniqueUsers: number): Summary {
  return {
    sessions: t.sessions,
    uniqueUsers,
    endedSessions: t.endedSessions,
    avgDurationSeconds: seconds(ratio(t.durationMsSum, t.endedSessions)),
    avgEngagedSeconds: t.engagedSessions === 0 ? null : seconds(t.engagedMsSum / t.engagedSessions),
    bounceRate: ratio(t.bounces, t.endedSessions),
    errorRate: ratio(t.errorSessions, t.sessions),
    actions: t.actions,
    toolCalls: t.toolCalls,
  };
}

/** The most frequent non-null value; ties go to the alphabetically first. */
export function mostCommon(counts: Counts | undefined): string | null {
  let best: string | null = null;
  let bestN = 0;
  for (const [k, n] of Object.entries(counts ?? {})) {
    if (k === NONE || n <= 0) continue;
    if (n > bestN || (n === bestN && best !== null && k < best)) {
      best = k;
      bestN = n;
    }
  }
  return best;
}

export interface DailyStats extends Omit<Summary, 'endedSessions'> {
  date: string;
  endedSessions: number;
  mostCommonEntry: string | null;
  mostCommonExit: string | null;
  /** country code → sessions (sessions without a country under "unknown"). */
  countries: Counts;
}

export function dailyOf(
  day: DayTotals & { date: string; uniqueUsers: number; counts: RangeTotals['counts'] },
): DailyStats {
  return {
    date: day.date,
    ...summaryOf(day, day.uniqueUsers),
    mostCommonEntry: mostCommon(day.counts.entryPage),
    mostCommonExit: mostCommon(day.counts.exitPage),
    countries: countryCounts(day.counts.country),
  };
}

/** Sessions per country code, those without one under "unknown". */
function countryCounts(byCountry: Counts | undefined): Counts {
  const out: Counts = {};
  for (const [k, n] of Object.entries(byCountry ?? {})) out[k === NONE ? 'unknown' : k] = n;
  return out;
}

export interface BreakdownRow {
  value: string | null;
  sessions: number;
  share: number;
  /** by=region: the region's country. */
  country?: string | null;
  /** by=tool: tool_call events (sessions counts the sessions that called it). */
  calls?: number;
  /** by=tool: failed tool_call events, and their share of the calls. */
  errors?: number;
  errorRate?: number;
}

/**
 * One breakdown, most sessions first (ties alphabetically). `share` is over all sessions of the
 * range, or over the ended ones for exitPage, exitReason and exitAction.
 */
export function breakdownOf(t: RangeTotals, by: BreakdownDim, limit: number): BreakdownRow[] {
  const total = EXIT_DIMS.has(by) ? t.endedSessions : t.sessions;
  const rows = Object.entries(t.counts[by] ?? {})
    .filter(([, n]) => n > 0)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, limit);
  return rows.map(([k, n]) => {
    if (by === 'region') {
      const [country = NONE, region = NONE] = k.split('\t');
      return {
        value: region === NONE ? null : region,
        country: country === NONE ? null : country,
        sessions: n,
        share: ratio(n, total),
      };
    }
    const row: BreakdownRow = { value: k === NONE ? null : k, sessions: n, share: ratio(n, total) };
    if (by === 'tool') {
      row.calls = t.counts.toolCall?.[k] ?? 0;
      row.errors = t.counts.toolError?.[k] ?? 0;
      row.errorRate = ratio(row.errors, row.calls);
    }
    return row;
  });
}

export interface WorkflowStats {
  workflowId: string;
  started: number;
  completed: number;
  failed: number;
  abandoned: number;
  /** abandoned / started. */
  abandonRate: number;
}

/** Per workflow id, most abandoned first. */
export function workflowsOf(t: RangeTotals): WorkflowStats[] {
  const ids = new Set<string>();
  for (const dim of ['wfStarted', 'wfCompleted', 'wfFailed', 'wfAbandoned'] as const) {
    for (const k of Object.keys(t.counts[dim] ?? {})) ids.add(k);
  }
  return [...ids]
    .map((workflowId) => {
      const started = t.counts.wfStarted?.[workflowId] ?? 0;
      const abandoned = t.counts.wfAbandoned?.[workflowId] ?? 0;
      return {
        workflowId,
        started,
        completed: t.counts.wfCompleted?.[workflowId] ?? 0,
        failed: t.counts.wfFailed?.[workflowId] ?? 0,
        abandoned,
        abandonRate: ratio(abandoned, started),
      };
    })
    .sort((a, b) => b.abandoned - a.abandoned || b.started - a.started || (a.workflowId < b.workflowId ? -1 : 1));
}

/** The weekday × hour heatmap: all 168 cells, Monday 00:00 first. */
export function activityOf(t: RangeTotals): { weekday: number; hour: number; sessions: number }[] {
  const cells: { weekday: number; hour: number; sessions: number }[] = [];
  for (let weekday = 0; weekday < 7; weekday++) {
    for (let hour = 0; hour < 24; hour++)
      cells.push({ weekday, hour, sessions: t.counts.cell?.[`${weekday}:${hour}`] ?? 0 });
  }
  return cells;
}

export interface TogetherRow {
  a: string;
  b: string;
  sessions: number;
  /** P(a and b) / (P(a) · P(b)) over all sessions of the range: above 1, used together more than by chance. */
  lift: number;
}

export function togetherOf(t: RangeTotals, limit: number): TogetherRow[] {
  const used = t.counts.action ?? {};
  return Object.entries(t.counts.pair ?? {})
    .filter(([, n]) => n > 0)
    .map(([k, n]) => {
      const [a = '', b = ''] = k.split('\t');
      const lift = ratio(n * t.sessions, (used[a] ?? 0) * (used[b] ?? 0));
      return { a, b, sessions: n, lift: Math.round(lift * 1000) / 1000 };
    })
    .sort((x, y) => y.sessions - x.sessions || y.lift - x.lift || (x.a + x.b < y.a + y.b ? -1 : 1))
    .slice(0, limit);
}

/** Ended sessions per duration bucket, in bucket order (empty buckets included). */
export function durationsOf(t: RangeTotals): { bucket: string; sessions: number; share: number }[] {
  return DURATION_BUCKETS.map((b) => {
    const n = t.counts.duration?.[b.label] ?? 0;
    return { bucket: b.label, sessions: n, share: ratio(n, t.endedSessions) };
  });
}

/**
 * Per-country stats: the top countries (most sessions first, ties alphabetical) with their regions,
 * and sessions per country for every day of the range.
 */
export function countriesOf(
  t: RangeTotals,
  days: readonly (DayTotals & { date: string; counts: RangeTotals['counts'] })[],
  limit: number,
) {
  const byCountry = t.counts.country ?? {};
  const regions = t.counts.region ?? {};
  const known = Object.entries(byCountry).filter(([k]) => k !== NONE);
  const top = known
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
    .slice(0, limit)
    .map(([country, n]) => ({
      country,
      continent: continentOf(country),
      sessions: n,
      share: ratio(n, t.sessions),
      regions: Object.entries(regions)
        .filter(([k]) => k.startsWith(`${country}\t`))
        .map(([k, m]) => ({ region: k.slice(country.length + 1) || null, sessions: m, share: m / n }))
        .sort((a, b) => b.sessions - a.sessions || ((a.region ?? '') < (b.region ?? '') ? -1 : 1)),
    }));
  return {
    sessions: t.sessions,
    countries: known.length,
    unknownCountrySessions: byCountry[NONE] ?? 0,
    top,
    daily: days.map((d) => ({ date: d.date, sessions: d.sessions, countries: countryCounts(d.counts.country) })),
  };
}

/** Exit analysis: where ended sessions left, why, and the last action before leaving. */
export function exitsOf(t: RangeTotals, limit: number) {
  return {
    endedSessions: t.endedSessions,
    pages: breakdownOf(t, 'exitPage', limit),
    reasons: breakdownOf(t, 'exitReason', limit),
    lastActions: breakdownOf(t, 'exitAction', limit),
  };
}

export interface PathRow {
  steps: string[];
  sessions: number;
  /** Of the sessions of the range that have a path. */
  share: number;
}

/**
 * The most common paths of at most `steps` steps (most sessions first, ties by their steps). A
 * path shorter than `steps` is one that ended there: pathJ[v] minus the sessions that went on,
 * Σ pathJ+1[v › x]. Reads path1 … path`steps`.
 */
export function pathsOf(t: RangeTotals, steps: number, limit: number): PathRow[] {
  const k = Math.min(Math.max(1, steps), MAX_PATH_STEPS);
  let withPath = 0;
  for (const n of Object.values(t.counts.path1 ?? {})) if (n > 0) withPath += n;
  const rows: [string, number][] = [];
  for (let j = 1; j <= k; j++) {
    const here = t.counts[PATH_DIMS[j - 1] as CountDim] ?? {};
    const wentOn = new Map<string, number>();
    if (j < k) {
      for (const [v, n] of Object.entries(t.counts[PATH_DIMS[j] as CountDim] ?? {})) {
        const parent = v.slice(0, v.lastIndexOf('\t'));
        wentOn.set(parent, (wentOn.get(parent) ?? 0) + n);
      }
    }
    for (const [v, n] of Object.entries(here)) {
      const ended = n - (wentOn.get(v) ?? 0);
      if (ended > 0) rows.push([v, ended]);
    }
  }
  return rows
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, limit)
    .map(([v, n]) => ({ steps: v.split('\t'), sessions: n, share: ratio(n, withPath) }));
}

export interface ToolRow {
  tool: string;
  calls: number;
  sessions: number;
  errors: number;
  errorRate: number;
  /** Median and 95th percentile of the calls' durations (latency.ts); null when none reported one. */
  p50Ms: number | null;
  p95Ms: number | null;
}

/** Per tool, most called first (ties: more sessions, then by name). Reads tool, toolCall, toolError, toolMs. */
export function toolsOf(t: RangeTotals, limit: number): ToolRow[] {
  const hists = new Map<string, Map<number, number>>();
  for (const [v, n] of Object.entries(t.counts.toolMs ?? {})) {
    const cut = v.lastIndexOf('\t');
    const tool = v.slice(0, cut);
    let h = hists.get(tool);
    if (!h) {
      h = new Map();
      hists.set(tool, h);
    }
    const b = Number(v.slice(cut + 1));
    h.set(b, (h.get(b) ?? 0) + n);
  }
  const names = new Set([...Object.keys(t.counts.toolCall ?? {}), ...Object.keys(t.counts.tool ?? {})]);
  return [...names]
    .map((tool) => {
      const calls = t.counts.toolCall?.[tool] ?? 0;
      const errors = t.counts.toolError?.[tool] ?? 0;
      const h = hists.get(tool) ?? new Map<number, number>();
      return {
        tool,
        calls,
        sessions: t.counts.tool?.[tool] ?? 0,
        errors,
        errorRate: ratio(errors, calls),
        p50Ms: latencyPercentile(h, 0.5),
        p95Ms: latencyPercentile(h, 0.95),
      };
    })
    .filter((r) => r.calls > 0 || r.sessions > 0)
    .sort((a, b) => b.calls - a.calls || b.sessions - a.sessions || (a.tool < b.tool ? -1 : a.tool > b.tool ? 1 : 0))
    .slice(0, limit);
}
