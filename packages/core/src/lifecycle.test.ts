import { describe, expect, it } from 'vitest';
import {
  canRecover,
  DEFAULT_GRACE_MS,
  decideActivity,
  durationSeconds,
  effectiveSession,
  effectiveStatus,
  expiresAt,
  isLive,
  policyFor,
  timeoutEnd,
} from './lifecycle.js';
import { DAY, HOUR, MIN, T0, testSession } from './session.testkit.js';
import type { Session } from './types.js';

const session = (over: Partial<Session> = {}): Session =>
  testSession({
    device: { type: 'desktop', browser: 'Firefox', os: 'Linux', screenSize: null },
    exit: { page: '/pricing', reason: null, lastAction: 'buy' },
    actions: 2,
    ...over,
  });

describe('policyFor', () => {
  it('uses the kind defaults: web 30 min / 24 h, mcp 1 h / 30 days, grace 10 min, 3 attempts', () => {
    const none = { idleTimeoutMs: null, absoluteTimeoutMs: null };
    expect(policyFor(none, 'web')).toEqual({
      idleTimeoutMs: 30 * MIN,
      absoluteTimeoutMs: DAY,
      graceMs: 10 * MIN,
      maxRecoveryAttempts: 3,
    });
    expect(policyFor(none, 'mcp')).toMatchObject({ idleTimeoutMs: HOUR, absoluteTimeoutMs: 30 * DAY });
  });

  it("prefers the project's own timeouts", () => {
    expect(policyFor({ idleTimeoutMs: 5 * MIN, absoluteTimeoutMs: HOUR }, 'mcp')).toMatchObject({
      idleTimeoutMs: 5 * MIN,
      absoluteTimeoutMs: HOUR,
    });
  });
});

describe('idle timeout', () => {
  const s = session({ lastActivityAt: T0 + 10 * MIN });

  it('expires idleTimeout after the last activity, not after the start', () => {
    expect(expiresAt(s)).toBe(T0 + 40 * MIN);
    expect(isLive(s, T0 + 40 * MIN - 1)).toBe(true);
    expect(isLive(s, T0 + 40 * MIN)).toBe(false);
    expect(effectiveStatus(s, T0 + 39 * MIN)).toBe('active');
    expect(effectiveStatus(s, T0 + 41 * MIN)).toBe('ended');
  });

  it('ends the session at its last activity, whenever the expiry is noticed', () => {
    for (const noticed of [T0 + 41 * MIN, T0 + 3 * HOUR, T0 + 40 * DAY]) {
      const e = effectiveSession(s, noticed);
      expect(e.status).toBe('ended');
      expect(e.endedAt).toBe(T0 + 10 * MIN);
      expect(e.exit).toEqual({ page: '/pricing', reason: 'timeout', lastAction: 'buy' });
      expect(durationSeconds(e)).toBe(600);
    }
  });
});

describe('absolute cap', () => {
  it('ends a continuously active session at startedAt + absoluteTimeout', () => {
    const s = session({ lastActivityAt: T0 + DAY - MIN });
    expect(expiresAt(s)).toBe(T0 + DAY);
    expect(isLive(s, T0 + DAY - 1)).toBe(true);
    expect(isLive(s, T0 + DAY)).toBe(false);
    const e = effectiveSession(s, T0 + DAY + 1);
    expect(e.status).toBe('ended');
    expect(e.endedAt).toBe(T0 + DAY - MIN);
    expect(e.exit.reason).toBe('timeout');
  });

  it('follows the per-session timeouts', () => {
    const s = session({ kind: 'mcp', idleTimeoutMs: HOUR, absoluteTimeoutMs: 2 * HOUR, lastActivityAt: T0 + 90 * MIN });
    expect(expiresAt(s)).toBe(T0 + 2 * HOUR);
  });
});

describe('disconnected sessions and recovery', () => {
  const disconnected = (over: Partial<Session> = {}) =>
    session({ status: 'disconnected', lastActivityAt: T0 + 5 * MIN, disconnectedAt: T0 + 6 * MIN, ...over });

  it('stay live for the grace period after the disconnect', () => {
    const s = disconnected();
    expect(expiresAt(s)).toBe(T0 + 6 * MIN + DEFAULT_GRACE_MS);
    expect(isLive(s, T0 + 15 * MIN)).toBe(true);
    expect(isLive(s, T0 + 16 * MIN)).toBe(false);
    expect(effectiveStatus(s, T0 + 15 * MIN)).toBe('disconnected');
  });

  it('are recoverable inside the grace period with fewer than 3 attempts', () => {
    expect(canRecover(disconnected(), T0 + 7 * MIN)).toBe(true);
    expect(canRecover(disconnected({ recoveryAttempts: 2 }), T0 + 7 * MIN)).toBe(true);
    expect(canRecover(disconnected({ recoveryAttempts: 3 }), T0 + 7 * MIN)).toBe(false);
    expect(canRecover(disconnected(), T0 + 16 * MIN)).toBe(false);
  });

  it('are not recoverable when the idle timeout passes first', () => {
    const s = disconnected({ idleTimeoutMs: 8 * MIN });
    expect(canRecover(s, T0 + 12 * MIN)).toBe(true);
    expect(canRecover(s, T0 + 13 * MIN)).toBe(false);
  });

  it("honour the session's own grace period and attempt limit", () => {
    const own = { graceMs: MIN, maxRecoveryAttempts: 1 };
    expect(canRecover(disconnected(own), T0 + 6 * MIN + 30_000)).toBe(true);
    expect(canRecover(disconnected(own), T0 + 8 * MIN)).toBe(false);
    expect(canRecover(disconnected({ ...own, recoveryAttempts: 1 }), T0 + 7 * MIN)).toBe(false);
    // a longer grace outlives the default 10 minutes, and expiry follows it
    const long = disconnected({ graceMs: 2 * HOUR, idleTimeoutMs: DAY });
    expect(canRecover(long, T0 + 90 * MIN)).toBe(true);
    expect(effectiveSession(long, T0 + 90 * MIN).status).toBe('disconnected');
    expect(effectiveSession(long, T0 + 2 * HOUR + 6 * MIN).status).toBe('ended'); // disconnected at T0 + 6 min
  });

  it('only disconnected sessions are recovered', () => {
    expect(canRecover(session(), T0 + MIN)).toBe(false);
    expect(canRecover(session({ status: 'ended', endedAt: T0 }), T0 + MIN)).toBe(false);
  });

  it('end at their last activity once the grace period has passed', () => {
    const e = effectiveSession(disconnected(), T0 + HOUR);
    expect(e).toMatchObject({ status: 'ended', endedAt: T0 + 5 * MIN });
    expect(e.exit.reason).toBe('timeout');
  });
});

describe('decideActivity', () => {
  it('continues a live active session', () => {
    expect(decideActivity(session(), T0 + 29 * MIN)).toBe('continue');
  });

  it('recovers a disconnected session inside its grace period', () => {
    const s = session({ status: 'disconnected', disconnectedAt: T0 + MIN, recoveryAttempts: 2 });
    expect(decideActivity(s, T0 + 5 * MIN)).toBe('recover');
  });

  it('answers ended for an expired, an ended, or an unrecoverable session', () => {
    expect(decideActivity(session(), T0 + 30 * MIN)).toBe('ended');
    expect(decideActivity(session({ lastActivityAt: T0 + DAY - MIN }), T0 + DAY)).toBe('ended');
    expect(
      decideActivity(session({ status: 'ended', endedAt: T0 + MIN, exit: timeoutEnd(session()).exit }), T0 + 2 * MIN),
    ).toBe('ended');
    const d = session({ status: 'disconnected', disconnectedAt: T0 + MIN });
    expect(decideActivity(d, T0 + 12 * MIN)).toBe('ended');
    expect(decideActivity({ ...d, recoveryAttempts: 3 }, T0 + 5 * MIN)).toBe('ended');
  });

  it("uses the session's own grace period", () => {
    const d = session({ status: 'disconnected', disconnectedAt: T0 + MIN });
    expect(decideActivity({ ...d, graceMs: 20 * MIN }, T0 + 20 * MIN)).toBe('recover');
    expect(decideActivity({ ...d, graceMs: MIN }, T0 + 3 * MIN)).toBe('ended');
  });
});

describe('effectiveSession', () => {
  it('leaves a live session untouched (same object)', () => {
    const s = session({ lastActivityAt: T0 + 5 * MIN });
    expect(effectiveSession(s, T0 + 20 * MIN)).toBe(s);
    const d = session({ status: 'disconnected', disconnectedAt: T0 + MIN });
    expect(effectiveSession(d, T0 + 5 * MIN)).toBe(d);
  });

  it('leaves an ended session as it was written', () => {
    const s = session({
      status: 'ended',
      endedAt: T0 + 3 * MIN,
      exit: { page: '/bye', reason: 'logout', lastAction: null },
    });
    expect(effectiveSession(s, T0 + 10 * DAY)).toBe(s);
  });

  it('does not mutate the stored session when ending it', () => {
    const s = session();
    const e = effectiveSession(s, T0 + HOUR);
    expect(e).not.toBe(s);
    expect(s.status).toBe('active');
    expect(s.endedAt).toBeNull();
    expect(s.exit.reason).toBeNull();
    expect(e).toEqual({ ...s, status: 'ended', endedAt: T0, exit: { ...s.exit, reason: 'timeout' } });
  });
});

describe('durationSeconds', () => {
  it('runs from the start to the end', () => {
    expect(durationSeconds({ startedAt: T0, lastActivityAt: T0 + 10 * MIN, endedAt: T0 + 95_000 })).toBe(95);
  });

  it('runs to the last activity while the session has not ended', () => {
    expect(durationSeconds({ startedAt: T0, lastActivityAt: T0 + 61_400, endedAt: null })).toBe(61);
    expect(durationSeconds({ startedAt: T0, lastActivityAt: T0 + 61_600, endedAt: null })).toBe(62);
  });

  it('is 0 for a one-event session and never negative', () => {
    expect(durationSeconds({ startedAt: T0, lastActivityAt: T0, endedAt: null })).toBe(0);
    expect(durationSeconds({ startedAt: T0, lastActivityAt: T0, endedAt: T0 - 5000 })).toBe(0);
  });
});
