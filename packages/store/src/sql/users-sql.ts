import { PATTERN_SESSIONS, type SessionKind, type UserActivity, type UserDay } from '@sessiontrack/core';
import type { SqlProgram } from './aggregates-sql.js';
import { raw, rows, type Sql, sql } from './sql.js';

// The two reads of the Users view, written once for every dialect: retention's user-days (from
// the maintained per-day users, rollup_users) and the users overview (one pass over the range's
// users' latest sessions). docs/metrics.md, "Retention" and "Users overview".

type Row = Record<string, unknown>;

/** Identified users' key prefix in rollup_users (core's userKey). */
const IDENTIFIED = 'u:';

/**
 * Active days in [fromDate, toDate] of the identified users with no day before fromDate: so a
 * user's first day among them is their first session ever. Two statements: the range's user-days
 * (one range of rollup_users' key), then, once per distinct user, one index probe
 * (rollup_users_key, rollup_kind_users_key) for an earlier day; per user and not per user-day, and no join for a
 * planner to get wrong.
 */
export function* newUserDaysProgram(
  projectId: string,
  fromDate: string,
  toDate: string,
  kind?: SessionKind,
): SqlProgram<UserDay[]> {
  // One kind: the per-kind user table (migration 11), where "first ever" is the first session of
  // that kind; all kinds: rollup_users.
  const table = raw(kind === undefined ? 'rollup_users' : 'rollup_kind_users');
  const ofKind = (alias: string) => (kind === undefined ? raw('') : sql` AND ${raw(alias)}kind = ${kind}`);
  const found = yield sql`SELECT user_key, day FROM ${table}
    WHERE project_id = ${projectId}${ofKind('')} AND day >= ${fromDate} AND day <= ${toDate}
      AND substr(user_key, 1, 2) = ${IDENTIFIED} AND n > 0`;
  if (found.length === 0) return [];
  const keys = [...new Set(found.map((r) => String(r.user_key)))].sort();
  const seen = yield sql`SELECT c.k FROM ${rows(
    'c',
    [['k', 'text']],
    keys.map((k) => [k]),
  )}
    WHERE EXISTS (SELECT 1 FROM ${table} x
      WHERE x.project_id = ${projectId}${ofKind('x.')} AND x.user_key = c.k AND x.day < ${fromDate} AND x.n > 0)`;
  const before = new Set(seen.map((r) => String(r.k)));
  return found
    .filter((r) => !before.has(String(r.user_key)))
    .map((r) => ({ user: String(r.user_key).slice(IDENTIFIED.length), day: String(r.day) }));
}

/**
 * One row per identified user with a session that started in [from, to): its sessions there and
 * latest activity, and what the pattern label reads of its latest PATTERN_SESSIONS sessions of
 * any time (a window over each such user's sessions, on sessions_project_user).
 *
 * The expiry rule needs no `now` here: an expired session ends at its last activity
 * (timeoutEnd), which is where a live one's duration stops too (coalesce below); errors and
 * actions do not move when it ends. So the label is the one userPattern computes at any `now`.
 */
export const userActivitySql = (projectId: string, from: number, to: number): Sql =>
  sql`WITH range_users AS (
      SELECT user_id, count(*) AS sessions, max(last_activity_at) AS last_seen
      FROM sessions
      WHERE project_id = ${projectId} AND user_id IS NOT NULL AND started_at >= ${from} AND started_at < ${to}
      GROUP BY user_id
    ), ranked AS (
      SELECT s.user_id, r.sessions, r.last_seen, s.errors, s.actions,
        CASE WHEN coalesce(s.ended_at, s.last_activity_at) > s.started_at
          THEN coalesce(s.ended_at, s.last_activity_at) - s.started_at ELSE 0 END AS dur,
        row_number() OVER (PARTITION BY s.user_id ORDER BY s.started_at DESC, s.id DESC) AS rn
      FROM range_users r JOIN sessions s ON s.project_id = ${projectId} AND s.user_id = r.user_id
      WHERE s.user_id IS NOT NULL
    )
    -- No join back to range_users: its columns ride along, so no planner (PostgreSQL without
    -- statistics on a fresh table) can turn the last step into users × sessions.
    SELECT user_id, max(sessions) AS sessions, max(last_seen) AS last_seen, count(*) AS n, sum(dur) AS dur,
      sum(actions) AS actions, max(CASE WHEN rn = 1 THEN errors ELSE 0 END) AS latest_errors
    FROM ranked WHERE rn <= ${PATTERN_SESSIONS}
    GROUP BY user_id`;

export const userActivityOf = (found: readonly Row[]): UserActivity[] =>
  found.map((r) => ({
    userId: String(r.user_id),
    sessions: Number(r.sessions),
    lastSeenAt: Number(r.last_seen),
    label: {
      sessions: Number(r.n),
      latestSessionErrors: Number(r.latest_errors ?? 0),
      durationMs: Number(r.dur ?? 0),
      actions: Number(r.actions ?? 0),
    },
  }));
