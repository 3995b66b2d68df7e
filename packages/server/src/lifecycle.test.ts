import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from './app.testkit.js';

// The lifecycle on the real clock, with a project whose idle timeout is 1.5 s: expiry is a rule
// every answer applies, before the sweeper writes anything.

const IDLE_MS = 1500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let t: TestApp;
let key: string;
beforeEach(async () => {
  t = await createTestApp();
  key = (await t.project({ name: 'fast', idleTimeoutMs: IDLE_MS })).writeKey;
});
afterEach(async () => {
  await t.close();
});

/** The stored session of this id (in whichever project: these tests use each id once). */
const storedSession = async (id: string) => (await t.store.sessionsById(id))[0] ?? null;
const session = async (id: string) =>
  json(await t.read(`/api/v1/sessions/${id}?project=${(await storedSession(id))?.projectId}`));

describe('idle timeout', () => {
  it('ends at the last activity: reads show ended before the sweeper runs, and writes answer 410', async () => {
    const id = await t.start({ anonymousId: 'a', entry: { page: '/start' } }, key);
    await sleep(600);
    await t.ingest(`/api/v1/sessions/${id}/events`, { events: [{ id: 'e1', type: 'action', name: 'save' }] }, { key });
    const lastActivity = (await session(id)).lastActivityAt;
    await sleep(IDLE_MS + 300);

    // Nothing has written the end yet…
    expect((await storedSession(id))?.status).toBe('active');
    // …but every answer already shows it.
    const s = await session(id);
    expect(s).toMatchObject({
      status: 'ended',
      endedAt: lastActivity,
      exit: { reason: 'timeout', lastAction: 'save' },
    });
    expect(s.durationSeconds).toBe(Math.round((Date.parse(lastActivity) - Date.parse(s.startedAt)) / 1000));
    expect((await json(await t.read(`/api/v1/sessions/active?project=${s.projectId}`))).count).toBe(0);
    expect((await json(await t.read(`/api/v1/sessions?project=${s.projectId}&status=ended`))).sessions).toHaveLength(1);

    const events = await t.ingest(`/api/v1/sessions/${id}/events`, { events: [{ type: 'action' }] }, { key });
    expect(events.status).toBe(410);
    expect((await json(events)).error.code).toBe('session_ended');
    expect((await t.ingest(`/api/v1/sessions/${id}/heartbeat`, undefined, { key })).status).toBe(410);

    // The sweeper writes what the answers already said, once.
    expect(await t.store.sweepExpired(Date.now())).toBe(0); // the 410 above wrote it lazily
    const stored = await storedSession(id);
    expect(stored).toMatchObject({ status: 'ended', endedAt: Date.parse(lastActivity) });
    expect(stored?.exit.reason).toBe('timeout');
  });

  it('heartbeats keep a one-page visit alive and give it a real duration', async () => {
    const id = await t.start({ anonymousId: 'a', entry: { page: '/article' } }, key);
    for (let i = 0; i < 3; i++) {
      await sleep(700);
      const hb = await t.ingest(`/api/v1/sessions/${id}/heartbeat`, undefined, { key });
      expect(hb.status).toBe(200);
    }
    await sleep(IDLE_MS + 300);
    expect(await t.store.sweepExpired(Date.now())).toBe(1);
    const s = await session(id);
    expect(s.status).toBe('ended');
    expect(s.durationSeconds).toBeGreaterThanOrEqual(2);
    expect(s.endedAt).toBe(s.lastActivityAt);
  });

  it('/track continues a live session and rotates an expired one', async () => {
    const first = await json(
      await t.ingest('/api/v1/track', { anonymousId: 'a', events: [{ type: 'pageview', page: '/' }] }, { key }),
    );
    await sleep(500);
    const cont = await json(
      await t.ingest(
        '/api/v1/track',
        { anonymousId: 'a', sessionId: first.sessionId, events: [{ type: 'action' }] },
        { key },
      ),
    );
    expect(cont).toMatchObject({ sessionId: first.sessionId, rotated: false, accepted: 1 });
    await sleep(IDLE_MS + 300);
    const rotated = await json(
      await t.ingest(
        '/api/v1/track',
        { anonymousId: 'a', sessionId: first.sessionId, events: [{ type: 'action' }] },
        { key },
      ),
    );
    expect(rotated.rotated).toBe(true);
    expect(rotated.sessionId).not.toBe(first.sessionId);
    const old = await session(first.sessionId);
    expect(old).toMatchObject({ status: 'ended', exit: { reason: 'timeout' }, actions: 1 });
  });
});
