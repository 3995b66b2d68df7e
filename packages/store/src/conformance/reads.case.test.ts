import type { Session } from '@sessiontrack/core';
import { describe, expect, it } from 'vitest';
import {
  commitOne,
  conformance,
  disconnectOp,
  endOp,
  ev,
  eventsOp,
  HOUR,
  ids,
  listAll,
  MIN,
  makeSession,
  newProject,
  ok,
  SEC,
  sorted,
  started,
  startOp,
  store,
  T0,
} from './store.testkit.js';

// Store conformance, reads: sessions by id, lists with filters and cursors, live counts (every backend: store.testkit.ts).

conformance('reads', () => {
  describe('reads', () => {
    it('answers events oldest first, with every field', async () => {
      const p = await newProject();
      const s = await started(p, T0);
      const t1 = T0 + 10 * MIN;
      ok(
        await commitOne(
          eventsOp(s, [
            ev('late', 'action', t1 - SEC, {
              name: 'click',
              page: 'https://app.example/pricing?x=1',
              resourceId: 'buy-btn',
              details: { plan: 'pro', n: [1, 2] },
            }),
            ev('early', 'pageview', t1 - 3 * SEC, { page: '/pricing' }),
          ]),
          t1,
        ),
      );
      const t2 = T0 + 11 * MIN;
      ok(
        await commitOne(
          eventsOp(s, [
            ev('earliest', 'custom', t1 - 5 * SEC, { name: 'retried' }),
            ev('tie1', 'error', t2),
            ev('tie2', 'error', t2),
          ]),
          t2,
        ),
      );
      const got = await store.getEvents(s.projectId, s.id);
      expect(got.map((e) => e.id)).toEqual(['earliest', 'early', 'late', 'tie1', 'tie2']);
      expect(got[2]).toEqual({
        id: 'late',
        sessionId: s.id,
        projectId: p.id,
        type: 'action',
        name: 'click',
        ts: t1 - SEC,
        receivedAt: t1,
        page: '/pricing',
        resourceId: 'buy-btn',
        details: { plan: 'pro', n: [1, 2] },
      });
      expect(got[1]).toMatchObject({ name: null, resourceId: null, details: null, receivedAt: t1 });
    });

    it('lists sessions newest first across pages, without duplicates or gaps', async () => {
      const p = await newProject();
      const other = await newProject();
      const offsets = [1, 2, 2, 3, 4, 4, 4, 5, 7];
      const sessions = offsets.map((o) => makeSession(p, T0 + o * MIN));
      await store.commit([...sessions.map(startOp), startOp(makeSession(other, T0 + 3 * MIN))], T0 + 8 * MIN);
      const now = T0 + 10 * MIN;
      const pages: Session[][] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await store.listSessions({ projectId: p.id, limit: 2, cursor }, now);
        pages.push(page.sessions);
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
        expect(pages.length).toBeLessThan(10);
      }
      expect(pages.map((x) => x.length)).toEqual([2, 2, 2, 2, 1]);
      const all = pages.flat();
      const starts = all.map((s) => s.startedAt);
      expect(starts).toEqual([...starts].sort((x, y) => y - x));
      expect(new Set(ids(all)).size).toBe(all.length);
      expect(sorted(ids(all))).toEqual(sorted(ids(sessions)));
      const byId = new Map(sessions.map((s) => [s.id, s]));
      for (const s of all) expect(s).toEqual(byId.get(s.id));
      // one page that holds everything has no next cursor
      const one = await store.listSessions({ projectId: p.id, limit: 50 }, now);
      expect(ids(one.sessions)).toEqual(ids(all));
      expect(one.nextCursor).toBeNull();
    });

    it('refuses a malformed cursor', async () => {
      const p = await newProject();
      await expect(store.listSessions({ projectId: p.id, limit: 10, cursor: 'not a cursor' }, T0)).rejects.toThrow();
    });

    it('filters by user and kind', async () => {
      const p = await newProject();
      const a1 = makeSession(p, T0, { userId: 'u_a' });
      const a2 = makeSession(p, T0 + MIN, { userId: 'u_a', kind: 'mcp' });
      const b = makeSession(p, T0 + 2 * MIN, { userId: 'u_b' });
      const anon = makeSession(p, T0 + 3 * MIN, { userId: null });
      const m = makeSession(p, T0 + 4 * MIN, { userId: 'u_b', kind: 'mcp' });
      await store.commit([a1, a2, b, anon, m].map(startOp), T0 + 5 * MIN);
      const now = T0 + 6 * MIN;
      expect(ids(await listAll({ projectId: p.id, userId: 'u_a' }, now))).toEqual([a2.id, a1.id]);
      expect(ids(await listAll({ projectId: p.id, kind: 'mcp' }, now))).toEqual([m.id, a2.id]);
      expect(ids(await listAll({ projectId: p.id, kind: 'web' }, now))).toEqual([anon.id, b.id, a1.id]);
      expect(ids(await listAll({ projectId: p.id, userId: 'u_b', kind: 'mcp' }, now))).toEqual([m.id]);
      expect(await listAll({ projectId: p.id, userId: 'u_nobody' }, now)).toEqual([]);
      expect(ids(await listAll({ projectId: p.id, userId: 'u_a' }, now, 1))).toEqual([a2.id, a1.id]);
    });

    it('filters by effective status: an expired session counts as ended before any sweep', async () => {
      const p = await newProject();
      const now = T0 + 20 * MIN;
      const live = await started(p, T0); // idle until T0 + 30 min
      const ended = await started(p, T0 + MIN);
      ok(await commitOne(endOp(ended), T0 + 2 * MIN));
      const expired = await started(p, T0 - 40 * MIN); // idle since T0 - 10 min, not swept
      const disc = await started(p, T0 + 3 * MIN);
      ok(await commitOne(disconnectOp(disc), T0 + 15 * MIN)); // grace until T0 + 25 min
      const gone = await started(p, T0 + 4 * MIN);
      ok(await commitOne(disconnectOp(gone), T0 + 5 * MIN)); // grace ended at T0 + 15 min

      const q = { projectId: p.id };
      expect(sorted(ids(await listAll({ ...q, status: 'live' }, now)))).toEqual(sorted([live.id, disc.id]));
      expect(ids(await listAll({ ...q, status: 'active' }, now))).toEqual([live.id]);
      expect(ids(await listAll({ ...q, status: 'disconnected' }, now))).toEqual([disc.id]);
      expect(sorted(ids(await listAll({ ...q, status: 'ended' }, now)))).toEqual(
        sorted([ended.id, expired.id, gone.id]),
      );
      expect(sorted(ids(await listAll({ ...q, status: 'ended' }, now, 1)))).toEqual(
        sorted([ended.id, expired.id, gone.id]),
      );
      expect(await listAll(q, now)).toHaveLength(5);
      // later, everything has expired
      const later = T0 + 2 * HOUR;
      expect(await listAll({ ...q, status: 'live' }, later)).toEqual([]);
      expect(await listAll({ ...q, status: 'ended' }, later)).toHaveLength(5);
      // reading does not write: the expired session is still stored as it was
      expect(await store.getSession(expired.projectId, expired.id)).toEqual(expired);
    });

    it('filters by start time: from inclusive, to exclusive', async () => {
      const p = await newProject();
      const s = [0, 1, 2, 3].map((h) => makeSession(p, T0 + h * HOUR));
      await store.commit(s.map(startOp), T0 + 3 * HOUR);
      const now = T0 + 4 * HOUR;
      const [s0, s1, s2, s3] = s.map((x) => x.id);
      const q = { projectId: p.id };
      expect(ids(await listAll({ ...q, from: T0 + HOUR, to: T0 + 3 * HOUR }, now))).toEqual([s2, s1]);
      expect(ids(await listAll({ ...q, from: T0 + HOUR + 1 }, now))).toEqual([s3, s2]);
      expect(ids(await listAll({ ...q, to: T0 + HOUR }, now))).toEqual([s0]);
      expect(ids(await listAll({ ...q, from: T0, to: T0 + 4 * HOUR }, now, 1))).toEqual([s3, s2, s1, s0]);
    });

    it('counts live sessions per project and overall', async () => {
      const now = T0 + 20 * MIN;
      const baseline = await store.countLive(null, now);
      const p = await newProject();
      const q = await newProject();
      await started(p, T0 + 10 * MIN);
      const disc = await started(p, T0 + MIN);
      ok(await commitOne(disconnectOp(disc), T0 + 15 * MIN));
      const ended = await started(p, T0);
      ok(await commitOne(endOp(ended), T0 + MIN));
      await started(p, T0 - HOUR); // expired
      await started(q, T0 + 5 * MIN);
      const goneQ = await started(q, T0 + 5 * MIN);
      ok(await commitOne(disconnectOp(goneQ), T0 + 6 * MIN)); // grace over at T0 + 16 min

      expect(await store.countLive(p.id, now)).toBe(2);
      expect(await store.countLive(q.id, now)).toBe(1);
      expect(await store.countLive(null, now)).toBe(baseline + 3);
      expect(await store.countLive(p.id, T0 + 2 * HOUR)).toBe(0);
      expect(await store.countLive((await newProject()).id, now)).toBe(0);
    });
  });
});
