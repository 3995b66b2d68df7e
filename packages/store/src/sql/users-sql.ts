import { PATTERN_SESSIONS, type UserActivity, type UserDay } from '@sessiontrack/core';
import { type Sql, sql } from './sql.js';

// The two reads of the Users view, written once for every dialect: retention's user-days (from
// the maintained per-day users, rollup_users) and the users overview (one pass over the range's
// users' latest sessions). docs/metrics.md, "Retention" and "Users overview".

type Row = Record<string, unknown>;

/** Identified users' key prefix in rollup_users (core's userKey). */
const IDENTIFIED = 'u:';

/**
 * Active days in [fromDate, toDate] of the identified users with no day before fromDate: so a
 * user's first day among them is their first session ever. Cost: the range's user-days, plus one
 * index probe (rollup_users_key) per user-day to rule out an earlier day.
 */
export const newUserDaysSql = (projectId: string, fromDate: string, toDate: string): Sql =>
  sql`SELECT u.user_key, u.day FROM rollup_users u
    WHERE u.project_id = ${projectId} AND u.day >= ${fromDate} AND u.day <= ${toDate}
      AND substr(u.user_key, 1, 2) = ${IDENTIFIED} AND u.n > 0
      AND NOT EXISTS (SELECT 1 FROM rollup_users x
        WHERE x.project_id = u.project_id AND x.user_key = u.user_key AND x.day < ${fromDate} AND x.n > 0)`;

export const userDaysOf = (found: readonly Row[]): UserDay[] =>
  found.map((r) => ({ user: String(r.user_key).slice(IDENTIFIED.length), day: String(r.day) }));

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
      SELECT s.user_id, s.errors, s.actions,
        CASE WHEN coalesce(s.ended_at, s.last_activity_at) > s.started_at
          THEN coalesce(s.ended_at, s.last_activity_at) - s.started_at ELSE 0 END AS dur,
        row_number() OVER (PARTITION BY s.user_id ORDER BY s.started_at DESC, s.id DESC) AS rn
      FROM sessions s JOIN range_users r ON r.user_id = s.user_id
      WHERE s.project_id = ${projectId} AND s.user_id IS NOT NULL
    )
    SELECT r.user_id, r.sessions, r.last_seen, count(*) AS n, sum(k.dur) AS dur, sum(k.actions) AS actions,
      max(CASE WHEN k.rn = 1 THEN k.errors ELSE 0 END) AS latest_errors
    FROM range_users r JOIN ranked k ON k.user_id = r.user_id AND k.rn <= ${PATTERN_SESSIONS}
    GROUP BY r.user_id, r.sessions, r.last_seen`;

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
