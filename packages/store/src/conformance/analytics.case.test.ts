import { COUNT_DIMS, type Project, type Session } from '@sessiontrack/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadRange, rollupProject } from '../analytics.js';
import { onlyDims, referenceRange, sessionSpec, withoutUsers, writeTraffic } from '../analytics.testkit.js';
import {
  commitOne,
  conformance,
  DAY,
  endOp,
  ev,
  eventsOp,
  HOUR,
  listAll,
  MIN,
  makeSession,
  newProject,
  ok,
  started,
  store,
  T0,
} from './store.testkit.js';

// Store conformance, analytics: rollups, live days and raw rows agree, erase (every backend: store.testkit.ts).

conformance('analytics', () => {
  describe('analytics', () => {
    const DAY_DIMS = ['country', 'entryPage', 'exitPage'] as const;
    /** Everything the stats routes can ask, from the analytics path. */
    const viaStore = async (p: Project, fromDate: string, toDate: string, now: number) => {
      const r = await loadRange(store, p, { fromDate, toDate, dims: COUNT_DIMS, dayDims: DAY_DIMS, users: true }, now);
      return {
        totals: onlyDims(r.totals, COUNT_DIMS),
        uniqueUsers: r.uniqueUsers,
        days: withoutUsers(r.days).map((d) => ({
          ...d,
          counts: onlyDims({ ...d, counts: d.counts }, DAY_DIMS).counts,
        })),
        rolledDays: r.rolledDays,
      };
    };
    const reference = async (p: Project, fromDate: string, toDate: string, now: number) => {
      const r = await referenceRange(store, p, fromDate, toDate, now);
      return {
        totals: onlyDims(r.totals, COUNT_DIMS),
        uniqueUsers: r.uniqueUsers,
        days: withoutUsers(r.days).map((d) => ({
          ...d,
          counts: onlyDims({ ...d, counts: d.counts }, DAY_DIMS).counts,
        })),
      };
    };

    it('property: stats from rollups == stats from raw rows == core over the raw rows', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(sessionSpec, { minLength: 1, maxLength: 12 }),
          fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'),
          fc.integer({ min: 0, max: 4 * 24 }),
          async (specs, timeZone, nowHours) => {
            const p = await newProject({ timeZone });
            await writeTraffic(store, p, T0, specs);
            // "now" somewhere in the traffic: days before it are closed, its day is live
            const now = T0 + nowHours * HOUR;
            const [from, to] = ['2025-05-31', '2025-06-06'];
            const ref = await reference(p, from, to, now);
            const live = await viaStore(p, from, to, now);
            expect(live.rolledDays).toBe(0);
            expect({ ...live, rolledDays: undefined }).toEqual({ ...ref, rolledDays: undefined });
            await rollupProject(store, p, now, { marginMs: 0 });
            const rolled = await viaStore(p, from, to, now);
            expect({ ...rolled, rolledDays: undefined }).toEqual({ ...ref, rolledDays: undefined });
            // a sub-range that cuts through rolled and live days
            const sub = await viaStore(p, '2025-06-01', '2025-06-03', now);
            expect({ ...sub, rolledDays: undefined }).toEqual({
              ...(await reference(p, '2025-06-01', '2025-06-03', now)),
              rolledDays: undefined,
            });
          },
        ),
        { numRuns: store.backend === 'sqlite' ? 25 : 10 },
      );
    });

    it('a session at 23:30 UTC counts on the next day for a project in UTC+1', async () => {
      const p = await newProject({ timeZone: 'Africa/Lagos' });
      const at = Date.parse('2025-06-01T23:30:00Z');
      await started(p, at);
      const now = at + 3 * DAY;
      await rollupProject(store, p, now, { marginMs: 0 });
      const r = await loadRange(store, p, { fromDate: '2025-06-01', toDate: '2025-06-02' }, now);
      expect(r.rolledDays).toBe(2); // the UTC day overlaps both local days
      expect(r.days.map((d) => [d.date, d.sessions])).toEqual([
        ['2025-06-01', 0],
        ['2025-06-02', 1],
      ]);
    });

    it('writes mark days dirty: a change to an old session is rolled up again; the job is idempotent', async () => {
      const p = await newProject({ timeZone: 'UTC', idleTimeoutMs: 10 * DAY, absoluteTimeoutMs: 30 * DAY });
      const s = await started(p, T0);
      const now = T0 + 2 * DAY;
      // Marks and rollups carry wall-clock ms, and a mark in the same ms as a rollup counts as
      // possibly unseen: these steps are a few ms apart.
      const tick = () => new Promise((done) => setTimeout(done, 3));
      await tick();
      expect((await rollupProject(store, p, now, { marginMs: 0 })).days).toEqual(['2025-06-01']);
      await tick();
      expect((await rollupProject(store, p, now, { marginMs: 0 })).days).toEqual([]);
      ok(await commitOne(eventsOp(s, [ev('e1', 'tool_call', now, { name: 'search' })]), now));
      await tick();
      expect((await rollupProject(store, p, now + HOUR, { marginMs: 0 })).days).toEqual(['2025-06-01']);
      const r = await loadRange(store, p, { fromDate: '2025-06-01', toDate: '2025-06-01', dims: ['tool'] }, now);
      expect(r.rolledDays).toBe(1);
      expect(r.totals.counts.tool).toEqual({ search: 1 });
      // an import of past sessions marks its days itself
      const old = makeSession(p, T0 - 5 * DAY);
      await tick();
      await store.markRollupDirty([{ projectId: p.id, startedAt: old.startedAt }]);
      expect((await rollupProject(store, p, now + HOUR, { marginMs: 0 })).days).toEqual(['2025-05-27']);
    });

    it('retention removes raw rows and keeps the rollups', async () => {
      const p = await newProject({ timeZone: 'UTC' });
      const s = await started(p, T0, { userId: 'keep-counts' });
      ok(await commitOne(eventsOp(s, [ev('e1', 'action', T0 + MIN, { name: 'export' })]), T0 + MIN));
      ok(await commitOne(endOp(s), T0 + 2 * MIN));
      const now = T0 + 40 * DAY;
      await rollupProject(store, p, now, { marginMs: 0 });
      const q = { fromDate: '2025-06-01', toDate: '2025-06-01', dims: COUNT_DIMS, users: true };
      const before = await loadRange(store, p, q, now);
      expect(before.totals.sessions).toBe(1);
      expect(await store.cleanup(p.id, now - 30 * DAY)).toEqual({ deletedSessions: 1, deletedEvents: 1 });
      expect(await store.getSession(s.id)).toBeNull();
      expect(await store.analyticsRows(p.id, 0, now, true)).toEqual({ sessions: [], events: [] });
      expect(await loadRange(store, p, q, now)).toEqual(before);
    });

    it('erase deletes every raw row of the user and leaves only counts in the rollups', async () => {
      const p = await newProject({ timeZone: 'UTC' });
      const a = await started(p, T0, { userId: 'erase-me' });
      const b = await started(p, T0 + DAY, { userId: 'erase-me' });
      const other = await started(p, T0, { userId: 'someone-else' });
      for (const s of [a, b, other])
        ok(await commitOne(eventsOp(s, [ev('e1', 'action', s.startedAt + MIN)]), s.startedAt + MIN));
      const now = T0 + 3 * DAY;
      await rollupProject(store, p, now, { marginMs: 0 });
      const q = { fromDate: '2025-06-01', toDate: '2025-06-02', users: true };
      expect((await loadRange(store, p, q, now)).uniqueUsers).toBe(2);
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
      expect(await store.getAgentState(a.id, 'a', 'k', now)).toBeNull();
      expect(await store.getAgentState(other.id, 'a', 'k', now)).not.toBeNull();
      expect(await listAll({ projectId: p.id, userId: 'erase-me' }, now)).toEqual([]);
      expect(await store.getEvents(a.id)).toEqual([]);
      expect(await store.getEvents(b.id)).toEqual([]);
      expect(await store.getSession(other.id)).not.toBeNull();
      const after = await loadRange(store, p, q, now);
      expect(after.totals.sessions).toBe(3);
      expect(after.uniqueUsers).toBe(1);
    });
  });
});
