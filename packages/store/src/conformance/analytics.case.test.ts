import {
  COUNT_DIMS,
  importedSession,
  importSessionSchema,
  type Project,
  SESSION_KINDS,
  type Session,
  type SessionKind,
} from '@sessiontrack/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadRange, rebuildRange, rollupProject } from '../analytics.js';
import { onlyDims, referenceRange, sessionSpec, withoutUsers, writeTraffic } from '../analytics.testkit.js';
import {
  commitOne,
  conformance,
  DAY,
  ENDED,
  endOp,
  ev,
  eventsOp,
  HOUR,
  heartbeatOp,
  listAll,
  MIN,
  makeSession,
  newProject,
  ok,
  SEC,
  started,
  startOp,
  store,
  T0,
  trackOp,
  uid,
} from './store.testkit.js';

// Store conformance, analytics: the maintained aggregates, a rebuild from raw rows and core over
// the raw rows agree through timeouts, identify(), erase and retention (every backend:
// store.testkit.ts; docs/metrics.md, "When a number is final").

conformance('analytics', () => {
  describe('analytics', () => {
    const DAY_DIMS = ['country', 'entryPage', 'exitPage'] as const;
    /** Everything the stats routes can ask, from the maintained aggregates. */
    const viaStore = async (p: Project, fromDate: string, toDate: string, kind?: SessionKind) => {
      const r = await loadRange(store, p, { fromDate, toDate, dims: COUNT_DIMS, dayDims: DAY_DIMS, users: true, kind });
      return {
        totals: onlyDims(r.totals, COUNT_DIMS),
        uniqueUsers: r.uniqueUsers,
        days: withoutUsers(r.days).map((d) => ({
          ...d,
          counts: onlyDims({ ...d, counts: d.counts }, DAY_DIMS).counts,
        })),
      };
    };
    const reference = async (p: Project, fromDate: string, toDate: string, now: number, kind?: SessionKind) => {
      const r = await referenceRange(store, p, fromDate, toDate, now, kind);
      return {
        totals: onlyDims(r.totals, COUNT_DIMS),
        uniqueUsers: r.uniqueUsers,
        days: withoutUsers(r.days).map((d) => ({
          ...d,
          counts: onlyDims({ ...d, counts: d.counts }, DAY_DIMS).counts,
        })),
      };
    };

    /** All kinds and each kind alone. */
    const KINDS = [undefined, ...SESSION_KINDS] as const;
    const everyKind = async (p: Project, fromDate: string, toDate: string) =>
      Promise.all(KINDS.map((k) => viaStore(p, fromDate, toDate, k)));
    const referenceKinds = async (p: Project, fromDate: string, toDate: string, now: number) =>
      Promise.all(KINDS.map((k) => reference(p, fromDate, toDate, now, k)));

    it('property: maintained aggregates == rebuilt == core over the raw rows, per kind and over all, through timeouts, erase and retention', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(sessionSpec, { minLength: 1, maxLength: 12 }),
          fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'),
          fc.integer({ min: 0, max: 4 * 24 }),
          fc.option(fc.constantFrom('u1', 'u2', 'u5'), { nil: null }),
          async (specs, timeZone, nowHours, erase) => {
            const p = await newProject({ timeZone });
            await writeTraffic(store, p, T0, specs);
            const now = T0 + nowHours * HOUR;
            const [from, to] = ['2025-05-31', '2025-06-06'];
            const sub = ['2025-06-01', '2025-06-03'] as const;
            // Maintained and rebuilt agree at any moment: both count sessions as written.
            const maintained = await everyKind(p, from, to);
            await rebuildRange(store, p, from, to, now);
            expect(await everyKind(p, from, to)).toEqual(maintained);
            // Once the sweeper wrote the expired sessions' ends, they equal the definition at now.
            await store.sweepExpired(now, p.id);
            expect(await everyKind(p, from, to)).toEqual(await referenceKinds(p, from, to, now));
            expect(await everyKind(p, ...sub)).toEqual(await referenceKinds(p, ...sub, now));
            // An erased user's sessions leave every count, their key every day's users.
            if (erase !== null) {
              await store.eraseUser(p.id, erase);
              expect(await everyKind(p, from, to)).toEqual(await referenceKinds(p, from, to, now));
              const erased = await everyKind(p, ...sub);
              await rebuildRange(store, p, from, to, now);
              expect(await everyKind(p, ...sub)).toEqual(erased);
            }
            // Retention deletes the raw rows (sweeping what expired first); the figures stay, and
            // a rebuild leaves days past retention alone.
            const later = now + 40 * DAY;
            const kept = await referenceKinds(p, from, to, later - 30 * DAY);
            await store.cleanup(p.id, later - 30 * DAY);
            expect(await store.analyticsRows(p.id, 0, later, false)).toEqual({ sessions: [], events: [] });
            expect(await everyKind(p, from, to)).toEqual(kept);
            expect((await rebuildRange(store, p, from, to, later)).days).toEqual([]);
            expect(await everyKind(p, from, to)).toEqual(kept);
          },
        ),
        { numRuns: store.backend === 'sqlite' ? 25 : 10 },
      );
    }, 120_000);

    it('commits of one day in flight at once (each in its own writer slot where rows have slots) add up to the rebuilt and core figures', async () => {
      const p = await newProject({ timeZone: 'UTC' });
      // 24 sessions of distinct users, each committed step by step, all of them at once: the
      // write buffer's lanes, as many as the backend has; starts, events and ends of one day.
      const lives = Array.from({ length: 24 }, (_, i) => i);
      await Promise.all(
        lives.map(async (i) => {
          const at = T0 + i * MIN;
          const s = makeSession(p, at, { userId: `u${i}` });
          ok(await commitOne(startOp(s), at));
          for (let k = 0; k < 4; k++) {
            const t = at + (k + 1) * SEC;
            ok(await commitOne(eventsOp(s, [ev(`e${k}`, 'action', t, { name: `a${k % 3}`, page: `/p${i % 5}` })]), t));
          }
          if (i % 2 === 0) ok(await commitOne(endOp(s), at + 10 * SEC));
        }),
      );
      const now = T0 + HOUR;
      const day = ['2025-06-01', '2025-06-01'] as const;
      const maintained = await everyKind(p, ...day);
      expect(maintained[0]?.totals.sessions).toBe(24);
      await rebuildRange(store, p, ...day, now);
      expect(await everyKind(p, ...day)).toEqual(maintained);
      // The live half expired by now: once swept (in one transaction), the definition at now.
      await store.sweepExpired(now, p.id);
      expect(await everyKind(p, ...day)).toEqual(await referenceKinds(p, ...day, now));
    });

    it('an expired session is live in the aggregates until it is written as ended, at its last activity', async () => {
      const p = await newProject({ timeZone: 'UTC' });
      const s = await started(p, T0);
      ok(await commitOne(eventsOp(s, [ev('e1', 'action', T0 + MIN, { name: 'export' })]), T0 + MIN));
      const q = { fromDate: '2025-06-01', toDate: '2025-06-01', dims: ['exitReason', 'duration'] as const };
      const later = T0 + 2 * HOUR; // past the 30 min idle timeout
      const before = await loadRange(store, p, q);
      expect(before.totals).toMatchObject({ sessions: 1, endedSessions: 0, actions: 1 });
      expect(before.totals.counts.exitReason).toEqual({});
      // a write to it ends it lazily (and answers 410), as the sweeper would
      expect(await commitOne(heartbeatOp(s), later)).toEqual(ENDED);
      const after = await loadRange(store, p, q);
      expect(after.totals).toMatchObject({ sessions: 1, endedSessions: 1, durationMsSum: MIN, bounces: 0 });
      expect(after.totals.counts).toEqual({ exitReason: { timeout: 1 }, duration: { '1-5m': 1 } });
      expect(await store.sweepExpired(later, p.id)).toBe(0);
      expect(await loadRange(store, p, q)).toEqual(after);
    });

    it('distinct users are exact over any range, also when identify() moves a session to another user', async () => {
      const p = await newProject({ timeZone: 'UTC', idleTimeoutMs: 10 * DAY, absoluteTimeoutMs: 30 * DAY });
      // a: days 1 and 3; b: day 2; an anonymous visitor on day 3 who then signs in as b
      await started(p, T0, { userId: 'a' });
      await started(p, T0 + DAY, { userId: 'b' });
      await started(p, T0 + 2 * DAY, { userId: 'a' });
      const anon = makeSession(p, T0 + 2 * DAY, { userId: null });
      ok(await commitOne(startOp(anon), T0 + 2 * DAY));
      const users = async (fromDate: string, toDate: string) =>
        (await loadRange(store, p, { fromDate, toDate, users: true })).uniqueUsers;
      expect(await users('2025-06-01', '2025-06-03')).toBe(3); // a, b, the anonymous id
      expect(await users('2025-06-03', '2025-06-03')).toBe(2);
      const identify = makeSession(p, T0 + 2 * DAY + MIN, { userId: 'b' });
      const r = ok(await commitOne(trackOp(p.id, anon.id, identify), T0 + 2 * DAY + MIN));
      expect(r.session).toMatchObject({ id: anon.id, userId: 'b' });
      expect(await users('2025-06-01', '2025-06-03')).toBe(2);
      expect(await users('2025-06-02', '2025-06-03')).toBe(2);
      expect(await users('2025-06-03', '2025-06-03')).toBe(2); // a and b
      const days = (await loadRange(store, p, { fromDate: '2025-06-01', toDate: '2025-06-03', dayDims: ['country'] }))
        .days;
      expect(days.map((d) => d.uniqueUsers)).toEqual([1, 1, 2]);
    });

    it('a session at 23:30 UTC counts on the next day for a project in UTC+1', async () => {
      const p = await newProject({ timeZone: 'Africa/Lagos' });
      await started(p, Date.parse('2025-06-01T23:30:00Z'));
      const r = await loadRange(store, p, { fromDate: '2025-06-01', toDate: '2025-06-02' });
      expect(r.days.map((d) => [d.date, d.sessions])).toEqual([
        ['2025-06-01', 0],
        ['2025-06-02', 1],
      ]);
    });

    it('the rollup job rebuilds the days marked for it (an upgrade, an outside write) and clears the marks', async () => {
      const p = await newProject({ timeZone: 'UTC' });
      const s = await started(p, T0);
      ok(await commitOne(eventsOp(s, [ev('e1', 'tool_call', T0 + MIN, { name: 'search' })]), T0 + MIN));
      const now = T0 + 2 * DAY;
      const q = { fromDate: '2025-06-01', toDate: '2025-06-01', dims: ['tool', 'toolCall'] as const };
      const before = await loadRange(store, p, q);
      expect(before.totals.counts).toEqual({ tool: { search: 1 }, toolCall: { search: 1 } });
      expect((await rollupProject(store, p, now)).days).toEqual([]); // commits mark nothing
      await store.markRollupDirty([{ projectId: p.id, startedAt: s.startedAt }]);
      expect((await rollupProject(store, p, now)).days).toEqual(['2025-06-01']);
      expect((await rollupProject(store, p, now)).days).toEqual([]);
      expect(await loadRange(store, p, q)).toEqual(before);
    });

    it('an import adds its sessions to the aggregates at once', async () => {
      const p = await newProject({ timeZone: 'UTC' });
      const at = T0 - 3 * DAY;
      const imported = importedSession(
        importSessionSchema.parse({
          id: uid('s_imp'),
          userId: 'imp',
          startedAt: at,
          end: { reason: 'navigation' },
          events: [
            { id: 'e1', type: 'pageview', page: '/a', timestamp: at + 5 * SEC },
            { id: 'e2', type: 'action', name: 'export', page: '/b', timestamp: at + 40 * SEC },
          ],
        }),
        p,
        T0,
      );
      expect(await store.importSessions([imported])).toMatchObject({ sessions: 1, events: 2 });
      const date = '2025-05-29';
      const got = await viaStore(p, date, date);
      expect(got).toEqual(await reference(p, date, date, T0));
      expect(got.totals).toMatchObject({ sessions: 1, endedSessions: 1, actions: 1 });
    });

    it('retention removes raw rows and keeps the figures; an erase later takes the user out of the users only', async () => {
      const p = await newProject({ timeZone: 'UTC' });
      const s = await started(p, T0, { userId: 'keep-counts' });
      ok(await commitOne(eventsOp(s, [ev('e1', 'action', T0 + MIN, { name: 'export' })]), T0 + MIN));
      ok(await commitOne(endOp(s), T0 + 2 * MIN));
      const now = T0 + 40 * DAY;
      const q = { fromDate: '2025-06-01', toDate: '2025-06-01', dims: COUNT_DIMS, users: true };
      const before = await loadRange(store, p, q);
      expect(before.totals.sessions).toBe(1);
      expect(before.uniqueUsers).toBe(1);
      expect(await store.cleanup(p.id, now - 30 * DAY)).toEqual({ deletedSessions: 1, deletedEvents: 1 });
      expect(await store.getSession(s.projectId, s.id)).toBeNull();
      expect(await loadRange(store, p, q)).toEqual(before);
      await store.eraseUser(p.id, 'keep-counts');
      expect(await loadRange(store, p, q)).toEqual({
        ...before,
        uniqueUsers: 0,
        days: [{ ...before.days[0], uniqueUsers: 0 }],
      });
    });

    it('erase deletes every raw row of the user and takes their sessions out of the figures', async () => {
      const p = await newProject({ timeZone: 'UTC' });
      const a = await started(p, T0, { userId: 'erase-me' });
      const b = await started(p, T0 + DAY, { userId: 'erase-me' });
      const other = await started(p, T0, { userId: 'someone-else' });
      for (const s of [a, b, other])
        ok(await commitOne(eventsOp(s, [ev('e1', 'action', s.startedAt + MIN)]), s.startedAt + MIN));
      const now = T0 + 3 * DAY;
      const q = { fromDate: '2025-06-01', toDate: '2025-06-02', users: true };
      expect((await loadRange(store, p, q)).uniqueUsers).toBe(2);
      const state = (s: Session) => ({
        projectId: p.id,
        sessionId: s.id,
        agentId: 'a',
        key: 'k',
        value: 1,
        expiresAt: null,
        updatedAt: now,
      });
      await store.setAgentState(state(a));
      await store.setAgentState(state(other));
      expect(await store.eraseUser(p.id, 'erase-me')).toEqual({ deletedSessions: 2, deletedEvents: 2 });
      // MCP agent state of the erased sessions goes with them
      expect(await store.getAgentState(a.projectId, a.id, 'a', 'k', now)).toBeNull();
      expect(await store.getAgentState(other.projectId, other.id, 'a', 'k', now)).not.toBeNull();
      expect(await listAll({ projectId: p.id, userId: 'erase-me' }, now)).toEqual([]);
      expect(await store.getEvents(a.projectId, a.id)).toEqual([]);
      expect(await store.getEvents(b.projectId, b.id)).toEqual([]);
      expect(await store.getSession(other.projectId, other.id)).not.toBeNull();
      const after = await loadRange(store, p, q);
      expect(after.totals).toMatchObject({ sessions: 1, actions: 1 });
      expect(after.uniqueUsers).toBe(1);
    });
  });
});
