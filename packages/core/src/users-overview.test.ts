import { describe, expect, it } from 'vitest';
import { PATTERN_SESSIONS, patternLabel, userPattern } from './patterns.js';
import { MIN, T0, testSession } from './session.testkit.js';
import type { Session } from './types.js';
import { type UserActivity, usersOverviewOf } from './users-overview.js';

// The users overview's paging and counts, and the one label rule it shares with userPattern.

const row = (userId: string, lastSeenAt: number, label: Partial<UserActivity['label']> = {}): UserActivity => ({
  userId,
  sessions: 1,
  lastSeenAt,
  label: { sessions: 1, latestSessionErrors: 0, durationMs: 10 * MIN, actions: 3, ...label },
});

describe('patternLabel', () => {
  it('is the label userPattern answers, from session rows alone', () => {
    const cases: Partial<Session>[][] = [
      [{ errors: 6 }, { errors: 0 }],
      [{ errors: 5, actions: 60, lastActivityAt: T0 + 31 * MIN }],
      [
        { actions: 60, lastActivityAt: T0 + 40 * MIN },
        { actions: 50, lastActivityAt: T0 + 25 * MIN },
      ],
      [{ actions: 2, lastActivityAt: T0 + 4 * MIN }],
      [{ actions: 2, lastActivityAt: T0 + 5 * MIN }],
      [{ status: 'ended', endedAt: T0 + 2 * MIN, lastActivityAt: T0 + 50 * MIN, actions: 80 }],
      [],
    ];
    for (const over of cases) {
      const sessions = over.map((o, i) => testSession({ id: `s_${i}`, ...o }));
      const expected = userPattern(
        sessions.map((session) => ({ session, events: [] })),
        T0 + 60 * MIN,
      ).pattern;
      const latest = sessions.slice(0, PATTERN_SESSIONS);
      const label = patternLabel({
        sessions: latest.length,
        latestSessionErrors: latest[0]?.errors ?? 0,
        durationMs: latest.reduce((a, s) => a + Math.max(0, (s.endedAt ?? s.lastActivityAt) - s.startedAt), 0),
        actions: latest.reduce((a, s) => a + s.actions, 0),
      });
      expect(label).toBe(expected);
    }
  });
});

describe('usersOverviewOf', () => {
  const rows = [
    row('u_b', 3000),
    row('u_a', 3000),
    row('u_c', 5000, { latestSessionErrors: 6 }),
    row('u_d', 1000, { durationMs: 2 * MIN }),
    row('u_e', 2000, { durationMs: 40 * MIN, actions: 51 }),
  ];

  it('most recently seen first (ties: user id, descending); patterns count every user', () => {
    const o = usersOverviewOf(rows, 10);
    expect(o.users.map((u) => [u.userId, u.pattern])).toEqual([
      ['u_c', 'struggling_user'],
      ['u_b', 'regular_user'],
      ['u_a', 'regular_user'],
      ['u_e', 'power_user'],
      ['u_d', 'quick_checker'],
    ]);
    expect(o.patterns).toEqual({
      new_user: 0,
      struggling_user: 1,
      power_user: 1,
      quick_checker: 1,
      regular_user: 2,
    });
    expect(o.next).toBeNull();
  });

  it('pages by keyset: every user once, counts the same on every page', () => {
    const seen: string[] = [];
    let after: ReturnType<typeof usersOverviewOf>['next'] | undefined;
    for (let i = 0; i < 10; i++) {
      const o = usersOverviewOf(rows, 2, after ?? undefined);
      expect(o.patterns.regular_user).toBe(2);
      seen.push(...o.users.map((u) => u.userId));
      after = o.next;
      if (!after) break;
    }
    expect(seen).toEqual(['u_c', 'u_b', 'u_a', 'u_e', 'u_d']);
  });
});
