import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createTestApp, json, type TestApp } from '../app.testkit.js';

// Project settings (PATCH, rotate-key, DELETE) and share links, through the real app on SQLite.

/** API.md "Contract v1.1", written out here on purpose (not imported from auth.ts): what a share token may read. */
const contractReadable = (method: string, path: string) =>
  (method === 'GET' && (/^\/api\/v1\/(sessions|stats)(\/|$)/.test(path) || path === '/api/v1/users')) ||
  // POST /stats/batch is GET stats routes in one request (the dashboard's reads): readable too.
  (method === 'POST' && path === '/api/v1/stats/batch');

let t: TestApp;
let clock = Date.parse('2026-11-20T12:00:00Z');
afterEach(async () => {
  await t.close();
});
const open = async () => {
  clock = Date.parse('2026-11-20T12:00:00Z');
  t = await createTestApp({ now: () => clock });
};

const call = (method: string, path: string, body?: unknown, token = ADMIN_TOKEN) => {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return t.app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(payload === undefined
        ? {}
        : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
    },
    ...(payload === undefined ? {} : { body: payload }),
  });
};

describe('PATCH /projects/{id}', () => {
  it('changes the given fields, answers the project, and the ingest routes follow at once', async () => {
    await open();
    const p = await t.project({ name: 'shop', allowedOrigins: ['https://shop.example'], idleTimeoutMs: 60_000 });
    const res = await call('PATCH', `/api/v1/projects/${p.id}`, {
      name: 'Shop',
      allowedOrigins: ['https://new.example/path?x=1'],
      timeZone: 'Europe/Berlin',
      idleTimeoutMs: null,
      retentionDays: 7,
      rateLimitPerMinute: 100,
      bounceSeconds: 5,
      bounceMaxActions: 2,
    });
    expect(res.status).toBe(200);
    const got = await json(res);
    expect(got).toMatchObject({
      id: p.id,
      name: 'Shop',
      writeKey: p.writeKey,
      allowedOrigins: ['https://new.example'],
      timeZone: 'Europe/Berlin',
      idleTimeoutMs: null,
      retentionDays: 7,
      rateLimitPerMinute: 100,
      bounceSeconds: 5,
      bounceMaxActions: 2,
      previousKeyValidUntil: null,
    });
    const listed = (await json(await t.read('/api/v1/projects'))).projects.find((x: { id: string }) => x.id === p.id);
    expect(listed).toEqual(got);
    const from = (origin: string) =>
      t.ingest('/api/v1/sessions/start', { anonymousId: 'a' }, { key: p.writeKey, headers: { origin } });
    expect((await from('https://shop.example')).status).toBe(403);
    expect((await from('https://new.example')).status).toBe(201);
  });

  it('400 for unknown fields, bad values and non-http(s) origins (also at create); 404 for an unknown project', async () => {
    await open();
    const p = await t.project({ name: 'x' });
    for (const bad of [
      { colour: 'red' },
      { name: '' },
      { timeZone: 'Mars/Olympus' },
      { idleTimeoutMs: 5 },
      { allowedOrigins: ['file:///etc/passwd'] },
      { allowedOrigins: ['chrome-extension://abcdef'] },
      { allowedOrigins: ['null'] },
      { allowedOrigins: ['data:text/html,hi'] },
    ]) {
      const res = await call('PATCH', `/api/v1/projects/${p.id}`, bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect((await json(res)).error.code).toBe('validation_failed');
    }
    for (const origins of [['file:///x'], ['javascript:alert(1)'], ['ftp://files.example']]) {
      const res = await call('POST', '/api/v1/projects', { name: 'y', allowedOrigins: origins });
      expect(res.status, origins[0]).toBe(400);
    }
    expect((await call('PATCH', '/api/v1/projects/p_nope', { name: 'z' })).status).toBe(404);
    expect(
      (await json(await t.read('/api/v1/projects'))).projects.find((x: { id: string }) => x.id === p.id).name,
    ).toBe('x');
  });
});

describe('POST /projects/{id}/rotate-key', () => {
  it('answers a new key; the previous one works until previousKeyValidUntil, then 401', async () => {
    await open();
    const p = await t.project({ name: 'r' });
    const res = await call('POST', `/api/v1/projects/${p.id}/rotate-key`, { graceSeconds: 60 });
    expect(res.status).toBe(200);
    const r = await json(res);
    expect(r.writeKey).toMatch(/^wk_/);
    expect(r.writeKey).not.toBe(p.writeKey);
    expect(r.previousKeyValidUntil).toBe(new Date(clock + 60_000).toISOString());
    expect((await t.ingest('/api/v1/sessions/start', { anonymousId: 'a' }, { key: r.writeKey })).status).toBe(201);
    clock += 59_999;
    expect((await t.ingest('/api/v1/sessions/start', { anonymousId: 'a' }, { key: p.writeKey })).status).toBe(201);
    clock += 1;
    const late = await t.ingest('/api/v1/sessions/start', { anonymousId: 'a' }, { key: p.writeKey });
    expect(late.status).toBe(401);
    expect((await t.ingest('/api/v1/sessions/start', { anonymousId: 'a' }, { key: r.writeKey })).status).toBe(201);
    // The default grace is a day; the listing says when it ends.
    const again = await json(await call('POST', `/api/v1/projects/${p.id}/rotate-key`));
    expect(again.previousKeyValidUntil).toBe(new Date(clock + 86_400_000).toISOString());
    const listed = (await json(await t.read('/api/v1/projects'))).projects.find((x: { id: string }) => x.id === p.id);
    expect(listed.writeKey).toBe(again.writeKey);
    expect(listed.previousKeyValidUntil).toBe(again.previousKeyValidUntil);
    expect(listed.previousWriteKey).toBeUndefined();
    expect((await call('POST', '/api/v1/projects/p_nope/rotate-key')).status).toBe(404);
    expect((await call('POST', `/api/v1/projects/${p.id}/rotate-key`, { graceSeconds: -1 })).status).toBe(400);
  });
});

describe('DELETE /projects/{id}', () => {
  it('deletes the project with its data; the default project answers 409', async () => {
    await open();
    const p = await t.project({ name: 'gone' });
    const s = await t.start({ anonymousId: 'a' }, p.writeKey);
    await t.ingest(
      `/api/v1/sessions/${s}/events`,
      { events: [{ type: 'action', name: 'click' }] },
      { key: p.writeKey },
    );
    const kept = await t.start();
    await t.buffer.drain();
    const res = await call('DELETE', `/api/v1/projects/${p.id}`);
    expect(res.status).toBe(200);
    const r = await json(res);
    expect(r.deletedSessions).toBe(1);
    expect(r.deletedEvents).toBeGreaterThanOrEqual(1);
    expect((await t.ingest('/api/v1/sessions/start', { anonymousId: 'a' }, { key: p.writeKey })).status).toBe(401);
    expect((await t.read(`/api/v1/sessions?project=${p.id}`)).status).toBe(404);
    expect((await t.read(`/api/v1/sessions/${s}`)).status).toBe(404);
    expect((await t.read(`/api/v1/sessions/${kept}`)).status).toBe(200);
    expect((await call('DELETE', `/api/v1/projects/${p.id}`)).status).toBe(404);
    const def = await call('DELETE', '/api/v1/projects/default');
    expect(def.status).toBe(409);
    expect((await json(def)).error.code).toBe('conflict');
  });
});

describe('share links', () => {
  const share = async (projectId: string, label?: string) => {
    const res = await call('POST', `/api/v1/projects/${projectId}/share`, label === undefined ? undefined : { label });
    expect(res.status).toBe(201);
    return (await json(res)) as { id: string; token: string; url: string };
  };

  it('are created, listed without their token, read their own project only, and revoked', async () => {
    await open();
    const p = await t.project({ name: 'shared' });
    const mine = await t.start({ anonymousId: 'a', userId: 'u1' }, p.writeKey);
    const foreign = await t.start({ anonymousId: 'b' });
    await t.buffer.drain();
    const s = await share(p.id, 'wall screen');
    expect(s.id).toMatch(/^sh_/);
    expect(s.url).toBe(`http://localhost/#/overview?project=${p.id}&share=${s.token}`);
    const listed = await json(await call('GET', `/api/v1/projects/${p.id}/share`));
    expect(listed).toEqual({ shares: [{ id: s.id, label: 'wall screen', createdAt: new Date(clock).toISOString() }] });
    expect(JSON.stringify(listed)).not.toContain(s.token);

    const get = (path: string) => call('GET', path, undefined, s.token);
    const list = await json(await get('/api/v1/sessions'));
    expect(list.sessions.map((x: { id: string }) => x.id)).toEqual([mine]);
    expect((await get(`/api/v1/sessions?project=${p.id}`)).status).toBe(200);
    expect((await get(`/api/v1/sessions/${mine}`)).status).toBe(200);
    expect((await get('/api/v1/stats/summary')).status).toBe(200);
    expect((await json(await get('/api/v1/stats/summary'))).sessions).toBe(1);
    expect((await get('/api/v1/sessions/user/u1/history')).status).toBe(200);
    // Another project: 403 when named, absent when reached by a session id.
    const other = await get('/api/v1/sessions?project=default');
    expect(other.status).toBe(403);
    expect((await json(other)).error.code).toBe('forbidden');
    expect((await get('/api/v1/stats/summary?project=default')).status).toBe(403);
    expect((await get(`/api/v1/sessions/${foreign}`)).status).toBe(404);
    // No export, no erase, no admin route, no import.
    expect((await get('/api/v1/users/u1/export')).status).toBe(403);
    expect((await call('DELETE', '/api/v1/users/u1', undefined, s.token)).status).toBe(403);
    expect((await get('/api/v1/projects')).status).toBe(403);
    expect((await call('POST', '/api/v1/import', { sessions: [] }, s.token)).status).toBe(403);
    expect((await call('POST', `/api/v1/projects/${p.id}/share`, {}, s.token)).status).toBe(403);

    const second = await share(p.id);
    expect((await json(await call('GET', `/api/v1/projects/${p.id}/share`))).shares).toHaveLength(2);
    expect((await call('DELETE', `/api/v1/projects/${p.id}/share/${s.id}`)).status).toBe(204);
    expect((await get('/api/v1/sessions')).status).toBe(401);
    expect((await call('GET', '/api/v1/sessions', undefined, second.token)).status).toBe(200);
    expect((await call('DELETE', `/api/v1/projects/${p.id}/share/${s.id}`)).status).toBe(404);
    expect((await call('DELETE', `/api/v1/projects/default/share/${second.id}`)).status).toBe(404);
    expect((await call('POST', '/api/v1/projects/p_nope/share')).status).toBe(404);
    expect((await call('POST', `/api/v1/projects/${p.id}/share`, { label: 1 })).status).toBe(400);
    // Deleting the project ends its shares.
    await call('DELETE', `/api/v1/projects/${p.id}`);
    expect((await call('GET', '/api/v1/sessions', undefined, second.token)).status).toBe(401);
  });

  it("reach no route of the app but the GET routes of sessions, stats and users (the app's own route list)", async () => {
    await open();
    const p = await t.project({ name: 'walk' });
    const s = await share(p.id);
    const routes = t.app.routes.filter((r) => r.method !== 'ALL' && r.path.startsWith('/api/v1/'));
    const seen = new Set(routes.map((r) => `${r.method} ${r.path}`));
    // The walk covers the routes that matter most (a wrong filter would make it vacuous).
    for (const must of [
      'GET /api/v1/projects',
      'PATCH /api/v1/projects/:id',
      'DELETE /api/v1/users/:userId',
      'GET /api/v1/users/:userId/export',
      'POST /api/v1/import',
      'GET /api/v1/sessions',
      'GET /api/v1/stats/summary',
    ]) {
      expect(seen, must).toContain(must);
    }
    const readable: string[] = [];
    for (const r of routes) {
      const path = r.path.replace(/:\w+/g, 'x1234567890abcdef').replace(/\*/g, 'x');
      const res = await call(r.method, path, r.method === 'GET' ? undefined : {}, s.token);
      if (contractReadable(r.method, path)) {
        expect(res.status, `${r.method} ${r.path}`).not.toBe(403);
        if (res.status !== 401) readable.push(`${r.method} ${r.path}`);
      } else {
        expect([401, 403], `${r.method} ${r.path} answered ${res.status}`).toContain(res.status);
      }
    }
    expect(readable).toEqual(expect.arrayContaining(['GET /api/v1/sessions', 'GET /api/v1/stats/summary']));
    // The admin token still reaches them (the walk's refusals are the share token's).
    expect((await call('GET', '/api/v1/projects')).status).toBe(200);
  });
});
