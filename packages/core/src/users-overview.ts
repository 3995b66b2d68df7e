import { PATTERN_LABELS, type PatternLabel, type PatternLabelInput, patternLabel } from './patterns.js';

// The users overview (GET /users; docs/metrics.md, "Users overview"): the identified users with a
// session in a range, most recently seen first, a page at a time, and how many of them carry each
// pattern label. Pure: the store answers one row per user (its sessions in the range, when it was
// last seen, and what the label reads of its latest sessions); paging and labels are here.

/** One identified user of a range, as the store reads it. */
export interface UserActivity {
  userId: string;
  /** Sessions that started in the range. */
  sessions: number;
  /** Latest activity (epoch ms) of those sessions. */
  lastSeenAt: number;
  /** The user's latest PATTERN_SESSIONS sessions (not only the range's), for `patternLabel`. */
  label: PatternLabelInput;
}

export interface UserListItem {
  userId: string;
  sessions: number;
  lastSeenAt: number;
  pattern: PatternLabel;
}

/** Where a page ends: the last user shown (keyset on lastSeenAt desc, then userId desc). */
export interface UsersCursor {
  lastSeenAt: number;
  userId: string;
}

export interface UsersOverview {
  users: UserListItem[];
  patterns: Record<PatternLabel, number>;
  next: UsersCursor | null;
}

const before = (a: UsersCursor, b: UsersCursor): boolean =>
  a.lastSeenAt !== b.lastSeenAt ? a.lastSeenAt > b.lastSeenAt : a.userId > b.userId;

export function usersOverviewOf(rows: readonly UserActivity[], limit: number, after?: UsersCursor): UsersOverview {
  const patterns = Object.fromEntries(PATTERN_LABELS.map((p) => [p, 0])) as Record<PatternLabel, number>;
  const all: UserListItem[] = rows.map((r) => {
    const pattern = patternLabel(r.label);
    patterns[pattern]++;
    return { userId: r.userId, sessions: r.sessions, lastSeenAt: r.lastSeenAt, pattern };
  });
  const rest = (after ? all.filter((u) => before(after, u)) : all).sort((a, b) => (before(a, b) ? -1 : 1));
  const users = rest.slice(0, limit);
  const last = users.at(-1);
  return {
    users,
    patterns,
    next: rest.length > limit && last ? { lastSeenAt: last.lastSeenAt, userId: last.userId } : null,
  };
}
