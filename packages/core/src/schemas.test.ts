import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  createProjectSchema,
  endSessionSchema,
  eventSchema,
  eventsBatchSchema,
  formatIssues,
  listSessionsQuery,
  MAX_METADATA_BYTES,
  sessionIdSchema,
  startSessionSchema,
  timeInput,
  trackSchema,
} from './schemas.js';
import { EVENT_TYPES } from './types.js';

/** The API's one-line message for a body that fails a schema. */
function messageOf(schema: z.ZodType, body: unknown): string {
  const r = schema.safeParse(body);
  if (r.success) throw new Error(`expected ${JSON.stringify(body)} to be rejected`);
  return formatIssues(r.error).message;
}

describe('startSessionSchema', () => {
  it('requires userId or anonymousId', () => {
    expect(startSessionSchema.safeParse({}).success).toBe(false);
    expect(startSessionSchema.safeParse({ userId: '', anonymousId: null }).success).toBe(false);
    expect(messageOf(startSessionSchema, { kind: 'web' })).toBe('userId: one of userId or anonymousId is required');
    expect(startSessionSchema.safeParse({ userId: 'u_42' }).success).toBe(true);
    expect(startSessionSchema.safeParse({ anonymousId: 'a_9f' }).success).toBe(true);
  });

  it("defaults kind to 'web' and accepts mcp and api only", () => {
    expect(startSessionSchema.parse({ userId: 'u' }).kind).toBe('web');
    expect(startSessionSchema.parse({ userId: 'u', kind: 'mcp' }).kind).toBe('mcp');
    expect(startSessionSchema.parse({ userId: 'u', kind: 'api' }).kind).toBe('api');
    expect(startSessionSchema.safeParse({ userId: 'u', kind: 'desktop' }).success).toBe(false);
  });

  it('accepts the full body of docs/api.md', () => {
    const body = {
      userId: 'u_42',
      anonymousId: 'a_9f00',
      kind: 'web',
      device: { type: 'desktop', browser: 'Firefox', os: 'Linux', screenSize: '1920x1080' },
      userAgent: 'Mozilla/5.0',
      entry: { page: '/pricing', referrer: 'https://news.example/', campaign: 'spring' },
      transport: 'streamable-http',
      metadata: { any: 'json', nested: { n: 1 } },
      sessionId: 'abcdefghijklmnop',
    };
    expect(startSessionSchema.parse(body)).toEqual(body);
  });

  it('rejects metadata over 8 KiB, counted in UTF-8 bytes', () => {
    const fits = { s: 'x'.repeat(MAX_METADATA_BYTES - 8) }; // {"s":"…"} adds 8 bytes
    expect(JSON.stringify(fits).length).toBe(MAX_METADATA_BYTES);
    expect(startSessionSchema.safeParse({ userId: 'u', metadata: fits }).success).toBe(true);
    const over = { s: 'x'.repeat(MAX_METADATA_BYTES - 7) };
    expect(messageOf(startSessionSchema, { userId: 'u', metadata: over })).toBe('metadata: at most 8192 bytes');
    // 3,000 euro signs are 3,000 UTF-16 units but 9,000 bytes on the wire.
    const wide = { s: '€'.repeat(3000) };
    expect(startSessionSchema.safeParse({ userId: 'u', metadata: wide }).success).toBe(false);
    expect(eventSchema.safeParse({ type: 'custom', details: wide }).success).toBe(false);
    expect(eventSchema.safeParse({ type: 'custom', details: over }).success).toBe(false);
  });

  it('rejects metadata that is not an object', () => {
    expect(startSessionSchema.safeParse({ userId: 'u', metadata: [1, 2] }).success).toBe(false);
    expect(startSessionSchema.safeParse({ userId: 'u', metadata: 'x' }).success).toBe(false);
    expect(startSessionSchema.safeParse({ userId: 'u', metadata: null }).success).toBe(true);
  });
});

describe('sessionIdSchema', () => {
  it('accepts 16 to 128 visible ASCII characters', () => {
    expect(sessionIdSchema.safeParse('a'.repeat(16)).success).toBe(true);
    expect(sessionIdSchema.safeParse('a'.repeat(128)).success).toBe(true);
    expect(sessionIdSchema.safeParse('s_!#$%&()*+,-./:;<=>?@[]^_`{|}~').success).toBe(true);
    expect(sessionIdSchema.safeParse('019012ab-7c3d-7e4f-8a9b-0c1d2e3f4a5b').success).toBe(true);
  });

  it('rejects short, long, spaced, control and non-ASCII ids', () => {
    for (const bad of [
      'a'.repeat(15),
      'a'.repeat(129),
      'abcdefgh ijklmnop',
      'abcdefghijklmnop\n',
      'abcdefgh\tijklmnop',
      'abcdefghijklmnopé',
      '',
    ]) {
      expect(sessionIdSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
    expect(sessionIdSchema.safeParse(1234567890123456).success).toBe(false);
  });

  it('is checked on start and on track', () => {
    expect(messageOf(startSessionSchema, { userId: 'u', sessionId: 'short' })).toBe(
      'sessionId: 16-128 visible ASCII characters',
    );
    expect(trackSchema.safeParse({ anonymousId: 'a', sessionId: 'short' }).success).toBe(false);
    expect(trackSchema.safeParse({ anonymousId: 'a', sessionId: null }).success).toBe(true);
  });
});

describe('eventSchema', () => {
  it('accepts every event type of docs/api.md and nothing else', () => {
    expect(EVENT_TYPES).toEqual([
      'pageview',
      'action',
      'error',
      'workflow_start',
      'workflow_complete',
      'workflow_fail',
      'tool_call',
      'custom',
    ]);
    for (const type of EVENT_TYPES) expect(eventSchema.safeParse({ type }).success, type).toBe(true);
    for (const type of ['click', 'PAGEVIEW', '', 1, null]) {
      expect(eventSchema.safeParse({ type }).success, String(type)).toBe(false);
    }
  });

  it('accepts the example event of docs/api.md', () => {
    const e = eventSchema.parse({
      id: 'e_01H',
      type: 'action',
      name: 'button_click',
      timestamp: 1763770000000,
      page: '/pricing',
      resourceId: 'buy-btn',
      details: { plan: 'pro' },
    });
    expect(e).toMatchObject({ id: 'e_01H', type: 'action', timestamp: 1763770000000, details: { plan: 'pro' } });
  });

  it('rejects an empty client event id', () => {
    expect(eventSchema.safeParse({ type: 'action', id: '' }).success).toBe(false);
    expect(eventSchema.safeParse({ type: 'action' }).success).toBe(true);
  });
});

describe('timeInput', () => {
  it('accepts epoch milliseconds', () => {
    expect(timeInput.parse(1763770000000)).toBe(1763770000000);
    expect(timeInput.parse(0)).toBe(0);
  });

  it('accepts ISO 8601 strings and turns them into epoch milliseconds', () => {
    expect(timeInput.parse('2025-11-22T00:06:40.000Z')).toBe(1763770000000);
    expect(timeInput.parse('2025-11-22T00:06:40Z')).toBe(1763770000000);
    expect(timeInput.parse('2025-11-22T01:06:40+01:00')).toBe(1763770000000);
    expect(timeInput.parse('2025-11-22')).toBe(Date.parse('2025-11-22T00:00:00Z'));
    expect(timeInput.parse('2025-11-22 00:06:40.000Z')).toBe(1763770000000);
    expect(timeInput.parse('2025-11-22T00:06:40.123456Z')).toBe(1763770000123);
  });

  it('reads a date-time without an offset as UTC, whatever the server zone', () => {
    expect(timeInput.parse('2025-11-22T00:06:40')).toBe(1763770000000);
    expect(timeInput.parse('2025-11-22T00:06')).toBe(1763769960000);
  });

  it('rejects anything else', () => {
    for (const bad of ['yesterday', '', '12', '1', '1763770000000', 'March 7 2020', '2025/11/22', -1, Number.NaN]) {
      expect(timeInput.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
    expect(messageOf(eventSchema, { type: 'action', timestamp: 'soon' })).toBe(
      'timestamp: not an ISO date-time or epoch milliseconds',
    );
  });
});

describe('other bodies', () => {
  it("defaults end's reason to logout and knows the four reasons", () => {
    expect(endSessionSchema.parse({}).reason).toBe('logout');
    for (const reason of ['logout', 'timeout', 'error', 'navigation']) {
      expect(endSessionSchema.parse({ reason }).reason).toBe(reason);
    }
    expect(endSessionSchema.safeParse({ reason: 'bored' }).success).toBe(false);
  });

  it('defaults track events to none and requires an identity', () => {
    expect(trackSchema.parse({ anonymousId: 'a' }).events).toEqual([]);
    expect(messageOf(trackSchema, { events: [] })).toBe('anonymousId: one of userId or anonymousId is required');
  });

  it('checks project time zones against the IANA database', () => {
    expect(createProjectSchema.safeParse({ name: 'p', timeZone: 'Europe/Berlin' }).success).toBe(true);
    expect(messageOf(createProjectSchema, { name: 'p', timeZone: 'Mars/Base' })).toBe(
      'timeZone: unknown IANA time zone',
    );
  });

  it('coerces list limits from query strings', () => {
    expect(listSessionsQuery.parse({ limit: '20' }).limit).toBe(20);
    expect(listSessionsQuery.parse({}).limit).toBe(50);
    expect(listSessionsQuery.safeParse({ limit: '0' }).success).toBe(false);
    expect(listSessionsQuery.safeParse({ from: '2025-1-1' }).success).toBe(false);
  });
});

describe('formatIssues', () => {
  it('names a missing field in an array as events[3].type: required', () => {
    const body = { events: [{ type: 'action' }, { type: 'error' }, { type: 'custom' }, { name: 'no type' }] };
    const r = formatIssues(eventsBatchSchema.safeParse(body).error as z.ZodError);
    expect(r.message).toBe('events[3].type: required');
    expect(r.details).toEqual([{ path: 'events[3].type', message: 'required' }]);
  });

  it('says required only for missing fields, not for wrong types', () => {
    expect(messageOf(eventsBatchSchema, {})).toBe('events: required');
    expect(messageOf(createProjectSchema, {})).toBe('name: required');
    const wrongType = messageOf(eventsBatchSchema, { events: [{ type: 'action', name: 5 }] });
    expect(wrongType).toMatch(/^events\[0\]\.name: /);
    expect(wrongType).not.toContain('required');
    expect(wrongType).toContain('string');
    const wrongValue = messageOf(eventsBatchSchema, { events: [{ type: 'click' }] });
    expect(wrongValue).toMatch(/^events\[0\]\.type: /);
    expect(wrongValue).not.toContain('required');
    expect(wrongValue).toContain('pageview');
    expect(messageOf(eventsBatchSchema, { events: 'x' })).not.toContain('required');
  });

  it('joins several issues with "; " and keeps one detail per issue', () => {
    const r = formatIssues(
      eventsBatchSchema.safeParse({ events: [{ type: 'action', name: 1 }, {}] }).error as z.ZodError,
    );
    expect(r.details.map((d) => d.path)).toEqual(['events[0].name', 'events[1].type']);
    expect(r.message).toBe(r.details.map((d) => `${d.path}: ${d.message}`).join('; '));
  });

  it('nests object paths with dots and leaves a root issue without a path', () => {
    expect(messageOf(startSessionSchema, { userId: 'u', device: { type: 7 } })).toMatch(/^device\.type: /);
    const root = formatIssues(eventsBatchSchema.safeParse('nope').error as z.ZodError);
    expect(root.details[0]?.path).toBe('');
    expect(root.message).not.toMatch(/^: /);
  });
});
