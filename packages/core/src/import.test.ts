import { describe, expect, it } from 'vitest';
import { importBodySchema, importedSession, importSessionSchema } from './import.js';

const NOW = Date.parse('2026-11-20T12:00:00.000Z');
const project = { id: 'default', idleTimeoutMs: null, absoluteTimeoutMs: null };
const parse = (v: unknown) => importSessionSchema.parse(v);

describe('importedSession', () => {
  it('counts the events as ingest would and takes the past times as given', () => {
    const start = NOW - 3 * 24 * 3600_000;
    const { session, events } = importedSession(
      parse({
        id: 'demo_session_000000001',
        userId: 'u_1',
        startedAt: new Date(start).toISOString(),
        entry: { page: '/pricing?utm_campaign=spring', referrer: 'https://news.example/a?b=c' },
        geo: { country: 'DE', region: 'BE' },
        end: { reason: 'navigation' },
        events: [
          { id: 'e2', type: 'action', name: 'buy', page: '/checkout', timestamp: start + 20_000 },
          { id: 'e1', type: 'pageview', page: 'https://x.example/docs?q=1', timestamp: start + 10_000 },
          { id: 'e3', type: 'tool_call', name: 'search', timestamp: start + 30_000, details: { isError: true } },
          { id: 'e4', type: 'workflow_start', name: 'checkout', timestamp: start + 40_000 },
        ],
      }),
      project,
      NOW,
    );
    expect(events.map((e) => e.id)).toEqual(['e1', 'e2', 'e3', 'e4']);
    expect(events[0]?.page).toBe('/docs');
    expect(session).toMatchObject({
      status: 'ended',
      startedAt: start,
      lastActivityAt: start + 40_000,
      endedAt: start + 40_000,
      actions: 1,
      errors: 1,
      toolCalls: 1,
      workflows: 1,
      idleTimeoutMs: 30 * 60_000,
      entry: { page: '/pricing', source: 'external', referrer: 'https://news.example/a', campaign: 'spring' },
      exit: { page: '/checkout', reason: 'navigation', lastAction: 'search' },
      geo: { country: 'DE', region: 'BE', continent: 'EU' },
    });
  });

  it('leaves a session without end open, and clamps times to [start, now]', () => {
    const { session, events } = importedSession(
      parse({
        id: 'demo_session_000000002',
        anonymousId: 'a_1',
        kind: 'mcp',
        transport: 'streamable-http',
        startedAt: NOW - 60_000,
        events: [
          { id: 'early', type: 'tool_call', name: 'x', timestamp: NOW - 120_000 },
          { id: 'late', type: 'tool_call', name: 'y', timestamp: NOW + 3600_000 },
        ],
      }),
      project,
      NOW,
    );
    expect(session.status).toBe('active');
    expect(session.endedAt).toBeNull();
    expect(session.idleTimeoutMs).toBe(3600_000);
    expect(events.map((e) => e.ts)).toEqual([NOW - 60_000, NOW]);
    expect(session.lastActivityAt).toBe(NOW);
  });

  it('keeps the engaged time an import gives (none: null), and refuses a negative one', () => {
    const at = NOW - 60_000;
    const base = { id: 'demo_session_000000009', userId: 'u', startedAt: at, end: { reason: 'logout' } };
    expect(importedSession(parse({ ...base, engagedMs: 30_000 }), project, NOW).session.engagedMs).toBe(30_000);
    expect(importedSession(parse(base), project, NOW).session.engagedMs).toBeNull();
    expect(importSessionSchema.safeParse({ ...base, engagedMs: -1 }).success).toBe(false);
  });

  it('refuses a start in the future', () => {
    expect(() =>
      importedSession(parse({ id: 'demo_session_000000003', userId: 'u', startedAt: NOW + 1 }), project, NOW),
    ).toThrow(RangeError);
  });
});

describe('importBodySchema', () => {
  it('needs event ids and times, an identity, and unique session ids', () => {
    const base = { id: 'demo_session_000000004', userId: 'u', startedAt: NOW };
    expect(importBodySchema.safeParse({ sessions: [base] }).success).toBe(true);
    expect(importBodySchema.safeParse({ sessions: [base, base] }).success).toBe(false);
    expect(importBodySchema.safeParse({ sessions: [{ ...base, userId: null }] }).success).toBe(false);
    expect(
      importBodySchema.safeParse({ sessions: [{ ...base, events: [{ type: 'action', timestamp: NOW }] }] }).success,
    ).toBe(false);
    expect(importBodySchema.safeParse({ sessions: [{ ...base, events: [{ id: 'e', type: 'action' }] }] }).success).toBe(
      false,
    );
    expect(importBodySchema.safeParse({ sessions: [] }).success).toBe(false);
  });

  it('measures metadata in bytes of UTF-8, as ingest does: 3,000 × € is 9,000 bytes, over the 8 KiB', () => {
    const base = { id: 'demo_session_000000005', userId: 'u', startedAt: NOW };
    const r = importBodySchema.safeParse({ sessions: [{ ...base, metadata: { note: '€'.repeat(3000) } }] });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['sessions', 0, 'metadata']);
    expect(importBodySchema.safeParse({ sessions: [{ ...base, metadata: { note: '€'.repeat(2500) } }] }).success).toBe(
      true,
    );
  });
});
