import { buildSession, normalizeEvent, type Project } from '@sessiontrack/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createTestApp, json, type TestApp } from '../app.testkit.js';

// GET /stats/retention and GET /users through the real app on SQLite: known answers, cursor
// paging, validation (400 in the API.md error shape) and share tokens.

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
// A Monday.
const T0 = Date.parse('2026-11-02T10:00:00Z');
let clock = T0;
let t: TestApp;

beforeEach(async () => {
  clock = T0;
  t = await createTestApp({ now: () => clock });
});
afterEach(async () => {
  await t.close();
});

let n = 0;
/** A session of `userId` at `at`, with `actions` and `errors`, ended after `minutes` (≤ 20). */
async function visit(
  userId: string | null,
  at: number,
  o: { minutes?: number; actions?: number; errors?: number; project?: Project; kind?: 'web' | 'mcp' } = {},
) {
  const project = o.project ?? t.projects.byId('default');
  if (!project) throw new Error('no project');
  const s = buildSession(
    { kind: o.kind ?? 'web', userId: userId ?? undefined, anonymousId: `a_${++n}` },
    { project, now: at, origin: null, userAgent: null, geo: { country: null, region: null, continent: null } },
  );
  const minutes = o.minutes ?? 2;
  const events = [
    ...Array.from({ length: o.actions ?? 0 }, (_, i) => ({ type: 'action' as const, name: `a${i}` })),
    ...Array.from({ length: o.errors ?? 0 }, () => ({ type: 'error' as const, name: 'boom' })),
  ].map((e, i) => normalizeEvent({ ...e, id: `e${i}`, timestamp: at + minutes * MIN }, at + minutes * MIN));
  const ref = { projectId: project.id, sessionId: s.id };
  const results = await t.store.commit(
    [
      { op: 'start', session: s },
      {
        op: 'events',
        ...ref,
        events: [normalizeEvent({ type: 'pageview', timestamp: at + minutes * MIN }, at), ...events],
      },
      { op: 'end', ...ref, reason: 'logout', page: null, lastAction: null },
    ],
    at + minutes * MIN,
  );
  expect(results.every((r) => r.ok)).toBe(true);
}

const get = async (path: string, token = ADMIN_TOKEN) => {
  const res = await t.app.request(path, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await json(res) };
};
const expectInvalid = async (path: string, field: string) => {
  const r = await get(path);
  expect(r.status).toBe(400);
  expect(r.body).toEqual({
    error: { code: 'validation_failed', message: expect.stringContaining(field), details: expect.any(Array) },
  });
};

describe('GET /stats/retention', () => {
  it('weekly cohorts by first session ever; a range starting mid-week covers the whole week', async () => {
    await visit('old', T0 - 7 * DAY); // seen before the range: in no cohort
    await visit('old', T0 + DAY);
    await visit('u_a', T0); // week of 11-02
    await visit('u_a', T0 + 7 * DAY); // + 1 week
    await visit('u_a', T0 + 15 * DAY); // + 2 weeks
    await visit('u_b', T0 + 6 * DAY); // Sunday 11-08: week of 11-02
    await visit('u_c', T0 + 8 * DAY); // week of 11-09
    await visit('u_c', T0 + 16 * DAY);
    await visit(null, T0); // anonymous
    clock = T0 + 17 * DAY;
    const r = await get('/api/v1/stats/retention?from=2026-11-04&to=2026-11-19');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      fromDate: '2026-11-02',
      toDate: '2026-11-19',
      period: 'week',
      cohorts: [
        { cohort: '2026-11-02', users: 2, retained: [2, 1, 1] },
        { cohort: '2026-11-09', users: 1, retained: [1, 1] },
        { cohort: '2026-11-16', users: 0, retained: [0] },
      ],
    });
    const daily = await get('/api/v1/stats/retention?from=2026-11-02&to=2026-11-03&period=day');
    expect(daily.body.cohorts).toEqual([
      { cohort: '2026-11-02', users: 1, retained: [1, 0] },
      { cohort: '2026-11-03', users: 0, retained: [0] },
    ]);
  });

  it('kind=web|mcp|api: cohorts of that kind of session only', async () => {
    await visit('u_web', T0);
    await visit('u_both', T0);
    await visit('u_both', T0 + 7 * DAY, { kind: 'mcp' });
    clock = T0 + 8 * DAY;
    const of = async (q: string) =>
      (await get(`/api/v1/stats/retention?from=2026-11-02&to=2026-11-10${q}`)).body.cohorts;
    expect(await of('')).toEqual([
      { cohort: '2026-11-02', users: 2, retained: [2, 1] },
      { cohort: '2026-11-09', users: 0, retained: [0] },
    ]);
    expect(await of('&kind=mcp')).toEqual([
      { cohort: '2026-11-02', users: 0, retained: [0, 0] },
      { cohort: '2026-11-09', users: 1, retained: [1] },
    ]);
    expect(await of('&kind=web')).toEqual([
      { cohort: '2026-11-02', users: 2, retained: [2, 0] },
      { cohort: '2026-11-09', users: 0, retained: [0] },
    ]);
    await expectInvalid('/api/v1/stats/retention?kind=bot', 'kind');
  });

  it('validates its query', async () => {
    await expectInvalid('/api/v1/stats/retention?period=month', 'period');
    await expectInvalid('/api/v1/stats/retention?from=2026-11-05&to=2026-11-01', 'from');
    await expectInvalid('/api/v1/stats/retention?from=nope', 'from');
    await expectInvalid('/api/v1/stats/retention?from=2026-01-01&to=2026-11-01&period=day', 'period=day');
    expect((await get('/api/v1/stats/retention?from=2026-01-01&to=2026-11-01')).status).toBe(200);
  });
});

describe('GET /users', () => {
  it('most recently seen first, paged by cursor; patterns count every user of the range', async () => {
    await visit('u_quick', T0, { minutes: 1 });
    await visit('u_struggling', T0 + HOUR, { minutes: 10, errors: 6 });
    await visit('u_regular', T0 + 2 * HOUR, { minutes: 10 });
    await visit('u_regular', T0 + 3 * HOUR, { minutes: 10 });
    await visit('u_late', T0 + 9 * DAY); // after the range
    await visit(null, T0 + 4 * HOUR); // anonymous
    clock = T0 + 10 * DAY;
    const all = await get('/api/v1/users?from=2026-11-01&to=2026-11-05');
    expect(all.status).toBe(200);
    expect(all.body).toEqual({
      fromDate: '2026-11-01',
      toDate: '2026-11-05',
      users: [
        {
          userId: 'u_regular',
          sessions: 2,
          lastSeenAt: new Date(T0 + 3 * HOUR + 10 * MIN).toISOString(),
          pattern: 'regular_user',
        },
        {
          userId: 'u_struggling',
          sessions: 1,
          lastSeenAt: new Date(T0 + HOUR + 10 * MIN).toISOString(),
          pattern: 'struggling_user',
        },
        { userId: 'u_quick', sessions: 1, lastSeenAt: new Date(T0 + MIN).toISOString(), pattern: 'quick_checker' },
      ],
      patterns: { new_user: 0, power_user: 0, quick_checker: 1, struggling_user: 1, regular_user: 1 },
      nextCursor: null,
    });
    // The label is the one GET /sessions/patterns/{userId} answers.
    for (const u of all.body.users) {
      expect((await get(`/api/v1/sessions/patterns/${u.userId}`)).body.pattern).toBe(u.pattern);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await get(`/api/v1/users?from=2026-11-01&to=2026-11-05&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.body.users.length).toBeLessThanOrEqual(2);
      expect(page.body.patterns).toEqual(all.body.patterns);
      seen.push(...page.body.users.map((u: { userId: string }) => u.userId));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['u_regular', 'u_struggling', 'u_quick']);
  });

  it('validates its query', async () => {
    await expectInvalid('/api/v1/users?limit=0', 'limit');
    await expectInvalid('/api/v1/users?limit=501', 'limit');
    await expectInvalid('/api/v1/users?cursor=bm9wZQ', 'cursor');
    await expectInvalid('/api/v1/users?from=2026-11-05&to=2026-11-01', 'from');
    expect((await get('/api/v1/users')).body).toMatchObject({ users: [], nextCursor: null });
  });

  it('a share token reads the users of its own project only', async () => {
    const p = await t.project({ name: 'shared' });
    await visit('u_mine', T0, { project: p });
    await visit('u_theirs', T0);
    const res = await t.admin(`/api/v1/projects/${p.id}/share`, {});
    const { token } = await json(res);
    clock = T0 + HOUR;
    const mine = await get('/api/v1/users', token);
    expect(mine.status).toBe(200);
    expect(mine.body.users.map((u: { userId: string }) => u.userId)).toEqual(['u_mine']);
    expect((await get('/api/v1/stats/retention', token)).status).toBe(200);
    expect((await get('/api/v1/users?project=default', token)).status).toBe(403);
    expect((await get('/api/v1/stats/retention?project=default', token)).status).toBe(403);
    expect((await get('/api/v1/users', 'wrong-token')).status).toBe(401);
  });
});
