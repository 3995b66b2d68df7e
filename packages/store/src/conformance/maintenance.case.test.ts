import { describe, expect, it } from 'vitest';
import {
  commitOne,
  conformance,
  DAY,
  disconnectOp,
  ENDED,
  endOp,
  ev,
  eventsOp,
  HOUR,
  heartbeatOp,
  MIN,
  newProject,
  ok,
  started,
  store,
  stored,
  T0,
} from './store.testkit.js';

// Store conformance, maintenance: the expiry sweep, retention, job locks and cleanup (every backend: store.testkit.ts).

conformance('maintenance', () => {
  describe('sweep', () => {
    it('writes the timeout end of expired sessions once, at their last activity', async () => {
      const now = T0 + 2 * HOUR;
      await store.sweepExpired(now); // whatever an earlier test left behind
      const p = await newProject();
      const idle = await started(p, T0);
      const idleLast = T0 + 5 * MIN;
      ok(await commitOne(eventsOp(idle, [ev('e1', 'action', idleLast, { name: 'x', page: '/x' })]), idleLast));
      const disc = await started(p, T0 + HOUR, { kind: 'mcp' });
      ok(await commitOne(disconnectOp(disc), T0 + HOUR + MIN)); // grace over at T0 + 1h11m
      const live = await started(p, now - MIN);
      const ended = await started(p, T0);
      const endedSession = ok(await commitOne(endOp(ended, 'navigation'), T0 + MIN)).session;

      expect(await store.sweepExpired(now)).toBe(2);
      expect(await stored(idle.id)).toMatchObject({
        status: 'ended',
        endedAt: idleLast,
        lastActivityAt: idleLast,
        actions: 1,
        exit: { page: '/x', reason: 'timeout', lastAction: 'x' },
      });
      expect(await stored(disc.id)).toMatchObject({
        status: 'ended',
        endedAt: T0 + HOUR,
        lastActivityAt: T0 + HOUR,
        exit: { reason: 'timeout' },
      });
      expect(await store.getSession(live.projectId, live.id)).toEqual(live);
      expect(await store.getSession(ended.projectId, ended.id)).toEqual(endedSession);
      expect(await store.sweepExpired(now)).toBe(0);
      expect(await store.sweepExpired(now + MIN)).toBe(0);
      expect(await store.countLive(p.id, now)).toBe(1);
      // a swept session still answers session_ended
      expect(await commitOne(heartbeatOp(idle), now)).toEqual(ENDED);
    });
  });

  describe('retention and jobs', () => {
    it('deletes raw events received before a time, per project, and keeps sessions and counters', async () => {
      const p = await newProject();
      const q = await newProject();
      const old = await started(p, T0);
      ok(await commitOne(eventsOp(old, [ev('o1', 'action', T0), ev('o2', 'error', T0)]), T0));
      ok(await commitOne(eventsOp(old, [ev('n1', 'action', T0 + 20 * MIN)]), T0 + 20 * MIN));
      const other = await started(q, T0);
      ok(await commitOne(eventsOp(other, [ev('x1', 'action', T0)]), T0));

      expect(await store.deleteEventsBefore(T0 + 10 * MIN, p.id)).toBe(2);
      expect((await store.getEvents(old.projectId, old.id)).map((e) => e.id)).toEqual(['n1']);
      expect(await store.getEvents(other.projectId, other.id)).toHaveLength(1); // another project's are kept
      const s = await stored(old.id);
      expect([s.actions, s.errors]).toEqual([2, 1]); // the session keeps what it counted
      expect(await store.deleteEventsBefore(T0 + 10 * MIN, p.id)).toBe(0);
      expect(await store.deleteEventsBefore(T0 + 10 * MIN)).toBeGreaterThanOrEqual(1);
      expect(await store.getEvents(other.projectId, other.id)).toEqual([]);
    });

    it('runs a free job and reports that it ran', async () => {
      let runs = 0;
      expect(
        await store.runExclusive('conformance-job', async () => {
          runs++;
        }),
      ).toBe(true);
      expect(runs).toBe(1);
      // the lock is released afterwards: it runs again
      expect(await store.runExclusive('conformance-job', async () => void runs++)).toBe(true);
      expect(runs).toBe(2);
      await expect(
        store.runExclusive('conformance-job', async () => {
          throw new Error('job failed');
        }),
      ).rejects.toThrow('job failed');
      expect(await store.runExclusive('conformance-job', async () => void runs++)).toBe(true);
    });
  });

  describe('cleanup', () => {
    it('deletes old ended sessions with their events, keeps recent and live ones', async () => {
      const before = T0 + 2 * DAY;
      await store.cleanup(null, before); // whatever an earlier test left behind
      const p = await newProject();
      const q = await newProject();
      const longIdle = await newProject({ idleTimeoutMs: 10 * DAY, absoluteTimeoutMs: 20 * DAY });

      const oldEnded = await started(p, T0);
      const t1 = T0 + MIN;
      ok(
        await commitOne(
          eventsOp(oldEnded, [ev('e1', 'action', t1), ev('e2', 'action', t1), ev('e3', 'error', t1)]),
          t1,
        ),
      );
      ok(await commitOne(endOp(oldEnded), T0 + 2 * MIN));
      const oldExpired = await started(p, T0); // never ended, expired long ago
      ok(await commitOne(eventsOp(oldExpired, [ev('e1', 'action', t1), ev('e2', 'action', t1)]), t1));
      const recentEnded = await started(p, T0 + 3 * DAY);
      ok(await commitOne(eventsOp(recentEnded, [ev('e1', 'action', T0 + 3 * DAY)]), T0 + 3 * DAY));
      ok(await commitOne(endOp(recentEnded), T0 + 3 * DAY + MIN));
      const recentLive = await started(p, T0 + 3 * DAY);
      const stillLive = await started(longIdle, T0); // idle since T0 but live until T0 + 10 days
      ok(await commitOne(eventsOp(stillLive, [ev('e1', 'tool_call', t1)]), t1));
      const otherOld = await started(q, T0);
      ok(await commitOne(eventsOp(otherOld, [ev('e1', 'action', t1)]), t1));
      ok(await commitOne(endOp(otherOld), T0 + 2 * MIN));

      expect(await store.cleanup(p.id, before)).toEqual({ deletedSessions: 2, deletedEvents: 5 });
      expect(await store.getSession(oldEnded.projectId, oldEnded.id)).toBeNull();
      expect(await store.getSession(oldExpired.projectId, oldExpired.id)).toBeNull();
      expect(await store.getEvents(oldEnded.projectId, oldEnded.id)).toEqual([]);
      expect(await store.getEvents(oldExpired.projectId, oldExpired.id)).toEqual([]);
      expect(await store.getSession(recentEnded.projectId, recentEnded.id)).not.toBeNull();
      expect(await store.getEvents(recentEnded.projectId, recentEnded.id)).toHaveLength(1);
      expect(await store.getSession(recentLive.projectId, recentLive.id)).toEqual(recentLive);
      expect(await store.getSession(otherOld.projectId, otherOld.id)).not.toBeNull();
      expect(await store.cleanup(p.id, before)).toEqual({ deletedSessions: 0, deletedEvents: 0 });

      expect(await store.cleanup(null, before)).toEqual({ deletedSessions: 1, deletedEvents: 1 });
      expect(await store.getSession(otherOld.projectId, otherOld.id)).toBeNull();
      expect(await store.getEvents(otherOld.projectId, otherOld.id)).toEqual([]);
      expect(await store.getSession(stillLive.projectId, stillLive.id)).not.toBeNull();
      expect(await store.getEvents(stillLive.projectId, stillLive.id)).toHaveLength(1);
      expect(await store.getEvents(recentEnded.projectId, recentEnded.id)).toHaveLength(1);
      // projects and their settings are kept
      expect((await store.listProjects()).map((x) => x.id)).toEqual(expect.arrayContaining([p.id, q.id]));
    });
  });
});
