import { buildSession, continentOf, type EventInput, normalizeEvent, type StartSessionInput } from '@sessiontrack/core';
import { rebuildRange, rollupAll, type WriteOp } from '@sessiontrack/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createTestApp, json, type TestApp } from '../app.testkit.js';
import { retainProject } from '../jobs/analytics.js';

// The analytics routes through the real app on a real SQLite store: hand-built traffic with known
// answers, the same answers after a rebuild from raw rows, validation, export and erase.

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const T0 = Date.parse('2025-06-01T10:00:00Z');
let clock = T0;
let t: TestApp;

beforeEach(async () => {
  clock = T0;
  t = await createTestApp({ now: () => clock });
});
afterEach(async () => {
  await t.close();
});

// Traffic is written with explicit clocks through the store's commit (the write buffer stamps
// batches with the real clock); reads go through the app with `now` = `clock`.
async function session(
  over: Partial<StartSessionInput>,
  country: string | null,
  region: string | null = null,
  projectId = 'default',
) {
  const project = t.projects.byId(projectId);
  if (!project) throw new Error('no default project');
  const s = buildSession(
    { kind: 'web', ...over },
    { project, now: clock, origin: null, userAgent: null, geo: { country, region, continent: continentOf(country) } },
  );
  const [r] = await t.store.commit([{ op: 'start', session: s }], clock);
  expect(r?.ok).toBe(true);
  return s.id;
}
const events = async (id: string, list: EventInput[]) => {
  const ops: WriteOp[] = [
    { op: 'events', projectId: 'default', sessionId: id, events: list.map((e) => normalizeEvent(e, clock)) },
  ];
  const [r] = await t.store.commit(ops, clock);
  expect(r?.ok).toBe(true);
};
const end = (id: string) =>
  t.store.commit(
    [{ op: 'end', projectId: 'default', sessionId: id, reason: 'logout', page: null, lastAction: null }],
    clock,
  );

/** Three sessions on 2025-06-01 (UTC, the default project's zone). */
async function traffic() {
  const a = await session(
    { userId: 'u1', transport: 'streamable-http', kind: 'mcp', metadata: { clientName: 'claude-code' } },
    'DE',
    'BE',
  );
  const b = await session({ userId: 'u1', entry: { page: '/pricing' } }, 'DE', 'BY');
  const c = await session({ anonymousId: 'anon-1', entry: { page: '/pricing' } }, 'FR');
  await events(a, [
    { type: 'tool_call', name: 'search' },
    { type: 'tool_call', name: 'search' },
    { type: 'workflow_start', name: 'wf', details: { workflowId: 'checkout' } },
  ]);
  await events(b, [
    { type: 'action', name: 'export' },
    { type: 'action', name: 'filter' },
    { type: 'error', name: 'boom' },
    { type: 'workflow_start', name: 'wf', details: { workflowId: 'checkout' } },
    { type: 'workflow_complete', name: 'wf', details: { workflowId: 'checkout' } },
  ]);
  clock += 2 * MIN;
  await events(c, [{ type: 'action', name: 'export' }]);
  await end(a);
  await end(b);
  // c: live at T0 + 2 min, then idle: it times out at its last activity, T0 + 2 min
  return { a, b, c };
}

describe('stats routes', () => {
  it('answer the hand-built day, the same after a rebuild, and on the next day once the idle session is swept', async () => {
    const { a } = await traffic();
    const q = '?from=2025-06-01&to=2025-06-01';
    const read = async (path: string) => {
      const res = await t.read(path);
      expect(res.status, path).toBe(200);
      return json(res);
    };
    const all = async () => ({
      summary: await read(`/api/v1/stats/summary${q}`),
      daily: await read(`/api/v1/stats/daily${q}`),
      country: await read(`/api/v1/stats/breakdown${q}&by=country`),
      region: await read(`/api/v1/stats/breakdown${q}&by=region`),
      tool: await read(`/api/v1/stats/breakdown${q}&by=tool`),
      transport: await read(`/api/v1/stats/breakdown${q}&by=transport`),
      workflows: await read(`/api/v1/stats/workflows/abandoned${q}`),
      activity: await read(`/api/v1/stats/activity${q}`),
      together: await read(`/api/v1/stats/together${q}`),
      exits: await read(`/api/v1/stats/exits${q}`),
      durations: await read(`/api/v1/stats/durations${q}`),
      countries: await read(`/api/v1/stats/countries${q}`),
    });
    const live = await all();
    expect(live.summary).toMatchObject({
      sessions: 3,
      uniqueUsers: 2,
      endedSessions: 2,
      avgDurationSeconds: 120,
      bounceRate: 0,
      errorRate: 1 / 3,
      actions: 3,
      toolCalls: 2,
    });
    expect(live.daily).toEqual([
      expect.objectContaining({
        date: '2025-06-01',
        sessions: 3,
        mostCommonEntry: '/pricing',
        countries: { DE: 2, FR: 1 },
      }),
    ]);
    expect(live.country).toEqual([
      { value: 'DE', sessions: 2, share: 2 / 3 },
      { value: 'FR', sessions: 1, share: 1 / 3 },
    ]);
    expect(live.tool).toEqual([{ value: 'search', sessions: 1, share: 1 / 3, calls: 2, errors: 0, errorRate: 0 }]);
    expect(live.transport[0]).toEqual({ value: null, sessions: 2, share: 2 / 3 });
    expect(live.workflows).toEqual([
      { workflowId: 'checkout', started: 2, completed: 1, failed: 0, abandoned: 1, abandonRate: 0.5 },
    ]);
    expect(live.activity.cells).toHaveLength(168);
    // 2025-06-01 is a Sunday (weekday 6), 10:00 UTC
    expect(live.activity.cells.find((x: { sessions: number }) => x.sessions > 0)).toEqual({
      weekday: 6,
      hour: 10,
      sessions: 3,
    });
    expect(live.together).toEqual([{ a: 'export', b: 'filter', sessions: 1, lift: 1.5 }]);
    expect(live.exits.reasons).toEqual([{ value: 'logout', sessions: 2, share: 1 }]);
    expect(live.durations.buckets.find((b: { bucket: string }) => b.bucket === '1-5m').sessions).toBe(2);
    expect(live.countries).toMatchObject({ sessions: 3, countries: 2, unknownCountrySessions: 0 });
    expect(live.countries.top[0]).toMatchObject({ country: 'DE', continent: 'EU', sessions: 2 });
    expect(live.countries.top[0].regions.map((r: { region: string }) => r.region)).toEqual(['BE', 'BY']);

    // The abandoned workflow shows on its session.
    const one = await read(`/api/v1/sessions/${a}`);
    expect(one.abandonedWorkflows).toEqual(['checkout']);
    expect(one.workflows).toBe(1); // the session's counter is untouched
    expect(one.workflowOutcomes).toEqual([
      { workflowId: 'checkout', started: true, completed: false, failed: false, abandoned: true },
    ]);

    // A rebuild from the raw rows changes nothing; the rollup job has nothing marked to rebuild.
    const project = t.projects.byId('default');
    if (!project) throw new Error('no default project');
    expect((await rebuildRange(t.store, project, '2025-06-01', '2025-06-01', clock)).days).toEqual(['2025-06-01']);
    expect(await all()).toEqual(live);
    expect((await rollupAll(t.store, clock)).flatMap((r) => r.days)).toEqual([]);

    // Next day: the live session c has timed out. Until its end is written it still counts as
    // live (docs/metrics.md, "when a number is final"); the sweeper writes it at its last
    // activity: one more ended session, 2 min long.
    clock = T0 + DAY;
    expect(await all()).toEqual(live);
    expect(await t.store.sweepExpired(clock)).toBe(1);
    const closed = await all();
    expect(closed.summary).toMatchObject({ sessions: 3, endedSessions: 3, avgDurationSeconds: 120, bounceRate: 0 });
    expect(closed.exits.reasons).toEqual([
      { value: 'logout', sessions: 2, share: 2 / 3 },
      { value: 'timeout', sessions: 1, share: 1 / 3 },
    ]);
  });

  it('validate their queries with the API error shape', async () => {
    for (const path of [
      '/api/v1/stats/breakdown?by=nope',
      '/api/v1/stats/summary?from=2025-06-02&to=2025-06-01',
      '/api/v1/stats/daily?from=2025-13-01',
      '/api/v1/stats/summary?from=2020-01-01&to=2025-01-01',
      '/api/v1/stats/together?limit=0',
      '/api/v1/stats/summary?kind=nope',
      '/api/v1/stats/breakdown?by=country&kind=WEB',
      '/api/v1/stats/countries?kind=',
      '/api/v1/stats/paths?steps=0',
      '/api/v1/stats/paths?steps=6',
      '/api/v1/stats/paths?steps=2.5',
      '/api/v1/stats/paths?steps=x',
      '/api/v1/stats/tools?limit=0',
      '/api/v1/stats/tools?from=2025-06-02&to=2025-06-01',
    ]) {
      const res = await t.read(path);
      expect(res.status, path).toBe(400);
      expect((await json(res)).error.code).toBe('validation_failed');
    }
    expect((await t.read('/api/v1/stats/summary?project=nope')).status).toBe(404);
  });

  it('kind=web|mcp|api answers the sessions of that kind only, distinct users per kind included', async () => {
    await traffic(); // a: mcp, u1, DE; b: web, u1, DE; c: web, anonymous, FR
    const q = '?from=2025-06-01&to=2025-06-01';
    const read = async (path: string) => {
      const res = await t.read(path);
      expect(res.status, path).toBe(200);
      return json(res);
    };
    expect(await read(`/api/v1/stats/summary${q}&kind=mcp`)).toMatchObject({
      sessions: 1,
      uniqueUsers: 1,
      toolCalls: 2,
      actions: 0,
    });
    expect(await read(`/api/v1/stats/summary${q}&kind=web`)).toMatchObject({ sessions: 2, uniqueUsers: 2, actions: 3 });
    expect(await read(`/api/v1/stats/summary${q}&kind=api`)).toMatchObject({ sessions: 0, uniqueUsers: 0 });
    // u1 used both kinds: one user over all kinds
    expect(await read(`/api/v1/stats/summary${q}`)).toMatchObject({ sessions: 3, uniqueUsers: 2 });
    expect(await read(`/api/v1/stats/breakdown${q}&by=country&kind=web`)).toEqual([
      { value: 'DE', sessions: 1, share: 0.5 },
      { value: 'FR', sessions: 1, share: 0.5 },
    ]);
    expect(await read(`/api/v1/stats/breakdown${q}&by=tool&kind=web`)).toEqual([]);
    // MCP clients over every MCP session of the range (the dashboard's MCP view)
    expect(await read(`/api/v1/stats/breakdown${q}&by=client&kind=mcp`)).toEqual([
      { value: 'claude-code', sessions: 1, share: 1 },
    ]);
    expect(await read(`/api/v1/stats/breakdown${q}&by=client`)).toEqual([
      { value: null, sessions: 2, share: 2 / 3 },
      { value: 'claude-code', sessions: 1, share: 1 / 3 },
    ]);
    const [day] = await read(`/api/v1/stats/daily${q}&kind=mcp`);
    expect(day).toMatchObject({ sessions: 1, uniqueUsers: 1, countries: { DE: 1 } });
    expect(await read(`/api/v1/stats/countries${q}&kind=mcp`)).toMatchObject({ sessions: 1, countries: 1 });
    expect((await read(`/api/v1/stats/workflows/abandoned${q}&kind=web`))[0]).toMatchObject({
      started: 1,
      completed: 1,
    });
  });

  it('avgEngagedSeconds: over the ended sessions that reported engaged time, null when none did', async () => {
    const web = await session({ userId: 'e1' }, 'DE');
    const other = await session({ userId: 'e2' }, 'DE');
    await session({ userId: 'e3', kind: 'mcp' }, 'DE');
    const heartbeat = (id: string, engagedMs: number) =>
      t.store.commit([{ op: 'heartbeat', projectId: 'default', sessionId: id, page: null, engagedMs }], clock);
    clock += MIN;
    await heartbeat(web, 20_000);
    await heartbeat(other, 90_000); // more than the session lasted: counts as its 60 s
    const q = '?from=2025-06-01&to=2025-06-01';
    const summary = async (extra = '') => json(await t.read(`/api/v1/stats/summary${q}${extra}`));
    // live sessions are not averaged yet
    expect((await summary()).avgEngagedSeconds).toBeNull();
    await end(web);
    await end(other);
    expect((await summary()).avgEngagedSeconds).toBe(40);
    expect((await summary('&kind=mcp')).avgEngagedSeconds).toBeNull();
    const [day] = await json(await t.read(`/api/v1/stats/daily${q}`));
    expect(day.avgEngagedSeconds).toBe(40);
    const [empty] = await json(await t.read('/api/v1/stats/daily?from=2025-05-31&to=2025-05-31'));
    expect(empty.avgEngagedSeconds).toBeNull();
  });

  it('paths: the most common sequences of pages (web) and tool names (MCP) from the start, repeats collapsed', async () => {
    const a = await session({ kind: 'mcp', transport: 'stdio' }, null);
    const b = await session({ entry: { page: '/pricing' } }, null);
    const c = await session({ entry: { page: '/pricing' } }, null);
    await events(a, [
      { type: 'tool_call', name: 'search' },
      { type: 'tool_call', name: 'search' },
    ]);
    await events(b, [
      { type: 'pageview', page: '/pricing' },
      { type: 'pageview', page: 'https://app.example/pricing?x=1' },
      { type: 'pageview', page: '/signup' },
    ]);
    await events(c, [{ type: 'pageview', page: '/pricing' }]);
    const res = await t.read('/api/v1/stats/paths?from=2025-06-01&to=2025-06-01');
    expect(res.status).toBe(200);
    // a (MCP): search › search collapses to one step
    expect(await json(res)).toEqual([
      { steps: ['/pricing'], sessions: 1, share: 1 / 3 },
      { steps: ['/pricing', '/signup'], sessions: 1, share: 1 / 3 },
      { steps: ['search'], sessions: 1, share: 1 / 3 },
    ]);
    expect(await json(await t.read('/api/v1/stats/paths?steps=1&limit=1&from=2025-06-01&to=2025-06-01'))).toEqual([
      { steps: ['/pricing'], sessions: 2, share: 2 / 3 },
    ]);
    // kind=mcp: the MCP sessions' tool paths only
    expect(await json(await t.read('/api/v1/stats/paths?kind=mcp&from=2025-06-01&to=2025-06-01'))).toEqual([
      { steps: ['search'], sessions: 1, share: 1 },
    ]);
  });

  it('tools: calls, sessions, errors and latency percentiles per tool, most called first', async () => {
    const a = await session({ kind: 'mcp', transport: 'stdio' }, null);
    const b = await session({ kind: 'mcp', transport: 'stdio' }, null);
    await events(a, [
      { type: 'tool_call', name: 'search', details: { durationMs: 12, isError: false } },
      { type: 'tool_call', name: 'search', details: { durationMs: 12, isError: true } },
      { type: 'tool_call', name: 'fetch', details: { durationMs: 250, isError: false } },
    ]);
    await events(b, [{ type: 'tool_call', name: 'search', details: { durationMs: 400, isError: false } }]);
    const res = await t.read('/api/v1/stats/tools?from=2025-06-01&to=2025-06-01');
    expect(res.status).toBe(200);
    const rows = await json(res);
    expect(rows.map((r: { tool: string }) => r.tool)).toEqual(['search', 'fetch']);
    expect(rows[0]).toMatchObject({ tool: 'search', calls: 3, sessions: 2, errors: 1, errorRate: 1 / 3 });
    const near = (got: number, want: number) => expect(Math.abs(got - want) / want).toBeLessThan(0.044);
    near(rows[0].p50Ms, 12);
    near(rows[0].p95Ms, 400);
    near(rows[1].p50Ms, 250);
    expect(await json(await t.read('/api/v1/stats/tools?limit=1&from=2025-06-01&to=2025-06-01'))).toHaveLength(1);
    expect(await json(await t.read('/api/v1/stats/tools?kind=web&from=2025-06-01&to=2025-06-01'))).toEqual([]);
  });

  it('an empty range answers zeros, not errors', async () => {
    expect(await json(await t.read('/api/v1/stats/summary'))).toMatchObject({
      sessions: 0,
      uniqueUsers: 0,
      avgDurationSeconds: 0,
      bounceRate: 0,
      errorRate: 0,
    });
    expect(await json(await t.read('/api/v1/stats/daily'))).toHaveLength(30);
  });
});

describe('POST /stats/batch', () => {
  /** Every kind of part, over the default range, an explicit range and the previous period. */
  const PARTS: Record<string, Record<string, unknown>> = {
    summary: { route: 'summary' },
    before: { route: 'summary', from: '2025-05-01', to: '2025-05-31' },
    daily: { route: 'daily' },
    week: { route: 'daily', from: '2025-05-27', to: '2025-06-02' },
    countries: { route: 'countries' },
    entry: { route: 'breakdown', by: 'entryPage', limit: 8 },
    region: { route: 'breakdown', by: 'region' },
    tool: { route: 'breakdown', by: 'tool', limit: 12 },
    transport: { route: 'breakdown', by: 'transport', from: '2025-05-27', to: '2025-06-02' },
    activity: { route: 'activity' },
    together: { route: 'together', limit: 5 },
    exits: { route: 'exits' },
    durations: { route: 'durations' },
    abandoned: { route: 'workflows/abandoned' },
    paths: { route: 'paths', steps: 2 },
    tools: { route: 'tools', limit: 5 },
    mcp: { route: 'sessions', kind: 'mcp', limit: 500 },
    mcpSummary: { route: 'summary', kind: 'mcp' },
    mcpCountries: { route: 'countries', kind: 'mcp' },
    webDaily: { route: 'daily', kind: 'web', from: '2025-05-27', to: '2025-06-02' },
    mcpClients: { route: 'breakdown', by: 'transport', kind: 'mcp' },
    live: { route: 'sessions', status: 'live', limit: 50 },
  };
  /** The single GET each part stands for. */
  const single = (part: Record<string, unknown>) => {
    const { route, ...query } = part;
    const q = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
    return `/api/v1/${route === 'sessions' ? 'sessions' : `stats/${route}`}?${q}`;
  };
  const batch = (parts: unknown, path = '/api/v1/stats/batch') => t.admin(path, { parts });
  async function expectSameAsSingles() {
    const res = await batch(PARTS);
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(Object.keys(body).sort()).toEqual(Object.keys(PARTS).sort());
    for (const [name, part] of Object.entries(PARTS)) {
      const alone = await t.read(single(part));
      expect(alone.status, name).toBe(200);
      expect(body[name], name).toEqual(await json(alone));
    }
    return body;
  }

  it('answers every part exactly as its route does: live today, rolled days, and the previous period', async () => {
    await traffic();
    const live = await expectSameAsSingles();
    expect(live.summary.sessions).toBe(3);
    expect(live.mcpSummary.sessions).toBe(1);
    expect(live.mcpClients).toEqual([{ value: 'streamable-http', sessions: 1, share: 1 }]);
    expect(live.mcp.sessions).toHaveLength(1);
    expect(live.tool[0]).toMatchObject({ value: 'search', sessions: 1 });
    // The next day: 2025-06-01 comes from its rollup, today (empty) is live.
    clock += DAY;
    await rollupAll(t.store, clock, { marginMs: 0 });
    await session({ userId: 'u2', entry: { page: '/docs' } }, 'GB');
    const rolled = await expectSameAsSingles();
    expect(rolled.summary.sessions).toBe(4);
    expect(rolled.week.map((d: { sessions: number }) => d.sessions).slice(-2)).toEqual([3, 1]);
  });

  it('refuses a bad batch as a whole with a 400 that names the part', async () => {
    const cases: [unknown, string][] = [
      [{}, 'parts: at least one part'],
      [{ a: { route: 'nope' } }, 'parts.a.route'],
      [{ a: { route: 'breakdown', by: 'nope' } }, 'parts.a.by'],
      [{ a: { route: 'summary', kind: 'desktop' } }, 'parts.a.kind'],
      [{ a: { route: 'breakdown' } }, 'parts.a.by'],
      [{ a: { route: 'summary', limit: 0 } }, 'parts.a.limit'],
      [{ a: { route: 'summary', from: '2025-13-01' } }, 'parts.a: not a calendar date'],
      [{ a: { route: 'summary' }, b: { route: 'summary', from: '2025-06-02', to: '2025-06-01' } }, 'parts.b: '],
      [{ a: { route: 'summary', from: '2020-01-01', to: '2025-01-01' } }, 'parts.a: the range is longer than 400 days'],
      [{ a: { route: 'sessions', from: '2025-02-30' } }, 'parts.a: from: not a calendar date'],
      [{ a: { route: 'sessions', limit: 501 } }, 'parts.a.limit'],
      [{ '1st': { route: 'summary' } }, 'a part name is a letter'],
      [Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`p${i}`, { route: 'summary' }])), 'at most 32 parts'],
      ['summary', 'parts'],
    ];
    for (const [parts, message] of cases) {
      const res = await batch(parts);
      expect(res.status, JSON.stringify(parts).slice(0, 80)).toBe(400);
      const { error } = await json(res);
      expect(error.code).toBe('validation_failed');
      expect(error.message).toContain(message);
    }
    expect((await batch({ a: { route: 'summary' } }, '/api/v1/stats/batch?project=nope')).status).toBe(404);
    const unauthorized = await t.app.request('/api/v1/stats/batch', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"parts":{"a":{"route":"summary"}}}',
    });
    expect(unauthorized.status).toBe(401);
    const notJson = await t.app.request('/api/v1/stats/batch', {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', 'content-length': '7' },
      body: '{parts:',
    });
    expect(notJson.status).toBe(400);
    expect((await json(notJson)).error.code).toBe('invalid_json');
  });
});

describe('projects', () => {
  it('bounce thresholds are a per-project setting', async () => {
    const p = await t.project({ name: 'Patient', bounceSeconds: 300, bounceMaxActions: 0 });
    expect(p).toMatchObject({ bounceSeconds: 300, bounceMaxActions: 0 });
    const id = await session({ userId: 'u1' }, null, null, p.id);
    clock += 2 * MIN;
    await t.store.commit(
      [{ op: 'end', projectId: p.id, sessionId: id, reason: 'logout', page: null, lastAction: null }],
      clock,
    );
    const q = `?project=${p.id}&from=2025-06-01&to=2025-06-01`;
    expect((await json(await t.read(`/api/v1/stats/summary${q}`))).bounceRate).toBe(1);
    // the default project keeps 30 s: the same session is no bounce there
    const d = await session({ userId: 'u1' }, null);
    clock += 2 * MIN;
    await end(d);
    expect((await json(await t.read('/api/v1/stats/summary?from=2025-06-01&to=2025-06-01'))).bounceRate).toBe(0);
    // and the setting survives a reload from the store
    await t.projects.load();
    expect(t.projects.byId(p.id)).toMatchObject({ bounceSeconds: 300, bounceMaxActions: 0 });
  });
});

describe('users', () => {
  it('patterns: new_user without sessions; struggling_user after a session with over 5 errors', async () => {
    expect(await json(await t.read('/api/v1/sessions/patterns/nobody'))).toMatchObject({
      userId: 'nobody',
      pattern: 'new_user',
      confidence: 0,
      stats: { sessions: 0 },
    });
    const id = await session({ userId: 'u9' }, null);
    await events(
      id,
      Array.from({ length: 6 }, (_, i) => ({ type: 'error', name: `e${i}` })),
    );
    const p = await json(await t.read('/api/v1/sessions/patterns/u9'));
    expect(p).toMatchObject({ pattern: 'struggling_user', type: 'confused' });
    expect(p.indicators).toContain('errors');
  });

  it('export returns everything about a user; erase removes it from the raw rows and from the figures', async () => {
    await traffic();
    const exported = await json(await t.read('/api/v1/users/u1/export'));
    expect(exported.sessions).toHaveLength(2);
    expect(exported.sessions.flatMap((s: { events: unknown[] }) => s.events)).toHaveLength(8);

    clock = T0 + DAY;
    const before = await json(await t.read('/api/v1/stats/summary?from=2025-06-01&to=2025-06-01'));
    expect(before).toMatchObject({ sessions: 3, uniqueUsers: 2 });

    const res = await t.app.request('/api/v1/users/u1', {
      method: 'DELETE',
      headers: { authorization: `Bearer ${(await import('../app.testkit.js')).ADMIN_TOKEN}` },
    });
    expect(await json(res)).toEqual({ deletedSessions: 2, deletedEvents: 8 });
    expect((await json(await t.read('/api/v1/users/u1/export'))).sessions).toEqual([]);
    expect((await json(await t.read('/api/v1/sessions?userId=u1&from=2025-06-01'))).sessions).toEqual([]);
    // Their sessions leave the counts while their raw rows are there to tell (docs/metrics.md).
    const after = await json(await t.read('/api/v1/stats/summary?from=2025-06-01&to=2025-06-01'));
    expect(after).toMatchObject({ sessions: 1, uniqueUsers: 1, actions: 1, toolCalls: 0, errorRate: 0 });
  });
});

describe('jobs', () => {
  it('retention deletes raw rows past retention; the stats stay', async () => {
    await traffic();
    clock = T0 + 40 * DAY;
    await t.store.sweepExpired(clock);
    const q = '/api/v1/stats/summary?from=2025-06-01&to=2025-06-01';
    const before = await json(await t.read(q));
    const project = t.projects.byId('default');
    if (!project) throw new Error('no default project');
    const r = await retainProject(t.store, project, clock, 30);
    expect(r).toEqual({ project: 'default', deletedSessions: 3, deletedEvents: 9, deletedOldEvents: 0 });
    expect((await json(await t.read('/api/v1/sessions?from=2025-06-01&to=2025-06-01'))).sessions).toEqual([]);
    expect(await json(await t.read(q))).toEqual(before);
  });
});
