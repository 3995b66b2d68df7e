import { describe, expect, it } from 'vitest';
import {
  CONFLICT,
  commitOne,
  conformance,
  DAY,
  disconnectOp,
  ENDED,
  endOp,
  ev,
  eventsOp,
  heartbeatOp,
  MIN,
  makeSession,
  NOT_FOUND,
  newProject,
  ok,
  started,
  startOp,
  store,
  stored,
  T0,
  trackOp,
  uid,
} from './store.testkit.js';

// Store conformance, commit: starts, events (dedup, counters), heartbeats, ends and whole batches (every backend: store.testkit.ts).

conformance('commit', () => {
  describe('start', () => {
    it('stores the session as built and answers it', async () => {
      const p = await newProject();
      const s = makeSession(p, T0, { kind: 'mcp' });
      const r = ok(await commitOne(startOp(s), T0));
      expect(r).toEqual({ ok: true, session: s, accepted: 0, duplicates: 0, rotated: false });
      expect(await store.getSession(s.projectId, s.id)).toEqual(s);
      expect(await store.getEvents(s.projectId, s.id)).toEqual([]);
    });

    it('answers null for an unknown session', async () => {
      const p = await newProject();
      expect(await store.getSession(p.id, uid('s_unknown'))).toBeNull();
      expect(await store.sessionsById(uid('s_unknown'))).toEqual([]);
      expect(await store.getEvents(p.id, uid('s_unknown'))).toEqual([]);
    });

    it('answers conflict for an id in use in this project and keeps the first; another project may use it too', async () => {
      const p = await newProject();
      const q = await newProject();
      const s = await started(p, T0, { userId: 'u_first' });
      const again = makeSession(p, T0 + MIN, { id: s.id, userId: 'u_second' });
      expect(await commitOne(startOp(again), T0 + MIN)).toEqual(CONFLICT);
      // Session ids are unique per project (issue 14.10): q's start is a start like any other.
      const elsewhere = makeSession(q, T0 + MIN, { id: s.id, userId: 'u_third' });
      expect(await commitOne(startOp(elsewhere), T0 + MIN)).toEqual({
        ok: true,
        session: elsewhere,
        accepted: 0,
        duplicates: 0,
        rotated: false,
      });
      expect(await store.getSession(s.projectId, s.id)).toEqual(s);
      expect(await store.getSession(q.id, s.id)).toEqual(elsewhere);
    });

    it('answers conflict for the second start of one id in the same batch', async () => {
      const p = await newProject();
      const first = makeSession(p, T0, { userId: 'u_first' });
      const second = makeSession(p, T0, { id: first.id, userId: 'u_second' });
      const results = await store.commit([startOp(first), startOp(second)], T0);
      expect(results).toEqual([{ ok: true, session: first, accepted: 0, duplicates: 0, rotated: false }, CONFLICT]);
      expect(await store.getSession(first.projectId, first.id)).toEqual(first);
    });
  });

  describe('events', () => {
    it('accepts events and moves counters, exit page, last action and last activity', async () => {
      const p = await newProject();
      const s = await started(p, T0);
      const t = T0 + 5 * MIN;
      const batch = [
        ev('e1', 'pageview', t - 4000, { page: '/docs' }),
        ev('e2', 'action', t - 3000, { name: 'click_buy', page: '/pricing', resourceId: 'buy-btn' }),
        ev('e3', 'error', t - 2500, { name: 'TypeError', details: { message: 'x is undefined' } }),
        ev('e4', 'tool_call', t - 2000, { name: 'search', details: { isError: false } }),
        ev('e5', 'workflow_start', t - 1500, { name: 'checkout' }),
        ev('e6', 'workflow_complete', t - 1000, { name: 'checkout' }),
        ev('e7', 'custom', t - 500, { name: 'scrolled', page: '/pricing/pro' }),
      ];
      const r = ok(await commitOne(eventsOp(s, batch), t));
      expect(r.accepted).toBe(7);
      expect(r.duplicates).toBe(0);
      expect(r.rotated).toBe(false);
      const want = {
        ...s,
        lastActivityAt: t,
        actions: 1,
        errors: 1,
        toolCalls: 1,
        workflows: 1,
        exit: { page: '/pricing/pro', reason: null, lastAction: 'search' },
      };
      expect(r.session).toEqual(want);
      expect(await store.getSession(s.projectId, s.id)).toEqual(want);
      expect(await store.getEvents(s.projectId, s.id)).toHaveLength(7);
    });

    it('counts a failed tool call as an error too', async () => {
      const p = await newProject();
      const s = await started(p, T0, { kind: 'mcp' });
      const t = T0 + MIN;
      ok(
        await commitOne(
          eventsOp(s, [
            ev('t1', 'tool_call', t, { name: 'fetch', details: { isError: true } }),
            ev('t2', 'tool_call', t, { name: 'write', details: { error: true } }),
            ev('t3', 'tool_call', t, { name: 'read' }),
          ]),
          t,
        ),
      );
      const got = await stored(s.id);
      expect(got.toolCalls).toBe(3);
      expect(got.errors).toBe(2);
      expect(got.actions).toBe(0);
      expect(got.exit.lastAction).toBe('read');
    });

    it('stores an event sent twice in one batch once', async () => {
      const p = await newProject();
      const s = await started(p, T0);
      const t = T0 + MIN;
      const click = ev('dup', 'action', t, { name: 'click', page: '/a' });
      const r = ok(await commitOne(eventsOp(s, [click, click, ev('other', 'error', t)]), t));
      expect([r.accepted, r.duplicates]).toEqual([2, 1]);
      // ... and across two operations of the same commit
      const results = await store.commit(
        [eventsOp(s, [ev('x1', 'action', t, { name: 'x' })]), eventsOp(s, [ev('x1', 'action', t, { name: 'x' })])],
        t,
      );
      expect(results.map((x) => (x.ok ? [x.accepted, x.duplicates] : x.error))).toEqual([
        [1, 0],
        [0, 1],
      ]);
      const got = await stored(s.id);
      expect([got.actions, got.errors]).toEqual([2, 1]);
      expect((await store.getEvents(s.projectId, s.id)).map((e) => e.id).sort()).toEqual(['dup', 'other', 'x1']);
    });

    it('stores a batch sent again once: counters, exit page and last action do not move', async () => {
      const p = await newProject();
      const s = await started(p, T0, { kind: 'mcp' });
      const t1 = T0 + MIN;
      const batch = [
        ev('b1', 'action', t1, { name: 'click_buy', page: '/pricing' }),
        ev('b2', 'error', t1, { page: '/pricing' }),
        ev('b3', 'tool_call', t1, { name: 'search', details: { isError: true } }),
        ev('b4', 'workflow_start', t1, { name: 'checkout' }),
        ev('b5', 'pageview', t1, { page: '/docs' }),
      ];
      expect(ok(await commitOne(eventsOp(s, batch), t1))).toMatchObject({ accepted: 5, duplicates: 0 });
      const t2 = T0 + 2 * MIN;
      ok(await commitOne(eventsOp(s, [ev('later', 'action', t2, { name: 'later', page: '/later' })]), t2));
      const before = await stored(s.id);
      expect(before).toMatchObject({
        actions: 2,
        errors: 2,
        toolCalls: 1,
        workflows: 1,
        exit: { page: '/later', lastAction: 'later' },
      });

      const t3 = T0 + 3 * MIN;
      const r = ok(await commitOne(eventsOp(s, batch), t3));
      expect([r.accepted, r.duplicates]).toEqual([0, 5]);
      const after = await stored(s.id);
      expect(after).toMatchObject({
        actions: 2,
        errors: 2,
        toolCalls: 1,
        workflows: 1,
        exit: { page: '/later', lastAction: 'later' },
      });
      expect(r.session).toMatchObject({ actions: 2, errors: 2, toolCalls: 1, workflows: 1 });
      expect(await store.getEvents(s.projectId, s.id)).toHaveLength(6);
    });

    it('deduplicates per session: the same event id in two sessions is two events', async () => {
      const p = await newProject();
      const a = await started(p, T0);
      const b = await started(p, T0);
      const t = T0 + MIN;
      const results = await store.commit(
        [eventsOp(a, [ev('same', 'action', t, { name: 'x' })]), eventsOp(b, [ev('same', 'action', t, { name: 'x' })])],
        t,
      );
      expect(results.map((x) => ok(x).accepted)).toEqual([1, 1]);
      expect((await stored(a.id)).actions).toBe(1);
      expect((await stored(b.id)).actions).toBe(1);
    });

    it("answers not_found for another project's session or an unknown one, and changes nothing", async () => {
      const p = await newProject();
      const q = await newProject();
      const s = await started(p, T0);
      const foreign = { projectId: q.id, id: s.id };
      const t = T0 + MIN;
      const results = await store.commit(
        [
          eventsOp(foreign, [ev('f1', 'action', t, { name: 'x' })]),
          heartbeatOp(foreign, '/x'),
          endOp(foreign),
          disconnectOp(foreign),
          eventsOp({ projectId: p.id, id: uid('s_unknown') }, [ev('f2', 'action', t)]),
          heartbeatOp({ projectId: p.id, id: uid('s_unknown') }),
        ],
        t,
      );
      expect(results).toEqual([NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND]);
      expect(await store.getSession(s.projectId, s.id)).toEqual(s);
      expect(await store.getEvents(s.projectId, s.id)).toEqual([]);
    });
  });

  describe('heartbeat', () => {
    it('updates last activity and the exit page, and nothing else', async () => {
      const p = await newProject();
      const s = await started(p, T0);
      const t1 = T0 + 10 * MIN;
      const r = ok(await commitOne(heartbeatOp(s, '/docs'), t1));
      const want = { ...s, lastActivityAt: t1, exit: { ...s.exit, page: '/docs' } };
      expect(r.session).toEqual(want);
      expect(await store.getSession(s.projectId, s.id)).toEqual(want);
      // a bare heartbeat keeps the page; being activity, it keeps the session alive past the first idle window
      const t2 = T0 + 35 * MIN;
      const r2 = ok(await commitOne(heartbeatOp(s), t2));
      expect(r2.session).toEqual({ ...want, lastActivityAt: t2 });
      expect(await store.getSession(s.projectId, s.id)).toEqual({ ...want, lastActivityAt: t2 });
      expect(await store.getEvents(s.projectId, s.id)).toEqual([]);
    });
  });

  describe('end', () => {
    it('ends with reason, page and last action, idempotently', async () => {
      const p = await newProject();
      const s = await started(p, T0);
      ok(await commitOne(eventsOp(s, [ev('e1', 'action', T0 + MIN, { name: 'click', page: '/a' })]), T0 + MIN));
      const t = T0 + 3 * MIN;
      const r = ok(await commitOne(endOp(s, 'navigation', '/bye', 'checkout'), t));
      const want = {
        ...s,
        status: 'ended',
        lastActivityAt: t,
        endedAt: t,
        actions: 1,
        exit: { page: '/bye', reason: 'navigation', lastAction: 'checkout' },
      };
      expect(r.session).toEqual(want);
      expect(await store.getSession(s.projectId, s.id)).toEqual(want);
      // a second end (another reason, later) answers the same session and changes nothing
      const again = ok(await commitOne(endOp(s, 'logout', '/other', 'other'), t + 5 * MIN));
      expect(again.session).toEqual(want);
      // ... also once the ended session is long past its idle timeout
      const muchLater = ok(await commitOne(endOp(s, 'error'), t + 2 * DAY));
      expect(muchLater.session).toEqual(want);
      expect(await store.getSession(s.projectId, s.id)).toEqual(want);
    });

    it('keeps exit page and last action from the events when the end names none', async () => {
      const p = await newProject();
      const s = await started(p, T0);
      ok(await commitOne(eventsOp(s, [ev('e1', 'action', T0 + MIN, { name: 'click', page: '/a' })]), T0 + MIN));
      const r = ok(await commitOne(endOp(s, 'logout'), T0 + 2 * MIN));
      expect(r.session.exit).toEqual({ page: '/a', reason: 'logout', lastAction: 'click' });
    });

    it('answers session_ended for events and heartbeats after the end', async () => {
      const p = await newProject();
      const s = await started(p, T0);
      const r = ok(await commitOne(endOp(s), T0 + MIN));
      const t = T0 + 2 * MIN;
      expect(await commitOne(eventsOp(s, [ev('late', 'action', t, { name: 'late' })]), t)).toEqual(ENDED);
      expect(await commitOne(heartbeatOp(s, '/late'), t)).toEqual(ENDED);
      expect(await store.getSession(s.projectId, s.id)).toEqual(r.session);
      expect(await store.getEvents(s.projectId, s.id)).toEqual([]);
    });
  });

  describe('batches', () => {
    it('applies start, events and end for one session in order in one commit', async () => {
      const p = await newProject();
      const s = makeSession(p, T0);
      const t = T0;
      const results = await store.commit(
        [
          startOp(s),
          eventsOp(s, [ev('e1', 'action', t, { name: 'a', page: '/a' }), ev('e2', 'error', t)]),
          endOp(s, 'navigation', '/bye'),
        ],
        t,
      );
      expect(results).toHaveLength(3);
      expect(ok(results[0]).session).toMatchObject({ id: s.id, status: 'active', actions: 0 });
      expect(ok(results[1])).toMatchObject({ accepted: 2, duplicates: 0 });
      expect(ok(results[1]).session).toMatchObject({ status: 'active', actions: 1, errors: 1 });
      const last = ok(results[2]).session;
      expect(last).toMatchObject({
        status: 'ended',
        endedAt: t,
        actions: 1,
        errors: 1,
        exit: { page: '/bye', reason: 'navigation', lastAction: 'a' },
      });
      expect(await store.getSession(s.projectId, s.id)).toEqual(last);
      expect(await store.getEvents(s.projectId, s.id)).toHaveLength(2);
    });

    it('answers session_ended to events that follow an end in the same commit', async () => {
      const p = await newProject();
      const s = await started(p, T0);
      const t = T0 + MIN;
      const results = await store.commit([endOp(s), eventsOp(s, [ev('e1', 'action', t, { name: 'x' })])], t);
      expect(ok(results[0]).session.status).toBe('ended');
      expect(results[1]).toEqual(ENDED);
      expect(await store.getEvents(s.projectId, s.id)).toEqual([]);
      expect(await store.getSession(s.projectId, s.id)).toEqual(ok(results[0]).session);
    });

    it('answers every operation, in order, and a failed one does not undo the others', async () => {
      const p = await newProject();
      const q = await newProject();
      const a = await started(p, T0);
      const b = makeSession(q, T0 + MIN);
      const c = makeSession(p, T0 + MIN);
      const t = T0 + MIN;
      const results = await store.commit(
        [
          eventsOp(a, [ev('a1', 'action', t, { name: 'x' })]),
          startOp(b),
          heartbeatOp({ projectId: p.id, id: uid('s_unknown') }),
          startOp(makeSession(p, t, { id: a.id })),
          eventsOp(b, [ev('b1', 'pageview', t, { page: '/b' }), ev('b1', 'pageview', t, { page: '/b' })]),
          heartbeatOp({ projectId: p.id, id: b.id }),
          trackOp(p.id, null, c),
          endOp(a, 'logout'),
        ],
        t,
      );
      expect(results.map((r) => (r.ok ? `ok:${r.session.id}:${r.accepted}/${r.duplicates}` : r.error))).toEqual([
        `ok:${a.id}:1/0`,
        `ok:${b.id}:0/0`,
        'not_found',
        'conflict',
        `ok:${b.id}:1/1`,
        'not_found',
        `ok:${c.id}:0/0`,
        `ok:${a.id}:0/0`,
      ]);
      expect(await stored(a.id)).toMatchObject({ status: 'ended', actions: 1 });
      expect(await stored(b.id)).toMatchObject({ projectId: q.id, exit: { page: '/b' } });
      expect(await store.getSession(c.projectId, c.id)).toEqual(c);
    });

    it('answers an empty batch with no results', async () => {
      expect(await store.commit([], T0)).toEqual([]);
    });

    it('loses no update when commits on one session run at the same time', async () => {
      const p = await newProject();
      const s = await started(p, T0);
      const t = T0 + MIN;
      const n = 8;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          store.commit(
            [eventsOp(s, [ev(`c${i}`, 'action', t + i, { name: `a${i}` }), ev('shared', 'error', t)])],
            t + i,
          ),
        ),
      );
      const accepted = results.reduce((sum, [r]) => sum + ok(r).accepted, 0);
      expect(accepted).toBe(n + 1);
      expect(await stored(s.id)).toMatchObject({ actions: n, errors: 1 });
      expect(await store.getEvents(s.projectId, s.id)).toHaveLength(n + 1);
    });
  });
});
