import type { Session } from './types.js';

// One session fixture for core's unit tests; each test file passes what it cares about.

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;
export const T0 = Date.parse('2025-06-01T10:00:00Z');

export function testSession(over: Partial<Session> = {}): Session {
  return {
    id: 's_test_0000000000000000',
    projectId: 'p_1',
    kind: 'web',
    userId: 'u_1',
    anonymousId: null,
    status: 'active',
    startedAt: T0,
    lastActivityAt: T0,
    endedAt: null,
    disconnectedAt: null,
    idleTimeoutMs: 30 * MIN,
    absoluteTimeoutMs: DAY,
    graceMs: 10 * MIN,
    maxRecoveryAttempts: 3,
    device: { type: null, browser: null, os: null, screenSize: null },
    entry: { page: '/', source: 'direct', referrer: null, campaign: null },
    exit: { page: '/', reason: null, lastAction: null },
    geo: { country: null, region: null, continent: null },
    transport: null,
    actions: 0,
    errors: 0,
    toolCalls: 0,
    workflows: 0,
    recoveryAttempts: 0,
    metadata: null,
    engagedMs: null,
    ...over,
  };
}
