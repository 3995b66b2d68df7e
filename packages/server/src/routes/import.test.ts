import { localDate } from '@sessiontrack/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../app.testkit.js';

const DAY = 24 * 3600_000;

describe('POST /api/v1/import', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  const session = (id: string, startedAt: number) => ({
    id,
    userId: 'u_import',
    startedAt: new Date(startedAt).toISOString(),
    entry: { page: '/docs', referrer: 'https://www.google.com/' },
    geo: { country: 'FR', region: 'IDF' },
    device: { type: 'mobile', browser: 'Safari', os: 'iOS' },
    end: { reason: 'logout' },
    events: [
      { id: 'e1', type: 'pageview', page: '/docs', timestamp: startedAt + 1000 },
      { id: 'e2', type: 'action', name: 'copy', page: '/docs/api', timestamp: startedAt + 61_000 },
    ],
  });

  it('stores past sessions that read back as sent, and a re-import changes nothing', async () => {
    const started = Date.now() - 10 * DAY;
    const body = { sessions: [session('import_test_session_1', started), session('import_test_session_2', started)] };
    const res = await t.admin('/api/v1/import', body);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ sessions: 2, skippedSessions: 0, events: 4 });
    const s = await json(await t.read('/api/v1/sessions/import_test_session_1'));
    expect(s).toMatchObject({
      projectId: 'default',
      status: 'ended',
      startedAt: new Date(started).toISOString(),
      durationSeconds: 61,
      actions: 1,
      entry: { page: '/docs', source: 'external', referrer: 'https://www.google.com/' },
      exit: { page: '/docs/api', reason: 'logout', lastAction: 'copy' },
      geo: { country: 'FR', region: 'IDF', continent: 'EU' },
    });
    expect(s.events.map((e: { sinceLastMs: number | null }) => e.sinceLastMs)).toEqual([1000, 60_000]);
    expect(await json(await t.admin('/api/v1/import', body))).toEqual({ sessions: 0, skippedSessions: 2, events: 0 });
  });

  it('needs the admin token: a write key is refused', async () => {
    const res = await t.ingest('/api/v1/import', { sessions: [session('import_test_session_3', Date.now() - DAY)] });
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe('unauthorized');
    expect((await t.read('/api/v1/sessions/import_test_session_3')).status).toBe(404);
  });

  it('refuses a bad batch whole, with the field named', async () => {
    const good = session('import_test_session_4', Date.now() - DAY);
    const bad = { ...session('import_test_session_5', Date.now() - DAY), events: [{ type: 'action' }] };
    const res = await t.admin('/api/v1/import', { sessions: [good, bad] });
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.error.code).toBe('validation_failed');
    expect(body.error.message).toContain('sessions[1].events[0].id');
    expect((await t.read('/api/v1/sessions/import_test_session_4')).status).toBe(404);

    const future = await t.admin('/api/v1/import', { sessions: [session('import_test_session_6', Date.now() + DAY)] });
    expect(future.status).toBe(400);
    expect((await json(future)).error.message).toContain('sessions[0].startedAt');
  });

  it('imports into the project named by ?project=, and 404s an unknown one', async () => {
    const p = await t.project({ name: 'imports' });
    const res = await t.admin(`/api/v1/import?project=${p.id}`, { sessions: [session('import_test_session_7', 0)] });
    expect(res.status).toBe(200);
    expect((await json(await t.read('/api/v1/sessions/import_test_session_7'))).projectId).toBe(p.id);
    const missing = await t.admin('/api/v1/import?project=nope', { sessions: [session('import_test_session_8', 0)] });
    expect(missing.status).toBe(404);
  });

  it('counts the past days an import wrote at once, in the same transaction', async () => {
    const started = Date.now() - 3 * DAY;
    await t.admin('/api/v1/import', { sessions: [session('import_test_session_9', started)] });
    const date = localDate(started, 'UTC');
    const [day] = await t.store.readRollups('default', date, date, []);
    expect(day?.rollup).toMatchObject({ sessions: 1, endedSessions: 1, actions: 1 });
    const summary = await json(await t.read(`/api/v1/stats/summary?from=${date}&to=${date}`));
    expect(summary).toMatchObject({ sessions: 1, uniqueUsers: 1, avgDurationSeconds: 61 });
  });
});
