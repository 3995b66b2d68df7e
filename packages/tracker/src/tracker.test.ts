import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type FakeBrowser, installBrowser, json, uninstallBrowser } from './browser.testkit.js';

const WRITE_KEY = 'wk_test';
const TRACK = 'http://127.0.0.1:3000/api/v1/track';

let b: FakeBrowser;

async function start(opts: Record<string, unknown> = {}) {
  const t = await b.load();
  t.init({ writeKey: WRITE_KEY, endpoint: 'http://127.0.0.1:3000/', ...opts });
  await vi.advanceTimersByTimeAsync(0);
  return t;
}

const events = () => b.sent.flatMap((r) => r.body.events);
/** The session id the tracker chose and sent with its first call. */
const firstId = () => b.sent[0]?.body.sessionId as string;
/** What a session id the tracker chooses looks like: 16–128 visible ASCII characters. */
const ID = /^[!-~]{16,128}$/;

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-03-01T12:00:00Z') });
  b = installBrowser();
});

afterEach(() => {
  uninstallBrowser();
  vi.useRealTimers();
});

describe('tracker: session start', () => {
  it('sends the page view on load at once, with entry, referrer and screen size, as text/plain', async () => {
    await start();
    expect(b.sent).toHaveLength(1);
    const [r] = b.sent;
    expect(r?.url).toBe(TRACK);
    expect(r?.via).toBe('fetch');
    expect(r?.keepalive).toBe(true);
    expect(r?.body).toMatchObject({
      writeKey: WRITE_KEY,
      sessionId: expect.stringMatching(ID),
      device: { screenSize: '1920x1080' },
      entry: { page: 'https://app.example/start?utm_campaign=spring', referrer: 'https://news.example/' },
      events: [{ type: 'pageview', page: '/start', timestamp: Date.now() }],
    });
    expect(r?.body.anonymousId).toMatch(/^[0-9a-z]{6,}$/);
    expect(r?.body.events[0]?.id).toMatch(/^[0-9a-z]{6,}$/);
    expect(b.storage.anonymousUserId).toBe(r?.body.anonymousId);
  });

  it('chooses the session id itself, sends it with the first call and keeps it from then on', async () => {
    const t = await start();
    expect(firstId()).toMatch(ID);
    expect(t.getState()).toEqual({ anonymousId: b.storage.anonymousUserId, sessionId: firstId() });
    t.track('export');
    await vi.advanceTimersByTimeAsync(2000);
    expect(b.sent).toHaveLength(2);
    expect(b.sent[1]?.body.sessionId).toBe(firstId());
  });

  it('knows its session id while the first call is out', async () => {
    b.respond = () => new Promise(() => {});
    const t = await start();
    expect(b.inFlight()).toBe(1);
    expect(t.getState().sessionId).toBe(firstId());
    expect(JSON.parse(b.storage.anonymousUserId_s as string)[0]).toBe(firstId());
  });

  it('chooses a different id for every new session', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) {
      uninstallBrowser();
      b = installBrowser();
      await start();
      ids.add(firstId());
    }
    expect(ids.size).toBe(20);
  });

  it('makes every id from crypto.getRandomValues, never from Math.random (issue #14)', async () => {
    // A session id is what the server continues a session by: it must not be predictable.
    const random = vi.spyOn(Math, 'random');
    const secure = vi.spyOn(crypto, 'getRandomValues');
    const t = await start();
    t.track('export');
    await vi.advanceTimersByTimeAsync(2000);
    expect(random).not.toHaveBeenCalled();
    // The anonymous id, the session id and each event's id.
    expect(secure).toHaveBeenCalledTimes(4);
    const [first, second] = b.sent;
    for (const id of [first?.body.anonymousId, firstId(), ...events().map((e) => e.id)]) {
      expect(id).toMatch(/^\d{16,48}$/);
    }
    expect(second?.body.sessionId).toBe(firstId());
    random.mockRestore();
    secure.mockRestore();
  });

  it('keeps one request in flight: events during the first call wait for its answer', async () => {
    let release!: () => void;
    const first = b.respond;
    b.respond = (body) =>
      new Promise((resolve) => {
        release = () => resolve(first(body));
      });
    const t = await start();
    for (let i = 0; i < 7; i++) t.track(`a${i}`);
    await vi.advanceTimersByTimeAsync(5000);
    expect(b.sent).toHaveLength(1);
    b.respond = first;
    release();
    await vi.advanceTimersByTimeAsync(2000);
    expect(b.sent).toHaveLength(2);
    expect(b.sent[1]?.body.sessionId).toBe(firstId());
    expect(b.sent[1]?.body.events.map((e) => e.name)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6']);
  });

  it('continues the session after a reload and across tabs (same storage)', async () => {
    await start();
    const anonymousId = b.storage.anonymousUserId;
    const sessionId = firstId();
    b.sent.length = 0;
    await vi.advanceTimersByTimeAsync(60_000);
    const t = await start();
    await vi.advanceTimersByTimeAsync(2000);
    expect(b.sent).toHaveLength(1);
    expect(b.sent[0]?.body).toMatchObject({ anonymousId, sessionId });
    expect(t.getState().sessionId).toBe(sessionId);
  });

  it('shares the session with a tab opened while the first call is out, which sends no first call of its own', async () => {
    b.respond = () => new Promise(() => {});
    const tab1 = await start();
    const sessionId = firstId();
    // The second tab: a fresh module on the same storage.
    const tab2 = await start();
    expect(b.sent).toHaveLength(1);
    expect(tab2.getState().sessionId).toBe(sessionId);
    expect(tab1.getState().sessionId).toBe(sessionId);
    await vi.advanceTimersByTimeAsync(2000);
    expect(b.sent).toHaveLength(2);
    expect(b.sent[1]?.body.sessionId).toBe(sessionId);
    expect(b.sent[1]?.body.events.map((e) => e.type)).toEqual(['pageview']);
  });

  it('starts a new session after idleTimeout without activity', async () => {
    const t = await start({ idleTimeout: 60_000, heartbeatInterval: 3_600_000 });
    await vi.advanceTimersByTimeAsync(61_000);
    expect(t.getState().sessionId).toBeNull();
    const sent = b.sent.length;
    t.track('back');
    await vi.advanceTimersByTimeAsync(0);
    // The first event of the new session goes out at once, with a new id.
    expect(b.sent).toHaveLength(sent + 1);
    const next = b.sent.at(-1)?.body.sessionId;
    expect(next).toMatch(ID);
    expect(next).not.toBe(firstId());
    expect(b.sent.at(-1)?.body.events.map((e) => e.name)).toEqual(['back']);
    expect(t.getState().sessionId).toBe(next);
  });

  it('adopts the new id when the server rotates the session', async () => {
    const t = await start();
    const ok = b.respond;
    b.respond = () => json({ sessionId: 'sess_rotated_00001', rotated: true, accepted: 1, duplicates: 0 });
    t.track('x');
    await vi.advanceTimersByTimeAsync(2000);
    expect(b.sent[1]?.body.sessionId).toBe(firstId());
    expect(t.getState().sessionId).toBe('sess_rotated_00001');
    b.respond = ok;
    t.track('y');
    await vi.advanceTimersByTimeAsync(2000);
    expect(b.sent[2]?.body.sessionId).toBe('sess_rotated_00001');
  });
});

describe('tracker: buffering', () => {
  it('flushes at batchSize at once, else on the 2 s tick', async () => {
    const t = await start({ batchSize: 3 });
    t.track('a');
    t.track('b');
    await vi.advanceTimersByTimeAsync(0);
    expect(b.sent).toHaveLength(1);
    t.track('c');
    await vi.advanceTimersByTimeAsync(0);
    expect(b.sent).toHaveLength(2);
    expect(b.sent[1]?.body.events.map((e) => e.name)).toEqual(['a', 'b', 'c']);
    t.track('d');
    await vi.advanceTimersByTimeAsync(1999);
    expect(b.sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(b.sent[2]?.body.events.map((e) => e.name)).toEqual(['d']);
  });

  it('sends at most 20 events a request', async () => {
    const t = await start({ batchSize: 100 });
    for (let i = 0; i < 45; i++) t.track(`a${i}`);
    await vi.advanceTimersByTimeAsync(6000);
    expect(b.sent.slice(1).map((r) => r.body.events.length)).toEqual([20, 20, 5]);
  });

  it('records track() as an action with resourceId and metadata as details', async () => {
    const t = await start();
    t.track('export', { resourceId: 'report-7', metadata: { format: 'csv' } });
    await vi.advanceTimersByTimeAsync(2000);
    expect(events()[1]).toMatchObject({
      type: 'action',
      name: 'export',
      resourceId: 'report-7',
      details: { format: 'csv' },
      page: '/start',
    });
  });

  it('sends the user id after identify()', async () => {
    const t = await start();
    t.identify('u_42');
    t.track('x');
    await vi.advanceTimersByTimeAsync(2000);
    expect(b.sent[1]?.body.userId).toBe('u_42');
  });
});

describe('tracker: nothing lost, nothing twice', () => {
  it('retries a failed batch with backoff, with the same event ids', async () => {
    const t = await start();
    const ok = b.respond;
    b.respond = () => json({ error: { code: 'unavailable' } }, 503);
    t.track('a');
    await vi.advanceTimersByTimeAsync(2000);
    expect(b.sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(999);
    expect(b.sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1); // 1 s
    expect(b.sent).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(2000); // 2 s
    expect(b.sent).toHaveLength(4);
    b.respond = ok;
    await vi.advanceTimersByTimeAsync(4000); // 4 s
    expect(b.sent).toHaveLength(5);
    const ids = b.sent.slice(1).map((r) => r.body.events[0]?.id);
    expect(new Set(ids).size).toBe(1);
    expect(b.storage.anonymousUserId_q).toBe('[]');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(b.sent).toHaveLength(5);
  });

  it('queues while offline and delivers once when the network returns', async () => {
    const t = await start();
    b.setOnline(false);
    t.track('a');
    t.track('b');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(JSON.parse(b.storage.anonymousUserId_q as string)).toHaveLength(2);
    b.setHidden(true); // no beacon while offline: it would be lost
    b.setHidden(false);
    b.setOnline(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(b.sent).toHaveLength(2);
    expect(b.sent[1]?.body.events.map((e) => e.name)).toEqual(['a', 'b']);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(events().filter((e) => e.type === 'action')).toHaveLength(2);
  });

  it('keeps unsent events in storage for the next page', async () => {
    b.respond = () => json({ error: { code: 'unavailable' } }, 503);
    const t = await start();
    t.track('a');
    const stored = JSON.parse(b.storage.anonymousUserId_q as string);
    expect(stored.map((e: { type: string }) => e.type)).toEqual(['pageview', 'action']);
    const sessionId = firstId();
    b.respond = (body) => json({ sessionId: body.sessionId, rotated: false, accepted: body.events.length });
    b.sent.length = 0;
    await start();
    await vi.advanceTimersByTimeAsync(2000);
    expect(b.sent).toHaveLength(1);
    expect(b.sent[0]?.body.sessionId).toBe(sessionId);
    expect(events().map((e) => e.type)).toEqual(['pageview', 'action', 'pageview']);
    expect(b.storage.anonymousUserId_q).toBe('[]');
  });

  it('retries on 429 like on 5xx', async () => {
    const t = await start();
    const ok = b.respond;
    b.respond = () => json({ error: { code: 'rate_limited' } }, 429);
    t.track('a');
    await vi.advanceTimersByTimeAsync(2000);
    b.respond = ok;
    await vi.advanceTimersByTimeAsync(1000);
    expect(b.sent.slice(1).map((r) => r.body.events[0]?.name)).toEqual(['a', 'a']);
    expect(b.storage.anonymousUserId_q).toBe('[]');
  });

  it('drops a batch the server refuses for good (4xx)', async () => {
    const t = await start();
    b.respond = () => json({ error: { code: 'validation_failed' } }, 400);
    t.track('x'.repeat(300));
    await vi.advanceTimersByTimeAsync(2000);
    expect(b.storage.anonymousUserId_q).toBe('[]');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(b.sent).toHaveLength(2);
  });

  it('hands the buffer to sendBeacon when the page is hidden, once', async () => {
    const t = await start();
    t.track('a');
    t.track('b');
    b.setHidden(true);
    b.fire('pagehide');
    expect(b.sent).toHaveLength(2);
    expect(b.sent[1]).toMatchObject({ url: TRACK, via: 'beacon' });
    expect(b.sent[1]?.body.sessionId).toBe(firstId());
    expect(b.sent[1]?.body.events.map((e) => e.name)).toEqual(['a', 'b']);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(b.sent).toHaveLength(2);
  });

  it('falls back to fetch keepalive when sendBeacon refuses', async () => {
    const t = await start();
    (navigator as { sendBeacon: unknown }).sendBeacon = () => false;
    t.track('a');
    b.fire('pagehide');
    await vi.advanceTimersByTimeAsync(0);
    expect(b.sent[1]).toMatchObject({ via: 'fetch', keepalive: true });
  });

  it('sends a beacon while the first call of a session is out, with the same session id', async () => {
    b.respond = () => new Promise(() => {});
    const t = await start();
    t.track('a');
    b.setHidden(true);
    expect(b.sent).toHaveLength(2);
    expect(b.sent[1]).toMatchObject({ via: 'beacon' });
    expect(b.sent[1]?.body.sessionId).toBe(firstId());
    expect(b.sent[1]?.body.events.map((e) => e.name)).toEqual(['a']);
    expect(b.storage.anonymousUserId_q).toBe('[]');
  });
});

describe('tracker: heartbeat', () => {
  it('sends an empty track call every heartbeatInterval while visible, none while hidden', async () => {
    await start({ heartbeatInterval: 10_000 });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(b.sent).toHaveLength(2);
    expect(b.sent[1]?.body).toMatchObject({ sessionId: firstId(), events: [] });
    b.setHidden(true);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(b.sent).toHaveLength(2);
  });

  it('keeps a visible page in its session past idleTimeout', async () => {
    const t = await start({ heartbeatInterval: 10_000, idleTimeout: 25_000 });
    await vi.advanceTimersByTimeAsync(100_000);
    expect(b.sent.length).toBeGreaterThan(5);
    expect(new Set(b.sent.map((r) => r.body.sessionId))).toEqual(new Set([firstId()]));
    expect(t.getState().sessionId).toBe(firstId());
  });
});

describe('tracker: navigation', () => {
  it('records a page view per URL change, not for the same URL', async () => {
    await start();
    history.pushState({}, '', '/docs');
    history.replaceState({}, '', '/docs');
    history.pushState({}, '', '/docs#install');
    history.pushState({}, '', '/pricing?plan=pro');
    b.fire('popstate');
    b.fire('hashchange');
    await vi.advanceTimersByTimeAsync(2000);
    expect(events().map((e) => `${e.type} ${e.page}`)).toEqual([
      'pageview /start',
      'pageview /docs',
      'pageview /docs',
      'pageview /pricing',
    ]);
  });
});

describe('tracker: errors', () => {
  it('records window errors and unhandled rejections, at most 10 per heartbeat interval', async () => {
    await start({ batchSize: 100 });
    const err = new TypeError('x is not a function');
    b.fire('error', { error: err, message: err.message });
    b.fire('unhandledrejection', { reason: 'nope' });
    for (let i = 0; i < 20; i++) b.fire('error', { error: null, message: 'Script error.' });
    await vi.advanceTimersByTimeAsync(2000);
    const errors = events().filter((e) => e.type === 'error');
    expect(errors).toHaveLength(10);
    expect(errors[0]).toMatchObject({ name: 'TypeError: x is not a function' });
    expect(errors[0]?.details).toMatchObject({ stack: expect.stringContaining('x is not a function') });
    expect(errors[1]).toMatchObject({ name: 'nope' });
    expect(errors[1]?.details).toBeUndefined();
    await vi.advanceTimersByTimeAsync(300_000);
    b.fire('error', { error: null, message: 'later' });
    await vi.advanceTimersByTimeAsync(2000);
    expect(events().filter((e) => e.type === 'error')).toHaveLength(11);
  });
});

describe('tracker: end', () => {
  it('ends the session with the buffered events, forgets the user, and starts anew on the next activity', async () => {
    const t = await start();
    t.identify('u_1');
    t.track('last');
    t.end('logout');
    await vi.advanceTimersByTimeAsync(0);
    expect(b.sent[1]?.body).toMatchObject({ sessionId: firstId(), userId: 'u_1', end: { reason: 'logout' } });
    expect(b.sent[1]?.body.events.map((e) => e.name)).toEqual(['last']);
    expect(t.getState().sessionId).toBeNull();
    t.track('next');
    await vi.advanceTimersByTimeAsync(0);
    expect(b.sent[2]?.body.sessionId).toMatch(ID);
    expect(b.sent[2]?.body.sessionId).not.toBe(firstId());
    expect(b.sent[2]?.body.userId).toBeUndefined();
    expect(b.sent[2]?.body.end).toBeUndefined();
  });
});

describe('tracker: privacy and environments', () => {
  it('does nothing with Do-Not-Track when respectDnt is set', async () => {
    (navigator as { doNotTrack: string }).doNotTrack = '1';
    const t = await start({ respectDnt: true });
    t.track('x');
    await vi.advanceTimersByTimeAsync(5000);
    expect(b.sent).toHaveLength(0);
    expect(b.storage).toEqual({});
  });

  it('ignores Do-Not-Track unless respectDnt is set', async () => {
    (navigator as { doNotTrack: string }).doNotTrack = '1';
    await start();
    expect(b.sent).toHaveLength(1);
  });

  it('works in memory when localStorage is blocked', async () => {
    uninstallBrowser();
    b = installBrowser({ storage: 'blocked' });
    const t = await start();
    expect(firstId()).toMatch(ID);
    expect(t.getState().sessionId).toBe(firstId());
    t.track('x');
    await vi.advanceTimersByTimeAsync(2000);
    expect(b.sent[1]?.body.sessionId).toBe(firstId());
  });

  it('initialises once', async () => {
    const t = await start();
    t.init({ writeKey: 'other' });
    await vi.advanceTimersByTimeAsync(5000);
    expect(b.sent).toHaveLength(1);
  });

  it('tells subscribers when the session changes', async () => {
    const t = await b.load();
    const seen: (string | null)[] = [];
    const stop = t.subscribe(() => seen.push(t.getState().sessionId));
    t.init({ writeKey: WRITE_KEY });
    await vi.advanceTimersByTimeAsync(0);
    expect(seen.at(-1)).toBe(firstId());
    expect(firstId()).toMatch(ID);
    stop();
    t.end();
    await vi.advanceTimersByTimeAsync(0);
    expect(seen.at(-1)).toBe(firstId());
    expect(b.sent.at(-1)?.body.end).toEqual({});
  });
});

describe('tracker: script tag', () => {
  it('reads the data-* attributes of its own tag and exposes window.sessiontrack', async () => {
    vi.stubGlobal(
      'document',
      Object.assign(document, {
        currentScript: {
          // Served from a path with a query: the endpoint is its origin.
          src: 'http://127.0.0.1:3000/static/tracker.min.js?v=3',
          dataset: { writeKey: 'wk_tag', heartbeatInterval: '10000', storageKey: 'st' },
        },
      }),
    );
    vi.resetModules();
    await import('./script.js');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(b.sent.map((r) => r.url)).toEqual([TRACK, TRACK]);
    expect(b.sent[0]?.body.writeKey).toBe('wk_tag');
    expect(b.storage.st).toBe(b.sent[0]?.body.anonymousId);
    const api = (window as unknown as { sessiontrack: Record<string, unknown> }).sessiontrack;
    expect(Object.keys(api).sort()).toEqual(['end', 'error', 'getState', 'identify', 'init', 'pageview', 'track']);
    expect((api.getState as () => unknown)()).toEqual({
      anonymousId: b.sent[0]?.body.anonymousId,
      sessionId: b.sent[0]?.body.sessionId,
    });
    expect(b.sent[0]?.body.sessionId).toMatch(ID);
  });
});

describe('tracker: engaged time (docs/metrics.md)', () => {
  const engaged = () => b.sent.reduce((n, r) => n + ((r.body as { engagedMs?: number }).engagedMs ?? 0), 0);

  it('counts visible time only: visible 3 s, hidden 10 s, visible 2 s, left → 5 s', async () => {
    await start();
    await vi.advanceTimersByTimeAsync(3_000);
    b.setHidden(true);
    // the beacon on hiding reports the 3 s
    expect(b.sent.at(-1)).toMatchObject({ via: 'beacon', body: { engagedMs: 3_000 } });
    await vi.advanceTimersByTimeAsync(10_000);
    b.setHidden(false);
    await vi.advanceTimersByTimeAsync(2_000);
    b.setHidden(true);
    b.fire('pagehide');
    expect(engaged()).toBe(5_000);
  });

  it('stops counting 30 s after the last input, scroll, pointer or key, and starts again with the next', async () => {
    await start({ heartbeatInterval: 3_600_000 });
    await vi.advanceTimersByTimeAsync(50_000);
    b.fire('pointermove');
    await vi.advanceTimersByTimeAsync(10_000);
    b.fire('keydown');
    await vi.advanceTimersByTimeAsync(5_000);
    b.fire('scroll');
    await vi.advanceTimersByTimeAsync(60_000);
    b.setHidden(true);
    // 30 s after load, then 10 + 5 + 30 s from the pointer on
    expect(engaged()).toBe(75_000);
  });

  it('reports with heartbeats and batches what came since the last report, never twice', async () => {
    const t = await start({ heartbeatInterval: 10_000 });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(b.sent[1]?.body).toMatchObject({ events: [], engagedMs: 10_000 });
    b.fire('pointermove');
    await vi.advanceTimersByTimeAsync(4_000);
    t.track('a');
    await vi.advanceTimersByTimeAsync(2_000);
    const batch = b.sent.find((r) => r.body.events.some((e) => e.name === 'a'));
    // the 2 s tick after the action: 6 s since the heartbeat
    expect(batch?.body).toMatchObject({ engagedMs: 6_000 });
    expect(engaged()).toBe(16_000);
  });

  it('does not resend what a failed report carried', async () => {
    const t = await start();
    b.respond = () => json({ error: { code: 'unavailable' } }, 503);
    await vi.advanceTimersByTimeAsync(1_000);
    t.track('a');
    await vi.advanceTimersByTimeAsync(2_000);
    // the batch at 2 s failed and was retried 1 s later with its events, but only the new second
    expect(b.sent.slice(1).map((r) => [r.body.events.length, (r.body as { engagedMs?: number }).engagedMs])).toEqual([
      [1, 2_000],
      [1, 1_000],
    ]);
  });
});
