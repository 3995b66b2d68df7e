import { describe, expect, it } from 'vitest';
import type { WriteOp } from '../store.js';
import {
  commitOne,
  conformance,
  disconnectOp,
  ENDED,
  endOp,
  ev,
  eventsOp,
  GRACE,
  HOUR,
  heartbeatOp,
  IDLE,
  ids,
  listAll,
  MIN,
  makeSession,
  newProject,
  ok,
  SEC,
  started,
  store,
  stored,
  T0,
  trackOp,
  uid,
} from './store.testkit.js';

// Store conformance, the session lifecycle through commit: expiry, disconnect and recovery, track (every backend: store.testkit.ts).

conformance('lifecycle', () => {
  describe('expiry', () => {
    it('keeps a session alive until its idle timeout has passed', async () => {
      const p = await newProject();
      const s = await started(p, T0);
      const t = T0 + IDLE - 1;
      ok(await commitOne(eventsOp(s, [ev('e1', 'action', t, { name: 'x' })]), t));
      expect((await stored(s.id)).lastActivityAt).toBe(t);
    });

    it('ends a session at its last activity once the idle timeout has passed', async () => {
      const p = await newProject();
      const s = await started(p, T0);
      const last = T0 + 5 * MIN;
      ok(await commitOne(eventsOp(s, [ev('e1', 'action', last, { name: 'click', page: '/a' })]), last));
      const late = last + IDLE + 1;
      expect(await commitOne(eventsOp(s, [ev('e2', 'action', late, { name: 'late' })]), late)).toEqual(ENDED);
      const got = await stored(s.id);
      expect(got).toMatchObject({
        status: 'ended',
        endedAt: last,
        lastActivityAt: last,
        actions: 1,
        exit: { page: '/a', reason: 'timeout', lastAction: 'click' },
      });
      expect((await store.getEvents(s.projectId, s.id)).map((e) => e.id)).toEqual(['e1']);
      expect(await commitOne(heartbeatOp(s), late + MIN)).toEqual(ENDED);
      expect(await store.getSession(s.projectId, s.id)).toEqual(got);
    });

    it('ends a session at its last activity once the absolute cap has passed, however active', async () => {
      const p = await newProject({ idleTimeoutMs: 30 * MIN, absoluteTimeoutMs: 2 * HOUR });
      const s = await started(p, T0);
      expect([s.idleTimeoutMs, s.absoluteTimeoutMs]).toEqual([30 * MIN, 2 * HOUR]);
      expect(await stored(s.id)).toMatchObject({ idleTimeoutMs: 30 * MIN, absoluteTimeoutMs: 2 * HOUR });
      let t = T0;
      while (t + 20 * MIN < T0 + 2 * HOUR) {
        t += 20 * MIN;
        ok(await commitOne(heartbeatOp(s), t));
      }
      const last = t; // T0 + 1h40m
      expect(await commitOne(heartbeatOp(s), T0 + 2 * HOUR + SEC)).toEqual(ENDED);
      expect(await stored(s.id)).toMatchObject({
        status: 'ended',
        endedAt: last,
        lastActivityAt: last,
        exit: { reason: 'timeout' },
      });
    });

    it('answers an end of an expired session with the timeout end', async () => {
      const p = await newProject();
      const s = await started(p, T0);
      const r = ok(await commitOne(endOp(s, 'logout', '/bye', 'bye'), T0 + IDLE + MIN));
      expect(r.session).toMatchObject({
        status: 'ended',
        endedAt: T0,
        lastActivityAt: T0,
        exit: { page: s.exit.page, reason: 'timeout', lastAction: null },
      });
      expect(await store.getSession(s.projectId, s.id)).toEqual(r.session);
    });
  });

  describe('disconnect and recovery', () => {
    it('recovers a disconnected session on activity inside the grace period', async () => {
      const p = await newProject();
      const s = await started(p, T0, { kind: 'mcp' });
      const d = T0 + 5 * MIN;
      const r = ok(await commitOne(disconnectOp(s), d));
      expect(r.session).toMatchObject({ status: 'disconnected', disconnectedAt: d, recoveryAttempts: 0 });
      expect(await stored(s.id)).toMatchObject({ status: 'disconnected', disconnectedAt: d });

      const h = d + GRACE - 1;
      const back = ok(await commitOne(heartbeatOp(s), h));
      const want = { status: 'active', disconnectedAt: null, recoveryAttempts: 1, lastActivityAt: h };
      expect(back.session).toMatchObject(want);
      expect(await stored(s.id)).toMatchObject(want);

      // events recover too, and count a second attempt
      ok(await commitOne(disconnectOp(s), h + MIN));
      const e = ok(await commitOne(eventsOp(s, [ev('e1', 'tool_call', h + 2 * MIN, { name: 'x' })]), h + 2 * MIN));
      expect(e.session).toMatchObject({ status: 'active', recoveryAttempts: 2, toolCalls: 1 });
    });

    it('does not recover after three recoveries', async () => {
      const p = await newProject();
      const s = await started(p, T0, { kind: 'mcp' });
      let t = T0;
      for (let i = 1; i <= 3; i++) {
        t += MIN;
        ok(await commitOne(disconnectOp(s), t));
        t += MIN;
        expect(ok(await commitOne(heartbeatOp(s), t)).session).toMatchObject({
          status: 'active',
          recoveryAttempts: i,
        });
      }
      const last = t;
      ok(await commitOne(disconnectOp(s), t + MIN));
      expect(await commitOne(heartbeatOp(s), t + 2 * MIN)).toEqual(ENDED);
      expect(await stored(s.id)).toMatchObject({
        status: 'ended',
        endedAt: last,
        lastActivityAt: last,
        recoveryAttempts: 3,
        exit: { reason: 'timeout' },
      });
    });

    it('does not recover after the grace period', async () => {
      const p = await newProject();
      const s = await started(p, T0, { kind: 'mcp' });
      const d = T0 + MIN;
      ok(await commitOne(disconnectOp(s), d));
      const late = d + GRACE + 1;
      expect(await commitOne(heartbeatOp(s), late)).toEqual(ENDED);
      expect(await commitOne(eventsOp(s, [ev('e1', 'tool_call', late, { name: 'x' })]), late)).toEqual(ENDED);
      expect(await stored(s.id)).toMatchObject({
        status: 'ended',
        endedAt: T0,
        lastActivityAt: T0,
        recoveryAttempts: 0,
        exit: { reason: 'timeout' },
      });
      expect(await store.getEvents(s.projectId, s.id)).toEqual([]);
    });

    it("follows the session's own grace period and attempt limit, also past the defaults", async () => {
      const p = await newProject();
      const s = await started(p, T0, { kind: 'mcp', graceMs: 3 * HOUR, maxRecoveryAttempts: 4 });
      expect(await stored(s.id)).toMatchObject({ graceMs: 3 * HOUR, maxRecoveryAttempts: 4 });
      let at = T0;
      for (let i = 1; i <= 4; i++) {
        ok(await commitOne(disconnectOp(s), at + MIN));
        // 50 minutes: past the default grace of 10, inside this session's idle timeout of 1 h
        at += MIN + 50 * MIN;
        expect(await store.countLive(p.id, at)).toBe(1);
        expect(ok(await commitOne(heartbeatOp(s), at)).session).toMatchObject({
          status: 'active',
          recoveryAttempts: i,
        });
      }
      ok(await commitOne(disconnectOp(s), at + MIN));
      expect(await commitOne(heartbeatOp(s), at + 2 * MIN)).toEqual(ENDED);
      // a short grace ends the session early, and the clock rule reads it as ended before any sweep
      const short = await started(p, T0, { kind: 'mcp', graceMs: MIN });
      ok(await commitOne(disconnectOp(short), T0 + MIN));
      const page = await store.listSessions({ projectId: p.id, status: 'live', limit: 10 }, T0 + 2 * MIN + 1);
      expect(ids(page.sessions)).not.toContain(short.id);
      expect(await commitOne(heartbeatOp(short), T0 + 2 * MIN + 1)).toEqual(ENDED);
    });

    it('treats a repeated disconnect as one: no recovery attempt, no longer grace', async () => {
      const p = await newProject();
      const s = await started(p, T0, { kind: 'mcp' });
      const d = T0 + MIN;
      ok(await commitOne(disconnectOp(s), d));
      const r = ok(await commitOne(disconnectOp(s), d + 5 * MIN));
      expect(r.session).toMatchObject({ status: 'disconnected', disconnectedAt: d, recoveryAttempts: 0 });
      // the grace runs from the first disconnect
      expect(await commitOne(heartbeatOp(s), d + GRACE + 1)).toEqual(ENDED);
    });

    it('ends a disconnected session on an explicit end', async () => {
      const p = await newProject();
      const s = await started(p, T0, { kind: 'mcp' });
      ok(await commitOne(disconnectOp(s), T0 + MIN));
      const r = ok(await commitOne(endOp(s, 'error'), T0 + 2 * MIN));
      expect(r.session).toMatchObject({ status: 'ended', endedAt: T0 + 2 * MIN, exit: { reason: 'error' } });
      expect(await store.getSession(s.projectId, s.id)).toEqual(r.session);
    });
  });

  describe('track', () => {
    it('starts a session on the first call', async () => {
      const p = await newProject();
      const fresh = makeSession(p, T0);
      const r = ok(
        await commitOne(
          trackOp(p.id, null, fresh, [
            ev('e1', 'pageview', T0, { page: '/pricing' }),
            ev('e2', 'action', T0, { name: 'x' }),
          ]),
          T0,
        ),
      );
      expect(r).toMatchObject({ accepted: 2, duplicates: 0, rotated: false });
      expect(r.session).toMatchObject({ id: fresh.id, status: 'active', actions: 1, startedAt: T0 });
      expect(await store.getSession(fresh.projectId, fresh.id)).toEqual(r.session);
      expect(await store.getEvents(fresh.projectId, fresh.id)).toHaveLength(2);
    });

    it('continues a live session, deduplicating its events', async () => {
      const p = await newProject();
      const s = await started(p, T0);
      const t = T0 + 10 * MIN;
      const unused = makeSession(p, t);
      const batch = [ev('e1', 'action', t, { name: 'x', page: '/x' })];
      const r = ok(await commitOne(trackOp(p.id, s.id, unused, batch), t));
      expect(r).toMatchObject({ accepted: 1, duplicates: 0, rotated: false });
      expect(r.session).toMatchObject({ id: s.id, lastActivityAt: t, actions: 1, exit: { page: '/x' } });
      const again = ok(await commitOne(trackOp(p.id, s.id, makeSession(p, t), batch), t + MIN));
      expect(again).toMatchObject({ accepted: 0, duplicates: 1, rotated: false });
      expect(again.session).toMatchObject({ id: s.id, actions: 1 });
      expect(await store.getSession(unused.projectId, unused.id)).toBeNull();
    });

    it('counts a track call without events as activity (the tracker heartbeat)', async () => {
      const p = await newProject();
      const s = await started(p, T0);
      const t = T0 + 20 * MIN;
      const r = ok(await commitOne(trackOp(p.id, s.id, makeSession(p, t)), t));
      expect(r).toMatchObject({
        accepted: 0,
        duplicates: 0,
        rotated: false,
        session: { id: s.id, lastActivityAt: t },
      });
      // still live 40 minutes after the start: the idle clock restarted at the track call
      const later = ok(await commitOne(trackOp(p.id, s.id, makeSession(p, t + 25 * MIN)), t + 25 * MIN));
      expect(later).toMatchObject({ rotated: false, session: { id: s.id } });
      expect((await stored(s.id)).lastActivityAt).toBe(t + 25 * MIN);
    });

    it('adds up the engaged time reported by track calls and heartbeats, and keeps null while none', async () => {
      const p = await newProject();
      const s = await started(p, T0);
      expect((await stored(s.id)).engagedMs).toBeNull();
      const at = (ms: number) => T0 + ms;
      const report = (engagedMs: number, t: number) =>
        ({ ...trackOp(p.id, s.id, makeSession(p, t)), engagedMs }) as WriteOp;
      expect(ok(await commitOne(report(3_000, at(5 * SEC)), at(5 * SEC))).session.engagedMs).toBe(3_000);
      expect(ok(await commitOne(report(1_000, at(6 * SEC)), at(6 * SEC))).session.engagedMs).toBe(4_000);
      ok(await commitOne({ ...heartbeatOp(s), engagedMs: 2_000 } as WriteOp, at(9 * SEC)));
      // a report without engaged time keeps it
      ok(await commitOne(trackOp(p.id, s.id, makeSession(p, at(10 * SEC))), at(10 * SEC)));
      expect((await stored(s.id)).engagedMs).toBe(6_000);
      // two reports in one batch (two tabs): both count
      const results = await store.commit([report(1_500, at(11 * SEC)), report(500, at(11 * SEC))], at(11 * SEC));
      expect(results.map((r) => r.ok)).toEqual([true, true]);
      expect((await stored(s.id)).engagedMs).toBe(8_000);
    });

    it('continues (recovers) a disconnected session inside its grace', async () => {
      const p = await newProject();
      const s = await started(p, T0, { kind: 'mcp' });
      ok(await commitOne(disconnectOp(s), T0 + MIN));
      const r = ok(await commitOne(trackOp(p.id, s.id, makeSession(p, T0 + 2 * MIN)), T0 + 2 * MIN));
      expect(r.rotated).toBe(false);
      expect(r.session).toMatchObject({ id: s.id, status: 'active', recoveryAttempts: 1 });
    });

    it('rotates an expired session and writes its timeout end', async () => {
      const p = await newProject();
      const s = await started(p, T0);
      const t = T0 + IDLE + MIN;
      const fresh = makeSession(p, t);
      const r = ok(await commitOne(trackOp(p.id, s.id, fresh, [ev('e1', 'action', t, { name: 'x' })]), t));
      expect(r).toMatchObject({ accepted: 1, rotated: true });
      expect(r.session).toMatchObject({ id: fresh.id, status: 'active', actions: 1 });
      expect(await stored(s.id)).toMatchObject({ status: 'ended', endedAt: T0, exit: { reason: 'timeout' } });
      expect(await store.getEvents(s.projectId, s.id)).toEqual([]);
      expect(await store.getEvents(fresh.projectId, fresh.id)).toHaveLength(1);
    });

    it('rotates an ended session', async () => {
      const p = await newProject();
      const s = await started(p, T0);
      const ended = ok(await commitOne(endOp(s), T0 + MIN)).session;
      const fresh = makeSession(p, T0 + 2 * MIN);
      const r = ok(await commitOne(trackOp(p.id, s.id, fresh), T0 + 2 * MIN));
      expect(r.rotated).toBe(true);
      expect(r.session.id).toBe(fresh.id);
      expect(await store.getSession(s.projectId, s.id)).toEqual(ended);
      expect(await store.getSession(fresh.projectId, fresh.id)).toEqual(fresh);
    });

    it('starts a never-seen client-chosen id as that session (trackers name their sessions)', async () => {
      const p = await newProject();
      const chosen = uid('s_client_chosen');
      const fresh = makeSession(p, T0);
      const r = ok(await commitOne(trackOp(p.id, chosen, fresh, [ev('e1', 'pageview', T0)]), T0));
      expect(r).toMatchObject({ rotated: false, accepted: 1, session: { id: chosen, projectId: p.id } });
      expect(await store.getSession(fresh.projectId, fresh.id)).toBeNull();
      // a second tab sending the same id a moment later continues it
      const again = ok(await commitOne(trackOp(p.id, chosen, makeSession(p, T0 + 1000)), T0 + 1000));
      expect(again).toMatchObject({ rotated: false, session: { id: chosen } });
    });

    it('sets the user of a continued session (identify after login)', async () => {
      const p = await newProject();
      const s = await started(p, T0, { userId: null });
      const later = makeSession(p, T0 + MIN, { userId: 'u_logged_in' });
      const r = ok(await commitOne(trackOp(p.id, s.id, later), T0 + MIN));
      expect(r).toMatchObject({
        rotated: false,
        session: { id: s.id, userId: 'u_logged_in', anonymousId: s.anonymousId },
      });
      expect((await stored(s.id)).userId).toBe('u_logged_in');
      expect((await listAll({ projectId: p.id, userId: 'u_logged_in' }, T0 + MIN)).map((x) => x.id)).toEqual([s.id]);
    });

    it('starts its own session under an id another project uses, as under a never-used one', async () => {
      const p = await newProject();
      const q = await newProject();

      const theirs = await started(q, T0);
      const mine = makeSession(p, T0 + MIN);
      const r2 = ok(
        await commitOne(trackOp(p.id, theirs.id, mine, [ev('e1', 'action', T0 + MIN, { name: 'x' })]), T0 + MIN),
      );
      // Issue 14.10: another project's ids look absent, so the client's id is taken, not rotated.
      expect(r2.rotated).toBe(false);
      expect(r2.session).toMatchObject({ id: theirs.id, projectId: p.id, actions: 1 });
      expect(await store.getSession(theirs.projectId, theirs.id)).toEqual(theirs);
      expect(await store.getEvents(theirs.projectId, theirs.id)).toEqual([]);
      expect(await store.getEvents(p.id, theirs.id)).toHaveLength(1);
    });

    it('ends the session when asked, new or continued', async () => {
      const p = await newProject();
      const fresh = makeSession(p, T0);
      const t = T0 + 2 * MIN;
      const r = ok(await commitOne(trackOp(p.id, null, fresh, [ev('e1', 'action', t, { name: 'x' })], 'logout'), t));
      expect(r).toMatchObject({ accepted: 1, rotated: false });
      expect(r.session).toMatchObject({ status: 'ended', endedAt: t, actions: 1, exit: { reason: 'logout' } });
      expect(await store.getSession(fresh.projectId, fresh.id)).toEqual(r.session);

      const s = await started(p, T0);
      const r2 = ok(await commitOne(trackOp(p.id, s.id, makeSession(p, t), [], 'navigation'), t));
      expect(r2.rotated).toBe(false);
      expect(r2.session).toMatchObject({ id: s.id, status: 'ended', endedAt: t, exit: { reason: 'navigation' } });
      expect(await store.getSession(s.projectId, s.id)).toEqual(r2.session);
    });
  });
});
