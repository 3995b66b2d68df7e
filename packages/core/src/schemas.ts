import { z } from 'zod';
import { BREAKDOWN_DIMS, MAX_PATH_STEPS } from './analytics.js';
import { MAX_GRACE_MS, MAX_RECOVERY_ATTEMPTS } from './lifecycle.js';
import { RETENTION_PERIODS } from './retention.js';
import { END_REASONS, EVENT_TYPES, SESSION_KINDS } from './types.js';

// Wire schemas of docs/api.md. Every request body passes one of these at the boundary; what comes out
// is plain typed data for the pure functions of this package.

export const MAX_METADATA_BYTES = 8 * 1024;

const text = (max: number) => z.string().max(max);
const optionalText = (max: number) => text(max).nullish();

/**
 * Names a missing required field `required` (docs/api.md: `events[3].type: required`). zod 4 drops the
 * input from the issues it returns, so this must be decided where the issue is raised.
 */
const required = { error: (issue: { input?: unknown }) => (issue.input === undefined ? 'required' : undefined) };

/** ISO 8601 / RFC 3339 shapes only: Date.parse alone also takes '12' (December 2001) or 'March 7'. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Times in requests: ISO strings or epoch milliseconds. A date-time without an offset is UTC. */
export const timeInput = z.union(
  [
    z.number().finite().nonnegative(),
    z
      .string()
      .max(40)
      .transform((s, ctx) => {
        const m = ISO_TIME.exec(s);
        const t = m ? Date.parse(s.length > 10 && !m[1] ? `${s}Z` : s) : Number.NaN;
        if (Number.isNaN(t)) {
          ctx.addIssue({ code: 'custom', message: 'not an ISO date-time' });
          return z.NEVER;
        }
        return t;
      }),
  ],
  { error: 'not an ISO date-time or epoch milliseconds' },
);

const jsonObject = z.record(z.string(), z.unknown());

const utf8 = new TextEncoder();

/** A JSON object whose JSON is at most `maxBytes` of UTF-8 (encoded only when the length cannot decide). */
export const boundedObject = (maxBytes: number) =>
  jsonObject.refine(
    (o) => {
      const json = JSON.stringify(o);
      // One UTF-16 unit is 1 to 3 bytes of UTF-8 (a surrogate pair, 2 units, is 4 bytes).
      if (json.length > maxBytes) return false;
      return json.length * 3 <= maxBytes || utf8.encode(json).length <= maxBytes;
    },
    { message: `at most ${maxBytes} bytes` },
  );

/** Client-chosen session ids: 16-128 visible ASCII characters. */
export const sessionIdSchema = z.string().regex(/^[\x21-\x7e]{16,128}$/, '16-128 visible ASCII characters');

export const deviceSchema = z.object({
  type: optionalText(32),
  browser: optionalText(64),
  os: optionalText(64),
  screenSize: optionalText(32),
});

export const entrySchema = z.object({
  page: optionalText(2048),
  referrer: optionalText(2048),
  campaign: optionalText(256),
});

export const eventSchema = z.object({
  id: text(128).min(1).optional(),
  type: z.enum(EVENT_TYPES, required),
  name: optionalText(256),
  timestamp: timeInput.optional(),
  page: optionalText(2048),
  resourceId: optionalText(256),
  details: boundedObject(MAX_METADATA_BYTES).nullish(),
});
export type EventInput = z.infer<typeof eventSchema>;

const identity = {
  userId: optionalText(256),
  anonymousId: optionalText(256),
};

export const startSessionSchema = z
  .object({
    ...identity,
    kind: z.enum(SESSION_KINDS).default('web'),
    device: deviceSchema.optional(),
    userAgent: optionalText(1024),
    entry: entrySchema.optional(),
    transport: optionalText(64),
    metadata: boundedObject(MAX_METADATA_BYTES).nullish(),
    sessionId: sessionIdSchema.optional(),
    /** Recovery window after a disconnect (default 10 min); an MCP server sets its own. */
    graceMs: z.number().int().min(0).max(MAX_GRACE_MS).optional(),
    /** Recoveries allowed (default 3). */
    maxRecoveryAttempts: z.number().int().min(0).max(MAX_RECOVERY_ATTEMPTS).optional(),
    writeKey: z.string().optional(),
  })
  .refine((b) => Boolean(b.userId || b.anonymousId), {
    message: 'one of userId or anonymousId is required',
    path: ['userId'],
  });
export type StartSessionInput = z.infer<typeof startSessionSchema>;

/** Engaged milliseconds since the client's last report: the server adds the reports up. */
const engagedMsSchema = z
  .number()
  .int()
  .min(0)
  .max(365 * 24 * 60 * 60 * 1000)
  .optional();

export const heartbeatSchema = z.object({
  page: optionalText(2048),
  engagedMs: engagedMsSchema,
  writeKey: z.string().optional(),
});
export type HeartbeatInput = z.infer<typeof heartbeatSchema>;

export const eventsBatchSchema = z.object({
  events: z.array(eventSchema, required),
  writeKey: z.string().optional(),
});

export const endSessionSchema = z.object({
  reason: z.enum(END_REASONS).default('logout'),
  page: optionalText(2048),
  lastAction: optionalText(256),
  writeKey: z.string().optional(),
});
export type EndSessionInput = z.infer<typeof endSessionSchema>;

export const trackSchema = z
  .object({
    ...identity,
    writeKey: z.string().optional(),
    sessionId: sessionIdSchema.nullish(),
    kind: z.enum(SESSION_KINDS).default('web'),
    device: deviceSchema.optional(),
    userAgent: optionalText(1024),
    entry: entrySchema.optional(),
    events: z.array(eventSchema).default([]),
    engagedMs: engagedMsSchema,
    end: z.object({ reason: z.enum(END_REASONS).default('logout') }).optional(),
  })
  .refine((b) => Boolean(b.userId || b.anonymousId), {
    message: 'one of userId or anonymousId is required',
    path: ['anonymousId'],
  });
export type TrackInput = z.infer<typeof trackSchema>;

const timeZoneSchema = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'unknown IANA time zone' },
);

/**
 * An allowed origin: http(s) only, kept as its origin (scheme, host, port). Any other scheme has
 * the opaque origin "null", which would then admit `Origin: null` (sandboxed iframes, file:).
 */
const originSchema = z
  .string()
  .max(512)
  .refine(
    (o) => {
      try {
        const u = new URL(o);
        return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin !== 'null';
      } catch {
        return false;
      }
    },
    { message: 'must be an http(s) origin, like https://app.example.com' },
  )
  .transform((o) => new URL(o).origin);

const projectFields = {
  name: z.string(required).min(1).max(200),
  allowedOrigins: z.array(originSchema).max(100),
  timeZone: timeZoneSchema,
  idleTimeoutMs: z.number().int().min(1000).max(2_592_000_000),
  absoluteTimeoutMs: z.number().int().min(1000).max(31_536_000_000),
  retentionDays: z.number().int().min(1).max(3650),
  rateLimitPerMinute: z.number().int().min(0),
  bounceSeconds: z.number().int().min(1).max(3600),
  bounceMaxActions: z.number().int().min(0).max(1000),
};

export const createProjectSchema = z.object({
  name: projectFields.name,
  allowedOrigins: projectFields.allowedOrigins.optional(),
  timeZone: projectFields.timeZone.optional(),
  idleTimeoutMs: projectFields.idleTimeoutMs.optional(),
  absoluteTimeoutMs: projectFields.absoluteTimeoutMs.optional(),
  retentionDays: projectFields.retentionDays.optional(),
  rateLimitPerMinute: projectFields.rateLimitPerMinute.optional(),
  bounceSeconds: projectFields.bounceSeconds.optional(),
  bounceMaxActions: projectFields.bounceMaxActions.optional(),
});
export type CreateProjectInput = z.infer<typeof createProjectSchema>;

/** PATCH /projects/{id}: any of the create fields; null resets a timeout or bounce rule; unknown fields are refused. */
export const updateProjectSchema = z.strictObject({
  name: projectFields.name.optional(),
  allowedOrigins: projectFields.allowedOrigins.optional(),
  timeZone: projectFields.timeZone.optional(),
  idleTimeoutMs: projectFields.idleTimeoutMs.nullable().optional(),
  absoluteTimeoutMs: projectFields.absoluteTimeoutMs.nullable().optional(),
  retentionDays: projectFields.retentionDays.optional(),
  rateLimitPerMinute: projectFields.rateLimitPerMinute.optional(),
  bounceSeconds: projectFields.bounceSeconds.nullable().optional(),
  bounceMaxActions: projectFields.bounceMaxActions.nullable().optional(),
});

/** POST /projects/{id}/rotate-key: how long the previous key keeps working (default a day). */
export const rotateKeySchema = z.strictObject({
  graceSeconds: z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(86_400),
});

/** POST /projects/{id}/share. */
export const createShareSchema = z.strictObject({
  label: z.string().max(200).optional(),
});

export const cleanupSchema = z.object({
  daysInactive: z.number().int().min(0).max(36500).default(30),
});

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD');

export const listSessionsQuery = z.object({
  project: z.string().optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
  userId: z.string().max(256).optional(),
  status: z.enum(['active', 'disconnected', 'ended', 'live']).optional(),
  kind: z.enum(SESSION_KINDS).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(512).optional(),
});
export type ListSessionsQuery = z.infer<typeof listSessionsQuery>;

export const activeQuery = z.object({
  project: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(1000),
});

export const historyQuery = z.object({
  project: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(10),
});

/**
 * One readable line from a zod error, naming the field as docs/api.md shows it:
 * `events[3].type: required`.
 */
export function formatIssues(error: z.ZodError): { message: string; details: { path: string; message: string }[] } {
  const details = error.issues.map((issue) => ({ path: formatPath(issue.path), message: issueMessage(issue) }));
  const message = details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ');
  return { message, details };
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  // The input is on the issue only when the caller parsed with `reportInput: true`.
  const missing = 'input' in issue && issue.input === undefined;
  if (missing && (issue.code === 'invalid_type' || issue.code === 'invalid_value')) return 'required';
  return issue.message;
}

/**
 * Query of the /stats routes: a date range (inclusive, project time zone), the sessions' kind
 * (default: all kinds), optional `by` and `limit`.
 */
export const statsQuery = z.object({
  project: z.string().optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
  kind: z.enum(SESSION_KINDS).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(20),
});

export const breakdownQuery = statsQuery.extend({
  by: z.enum(BREAKDOWN_DIMS),
});

/** /stats/countries lists 10 countries unless asked otherwise. */
export const countriesQuery = statsQuery.extend({ limit: statsQuery.shape.limit.default(10) });

/** /stats/paths: sequences of at most `steps` (1–5) steps, the 10 most common unless asked otherwise. */
export const pathsQuery = statsQuery.extend({
  steps: z.coerce.number().int().min(1).max(MAX_PATH_STEPS).default(3),
  limit: statsQuery.shape.limit.default(10),
});

/** GET /stats/retention: a range and the cohort period (docs/api.md, "Retention"). */
export const retentionQuery = statsQuery.omit({ limit: true }).extend({
  period: z.enum(RETENTION_PERIODS).default('week'),
});

/** GET /users: a range, a page size and the cursor of the previous page. */
export const usersQuery = z.object({
  project: z.string().optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(512).optional(),
});

/** The read routes a stats batch part can be (docs/api.md, "Several stats in one request"). */
export const STATS_BATCH_MAX_PARTS = 32;
// A part is the route's own query (its project is the batch's) plus `route`.
const statsPart = statsQuery.omit({ project: true });
const on = <R extends string>(route: R) => ({ route: z.literal(route) });
export const statsBatchPart = z.discriminatedUnion('route', [
  statsPart.extend(on('summary')),
  statsPart.extend(on('daily')),
  breakdownQuery.omit({ project: true }).extend(on('breakdown')),
  countriesQuery.omit({ project: true }).extend(on('countries')),
  statsPart.extend(on('activity')),
  statsPart.extend(on('together')),
  statsPart.extend(on('exits')),
  statsPart.extend(on('durations')),
  statsPart.extend(on('workflows/abandoned')),
  pathsQuery.omit({ project: true }).extend(on('paths')),
  statsPart.extend(on('tools')),
  listSessionsQuery.omit({ project: true }).extend(on('sessions')),
]);
export type StatsBatchPart = z.infer<typeof statsBatchPart>;

/**
 * POST /api/v1/stats/batch: named parts, each the query of one read route (`route` says which);
 * the answer has the same names, each holding exactly what that route answers.
 */
const PART_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
export const statsBatchSchema = z.object({
  parts: z
    .record(z.string(), statsBatchPart)
    .refine((p) => Object.keys(p).length >= 1, 'at least one part')
    .refine((p) => Object.keys(p).length <= STATS_BATCH_MAX_PARTS, `at most ${STATS_BATCH_MAX_PARTS} parts`)
    .refine(
      (p) => Object.keys(p).every((k) => PART_NAME.test(k)),
      'a part name is a letter, then up to 63 letters, digits, _ or -',
    ),
});

/** POST /api/v1/sessions/{id}/disconnect: optionally, the principal the caller expects the session to have. */
export const disconnectSchema = z.object({
  userId: z.string().max(256).nullable().optional(),
  writeKey: z.string().optional(),
});

/** PUT /api/v1/sessions/{id}/state/{agentId}/{key}: an MCP agent-state value (any JSON) and its TTL. */
export const agentStateSetSchema = z.object({
  value: z.unknown().refine((v) => v !== undefined, 'required'),
  ttlMs: z
    .number()
    .int()
    .positive()
    .max(365 * 24 * 60 * 60 * 1000)
    .nullish(),
  writeKey: z.string().optional(),
});
