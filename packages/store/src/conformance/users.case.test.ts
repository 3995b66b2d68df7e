import { retentionOf, type Session, userPattern, usersOverviewOf } from '@sessiontrack/core';
import { describe, expect, it } from 'vitest';
import {
  commitOne,
  conformance,
  DAY,
  endOp,
  ev,
  eventsOp,
  HOUR,
  MIN,
  newProject,
  ok,
  started,
  store,
  T0,
  uid,
} from './store.testkit.js';

// Store conformance, the Users view's reads: retention's user-days (first session ever, from the
// maintained per-day users) and the users overview's rows, whose labels equal what
// /sessions/patterns computes from listSessions + events (every backend: store.testkit.ts).

conformance('users', () => {
  describe('users', () => {
    /** A session of `userId` at `at`: `actions` actions, `errors` errors, ended after `minutes` (null: left live). */
    const visit = async (
      p: { id: string },
      userId: string | null,
      at: number,
      o: { minutes?: number | null; actions?: number; errors?: number } = {},
    ): Promise<Session> => {
      const s = await started(p as never, at, { userId });
      const list = [
        ...Array.from({ length: o.actions ?? 0 }, (_, i) => ev(uid('e'), 'action', at + MIN, { name: `a${i % 3}` })),
        ...Array.from({ length: o.errors ?? 0 }, () => ev(uid('e'), 'error', at + MIN, { name: 'boom' })),
      ];
      if (list.length > 0) ok(await commitOne(eventsOp(s, list), at + MIN));
      const minutes = o.minutes === undefined ? 2 : o.minutes;
      if (minutes !== null) {
        // Activity every 20 minutes up to the end, so that no session idles out (30 min) before it.
        for (let m = 20; m < minutes; m += 20)
          ok(await commitOne(eventsOp(s, [ev(uid('e'), 'pageview', at + m * MIN)]), at + m * MIN));
        if (minutes > 1)
          ok(await commitOne(eventsOp(s, [ev(uid('e'), 'pageview', at + minutes * MIN)]), at + minutes * MIN));
        ok(await commitOne(endOp(s), at + minutes * MIN));
      }
      return s;
    };

    it('retention: first session ever, identified users only, known answer by week and by day', async () => {
      const p = await newProject({ timeZone: 'UTC' });
      // T0 = Sunday 2025-06-01 10:00 UTC; the range starts Monday 2025-06-02.
      await visit(p, 'old', T0); // a session before the range: never in a cohort
      await visit(p, 'old', T0 + 2 * DAY);
      await visit(p, 'u_a', T0 + DAY); // Mon 06-02
      await visit(p, 'u_a', T0 + DAY + HOUR); // the same day again
      await visit(p, 'u_a', T0 + 9 * DAY); // Tue 06-10, week 1
      await visit(p, 'u_b', T0 + 3 * DAY); // Wed 06-04
      await visit(p, 'u_b', T0 + 16 * DAY); // Tue 06-17, week 2
      await visit(p, 'u_c', T0 + 8 * DAY); // Mon 06-09
      await visit(p, null, T0 + DAY); // anonymous: not a user of retention
      const days = await store.newUserDays(p.id, '2025-06-02', '2025-06-20');
      expect(days.map((d) => `${d.user} ${d.day}`).sort()).toEqual([
        'u_a 2025-06-02',
        'u_a 2025-06-10',
        'u_b 2025-06-04',
        'u_b 2025-06-17',
        'u_c 2025-06-09',
      ]);
      expect(retentionOf(days, '2025-06-02', '2025-06-20', 'week').cohorts).toEqual([
        { cohort: '2025-06-02', users: 2, retained: [2, 1, 1] },
        { cohort: '2025-06-09', users: 1, retained: [1, 0] },
        { cohort: '2025-06-16', users: 0, retained: [0] },
      ]);
      const daily = retentionOf(
        await store.newUserDays(p.id, '2025-06-02', '2025-06-04'),
        '2025-06-02',
        '2025-06-04',
        'day',
      );
      expect(daily.cohorts).toEqual([
        { cohort: '2025-06-02', users: 1, retained: [1, 0, 0] },
        { cohort: '2025-06-03', users: 0, retained: [0, 0] },
        { cohort: '2025-06-04', users: 1, retained: [1] },
      ]);
      // An erased user leaves every cohort.
      await store.eraseUser(p.id, 'u_b');
      expect((await store.newUserDays(p.id, '2025-06-02', '2025-06-20')).map((d) => d.user)).not.toContain('u_b');
    });

    it('retention per kind: first ever is the first session of that kind', async () => {
      const p = await newProject({ timeZone: 'UTC' });
      await started(p, T0 + DAY, { userId: 'u_k' }); // web, Mon 06-02
      await started(p, T0 + 3 * DAY, { userId: 'u_k', kind: 'mcp' }); // mcp, Wed 06-04
      await started(p, T0 + 9 * DAY, { userId: 'u_k', kind: 'mcp' }); // mcp, Tue 06-10
      await started(p, T0 - DAY, { userId: 'u_m', kind: 'mcp' }); // mcp before the range
      await started(p, T0 + 2 * DAY, { userId: 'u_m', kind: 'mcp' });
      const of = async (kind?: 'web' | 'mcp' | 'api') =>
        (await store.newUserDays(p.id, '2025-06-02', '2025-06-15', kind)).map((d) => `${d.user} ${d.day}`).sort();
      expect(await of()).toEqual(['u_k 2025-06-02', 'u_k 2025-06-04', 'u_k 2025-06-10']);
      expect(await of('mcp')).toEqual(['u_k 2025-06-04', 'u_k 2025-06-10']);
      expect(await of('web')).toEqual(['u_k 2025-06-02']);
      expect(await of('api')).toEqual([]);
    });

    it('retention: days are local dates of the project zone', async () => {
      const p = await newProject({ timeZone: 'Asia/Tokyo' });
      // 2025-06-01 20:00 UTC is 2025-06-02 05:00 in Tokyo.
      await visit(p, 'u_t', Date.parse('2025-06-01T20:00:00Z'));
      expect(await store.newUserDays(p.id, '2025-06-02', '2025-06-02')).toEqual([{ user: 'u_t', day: '2025-06-02' }]);
      expect(await store.newUserDays(p.id, '2025-06-01', '2025-06-01')).toEqual([]);
    });

    it('users overview: sessions and last seen in the range; labels as /sessions/patterns computes them', async () => {
      const p = await newProject({ timeZone: 'UTC', idleTimeoutMs: 30 * MIN });
      const from = T0 - HOUR;
      const to = T0 + 3 * DAY;
      await visit(p, 'quick', T0, { minutes: 2, actions: 1 });
      await visit(p, 'quick', T0 + HOUR, { minutes: 3 });
      await visit(p, 'struggling', T0, { minutes: 20 });
      await visit(p, 'struggling', T0 + 2 * HOUR, { minutes: 10, errors: 6 }); // the latest: 6 errors
      await visit(p, 'power', T0, { minutes: 45, actions: 60 });
      await visit(p, 'regular', T0 - 2 * DAY, { minutes: 60 }); // before the range, still in the label
      await visit(p, 'regular', T0 + DAY, { minutes: 3 });
      await visit(p, 'live', T0 + 2 * DAY, { minutes: null, actions: 2 }); // live: last activity + 1 min
      await visit(p, 'expired', T0 + 2 * HOUR, { minutes: null, actions: 1 }); // expired, not swept
      // 25 sessions: only the latest 20 count (the 5 oldest were long, the latest 20 short).
      for (let i = 0; i < 25; i++) await visit(p, 'many', T0 + i * MIN * 100, { minutes: i < 5 ? 600 : 1 });
      await visit(p, null, T0, { minutes: 5 }); // anonymous: not listed
      await visit(p, 'outside', T0 + 5 * DAY); // after the range
      const now = T0 + 2 * DAY + 10 * MIN;
      const rows = await store.userActivity(p.id, from, to);
      const byUser = new Map(rows.map((r) => [r.userId, r]));
      expect([...byUser.keys()].sort()).toEqual(['expired', 'live', 'many', 'power', 'quick', 'regular', 'struggling']);
      expect(byUser.get('quick')).toMatchObject({ sessions: 2, lastSeenAt: T0 + HOUR + 3 * MIN });
      expect(byUser.get('regular')).toMatchObject({ sessions: 1, lastSeenAt: T0 + DAY + 3 * MIN });
      expect(byUser.get('live')).toMatchObject({ sessions: 1, lastSeenAt: T0 + 2 * DAY + MIN });
      expect(byUser.get('many')?.label.sessions).toBe(20);
      const overview = usersOverviewOf(rows, 100);
      for (const u of overview.users) {
        const page = await store.listSessions({ projectId: p.id, userId: u.userId, limit: 20 }, now);
        const list = await Promise.all(
          page.sessions.map(async (session) => ({
            session,
            events: await store.getEvents(session.projectId, session.id),
          })),
        );
        expect([u.userId, u.pattern]).toEqual([u.userId, userPattern(list, now).pattern]);
      }
      expect(Object.fromEntries(overview.users.map((u) => [u.userId, u.pattern]))).toEqual({
        quick: 'quick_checker',
        struggling: 'struggling_user',
        power: 'power_user',
        regular: 'regular_user',
        live: 'quick_checker',
        expired: 'quick_checker',
        many: 'quick_checker',
      });
      expect(overview.patterns).toEqual({
        new_user: 0,
        struggling_user: 1,
        power_user: 1,
        quick_checker: 4,
        regular_user: 1,
      });
      // The sweeper's end of the expired session changes nothing.
      await store.sweepExpired(now, p.id);
      expect(usersOverviewOf(await store.userActivity(p.id, from, to), 100)).toEqual(overview);
    });
  });
});
