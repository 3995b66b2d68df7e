import {
  latencyBucket,
  latencyBucketValue,
  PATH_DIMS,
  type Project,
  pathsOf,
  type SessionKind,
  toolsOf,
} from '@sessiontrack/core';
import { describe, expect, it } from 'vitest';
import { loadRange, rebuildRange } from '../analytics.js';
import {
  commitOne,
  conformance,
  DAY,
  endOp,
  ev,
  eventsOp,
  MIN,
  newProject,
  ok,
  started,
  store,
  T0,
} from './store.testkit.js';

// Store conformance, paths and tool latency (docs/metrics.md, "Paths" and "Tool latency"): known
// answers from the maintained aggregates on every backend, the same after a rebuild from raw rows
// and after an erase.

conformance('paths', () => {
  describe('paths and tools', () => {
    const date = '2025-06-01';
    const paths = async (p: Project, steps: number, kind?: SessionKind) =>
      pathsOf(
        (await loadRange(store, p, { fromDate: date, toDate: date, dims: PATH_DIMS.slice(0, steps), kind })).totals,
        steps,
        10,
      );
    const tools = async (p: Project) =>
      toolsOf(
        (await loadRange(store, p, { fromDate: date, toDate: date, dims: ['tool', 'toolCall', 'toolError', 'toolMs'] }))
          .totals,
        10,
      );
    const pageviews = (pages: string[], at: number, prefix: string) =>
      pages.map((page, i) => ev(`${prefix}${i}`, 'pageview', at + i * 1000, { page }));

    it('counts page paths from entry, repeats collapsed, built across batches; MCP sessions count tool names', async () => {
      const p = await newProject({ timeZone: 'UTC' });
      const a = await started(p, T0, { userId: 'a' });
      const b = await started(p, T0, { userId: 'b' });
      const c = await started(p, T0, { userId: 'c' });
      await started(p, T0, { userId: 'd' }); // no pageview: no path
      const m = await started(p, T0, { userId: 'm', kind: 'mcp' });
      // a: / › /pricing › /signup › /app, in three batches, with a reload of /pricing
      ok(await commitOne(eventsOp(a, pageviews(['/', '/pricing'], T0, 'a')), T0 + MIN));
      ok(await commitOne(eventsOp(a, pageviews(['/pricing', '/signup'], T0 + MIN, 'b')), T0 + 2 * MIN));
      ok(await commitOne(eventsOp(a, pageviews(['/app', '/docs', '/a', '/b', '/c'], T0 + 2 * MIN, 'c')), T0 + 3 * MIN));
      ok(await commitOne(eventsOp(b, pageviews(['/', '/pricing', '/signup'], T0, 'a')), T0 + MIN));
      ok(await commitOne(eventsOp(c, pageviews(['/', '/pricing'], T0, 'a')), T0 + MIN));
      ok(await commitOne(endOp(c), T0 + 2 * MIN));
      ok(
        await commitOne(
          eventsOp(m, [
            ev('t1', 'tool_call', T0 + 1000, { name: 'search' }),
            ev('t2', 'tool_call', T0 + 2000, { name: 'search' }),
            ev('t3', 'tool_call', T0 + 3000, { name: 'fetch' }),
          ]),
          T0 + MIN,
        ),
      );
      const expected3 = [
        { steps: ['/', '/pricing', '/signup'], sessions: 2, share: 0.5 },
        { steps: ['/', '/pricing'], sessions: 1, share: 0.25 },
        { steps: ['search', 'fetch'], sessions: 1, share: 0.25 },
      ];
      expect(await paths(p, 3)).toEqual(expected3);
      expect(await paths(p, 1)).toEqual([
        { steps: ['/'], sessions: 3, share: 0.75 },
        { steps: ['search'], sessions: 1, share: 0.25 },
      ]);
      expect(await paths(p, 5)).toContainEqual({
        steps: ['/', '/pricing', '/signup', '/app', '/docs'],
        sessions: 1,
        share: 0.25,
      });
      // Per kind: web sessions walk pages, MCP sessions call tools; share is of that kind's sessions.
      const web3 = [
        { steps: ['/', '/pricing', '/signup'], sessions: 2, share: 2 / 3 },
        { steps: ['/', '/pricing'], sessions: 1, share: 1 / 3 },
      ];
      const mcp3 = [{ steps: ['search', 'fetch'], sessions: 1, share: 1 }];
      expect(await paths(p, 3, 'web')).toEqual(web3);
      expect(await paths(p, 3, 'mcp')).toEqual(mcp3);
      expect(await paths(p, 3, 'api')).toEqual([]);
      await rebuildRange(store, p, date, date, T0 + DAY);
      expect(await paths(p, 3)).toEqual(expected3);
      expect(await paths(p, 3, 'web')).toEqual(web3);
      expect(await paths(p, 3, 'mcp')).toEqual(mcp3);
      await store.eraseUser(p.id, 'b');
      expect(await paths(p, 3)).toEqual([
        { steps: ['/', '/pricing'], sessions: 1, share: 1 / 3 },
        { steps: ['/', '/pricing', '/signup'], sessions: 1, share: 1 / 3 },
        { steps: ['search', 'fetch'], sessions: 1, share: 1 / 3 },
      ]);
    });

    it('answers calls, sessions, errors and p50 / p95 per tool from the calls’ details.durationMs', async () => {
      const p = await newProject({ timeZone: 'UTC' });
      const m1 = await started(p, T0, { kind: 'mcp' });
      const m2 = await started(p, T0, { kind: 'mcp' });
      const call = (id: string, name: string, durationMs: number | null, isError = false, at = T0 + 1000) =>
        ev(id, 'tool_call', at, { name, details: { ...(durationMs === null ? {} : { durationMs }), isError } });
      // search: 20 calls of 10 ms and 2 of 900 ms (one failed), over both sessions and two batches
      const fast = Array.from({ length: 10 }, (_, i) => call(`f${i}`, 'search', 10));
      ok(await commitOne(eventsOp(m1, [...fast, call('s1', 'search', 900, true)]), T0 + MIN));
      ok(await commitOne(eventsOp(m2, fast), T0 + MIN));
      ok(await commitOne(eventsOp(m2, [call('s2', 'search', 900), call('x1', 'export', null)]), T0 + 2 * MIN));
      // a duplicate event id is not a second call
      ok(await commitOne(eventsOp(m2, [call('s2', 'search', 900)]), T0 + 3 * MIN));
      const at = (ms: number) => Math.round(latencyBucketValue(latencyBucket(ms) as number) * 100) / 100;
      const expected = [
        { tool: 'search', calls: 22, sessions: 2, errors: 1, errorRate: 1 / 22, p50Ms: at(10), p95Ms: at(900) },
        { tool: 'export', calls: 1, sessions: 1, errors: 0, errorRate: 0, p50Ms: null, p95Ms: null },
      ];
      expect(await tools(p)).toEqual(expected);
      await rebuildRange(store, p, date, date, T0 + DAY);
      expect(await tools(p)).toEqual(expected);
    });
  });
});
