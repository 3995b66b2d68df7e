import { PgPoolDriver, PostgresStore, SqliteStore, type Store } from '@sessiontrack/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createTestApp, json, type TestApp } from '../app.testkit.js';
import { createTestDatabase } from '../pg.testkit.js';

// Input an attacker sends, on both backends (issue 14, items 6 and 7): what PostgreSQL refuses
// (U+0000, lone surrogates) and what overflows a stack (deep JSON) must be decided at the
// boundary — a 400 naming the field, or the same repair on both — never a 503 to retry or a 500.

const ADMIN_URL = process.env.TEST_DATABASE_URL;
if (!ADMIN_URL) console.warn('hostile.test.ts: skipping the PostgreSQL run: TEST_DATABASE_URL is not set');

const backends: [string, () => Promise<{ store: Store; drop: () => Promise<void> }>][] = [
  ['SQLite', async () => ({ store: new SqliteStore({ filename: ':memory:' }), drop: async () => {} })],
];
if (ADMIN_URL) {
  backends.push([
    'PostgreSQL',
    async () => {
      const db = await createTestDatabase(ADMIN_URL, 'hostile');
      return { store: await PostgresStore.open(new PgPoolDriver({ connectionString: db.url })), drop: db.drop };
    },
  ]);
}

/** 5,000 nested arrays as JSON text: JSON.stringify of such a value overflows the stack itself. */
const DEEP = `${'['.repeat(5000)}${']'.repeat(5000)}`;

describe.each(backends)('hostile input on %s', (_name, open) => {
  let t: TestApp;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const opened = await open();
    drop = opened.drop;
    t = await createTestApp({ store: opened.store });
  });
  afterAll(async () => {
    await t.close();
    await drop();
  });

  it('answers an id another project uses exactly as a never-used one (issue 14.10)', async () => {
    // Another project's ids look absent (API.md): no status, body or behaviour may tell a taken id
    // from a free one, or a project could probe which ids another one has.
    const a = await t.project({ name: 'keying A' });
    const b = await t.project({ name: 'keying B' });
    const tag = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const taken = `taken-in-a-${tag}`;
    const free = `never-used-${tag}`;
    const event = { id: 'e_same', type: 'action', name: 'buy' };
    const inA = await t.ingest('/api/v1/sessions/start', { anonymousId: 'x', sessionId: taken }, { key: a.writeKey });
    expect(inA.status).toBe(201);
    const evA = await t.ingest(`/api/v1/sessions/${taken}/events`, { events: [event] }, { key: a.writeKey });
    expect(await json(evA)).toEqual({ accepted: 1, duplicates: 0 });

    // Start: the same status and body (but for the id and times) for the taken id and the free one.
    const answer = async (sessionId: string) => {
      const res = await t.ingest('/api/v1/sessions/start', { anonymousId: 'y', sessionId }, { key: b.writeKey });
      const body = await json(res);
      return { status: res.status, id: body.sessionId === sessionId, keys: Object.keys(body).sort() };
    };
    expect(await answer(taken)).toEqual(await answer(free));
    expect(await answer(`other-${free}`)).toEqual({
      status: 201,
      id: true,
      keys: ['expiresAt', 'idleTimeoutMs', 'sessionId', 'startedAt'],
    });
    // …and that session is B's own: its events count there, the same event id is no duplicate.
    const evB = await t.ingest(
      `/api/v1/sessions/${taken}/events`,
      { events: [event, { type: 'error' }] },
      { key: b.writeKey },
    );
    expect(await json(evB)).toEqual({ accepted: 2, duplicates: 0 });

    // Track: an id another project uses is continued as a never-used one (rotated: false).
    const track = async (sessionId: string, key: string) => {
      const res = await t.ingest('/api/v1/track', { anonymousId: 'z', sessionId, events: [event] }, { key });
      return { status: res.status, ...(await json(res)) };
    };
    const tracked = `tracked-in-a-${tag}`;
    expect(await track(tracked, a.writeKey)).toEqual({
      status: 200,
      sessionId: tracked,
      rotated: false,
      accepted: 1,
      duplicates: 0,
    });
    expect(await track(tracked, b.writeKey)).toEqual({
      status: 200,
      sessionId: tracked,
      rotated: false,
      accepted: 1,
      duplicates: 0,
    });
    expect(await track(`tracked-free-${tag}`, b.writeKey)).toMatchObject({ status: 200, rotated: false, accepted: 1 });

    // Each project reads its own session of that id, with its own events and counters.
    const read = async (id: string, p: string) => json(await t.read(`/api/v1/sessions/${id}?project=${p}`));
    const [sa, sb] = [await read(taken, a.id), await read(taken, b.id)];
    expect([sa.projectId, sa.actions, sa.errors, sa.anonymousId, sa.events.length]).toEqual([a.id, 1, 0, 'x', 1]);
    expect([sb.projectId, sb.actions, sb.errors, sb.anonymousId, sb.events.length]).toEqual([b.id, 1, 1, 'y', 2]);
    // Without ?project= the admin is told to name one: the id is in two projects.
    const both = await t.read(`/api/v1/sessions/${taken}`);
    expect([both.status, (await json(both)).error.code]).toEqual([409, 'conflict']);

    // Agent state, end and disconnect reach the caller's own session only.
    const state = (key: string, method = 'GET', body?: unknown) =>
      t.app.request(`/api/v1/sessions/${taken}/state/agent/k`, {
        method,
        headers: { 'x-write-key': key, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    expect((await state(b.writeKey, 'PUT', { value: 'b' })).status).toBe(200);
    expect((await state(a.writeKey)).status).toBe(404);
    const ended = await t.ingest(`/api/v1/sessions/${taken}/end`, { reason: 'logout' }, { key: b.writeKey });
    expect((await json(ended)).status).toBe('ended');
    expect((await read(taken, a.id)).status).toBe('active');
  });

  const refused = async (res: Response) => {
    const body = await json(res);
    return { status: res.status, code: body.error?.code, message: body.error?.message as string };
  };

  it('refuses U+0000 with a 400 naming the field, on every ingest route', async () => {
    const id = await t.start({ anonymousId: 'a' });
    const nul = 'contains U+0000 (NUL)';
    const cases: [string, unknown, string][] = [
      ['/api/v1/sessions/start', { anonymousId: 'a\u0000' }, `anonymousId: ${nul}`],
      ['/api/v1/sessions/start', { anonymousId: 'a', metadata: { note: 'x\u0000' } }, `metadata.note: ${nul}`],
      ['/api/v1/sessions/start', { anonymousId: 'a', metadata: { 'k\u0000': 1 } }, `metadata.k\\u0000: the key ${nul}`],
      [`/api/v1/sessions/${id}/events`, { events: [{ type: 'action', name: '\u0000' }] }, `events[0].name: ${nul}`],
      [
        `/api/v1/sessions/${id}/events`,
        { events: [{ type: 'action', details: { a: ['\u0000'] } }] },
        `events[0].details.a[0]: ${nul}`,
      ],
      [`/api/v1/sessions/${id}/heartbeat`, { page: '/\u0000' }, `page: ${nul}`],
      [`/api/v1/sessions/${id}/end`, { lastAction: '\u0000' }, `lastAction: ${nul}`],
      [
        '/api/v1/track',
        { anonymousId: 'a', events: [{ type: 'pageview', page: '/\u0000' }] },
        `events[0].page: ${nul}`,
      ],
    ];
    for (const [path, body, message] of cases) {
      expect(await refused(await t.ingest(path, body)), path).toEqual({
        status: 400,
        code: 'validation_failed',
        message,
      });
    }
    // a write key in the body is looked up in the database: refused before that
    const keyed = await t.ingest('/api/v1/sessions/start', { anonymousId: 'a', writeKey: 'k\u0000' }, { key: null });
    expect(await refused(keyed)).toEqual({ status: 400, code: 'validation_failed', message: `writeKey: ${nul}` });
    const s = await json(await t.read(`/api/v1/sessions/${id}`));
    expect(s.status).toBe('active');
    expect(s.events).toEqual([]);
  });

  it('refuses U+0000 in a path or query with a 400', async () => {
    expect(
      (await refused(await t.ingest('/api/v1/sessions/s_%00abcdefghijklmnopqrstu/events', { events: [] }))).status,
    ).toBe(400);
    expect((await refused(await t.read('/api/v1/users/u%00/sessions'))).status).toBe(400);
    expect((await refused(await t.read('/api/v1/sessions?userId=%00'))).status).toBe(400);
  });

  it('stores lone surrogates as U+FFFD, the same on both backends', async () => {
    const res = await t.ingest('/api/v1/sessions/start', {
      anonymousId: 'a\ud800',
      metadata: { 'k\udc00': 'v\ud83d' },
    });
    expect(res.status).toBe(201);
    const id = (await json(res)).sessionId;
    expect(
      (
        await t.ingest(`/api/v1/sessions/${id}/events`, {
          events: [{ id: 'e1', type: 'action', name: 'cut 😀\ud83d' }],
        })
      ).status,
    ).toBe(202);
    const s = await json(await t.read(`/api/v1/sessions/${id}`));
    expect(s.anonymousId).toBe('a\ufffd');
    expect(s.metadata).toEqual({ 'k\ufffd': 'v\ufffd' });
    expect(s.events[0].name).toBe('cut 😀\ufffd');
  });

  it('refuses JSON nested 5,000 deep with a 400, in metadata, details, agent state and import', async () => {
    const id = await t.start({ anonymousId: 'a' });
    const post = (path: string, body: string, headers: Record<string, string>) =>
      t.app.request(path, { method: path.includes('/state/') ? 'PUT' : 'POST', headers, body });
    const key = { 'x-write-key': t.writeKey, 'content-type': 'application/json' };
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const results = [
      await post('/api/v1/sessions/start', `{"anonymousId":"a","metadata":{"x":${DEEP}}}`, key),
      await post(`/api/v1/sessions/${id}/events`, `{"events":[{"type":"action","details":{"x":${DEEP}}}]}`, key),
      await post('/api/v1/track', `{"anonymousId":"a","events":[{"type":"custom","details":{"x":${DEEP}}}]}`, key),
      await post(`/api/v1/sessions/${id}/state/agent/key`, `{"value":${DEEP}}`, key),
      await post('/api/v1/import', `{"sessions":[{"id":"${'x'.repeat(20)}","metadata":${DEEP}}]}`, admin),
    ];
    for (const res of results) {
      const r = await refused(res);
      expect(r.status).toBe(400);
      expect(r.code).toBe('validation_failed');
      expect(r.message).toMatch(/nested deeper than 64 levels$/);
    }
  });
});
