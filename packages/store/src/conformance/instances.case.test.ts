import { describe, expect, it } from 'vitest';
import { loadRange, rollupProject } from '../analytics.js';
import { backend, conformance, MIN, newProject, openPeer, started, store, T0 } from './store.testkit.js';

// Store conformance, several instances on one database: what one instance changes in a project,
// another instance's writers count by from their next batch on (every backend that can open a
// second handle on the same database; SQLite in memory cannot, and says so).

conformance('instances', () => {
  describe('instances', () => {
    if (!backend.peer && !backend.skip)
      console.warn(`Store conformance (instances): ${backend.name} is SKIPPED: no second handle on one database`);
    // 23:30 UTC is 08:30 the next day in Tokyo (UTC+9, no daylight saving).
    const LATE = Date.parse('2025-06-01T23:30:00.000Z');
    const UTC_DAY = '2025-06-01';
    const TOKYO_DAY = '2025-06-02';
    const sessionsOn = async (p: Awaited<ReturnType<typeof newProject>>, date: string) =>
      (await loadRange(store, p, { fromDate: date, toDate: date })).totals.sessions;

    it.skipIf(!backend.peer)(
      "another instance's change of time zone counts from this instance's next batch, and the rollup job recounts the days before it",
      async () => {
        const p = await newProject({ timeZone: 'UTC', createdAt: T0 });
        await started(p, LATE); // this instance now knows the project's zone: UTC
        expect(await sessionsOn(p, UTC_DAY)).toBe(1);

        const peer = await openPeer();
        const moved = await peer.updateProject(p.id, { timeZone: 'Asia/Tokyo' });
        expect(moved?.timeZone).toBe('Asia/Tokyo');

        // This instance's next batch counts by the new zone (it never saw the change itself).
        await started(p, LATE + 5 * MIN);
        const tokyo = { ...p, timeZone: 'Asia/Tokyo' };
        expect(await sessionsOn(tokyo, TOKYO_DAY)).toBe(1);

        // The change marked the days with raw rows: the rollup job (on any instance) recounts the
        // session counted by the old zone, and nothing is left on the UTC day.
        const run = await rollupProject(peer, tokyo, LATE + 10 * MIN);
        expect(run.days).toContain(TOKYO_DAY);
        expect(await sessionsOn(tokyo, TOKYO_DAY)).toBe(2);
        expect(await sessionsOn(tokyo, UTC_DAY)).toBe(0);
      },
    );

    it.skipIf(!backend.peer)("another instance's change of bounce rule is recounted by the rollup job", async () => {
      const p = await newProject({ timeZone: 'UTC', createdAt: T0 });
      await started(p, LATE);
      const peer = await openPeer();
      await peer.updateProject(p.id, { bounceSeconds: 5 });
      expect((await store.rollupDirty(p.id)).length).toBeGreaterThan(0);
      // A change of anything else marks nothing.
      const q = await newProject({ timeZone: 'UTC', createdAt: T0 });
      await started(q, LATE);
      await peer.updateProject(q.id, { name: 'renamed', rateLimitPerMinute: 100 });
      expect(await store.rollupDirty(q.id)).toEqual([]);
    });
  });
});
