import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createTestApp, json, type TestApp } from '../app.testkit.js';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

describe('admin token', () => {
  it('401 without or with a wrong token on every read and admin route', async () => {
    for (const path of ['/api/v1/sessions/active', '/api/v1/sessions', '/api/v1/projects', '/api/v1/sessions/x']) {
      const none = await t.app.request(path);
      expect(none.status).toBe(401);
      expect((await json(none)).error.code).toBe('unauthorized');
      const wrong = await t.app.request(path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}x` } });
      expect(wrong.status).toBe(401);
    }
    // the write key is not an admin token
    const key = await t.app.request('/api/v1/sessions/active', { headers: { authorization: `Bearer ${t.writeKey}` } });
    expect(key.status).toBe(401);
  });
});

describe('/metrics with SESSIONTRACK_METRICS_TOKEN', () => {
  it('answers 401 without the metrics token (or the admin token), and the metrics with it', async () => {
    const guarded = await createTestApp({ metricsToken: 'metrics-token-0123456789' });
    try {
      const get = (authorization?: string) =>
        guarded.app.request('/metrics', authorization ? { headers: { authorization } } : {});
      const none = await get();
      expect(none.status).toBe(401);
      expect((await json(none)).error.message).toBe('missing or wrong metrics token (Authorization: Bearer <token>)');
      expect((await get('Bearer wrong')).status).toBe(401);
      expect((await get(`Bearer ${guarded.writeKey}`)).status).toBe(401);
      expect(await (await get('Bearer metrics-token-0123456789')).text()).toContain('sessiontrack_active_sessions');
      expect((await get(`Bearer ${ADMIN_TOKEN}`)).status).toBe(200);
      expect((await guarded.app.request('/healthz')).status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});

describe('request log', () => {
  it('names a refused request by its route pattern, never its path (user and session ids sit in paths)', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const logged = await createTestApp({ logger });
    try {
      const res = await logged.read('/api/v1/sessions/user/alice%40example.com/history?limit=0');
      expect(res.status).toBe(400);
      await logged.ingest('/api/v1/sessions/s_secretsessionid0000000000/heartbeat');
      const refused = lines.filter((l) => l.msg === 'request refused');
      expect(refused.map((l) => [l.route, l.status])).toEqual([
        ['/api/v1/sessions/user/:userId/history', 400],
        ['/api/v1/sessions/:id/heartbeat', 404],
      ]);
      const all = JSON.stringify(lines);
      expect(all).not.toContain('alice');
      expect(all).not.toContain('secretsessionid');
    } finally {
      await logged.close();
    }
  });
});

describe('session reads', () => {
  it('/sessions/active lists live sessions with a count; ended ones leave it', async () => {
    const a = await t.start({ userId: 'u1' });
    const b = await t.start({ userId: 'u2' });
    let active = await json(await t.read('/api/v1/sessions/active'));
    expect(active.count).toBe(2);
    expect(active.sessions.map((s: { id: string }) => s.id).sort()).toEqual([a, b].sort());
    await t.ingest(`/api/v1/sessions/${a}/end`);
    active = await json(await t.read('/api/v1/sessions/active'));
    expect(active.count).toBe(1);
    expect(active.sessions[0].id).toBe(b);
  });

  it('/sessions/{id}: 404 for unknown ids and for a ?project= that does not match', async () => {
    const id = await t.start();
    expect((await t.read(`/api/v1/sessions/${id}?project=default`)).status).toBe(200);
    const other = await t.project({ name: 'other' });
    const res = await t.read(`/api/v1/sessions/${id}?project=${other.id}`);
    expect(res.status).toBe(404);
    expect((await json(res)).error.code).toBe('not_found');
    expect((await t.read('/api/v1/sessions/s_unknown_unknown_unknown')).status).toBe(404);
  });

  it('/sessions pages newest first with a cursor and filters by user, status and kind', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push(await t.start({ userId: i % 2 ? 'odd' : 'even', kind: i === 6 ? 'mcp' : 'web' }));
      await new Promise((r) => setTimeout(r, 2)); // distinct start times
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { sessions: { id: string }[]; nextCursor: string | null } = await json(
        await t.read(`/api/v1/sessions?limit=3${cursor ? `&cursor=${cursor}` : ''}`),
      );
      expect(page.sessions.length).toBeLessThanOrEqual(3);
      seen.push(...page.sessions.map((s) => s.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());

    const odd = await json(await t.read('/api/v1/sessions?userId=odd'));
    expect(odd.sessions.map((s: { userId: string }) => s.userId)).toEqual(['odd', 'odd', 'odd']);
    const mcp = await json(await t.read('/api/v1/sessions?kind=mcp'));
    expect(mcp.sessions.map((s: { id: string }) => s.id)).toEqual([ids[6]]);
    await t.ingest(`/api/v1/sessions/${ids[0]}/end`);
    const ended = await json(await t.read('/api/v1/sessions?status=ended'));
    expect(ended.sessions.map((s: { id: string }) => s.id)).toEqual([ids[0]]);
    expect((await json(await t.read('/api/v1/sessions?status=active'))).sessions).toHaveLength(6);
  });

  it('/sessions validates its query', async () => {
    for (const q of [
      'status=gone',
      'limit=0',
      'limit=abc',
      'from=yesterday',
      'cursor=%%%',
      'from=2026-02-01&to=2026-01-01',
    ]) {
      const res = await t.read(`/api/v1/sessions?${q}`);
      expect(res.status, q).toBe(400);
      expect((await json(res)).error.code).toBe('validation_failed');
    }
    const future = await json(await t.read('/api/v1/sessions?from=2099-01-01&to=2099-01-02'));
    expect(future.sessions).toEqual([]);
  });

  it('unknown ?project= is 404', async () => {
    const res = await t.read('/api/v1/sessions/active?project=nope');
    expect(res.status).toBe(404);
  });

  it('user current and history', async () => {
    expect((await t.read('/api/v1/sessions/user/u9/current')).status).toBe(404);
    const first = await t.start({ userId: 'u9' });
    await t.ingest(`/api/v1/sessions/${first}/end`);
    expect((await t.read('/api/v1/sessions/user/u9/current')).status).toBe(404);
    const second = await t.start({ userId: 'u9' });
    const current = await json(await t.read('/api/v1/sessions/user/u9/current'));
    expect(current.id).toBe(second);
    const history = await json(await t.read('/api/v1/sessions/user/u9/history?limit=10'));
    expect(history.sessions.map((s: { id: string }) => s.id)).toEqual([second, first]);
    expect((await json(await t.read('/api/v1/sessions/user/u9/history?limit=1'))).sessions).toHaveLength(1);
  });
});

describe('admin routes', () => {
  it('creates and lists projects; validates the body', async () => {
    const res = await t.admin('/api/v1/projects', {
      name: 'Shop',
      allowedOrigins: ['https://shop.example'],
      timeZone: 'Europe/Berlin',
      idleTimeoutMs: 600_000,
    });
    expect(res.status).toBe(201);
    const p = await json(res);
    expect(p).toMatchObject({ name: 'Shop', timeZone: 'Europe/Berlin', allowedOrigins: ['https://shop.example'] });
    expect(p.writeKey).toMatch(/^wk_/);
    const list = await json(await t.read('/api/v1/projects'));
    expect(list.projects.map((x: { id: string }) => x.id)).toEqual(['default', p.id]);
    // the new key works right away, with the project's own idle timeout
    const started = await json(await t.ingest('/api/v1/sessions/start', { anonymousId: 'a' }, { key: p.writeKey }));
    expect(started.idleTimeoutMs).toBe(600_000);

    const bad = await t.admin('/api/v1/projects', { name: '', timeZone: 'Mars/Olympus' });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.message).toMatch(/name.*timeZone/);
  });

  it('cleanup deletes sessions inactive for N days with their events', async () => {
    const id = await t.start();
    await t.ingest(`/api/v1/sessions/${id}/events`, { events: [{ id: 'a', type: 'action' }] });
    await t.ingest(`/api/v1/sessions/${id}/end`);
    expect(await json(await t.admin('/api/v1/maintenance/cleanup', { daysInactive: 30 }))).toEqual({
      deletedSessions: 0,
      deletedEvents: 0,
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(await json(await t.admin('/api/v1/maintenance/cleanup', { daysInactive: 0 }))).toEqual({
      deletedSessions: 1,
      deletedEvents: 1,
    });
    expect((await t.read(`/api/v1/sessions/${id}`)).status).toBe(404);
    expect((await t.admin('/api/v1/maintenance/cleanup', { daysInactive: -1 })).status).toBe(400);
  });
});

describe('operations', () => {
  it('/healthz, /metrics and unknown routes', async () => {
    expect(await json(await t.app.request('/healthz'))).toEqual({ status: 'ok' });
    const id = await t.start();
    await t.ingest(`/api/v1/sessions/${id}/events`, { events: [{ id: 'a', type: 'action' }] });
    const metrics = await (await t.app.request('/metrics')).text();
    expect(metrics).toContain('sessiontrack_active_sessions 1');
    expect(metrics).toContain('sessiontrack_ingest_events_total{result="accepted"} 1');
    expect(metrics).toMatch(/sessiontrack_commit_batch_events_count \d+/);
    expect(metrics).toContain('sessiontrack_http_requests_total{route="/api/v1/sessions/start",status="201"} 1');
    // (A GET outside /api is the dashboard's: see dashboard.test.ts.)
    const missing = await t.read('/api/v1/nope');
    expect(missing.status).toBe(404);
    expect((await json(missing)).error.code).toBe('not_found');
    expect((await json(await t.app.request('/nope', { method: 'POST' }))).error.code).toBe('not_found');
  });

  it('/healthz is 503 and ingest 503 when storage is gone, in the error shape', async () => {
    const id = await t.start();
    await t.store.close();
    const health = await t.app.request('/healthz');
    expect(health.status).toBe(503);
    expect((await json(health)).error.code).toBe('unavailable');
    const res = await t.ingest(`/api/v1/sessions/${id}/events`, { events: [{ type: 'action' }] });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).not.toBeNull();
    expect((await json(res)).error.code).toBe('unavailable');
  });
});
