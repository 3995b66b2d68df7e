import { importedSession, importSessionSchema, type Project } from '@sessiontrack/core';
import { describe, expect, it } from 'vitest';
import {
  commitOne,
  conformance,
  DAY,
  ev,
  eventsOp,
  HOUR,
  ids,
  listAll,
  MIN,
  newProject,
  ok,
  SEC,
  sorted,
  store,
  stored,
  T0,
  uid,
} from './store.testkit.js';

// Store conformance, the admin import of whole sessions (every backend: store.testkit.ts).

conformance('import', () => {
  describe('import', () => {
    const imported = (p: Project, at: number, over: Record<string, unknown> = {}) =>
      importedSession(
        importSessionSchema.parse({
          id: uid('s_imp'),
          userId: 'u_imp',
          startedAt: at,
          end: { reason: 'navigation' },
          events: [
            { id: 'e1', type: 'pageview', page: '/a', timestamp: at + 5 * SEC },
            { id: 'e2', type: 'action', name: 'buy', page: '/b', timestamp: at + 20 * SEC },
          ],
          ...over,
        }),
        p,
        T0 + 30 * DAY,
      );

    it('stores past sessions with their events as given, and reads them back like any other', async () => {
      const p = await newProject();
      const a = imported(p, T0);
      const b = imported(p, T0 + DAY, { end: undefined, events: [] });
      expect(await store.importSessions([a, b])).toEqual({ sessions: 2, skippedSessions: 0, events: 2 });
      expect(await store.getSession(a.session.projectId, a.session.id)).toEqual(a.session);
      expect(await store.getSession(b.session.projectId, b.session.id)).toEqual(b.session);
      const events = await store.getEvents(a.session.projectId, a.session.id);
      expect(events.map((e) => [e.id, e.ts, e.receivedAt, e.page])).toEqual([
        ['e1', T0 + 5 * SEC, T0 + 5 * SEC, '/a'],
        ['e2', T0 + 20 * SEC, T0 + 20 * SEC, '/b'],
      ]);
      // b was never ended: long past its idle timeout, it reads as ended (the clock rule).
      const listed = await listAll({ projectId: p.id, status: 'ended' }, T0 + 30 * DAY);
      expect(sorted(ids(listed))).toEqual(sorted([a.session.id, b.session.id]));
      expect(await listAll({ projectId: p.id, from: T0 + DAY }, T0 + 30 * DAY)).toHaveLength(1);
      // the past days it wrote are counted at once (analytics: "an import adds its sessions…"), not marked
      expect(await store.rollupDirty(p.id)).toEqual([]);
    });

    it('is idempotent by session id: a re-import skips stored sessions with their events', async () => {
      const p = await newProject();
      const a = imported(p, T0);
      await store.importSessions([a]);
      const again = { ...a, events: [...a.events, { ...a.events[0]!, id: 'e3' }] };
      const c = imported(p, T0 + HOUR);
      expect(await store.importSessions([again, c])).toEqual({ sessions: 1, skippedSessions: 1, events: 2 });
      expect(await store.getEvents(a.session.projectId, a.session.id)).toHaveLength(2);
      // an id another project uses is that project's own session (ids are unique per project)
      const q = await newProject();
      const same = { ...imported(q, T0), session: { ...imported(q, T0).session, id: a.session.id } };
      expect(await store.importSessions([same])).toEqual({ sessions: 1, skippedSessions: 0, events: 2 });
      expect((await stored(a.session.id, p.id)).userId).toBe('u_imp');
      expect(await store.getEvents(p.id, a.session.id)).toHaveLength(2);
      expect(await store.getEvents(q.id, a.session.id)).toHaveLength(2);
      expect(await store.importSessions([same])).toMatchObject({ sessions: 0, skippedSessions: 1 });
    });

    it('an imported open session is live and takes ingest like any other', async () => {
      const p = await newProject();
      const now = T0 + 30 * DAY;
      const live = imported(p, now - 5 * MIN, { end: undefined, events: [] });
      await store.importSessions([live]);
      expect(await store.countLive(p.id, now)).toBe(1);
      const r = ok(await commitOne(eventsOp(live.session, [ev('e9', 'action', now, { name: 'go' })]), now));
      expect(r.session.actions).toBe(1);
    });
  });
});
