import { describe, expect, it } from 'vitest';
import { MIN, T0, testSession } from './session.testkit.js';
import type { Session, StoredEvent } from './types.js';
import { eventsToWire, sessionToWire } from './wire.js';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const session = (over: Partial<Session> = {}): Session =>
  testSession({
    anonymousId: 'a_1',
    lastActivityAt: T0 + 5 * MIN,
    device: { type: 'desktop', browser: 'Firefox', os: 'Linux', screenSize: '1920x1080' },
    entry: { page: '/pricing', source: 'external', referrer: 'https://news.example/', campaign: 'spring' },
    exit: { page: '/checkout', reason: null, lastAction: 'buy' },
    geo: { country: 'DE', region: 'BE', continent: 'EU' },
    actions: 3,
    workflows: 1,
    metadata: { plan: 'pro' },
    ...over,
  });

function event(ts: number, over: Partial<StoredEvent> = {}): StoredEvent {
  return {
    id: `e_${ts}`,
    sessionId: 's_test_0000000000000000',
    projectId: 'p_1',
    type: 'action',
    name: 'click',
    ts,
    receivedAt: ts + 40,
    page: '/pricing',
    resourceId: null,
    details: null,
    ...over,
  };
}

describe('sessionToWire', () => {
  it('sends times as ISO 8601 UTC strings', () => {
    const w = sessionToWire(session(), T0 + 6 * MIN);
    expect(w.startedAt).toBe('2025-06-01T10:00:00.000Z');
    expect(w.lastActivityAt).toBe('2025-06-01T10:05:00.000Z');
    expect(w.expiresAt).toBe('2025-06-01T10:35:00.000Z');
    expect(w.endedAt).toBeNull();
    for (const t of [w.startedAt, w.lastActivityAt, w.expiresAt]) expect(t).toMatch(ISO_UTC);
  });

  it('has every field of the session object of docs/api.md and none of the internal ones', () => {
    const w = sessionToWire(session(), T0 + 6 * MIN);
    for (const key of [
      'id',
      'projectId',
      'kind',
      'userId',
      'anonymousId',
      'status',
      'startedAt',
      'lastActivityAt',
      'endedAt',
      'durationSeconds',
      'device',
      'entry',
      'exit',
      'geo',
      'transport',
      'actions',
      'errors',
      'toolCalls',
      'workflows',
      'recoveryAttempts',
      'metadata',
    ]) {
      expect(w, key).toHaveProperty(key);
    }
    expect(w).not.toHaveProperty('disconnectedAt');
    expect(w).not.toHaveProperty('idleTimeoutMs');
    expect(JSON.parse(JSON.stringify(w))).toEqual(w);
  });

  it('shows a live session as it is, with its duration so far', () => {
    const w = sessionToWire(session(), T0 + 6 * MIN);
    expect(w.status).toBe('active');
    expect(w.durationSeconds).toBe(300);
    expect(w.exit.reason).toBeNull();
  });

  it('shows an expired session as ended at its last activity with reason timeout', () => {
    const stored = session();
    const w = sessionToWire(stored, T0 + 3 * 60 * MIN);
    expect(w.status).toBe('ended');
    expect(w.endedAt).toBe('2025-06-01T10:05:00.000Z');
    expect(w.durationSeconds).toBe(300);
    expect(w.exit).toEqual({ page: '/checkout', reason: 'timeout', lastAction: 'buy' });
    expect(w.expiresAt).toBeNull();
    expect(stored.status).toBe('active');
  });

  it('shows a disconnected session past its grace period as ended', () => {
    const w = sessionToWire(session({ status: 'disconnected', disconnectedAt: T0 + 6 * MIN }), T0 + 20 * MIN);
    expect(w).toMatchObject({ status: 'ended', endedAt: '2025-06-01T10:05:00.000Z' });
    expect(w.exit.reason).toBe('timeout');
  });

  it('gives a disconnected session in its grace period the end of the grace period as expiry', () => {
    const w = sessionToWire(session({ status: 'disconnected', disconnectedAt: T0 + 6 * MIN }), T0 + 10 * MIN);
    expect(w.status).toBe('disconnected');
    expect(w.expiresAt).toBe('2025-06-01T10:16:00.000Z');
  });

  it('keeps an explicitly ended session as it was ended', () => {
    const w = sessionToWire(
      session({ status: 'ended', endedAt: T0 + 7 * MIN, exit: { page: '/bye', reason: 'logout', lastAction: null } }),
      T0 + 60 * MIN,
    );
    expect(w).toMatchObject({ status: 'ended', endedAt: '2025-06-01T10:07:00.000Z', durationSeconds: 420 });
    expect(w.exit.reason).toBe('logout');
    expect(w.expiresAt).toBeNull();
  });
});

describe('eventsToWire', () => {
  it('sends times as ISO strings and the gap since the previous event', () => {
    const out = eventsToWire(
      [event(T0), event(T0 + 1500), event(T0 + 61_500, { type: 'pageview', name: null })],
      T0 - 2_000,
    );
    expect(out.map((e) => e.sinceLastMs)).toEqual([2_000, 1500, 60_000]);
    expect(out[0]).toEqual({
      id: `e_${T0}`,
      type: 'action',
      name: 'click',
      timestamp: '2025-06-01T10:00:00.000Z',
      receivedAt: '2025-06-01T10:00:00.040Z',
      page: '/pricing',
      resourceId: null,
      details: null,
      sinceLastMs: 2_000,
    });
    expect(out[2]?.timestamp).toBe('2025-06-01T10:01:01.500Z');
    expect(out[2]).not.toHaveProperty('sessionId');
    expect(out[2]).not.toHaveProperty('ts');
  });

  it('gives 0 for events at the same millisecond, at the start or (by a slow client clock) before it', () => {
    expect(eventsToWire([event(T0), event(T0, { id: 'other' })], T0).map((e) => e.sinceLastMs)).toEqual([0, 0]);
    expect(eventsToWire([event(T0 - 5_000), event(T0)], T0).map((e) => e.sinceLastMs)).toEqual([0, 5_000]);
    expect(eventsToWire([], T0)).toEqual([]);
  });
});
