import type { Project } from '@sessiontrack/core';
import { describe, expect, it } from 'vitest';
import { rollupProject } from '../analytics.js';
import {
  commitOne,
  conformance,
  DAY,
  ev,
  eventsOp,
  HOUR,
  MIN,
  makeProject,
  newProject,
  ok,
  SEC,
  started,
  store,
  T0,
  uid,
} from './store.testkit.js';

// Store conformance, projects: created with every field, ids and write keys unique; read by id and
// key (a rotated key until its time), updated, deleted with their data; share links; the version
// stamp moves with every change (every backend: store.testkit.ts).

conformance('projects', () => {
  describe('projects', () => {
    it('creates projects and lists them with every field', async () => {
      const a = makeProject({ createdAt: T0 });
      const b = makeProject({
        createdAt: T0 + MIN,
        allowedOrigins: [],
        timeZone: 'UTC',
        idleTimeoutMs: 5 * MIN,
        absoluteTimeoutMs: 2 * HOUR,
        retentionDays: 7,
        rateLimitPerMinute: 600,
      });
      expect(await store.createProject(a)).toEqual(a);
      expect(await store.createProject(b)).toEqual(b);
      const listed = await store.listProjects();
      expect(listed.find((p) => p.id === a.id)).toEqual(a);
      expect(listed.find((p) => p.id === b.id)).toEqual(b);
    });

    it('refuses a project id or write key that is in use', async () => {
      const a = await newProject();
      await expect(store.createProject(makeProject({ id: a.id }))).rejects.toThrow();
      await expect(store.createProject(makeProject({ writeKey: a.writeKey }))).rejects.toThrow();
      expect((await store.listProjects()).filter((p) => p.id === a.id || p.writeKey === a.writeKey)).toEqual([a]);
    });

    it('reads a project by id and by write key; a rotated key works until its time, then not', async () => {
      const p = await newProject();
      expect(await store.getProject(p.id)).toEqual(p);
      expect(await store.getProject(uid('p_unknown'))).toBeNull();
      expect(await store.projectByWriteKey(p.writeKey, T0)).toEqual(p);
      expect(await store.projectByWriteKey(uid('wk_unknown'), T0)).toBeNull();
      const v0 = await store.projectsVersion();
      const next = uid('wk');
      const rotated = await store.updateProject(
        p.id,
        {},
        { writeKey: next, previousWriteKey: p.writeKey, previousValidUntil: T0 + HOUR },
      );
      expect(rotated).toEqual({
        ...p,
        writeKey: next,
        previousWriteKey: p.writeKey,
        previousKeyValidUntil: T0 + HOUR,
      });
      expect(await store.projectsVersion()).not.toBe(v0);
      expect((await store.projectByWriteKey(next, T0))?.id).toBe(p.id);
      expect((await store.projectByWriteKey(p.writeKey, T0 + HOUR - 1))?.id).toBe(p.id);
      expect(await store.projectByWriteKey(p.writeKey, T0 + HOUR)).toBeNull();
      // A rotated-out key is still taken: no other project may get it.
      await expect(store.createProject(makeProject({ writeKey: next }))).rejects.toThrow();
    });

    it('updates the given fields only, null back to the default, and moves the version', async () => {
      const p = await newProject({ idleTimeoutMs: 5 * MIN, bounceSeconds: 10 });
      const v0 = await store.projectsVersion();
      const changed = await store.updateProject(p.id, {
        name: 'Renamed',
        allowedOrigins: ['https://a.example', 'http://localhost:5173'],
        timeZone: 'America/New_York',
        idleTimeoutMs: null,
        retentionDays: 7,
        rateLimitPerMinute: 60,
        bounceSeconds: null,
        bounceMaxActions: 3,
      });
      const { bounceSeconds: _, ...rest } = p;
      const want: Project = {
        ...rest,
        name: 'Renamed',
        allowedOrigins: ['https://a.example', 'http://localhost:5173'],
        timeZone: 'America/New_York',
        idleTimeoutMs: null,
        retentionDays: 7,
        rateLimitPerMinute: 60,
        bounceMaxActions: 3,
      };
      expect(changed).toEqual(want);
      expect(await store.getProject(p.id)).toEqual(want);
      const v1 = await store.projectsVersion();
      expect(v1).not.toBe(v0);
      // Nothing to change: the project as it is, the version unmoved.
      expect(await store.updateProject(p.id, {})).toEqual(want);
      expect(await store.projectsVersion()).toBe(v1);
      expect(await store.updateProject(uid('p_unknown'), { name: 'x' })).toBeNull();
    });

    it('creates, lists and deletes share links per project', async () => {
      const p = await newProject();
      const q = await newProject();
      const a = { id: uid('sh'), projectId: p.id, label: 'board', tokenHash: uid('h'), createdAt: T0 };
      const b = { id: uid('sh'), projectId: p.id, label: null, tokenHash: uid('h'), createdAt: T0 + MIN };
      const c = { id: uid('sh'), projectId: q.id, label: 'other', tokenHash: uid('h'), createdAt: T0 };
      const v0 = await store.projectsVersion();
      for (const x of [a, b, c]) expect(await store.createShare(x)).toEqual(x);
      expect(await store.projectsVersion()).not.toBe(v0);
      expect(await store.listShares(p.id)).toEqual([a, b]);
      expect((await store.listShares()).filter((x) => x.projectId === p.id || x.projectId === q.id)).toEqual(
        expect.arrayContaining([a, b, c]),
      );
      // Another project's share is not deleted through this one.
      expect(await store.deleteShare(p.id, c.id)).toBe(false);
      const v1 = await store.projectsVersion();
      expect(await store.deleteShare(p.id, a.id)).toBe(true);
      expect(await store.projectsVersion()).not.toBe(v1);
      expect(await store.deleteShare(p.id, a.id)).toBe(false);
      expect(await store.listShares(p.id)).toEqual([b]);
      expect(await store.listShares(q.id)).toEqual([c]);
    });

    it('deletes a project with its sessions, events, shares and rollups, and nothing of another', async () => {
      const p = await newProject({ timeZone: 'UTC' });
      const q = await newProject({ timeZone: 'UTC' });
      const mine = [await started(p, T0), await started(p, T0 + MIN)];
      const kept = await started(q, T0);
      ok(
        await commitOne(
          eventsOp(mine[0]!, [ev('e1', 'action', T0 + SEC), ev('e2', 'action', T0 + 2 * SEC)]),
          T0 + 2 * SEC,
        ),
      );
      ok(await commitOne(eventsOp(kept, [ev('e1', 'action', T0 + SEC)]), T0 + SEC));
      await store.setAgentState({
        projectId: p.id,
        sessionId: mine[0]!.id,
        agentId: 'a',
        key: 'k',
        value: 1,
        expiresAt: null,
        updatedAt: T0,
      });
      await store.createShare({ id: uid('sh'), projectId: p.id, label: null, tokenHash: uid('h'), createdAt: T0 });
      await store.createShare({ id: uid('sh'), projectId: q.id, label: null, tokenHash: uid('h'), createdAt: T0 });
      await rollupProject(store, p, T0 + 3 * DAY);
      await rollupProject(store, q, T0 + 3 * DAY);
      const v0 = await store.projectsVersion();
      const r = await store.deleteProject(p.id);
      expect(r).toEqual({ deletedSessions: 2, deletedEvents: expect.any(Number) });
      expect(r?.deletedEvents).toBeGreaterThanOrEqual(2);
      expect(await store.projectsVersion()).not.toBe(v0);
      expect(await store.getProject(p.id)).toBeNull();
      expect(await store.projectByWriteKey(p.writeKey, T0)).toBeNull();
      for (const s of mine) expect(await store.getSession(s.projectId, s.id)).toBeNull();
      expect(await store.getEvents(p.id, mine[0]!.id)).toEqual([]);
      expect(await store.getAgentState(p.id, mine[0]!.id, 'a', 'k', T0)).toBeNull();
      expect(await store.listShares(p.id)).toEqual([]);
      expect(await store.readRollups(p.id, '2025-01-01', '2025-12-31', [])).toEqual([]);
      expect(await store.rollupDirty(p.id)).toEqual([]);
      // The other project is untouched.
      expect(await store.getSession(kept.projectId, kept.id)).not.toBeNull();
      expect(await store.getEvents(kept.projectId, kept.id)).toHaveLength(1);
      expect(await store.listShares(q.id)).toHaveLength(1);
      expect((await store.readRollups(q.id, '2025-01-01', '2025-12-31', [])).length).toBeGreaterThan(0);
      expect(await store.deleteProject(p.id)).toBeNull();
    });
  });
});
