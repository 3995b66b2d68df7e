import { describe, expect, it } from 'vitest';
import type { AgentStateEntry } from '../store.js';
import {
  commitOne,
  conformance,
  DAY,
  disconnectOp,
  endOp,
  ev,
  eventsOp,
  HOUR,
  heartbeatOp,
  IDLE,
  MIN,
  makeSession,
  newProject,
  ok,
  startOp,
  store,
  T0,
  trackOp,
  uid,
} from './store.testkit.js';

// Store conformance, session ids unique per project (issue 14.10; every backend: store.testkit.ts).
// Another project's session ids must look absent, so the same id in two projects is two sessions,
// and nothing done to one — events, end, agent state, erase, cleanup, delete — reaches the other.

conformance('keying', () => {
  const twoOf = async () => {
    const p = await newProject();
    const q = await newProject();
    const id = uid('s_same');
    return {
      p,
      q,
      id,
      a: makeSession(p, T0, { id, userId: 'u_same' }),
      b: makeSession(q, T0, { id, userId: 'u_same' }),
    };
  };

  describe('the same session id in two projects', () => {
    it('starts in both (in one batch too), each with its own events, counters and reads', async () => {
      const { p, q, id, a, b } = await twoOf();
      const results = await store.commit([startOp(a), startOp(b)], T0);
      expect(results.map((r) => r.ok && r.session.projectId)).toEqual([p.id, q.id]);
      // The same event ids: each session's own, no duplicate across projects.
      const same = [ev('e1', 'action', T0 + MIN, { name: 'buy' }), ev('e2', 'error', T0 + MIN, { name: 'x' })];
      expect(ok(await commitOne(eventsOp(a, same.slice(0, 1)), T0 + MIN))).toMatchObject({
        accepted: 1,
        duplicates: 0,
      });
      const rb = ok(await commitOne(eventsOp(b, same), T0 + MIN));
      expect(rb).toMatchObject({ accepted: 2, duplicates: 0 });
      expect(ok(await commitOne(eventsOp(b, same), T0 + 2 * MIN))).toMatchObject({ accepted: 0, duplicates: 2 });
      expect(await store.getSession(p.id, id)).toMatchObject({ projectId: p.id, actions: 1, errors: 0 });
      expect(await store.getSession(q.id, id)).toMatchObject({ projectId: q.id, actions: 1, errors: 1 });
      expect((await store.getEvents(p.id, id)).map((e) => e.id)).toEqual(['e1']);
      expect((await store.getEvents(q.id, id)).map((e) => e.id)).toEqual(['e1', 'e2']);
      expect((await store.sessionsById(id)).map((s) => s.projectId)).toEqual([p.id, q.id].sort());
      // The raw rows of the analytics path are per project.
      const rows = await store.analyticsRows(q.id, T0 - DAY, T0 + DAY, true);
      expect(rows.sessions.map((s) => s.projectId)).toEqual([q.id]);
      // (p's session of that id has an action too: it must not be among them)
      expect(rows.events.filter((e) => e.type === 'action')).toHaveLength(1);
    });

    it('heartbeat, end and disconnect reach the caller’s session only', async () => {
      const { p, q, id, a, b } = await twoOf();
      await store.commit([startOp(a), startOp({ ...b, kind: 'mcp' })], T0);
      ok(await commitOne(heartbeatOp(a, '/here'), T0 + MIN));
      ok(await commitOne(disconnectOp(b), T0 + MIN));
      expect(await store.getSession(p.id, id)).toMatchObject({ status: 'active', exit: { page: '/here' } });
      expect(await store.getSession(q.id, id)).toMatchObject({ status: 'disconnected' });
      ok(await commitOne(endOp(a), T0 + 2 * MIN));
      expect((await store.getSession(p.id, id))?.status).toBe('ended');
      expect((await store.getSession(q.id, id))?.status).toBe('disconnected');
    });

    it('track continues the project’s own session of that id, or starts one under it', async () => {
      const { p, q, id, a } = await twoOf();
      await commitOne(startOp(a), T0);
      const r = ok(
        await commitOne(trackOp(q.id, id, makeSession(q, T0 + MIN), [ev('t1', 'action', T0 + MIN)]), T0 + MIN),
      );
      expect(r).toMatchObject({ rotated: false, accepted: 1, session: { id, projectId: q.id } });
      const again = ok(
        await commitOne(
          trackOp(q.id, id, makeSession(q, T0 + 2 * MIN), [ev('t2', 'action', T0 + 2 * MIN)]),
          T0 + 2 * MIN,
        ),
      );
      expect(again).toMatchObject({ rotated: false, accepted: 1, session: { id, projectId: q.id, actions: 2 } });
      expect((await store.getSession(p.id, id))?.actions).toBe(0);
    });

    it('keeps agent state apart, and deletes and purges one project’s only', async () => {
      const { p, q, id, a, b } = await twoOf();
      await store.commit([startOp(a), startOp(b)], T0);
      const entry = (projectId: string, value: unknown): AgentStateEntry => ({
        projectId,
        sessionId: id,
        agentId: 'agent',
        key: 'k',
        value,
        expiresAt: null,
        updatedAt: T0,
      });
      await store.setAgentState(entry(p.id, 'mine'));
      await store.setAgentState(entry(q.id, 'theirs'));
      expect((await store.getAgentState(p.id, id, 'agent', 'k', T0))?.value).toBe('mine');
      expect((await store.getAgentState(q.id, id, 'agent', 'k', T0))?.value).toBe('theirs');
      expect(await store.deleteAgentState(q.id, id, 'agent', 'k')).toBe(1);
      expect((await store.getAgentState(p.id, id, 'agent', 'k', T0))?.value).toBe('mine');
      await store.setAgentState(entry(q.id, 'again'));
      // q's session goes (erase): its state is an orphan then, p's is not.
      await store.eraseUser(q.id, 'u_same');
      await store.purgeAgentState(T0 + MIN);
      expect(await store.getAgentState(q.id, id, 'agent', 'k', T0)).toBeNull();
      expect((await store.getAgentState(p.id, id, 'agent', 'k', T0))?.value).toBe('mine');
    });

    it('erase, cleanup, the sweeper and deleting a project touch one project’s session only', async () => {
      const { p, q, id, a, b } = await twoOf();
      await store.commit([startOp(a), startOp(b)], T0);
      await store.commit([eventsOp(a, [ev('e1', 'action', T0)]), eventsOp(b, [ev('e1', 'action', T0)])], T0);
      expect(await store.eraseUser(p.id, 'u_same')).toEqual({ deletedSessions: 1, deletedEvents: 1 });
      expect(await store.getSession(p.id, id)).toBeNull();
      expect(await store.getEvents(q.id, id)).toHaveLength(1);

      // Both again: p's expires and is swept and cleaned up, q's stays live.
      await commitOne(startOp(a), T0);
      ok(await commitOne(heartbeatOp(b), T0 + IDLE - MIN));
      const later = T0 + IDLE + MIN;
      expect(await store.sweepExpired(later, p.id)).toBe(1);
      expect((await store.getSession(p.id, id))?.status).toBe('ended');
      expect((await store.getSession(q.id, id))?.status).toBe('active');
      expect(await store.cleanup(p.id, later + HOUR)).toMatchObject({ deletedSessions: 1 });
      expect(await store.getSession(q.id, id)).not.toBeNull();

      await commitOne(startOp(a), T0);
      expect(await store.deleteProject(p.id)).toMatchObject({ deletedSessions: 1 });
      expect(await store.sessionsById(id)).toMatchObject([{ projectId: q.id, status: 'active' }]);
      expect(await store.getEvents(q.id, id)).toHaveLength(1);
    });
  });
});
