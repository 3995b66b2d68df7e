import {
  BREAKDOWN_DIMS,
  type CountDim,
  type Counts,
  type DayTotals,
  DURATION_BUCKETS,
  EXIT_DIMS,
} from '@sessiontrack/core';
import type { SqlDialect } from './sql/dialect.js';
import { named } from './sql/sql.js';

// Today's numbers (and any day without a rollup) straight from SQL, so a live day costs a few
// aggregate queries instead of loading every session into JavaScript. The same definitions as
// core's computeDays, written as SQL over the sessions table; the analytics property test
// (conformance/analytics.case.test.ts) checks that this path, the rollups and core over raw rows
// give equal answers.
// Dimensions that need per-session logic over events (heatmap cell in the project's zone, action
// pairs, workflows) stay in JavaScript (store/analytics.ts).

/** Dimensions this module answers in SQL: every breakdown, plus tool-call counts and duration buckets. */
export const SQL_DIMS: ReadonlySet<CountDim> = new Set<CountDim>([...BREAKDOWN_DIMS, 'toolCall', 'duration']);

export interface LiveDayQuery {
  projectId: string;
  from: number;
  to: number;
  now: number;
  bounceMs: number;
  bounceMaxActions: number;
  dims: readonly CountDim[];
}

export interface LiveDay extends DayTotals {
  users: string[];
  counts: Partial<Record<CountDim, Counts>>;
}

/** One backend's way to run a query in its own dialect's text. */
export type RunSql = (sql: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

const ENDED = `(status = 'ended' OR expires_at <= @now)`;
const DURATION = `(CASE WHEN status = 'ended' THEN coalesce(ended_at, last_activity_at) ELSE last_activity_at END - started_at)`;
const DUR = `(CASE WHEN ${DURATION} < 0 THEN 0 ELSE ${DURATION} END)`;

/** The SQL expression a session-level dimension groups by (tool dimensions are counted from events). */
function dimExpr(dim: CountDim, tab: string): string | null {
  const c = (col: string) => `coalesce(${col}, '')`;
  switch (dim) {
    case 'country':
      return c('country');
    case 'region':
      return `${c('country')} || ${tab} || ${c('region')}`;
    case 'continent':
      return c('continent');
    case 'deviceType':
      return c('device_type');
    case 'browser':
      return c('browser');
    case 'os':
      return c('os');
    case 'entryPage':
      return c('entry_page');
    case 'source':
      return c('entry_source');
    case 'referrer':
      return c('entry_referrer');
    case 'campaign':
      return c('entry_campaign');
    case 'transport':
      return c('transport');
    case 'exitPage':
      return c('exit_page');
    // An expired session not yet swept has ended with reason timeout (core's effectiveSession).
    case 'exitReason':
      return `CASE WHEN status = 'ended' THEN ${c('exit_reason')} ELSE 'timeout' END`;
    case 'exitAction':
      return c('last_action');
    case 'duration': {
      const cases = DURATION_BUCKETS.filter((b) => Number.isFinite(b.underSeconds))
        .map((b) => `WHEN ${DUR} < ${b.underSeconds * 1000} THEN '${b.label}'`)
        .join(' ');
      return `CASE ${cases} ELSE '${DURATION_BUCKETS[DURATION_BUCKETS.length - 1]?.label}' END`;
    }
    default:
      return null;
  }
}

/** Runs the live-day aggregates; `@name` parameters become the dialect's placeholders. */
export async function liveDay(q: LiveDayQuery, run: RunSql, dialect: SqlDialect): Promise<LiveDay> {
  const p = {
    projectId: q.projectId,
    from: q.from,
    to: q.to,
    now: q.now,
    bounceMs: q.bounceMs,
    bounceActions: q.bounceMaxActions,
  };
  const scope = 'project_id = @projectId AND started_at >= @from AND started_at < @to';
  const go = (sql: string) => {
    const c = named(sql, p, dialect);
    return run(c.text, c.params);
  };
  const [totals] = await go(
    `SELECT count(*) AS sessions,
       sum(CASE WHEN ${ENDED} THEN 1 ELSE 0 END) AS ended_sessions,
       sum(CASE WHEN ${ENDED} THEN ${DUR} ELSE 0 END) AS duration_ms_sum,
       sum(CASE WHEN ${ENDED} AND ${DUR} < @bounceMs AND actions <= @bounceActions THEN 1 ELSE 0 END) AS bounces,
       sum(CASE WHEN errors > 0 THEN 1 ELSE 0 END) AS error_sessions,
       sum(actions) AS actions, sum(tool_calls) AS tool_calls
     FROM sessions WHERE ${scope}`,
  );
  const users = await go(
    `SELECT DISTINCT CASE WHEN user_id IS NOT NULL THEN 'u:' || user_id ELSE 'a:' || anonymous_id END AS k
     FROM sessions WHERE ${scope} AND (user_id IS NOT NULL OR anonymous_id IS NOT NULL)`,
  );
  const counts: LiveDay['counts'] = {};
  for (const dim of q.dims) {
    const d = dimExpr(dim, dialect.tab);
    if (!d) continue;
    const rows = await go(
      `SELECT ${d} AS v, count(*) AS n FROM sessions WHERE ${scope}${EXIT_DIMS.has(dim) ? ` AND ${ENDED}` : ''} GROUP BY 1`,
    );
    const out: Counts = {};
    for (const r of rows) out[String(r.v)] = Number(r.n);
    counts[dim] = out;
  }
  if (q.dims.includes('tool') || q.dims.includes('toolCall')) {
    const rows = await go(
      `SELECT name, count(*) AS calls, count(DISTINCT session_id) AS sessions FROM events
       WHERE session_id IN (SELECT id FROM sessions WHERE ${scope}) AND type = 'tool_call' AND name IS NOT NULL
       GROUP BY name`,
    );
    const tool: Counts = {};
    const toolCall: Counts = {};
    for (const r of rows) {
      tool[String(r.name)] = Number(r.sessions);
      toolCall[String(r.name)] = Number(r.calls);
    }
    if (q.dims.includes('tool')) counts.tool = tool;
    if (q.dims.includes('toolCall')) counts.toolCall = toolCall;
  }
  const n = (k: string) => Number(totals?.[k] ?? 0);
  return {
    sessions: n('sessions'),
    endedSessions: n('ended_sessions'),
    durationMsSum: n('duration_ms_sum'),
    bounces: n('bounces'),
    errorSessions: n('error_sessions'),
    actions: n('actions'),
    toolCalls: n('tool_calls'),
    users: users.map((r) => String(r.k)).sort(),
    counts,
  };
}

/**
 * Distinct users of a set of rolled days, cached: counting them means a DISTINCT over every user
 * key of those days (hundreds of thousands on a busy project), while the answer changes only when
 * one of the days is rolled up again (a new `version`, the newest computedAt) or a user is erased
 * (`clear`). Entries also expire after a minute, for erasures on other instances.
 */
export class RolledUserCounts {
  readonly #entries = new Map<string, { n: number; at: number }>();

  /** The count for these days at this version: remembered, else `count()`'s answer (then remembered). */
  async of(
    projectId: string,
    dates: readonly string[],
    version: number,
    count: () => number | Promise<number>,
    now = Date.now(),
  ): Promise<number> {
    const key = `${projectId}\u0000${version}\u0000${dates.join(',')}`;
    const e = this.#entries.get(key);
    if (e && now - e.at <= 60_000) return e.n;
    const n = await count();
    if (this.#entries.size >= 200) this.#entries.clear();
    this.#entries.set(key, { n, at: now });
    return n;
  }

  clear(): void {
    this.#entries.clear();
  }
}
