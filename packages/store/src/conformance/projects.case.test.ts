import { describe, expect, it } from 'vitest';
import { conformance, HOUR, MIN, makeProject, newProject, store, T0 } from './store.testkit.js';

// Store conformance, projects: created with every field, ids and write keys unique (every backend: store.testkit.ts).

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
  });
});
