import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createTestApp, type TestApp } from '../app.testkit.js';

// Random requests over every write route (issue 14, "tests that stay"): random JSON shapes and
// depths, strings with U+0000, lone surrogates and odd code points, sizes around the limits,
// broken JSON, odd ids in paths. Whatever comes in, the answer is below 500, in the error shape
// when refused, never carries a stack trace, and memory stays bounded. `npm test` runs 2,000
// cases; `npm run fuzz` runs 100,000 (FUZZ_RUNS) and prints the histogram of statuses.

const RUNS = Number(process.env.FUZZ_RUNS ?? 2_000);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);

let t: TestApp;
let live: string;
beforeAll(async () => {
  t = await createTestApp();
  live = await t.start({ anonymousId: 'fuzz', kind: 'mcp' });
});
afterAll(async () => {
  await t.close();
});

// ---- strings an attacker likes ----
const hostileChar = fc.constantFrom('\u0000', '\ud800', '\udfff', '\ufffd', '\u202e', '\u2028', '😀', '%00', '"', '\\');
const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 2,
    arbitrary: fc.array(fc.oneof(hostileChar, fc.string({ maxLength: 3 })), { maxLength: 12 }).map((a) => a.join('')),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 20_000 }).map((n) => 'x'.repeat(n)) },
);
const json = (maxDepth: number) =>
  fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', maxDepth },
      hostileString,
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('value'), { maxLength: 5 }),
      fc.dictionary(hostileString, tie('value'), { maxKeys: 5 }),
    ),
  })).value;
/** Nesting as text: a value this deep cannot be JSON.stringified by the test itself. */
const deepText = fc
  .tuple(fc.integer({ min: 1, max: 10_000 }), fc.constantFrom('[', '{"a":'))
  .map(([n, open]) => `${open.repeat(n)}1${(open === '[' ? ']' : '}').repeat(n)}`);

const eventShape = fc.record(
  {
    id: hostileString,
    type: fc.oneof(
      fc.constantFrom('pageview', 'action', 'error', 'tool_call', 'workflow_start', 'custom'),
      hostileString,
    ),
    name: hostileString,
    timestamp: fc.oneof(
      fc.integer(),
      fc.double(),
      hostileString,
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    ),
    page: hostileString,
    resourceId: hostileString,
    details: json(4),
  },
  { requiredKeys: [] },
);
const sessionShape = fc.record(
  {
    anonymousId: hostileString,
    userId: hostileString,
    sessionId: fc.oneof(hostileString, fc.string({ minLength: 16, maxLength: 20 })),
    kind: fc.oneof(fc.constantFrom('web', 'mcp', 'api'), hostileString),
    userAgent: hostileString,
    device: json(2),
    entry: fc.record({ page: hostileString, referrer: hostileString, campaign: hostileString }, { requiredKeys: [] }),
    metadata: json(6),
    events: fc.array(eventShape, { maxLength: 5 }),
    end: fc.record({ reason: hostileString }, { requiredKeys: [] }),
    page: hostileString,
    reason: fc.oneof(fc.constantFrom('logout', 'timeout'), hostileString),
    value: json(6),
    ttlMs: fc.oneof(fc.integer(), fc.double()),
    writeKey: hostileString,
  },
  { requiredKeys: [] },
);

/** A body as sent: a shaped object, any JSON, deep nesting, broken JSON, a big one, or none. */
const bodyText = fc.oneof(
  { weight: 8, arbitrary: sessionShape.map((b) => JSON.stringify(b)) },
  { weight: 3, arbitrary: json(8).map((v) => JSON.stringify(v) ?? 'null') },
  {
    weight: 2,
    arbitrary: deepText.map(
      (d) => `{"anonymousId":"a","metadata":{"x":${d}},"events":[{"type":"custom","details":{"d":${d}}}],"value":${d}}`,
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
  { weight: 1, arbitrary: fc.integer({ min: 200_000, max: 300_000 }).map((n) => `{"anonymousId":"${'a'.repeat(n)}"}`) },
  { weight: 1, arbitrary: fc.constant('') },
);

const sessionIdInPath = fc.oneof(
  { weight: 4, arbitrary: fc.constant('LIVE') },
  { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 30 }).map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.constantFrom('%00', 'a%00b', '%ED%A0%80', '%FF', '..%2F..', 'x'.repeat(200)) },
);

type Route = { method: string; path: (id: string) => string; admin?: boolean };
const ROUTES: Route[] = [
  { method: 'POST', path: () => '/api/v1/sessions/start' },
  { method: 'POST', path: (id) => `/api/v1/sessions/${id}/events` },
  { method: 'POST', path: (id) => `/api/v1/sessions/${id}/event` },
  { method: 'POST', path: (id) => `/api/v1/sessions/${id}/heartbeat` },
  { method: 'POST', path: (id) => `/api/v1/sessions/${id}/end` },
  { method: 'POST', path: (id) => `/api/v1/sessions/${id}/disconnect` },
  { method: 'POST', path: () => '/api/v1/track' },
  { method: 'PUT', path: (id) => `/api/v1/sessions/${id}/state/agent/k` },
  { method: 'GET', path: (id) => `/api/v1/sessions/${id}/state/agent/k` },
  { method: 'DELETE', path: (id) => `/api/v1/sessions/${id}/state/agent` },
  { method: 'POST', path: () => '/api/v1/import', admin: true },
];

const request = fc.record({
  route: fc.constantFrom(...ROUTES),
  id: sessionIdInPath,
  body: bodyText,
  contentType: fc.constantFrom(
    'application/json',
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
  ),
  withKey: fc.boolean(),
});

describe('fuzz: every write route', () => {
  it(
    `answers ${RUNS} random requests below 500, in the error shape, without a stack trace`,
    async () => {
      const statuses = new Map<number, number>();
      const rssBefore = process.memoryUsage().rss;
      let rssPeak = rssBefore;
      let n = 0;
      await fc.assert(
        fc.asyncProperty(request, async ({ route, id, body, contentType, withKey }) => {
          const headers: Record<string, string> = { 'content-type': contentType };
          if (route.admin) headers.authorization = `Bearer ${ADMIN_TOKEN}`;
          else if (withKey || route.method !== 'POST') headers['x-write-key'] = t.writeKey;
          const hasBody = route.method === 'POST' || route.method === 'PUT';
          if (hasBody) headers['content-length'] = String(Buffer.byteLength(body));
          const res = await t.app.request(route.path(id === 'LIVE' ? live : id), {
            method: route.method,
            headers,
            ...(hasBody ? { body } : {}),
          });
          const text = await res.text();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (++n % 500 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
          expect(res.status, text.slice(0, 300)).toBeLessThan(500);
          expect(text).not.toMatch(/\n\s+at |\.ts:\d+|node_modules/);
          if (res.status >= 400) {
            const error = JSON.parse(text).error;
            expect(typeof error.code).toBe('string');
            expect(typeof error.message).toBe('string');
          }
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
      await t.buffer.drain();
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      const histogram = [...statuses].sort(([a], [b]) => a - b).map(([s, c]) => `${s}: ${c}`);
      console.log(
        `fuzz (seed ${SEED}, ${RUNS} requests): ${histogram.join(', ')}; RSS ${mb(rssBefore)} → peak ${mb(rssPeak)} MB`,
      );
      // Bounded: what a request holds is freed; a leak of the bodies (up to 300 KB each) would not be.
      expect(rssPeak - rssBefore).toBeLessThan(400 * 1024 * 1024);
    },
    Math.max(60_000, RUNS * 30),
  );
});

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
