import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../app.testkit.js';

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

const errorOf = async (res: Response) => (await json(res)).error as { code: string; message: string };

describe('POST /api/v1/sessions/start', () => {
  it('creates a session with derived device, entry and campaign, and answers 201', async () => {
    const res = await t.ingest(
      '/api/v1/sessions/start',
      {
        userId: 'u_42',
        anonymousId: 'a_1',
        entry: { page: 'https://shop.example/pricing?utm_campaign=spring#top', referrer: 'https://news.example/a?x=1' },
        metadata: { plan: 'free' },
      },
      { headers: { 'user-agent': FIREFOX } },
    );
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(body.sessionId).toMatch(/^s_[0-9A-Za-z]{24}$/);
    expect(body.idleTimeoutMs).toBe(1_800_000);
    expect(Date.parse(body.expiresAt) - Date.parse(body.startedAt)).toBe(1_800_000);

    const s = await json(await t.read(`/api/v1/sessions/${body.sessionId}`));
    expect(s).toMatchObject({
      id: body.sessionId,
      projectId: 'default',
      kind: 'web',
      userId: 'u_42',
      anonymousId: 'a_1',
      status: 'active',
      device: { type: 'desktop', browser: 'Firefox', os: 'Linux' },
      entry: { page: '/pricing', source: 'external', referrer: 'https://news.example/a', campaign: 'spring' },
      metadata: { plan: 'free' },
      events: [],
    });
  });

  it('takes the page host from Origin for a path, so a same-site referrer is internal', async () => {
    const id = await t.start({ anonymousId: 'a', entry: { page: '/docs', referrer: 'https://www.site.example/home' } });
    // no Origin on that request: the host is unknown, the referrer counts as external
    expect((await json(await t.read(`/api/v1/sessions/${id}`))).entry.source).toBe('external');
    const res = await t.ingest(
      '/api/v1/sessions/start',
      { anonymousId: 'a', entry: { page: '/docs', referrer: 'https://www.site.example/home' } },
      { headers: { origin: 'https://site.example' } },
    );
    const s = await json(await t.read(`/api/v1/sessions/${(await json(res)).sessionId}`));
    expect(s.entry.source).toBe('internal');
    const direct = await t.start({ anonymousId: 'a', entry: { page: '/docs' } });
    expect((await json(await t.read(`/api/v1/sessions/${direct}`))).entry.source).toBe('direct');
  });

  it('requires userId or anonymousId, naming the field', async () => {
    const res = await t.ingest('/api/v1/sessions/start', { kind: 'web' });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ code: 'validation_failed', message: expect.stringContaining('userId') });
  });

  it('accepts a client-chosen id once, then answers 409', async () => {
    const sessionId = 'client-chosen-session-0001';
    expect((await t.ingest('/api/v1/sessions/start', { anonymousId: 'a', sessionId })).status).toBe(201);
    const again = await t.ingest('/api/v1/sessions/start', { anonymousId: 'a', sessionId });
    expect(again.status).toBe(409);
    expect((await errorOf(again)).code).toBe('conflict');
    const short = await t.ingest('/api/v1/sessions/start', { anonymousId: 'a', sessionId: 'short' });
    expect(short.status).toBe(400);
    expect((await errorOf(short)).message).toContain('sessionId');
  });

  it('answers a bot 202 {ignored:"bot"}, stores nothing, and counts it; mcp sessions are never bots', async () => {
    const res = await t.ingest(
      '/api/v1/sessions/start',
      { anonymousId: 'a' },
      { headers: { 'user-agent': GOOGLEBOT } },
    );
    expect(res.status).toBe(202);
    expect(await json(res)).toEqual({ ignored: 'bot' });
    expect((await json(await t.read('/api/v1/sessions/active'))).count).toBe(0);
    expect(t.metrics.bots.get()).toBe(1);
    const mcp = await t.ingest(
      '/api/v1/sessions/start',
      { anonymousId: 'agent', kind: 'mcp', transport: 'streamable-http' },
      { headers: { 'user-agent': GOOGLEBOT } },
    );
    expect(mcp.status).toBe(201);
    const s = await json(await t.read(`/api/v1/sessions/${(await json(mcp)).sessionId}`));
    expect(s).toMatchObject({ kind: 'mcp', transport: 'streamable-http' });
    // MCP sessions get the MCP idle default (1 h)
    expect(Date.parse(s.expiresAt) - Date.parse(s.lastActivityAt)).toBe(3_600_000);
  });

  it('rejects metadata over 8 KiB', async () => {
    const res = await t.ingest('/api/v1/sessions/start', { anonymousId: 'a', metadata: { blob: 'x'.repeat(9000) } });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toContain('metadata');
  });
});

describe('auth, origin, content type and limits', () => {
  it('401 without a key and with a wrong key; the key may come in the body', async () => {
    const none = await t.ingest('/api/v1/sessions/start', { anonymousId: 'a' }, { key: null });
    expect(none.status).toBe(401);
    expect((await errorOf(none)).code).toBe('unauthorized');
    expect((await t.ingest('/api/v1/sessions/start', { anonymousId: 'a' }, { key: 'wk_wrong' })).status).toBe(401);
    const inBody = await t.ingest('/api/v1/sessions/start', { anonymousId: 'a', writeKey: t.writeKey }, { key: null });
    expect(inBody.status).toBe(201);
  });

  it('403 for an Origin outside allowedOrigins; no Origin (a server) is not refused', async () => {
    const p = await t.project({ name: 'shop', allowedOrigins: ['https://shop.example'] });
    const opts = (origin?: string) => ({
      key: p.writeKey,
      headers: origin ? { origin } : ({} as Record<string, string>),
    });
    const bad = await t.ingest('/api/v1/sessions/start', { anonymousId: 'a' }, opts('https://evil.example'));
    expect(bad.status).toBe(403);
    expect((await errorOf(bad)).code).toBe('forbidden');
    expect((await t.ingest('/api/v1/sessions/start', { anonymousId: 'a' }, opts('https://shop.example'))).status).toBe(
      201,
    );
    expect((await t.ingest('/api/v1/sessions/start', { anonymousId: 'a' }, opts())).status).toBe(201);
  });

  it('a key only touches its own project: another project session is 404', async () => {
    const other = await t.project({ name: 'other' });
    const id = await t.start();
    const res = await t.ingest(
      `/api/v1/sessions/${id}/events`,
      { events: [{ type: 'action' }] },
      { key: other.writeKey },
    );
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe('not_found');
  });

  it('400 invalid_json for a broken body', async () => {
    const res = await t.ingest('/api/v1/sessions/start', '{"anonymousId": ');
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('invalid_json');
  });

  it('415 for another content type; text/plain (sendBeacon) is accepted', async () => {
    const res = await t.ingest('/api/v1/sessions/start', 'anonymousId=a', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
    expect((await errorOf(res)).code).toBe('unsupported_media_type');
    const beacon = await t.ingest(
      '/api/v1/sessions/start',
      { anonymousId: 'a', writeKey: t.writeKey },
      { key: null, headers: { 'content-type': 'text/plain;charset=UTF-8' } },
    );
    expect(beacon.status).toBe(201);
  });

  it('413 for a declared body over 256 KiB, before reading it', async () => {
    const res = await t.app.request('/api/v1/sessions/start', {
      method: 'POST',
      headers: { 'x-write-key': t.writeKey, 'content-type': 'application/json', 'content-length': String(300 * 1024) },
      body: '{}',
    });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe('payload_too_large');
  });

  it('413 for a streamed (chunked) body that grows past the limit', async () => {
    let sent = 0;
    const chunk = new TextEncoder().encode(`"${'x'.repeat(64 * 1024)}",`);
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode('{"events":['));
        else if (sent > 100) controller.close(); // never reached: the server stops reading at 256 KiB
        controller.enqueue(chunk);
        sent++;
      },
    });
    const res = await t.app.request('/api/v1/sessions/start', {
      method: 'POST',
      headers: { 'x-write-key': t.writeKey, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(sent).toBeLessThan(10);
  });

  it('413 for more than 500 events, and nothing of that batch is stored', async () => {
    const id = await t.start();
    const events = Array.from({ length: 501 }, (_, i) => ({ id: `e${i}`, type: 'action' }));
    const res = await t.ingest(`/api/v1/sessions/${id}/events`, { events });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).message).toContain('500');
    expect((await json(await t.read(`/api/v1/sessions/${id}`))).events).toHaveLength(0);
  });

  it('400 names the failing field, and a batch with one bad event stores none', async () => {
    const id = await t.start();
    const events = [
      { id: 'ok1', type: 'action' },
      { id: 'ok2', type: 'action' },
      { id: 'ok3', type: 'action' },
      { id: 'bad', name: 'x' },
    ];
    const res = await t.ingest(`/api/v1/sessions/${id}/events`, { events });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ code: 'validation_failed', message: 'events[3].type: required' });
    const s = await json(await t.read(`/api/v1/sessions/${id}`));
    expect(s.events).toHaveLength(0);
    expect(s.actions).toBe(0);
  });

  it('429 with Retry-After over the project rate limit', async () => {
    const p = await t.project({ name: 'limited', rateLimitPerMinute: 3 });
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      codes.push((await t.ingest('/api/v1/sessions/start', { anonymousId: 'a' }, { key: p.writeKey })).status);
    }
    expect(codes).toEqual([201, 201, 201, 429]);
    const res = await t.ingest('/api/v1/sessions/start', { anonymousId: 'a' }, { key: p.writeKey });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await errorOf(res)).code).toBe('rate_limited');
  });

  it('429 per client address with --trust-proxy, loopback never limited', async () => {
    const limited = await createTestApp({ ipRateLimitPerMinute: 2, trustProxy: { hops: 1 } });
    try {
      const from = (ip: string) =>
        limited.ingest('/api/v1/sessions/start', { anonymousId: 'a' }, { headers: { 'x-forwarded-for': ip } });
      expect((await from('203.0.113.9')).status).toBe(201);
      expect((await from('203.0.113.9')).status).toBe(201);
      const third = await from('203.0.113.9');
      expect(third.status).toBe(429);
      expect(third.headers.get('retry-after')).not.toBeNull();
      expect((await from('198.51.100.7')).status).toBe(201);
      for (let i = 0; i < 4; i++) expect((await from('127.0.0.1')).status).toBe(201);
    } finally {
      await limited.close();
    }
  });

  it('behind a proxy that appends, a client cannot pick its address by sending X-Forwarded-For itself', async () => {
    // The proxy (10.0.0.2, one hop) appends the peer it saw, 2a01:4f8::1 (DE); what stands left of
    // it came from the client: a fresh address per request (GB) to dodge the limit.
    const limited = await createTestApp({
      ipRateLimitPerMinute: 5,
      trustProxy: { hops: 1 },
      socketAddress: () => '10.0.0.2',
    });
    try {
      const codes: number[] = [];
      let first = '';
      for (let i = 0; i < 8; i++) {
        const res = await limited.ingest(
          '/api/v1/sessions/start',
          { anonymousId: 'a' },
          { headers: { 'x-forwarded-for': `81.2.69.${140 + i}, 2a01:4f8::1` } },
        );
        codes.push(res.status);
        if (i === 0) first = (await json(res)).sessionId;
      }
      expect(codes).toEqual([201, 201, 201, 201, 201, 429, 429, 429]);
      expect((await json(await limited.read(`/api/v1/sessions/${first}`))).geo.country).toBe('DE');
    } finally {
      await limited.close();
    }
  });

  it('answers CORS preflights and echoes the Origin on ingest responses', async () => {
    const pre = await t.app.request('/api/v1/sessions/abc/events', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://site.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-write-key',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://site.example');
    expect(pre.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-write-key');
    const res = await t.ingest(
      '/api/v1/sessions/start',
      { anonymousId: 'a' },
      { headers: { origin: 'https://site.example' } },
    );
    expect(res.headers.get('access-control-allow-origin')).toBe('https://site.example');
  });
});

describe('events, heartbeat, end', () => {
  it('stores events once: the same batch twice is stored once and counters do not move', async () => {
    const id = await t.start();
    const batch = {
      events: [
        { id: 'e1', type: 'pageview', page: '/pricing?x=1' },
        { id: 'e2', type: 'action', name: 'buy', page: '/pricing', resourceId: 'buy-btn', details: { plan: 'pro' } },
        { id: 'e3', type: 'error', name: 'TypeError', page: '/checkout' },
        { id: 'e4', type: 'tool_call', name: 'search', details: { durationMs: 12, isError: true } },
        { id: 'e5', type: 'workflow_start', name: 'checkout' },
      ],
    };
    const first = await t.ingest(`/api/v1/sessions/${id}/events`, batch);
    expect(first.status).toBe(202);
    expect(await json(first)).toEqual({ accepted: 5, duplicates: 0 });
    const before = await json(await t.read(`/api/v1/sessions/${id}`));
    const second = await t.ingest(`/api/v1/sessions/${id}/events`, batch);
    expect(await json(second)).toEqual({ accepted: 0, duplicates: 5 });
    const after = await json(await t.read(`/api/v1/sessions/${id}`));
    for (const s of [before, after]) {
      expect(s).toMatchObject({ actions: 1, errors: 2, toolCalls: 1, workflows: 1 });
      expect(s.exit).toMatchObject({ page: '/checkout', lastAction: 'search' });
      expect(s.events.map((e: { id: string }) => e.id)).toEqual(['e1', 'e2', 'e3', 'e4', 'e5']);
    }
    expect(after.events[0].page).toBe('/pricing');
    expect(after.events[1]).toMatchObject({ resourceId: 'buy-btn', details: { plan: 'pro' } });
  });

  it('single-event alias /event, and events without ids are each stored', async () => {
    const id = await t.start();
    const one = await t.ingest(`/api/v1/sessions/${id}/event`, { type: 'action', name: 'click' });
    expect(await json(one)).toEqual({ accepted: 1, duplicates: 0 });
    await t.ingest(`/api/v1/sessions/${id}/event`, { type: 'action', name: 'click' });
    expect((await json(await t.read(`/api/v1/sessions/${id}`))).actions).toBe(2);
  });

  it('reports sinceLastMs between events, oldest first by client time, the first one since the start', async () => {
    const id = await t.start();
    const base = Date.now() + 2_000;
    await t.ingest(`/api/v1/sessions/${id}/events`, {
      events: [
        { id: 'b', type: 'action', timestamp: new Date(base + 1500).toISOString() },
        { id: 'a', type: 'pageview', timestamp: base },
      ],
    });
    const s = await json(await t.read(`/api/v1/sessions/${id}`));
    expect(s.events.map((e: { id: string; sinceLastMs: number | null }) => [e.id, e.sinceLastMs])).toEqual([
      ['a', base - Date.parse(s.startedAt)],
      ['b', 1500],
    ]);
    expect(s.events[0].sinceLastMs).toBeGreaterThanOrEqual(2_000);
  });

  it('404 for an unknown session', async () => {
    const res = await t.ingest('/api/v1/sessions/s_doesnotexist00000000/events', { events: [{ type: 'action' }] });
    expect(res.status).toBe(404);
    expect((await t.ingest('/api/v1/sessions/nope/heartbeat')).status).toBe(404);
    expect((await t.ingest('/api/v1/sessions/nope/end')).status).toBe(404);
  });

  it('heartbeat with an empty body and no content type; with a page it moves the exit page', async () => {
    const id = await t.start({ anonymousId: 'a', entry: { page: '/home' } });
    const res = await t.app.request(`/api/v1/sessions/${id}/heartbeat`, {
      method: 'POST',
      headers: { 'x-write-key': t.writeKey },
    });
    expect(res.status).toBe(200);
    const hb = await json(res);
    expect(hb).toMatchObject({ sessionId: id, status: 'active' });
    expect(Date.parse(hb.expiresAt) - Date.parse(hb.lastActivityAt)).toBe(1_800_000);
    await t.ingest(`/api/v1/sessions/${id}/heartbeat`, { page: '/docs' });
    expect((await json(await t.read(`/api/v1/sessions/${id}`))).exit.page).toBe('/docs');
  });

  it('end returns the session, is idempotent, and later writes answer 410', async () => {
    const id = await t.start({ anonymousId: 'a', entry: { page: '/a' } });
    await t.ingest(`/api/v1/sessions/${id}/events`, { events: [{ id: 'x', type: 'action', name: 'save' }] });
    const res = await t.ingest(`/api/v1/sessions/${id}/end`, { reason: 'navigation', page: '/bye' });
    expect(res.status).toBe(200);
    const ended = await json(res);
    expect(ended).toMatchObject({
      id,
      status: 'ended',
      exit: { page: '/bye', reason: 'navigation', lastAction: 'save' },
    });
    expect(ended.endedAt).not.toBeNull();
    const again = await json(await t.ingest(`/api/v1/sessions/${id}/end`, { reason: 'logout' }));
    expect(again).toEqual(ended);
    for (const path of ['events', 'heartbeat']) {
      const r = await t.ingest(`/api/v1/sessions/${id}/${path}`, path === 'events' ? { events: [] } : undefined);
      expect(r.status).toBe(410);
      expect((await errorOf(r)).code).toBe('session_ended');
    }
    const defaultReason = await t.start();
    expect((await json(await t.ingest(`/api/v1/sessions/${defaultReason}/end`))).exit.reason).toBe('logout');
  });
});

describe('POST /api/v1/track', () => {
  it('starts, continues, ends and rotates', async () => {
    const first = await json(
      await t.ingest('/api/v1/track', {
        writeKey: t.writeKey,
        anonymousId: 'a_t',
        entry: { page: '/landing' },
        events: [{ id: 't1', type: 'pageview', page: '/landing' }],
      }),
    );
    expect(first).toMatchObject({ rotated: false, accepted: 1, duplicates: 0 });
    const cont = await json(
      await t.ingest('/api/v1/track', {
        anonymousId: 'a_t',
        sessionId: first.sessionId,
        events: [
          { id: 't1', type: 'pageview', page: '/landing' },
          { id: 't2', type: 'action', name: 'signup' },
        ],
        end: { reason: 'logout' },
      }),
    );
    expect(cont).toEqual({ sessionId: first.sessionId, rotated: false, accepted: 1, duplicates: 1 });
    const s = await json(await t.read(`/api/v1/sessions/${first.sessionId}`));
    expect(s).toMatchObject({ status: 'ended', actions: 1, exit: { reason: 'logout' } });

    const rotated = await json(
      await t.ingest('/api/v1/track', { anonymousId: 'a_t', sessionId: first.sessionId, events: [{ type: 'action' }] }),
    );
    expect(rotated.rotated).toBe(true);
    expect(rotated.sessionId).not.toBe(first.sessionId);
    expect(rotated.accepted).toBe(1);
  });

  it('ignores bots', async () => {
    const res = await t.ingest('/api/v1/track', {
      anonymousId: 'a',
      userAgent: GOOGLEBOT,
      events: [{ type: 'action' }],
    });
    expect(res.status).toBe(202);
    expect(await json(res)).toEqual({ ignored: 'bot' });
  });
});

describe('engaged time (docs/metrics.md)', () => {
  it('adds up the reports of /track and heartbeats; engagedSeconds never above durationSeconds, null for MCP', async () => {
    const T0 = Date.parse('2026-03-02T10:00:00Z');
    let clock = T0;
    const app = await createTestApp({ now: () => clock });
    try {
      const track = async (body: Record<string, unknown>) =>
        json(await app.ingest('/api/v1/track', { anonymousId: 'a_e', ...body }));
      const first = await track({ events: [{ id: 'p1', type: 'pageview', page: '/' }], engagedMs: 0 });
      clock += 3_000;
      await track({ sessionId: first.sessionId, engagedMs: 3_000 });
      clock += 12_000;
      const hb = await app.ingest(`/api/v1/sessions/${first.sessionId}/heartbeat`, { engagedMs: 2_000 });
      expect(hb.status).toBe(200);
      const live = await json(await app.read(`/api/v1/sessions/${first.sessionId}`));
      expect(live).toMatchObject({ durationSeconds: 15, engagedSeconds: 5 });
      // a report claiming more than the session lasted is cut at its duration
      await track({ sessionId: first.sessionId, engagedMs: 60_000, end: { reason: 'navigation' } });
      expect(await json(await app.read(`/api/v1/sessions/${first.sessionId}`))).toMatchObject({
        status: 'ended',
        durationSeconds: 15,
        engagedSeconds: 15,
      });
      // a session whose client reports none (an MCP one): null, and not in the average
      const mcp = await json(await app.ingest('/api/v1/sessions/start', { kind: 'mcp', userId: 'agent' }));
      await app.ingest(`/api/v1/sessions/${mcp.sessionId}/end`, {});
      expect((await json(await app.read(`/api/v1/sessions/${mcp.sessionId}`))).engagedSeconds).toBeNull();
      for (const engagedMs of [-1, 1.5, '3']) {
        const bad = await app.ingest('/api/v1/track', { anonymousId: 'a_e', engagedMs });
        expect(bad.status).toBe(400);
        expect((await errorOf(bad)).message).toMatch(/engagedMs/);
      }
    } finally {
      await app.close();
    }
  });
});
