import {
  addTotals,
  buildSession,
  COUNT_DIMS,
  computeDays,
  type DayRollup,
  dayStart,
  type EventType,
  emptyTotals,
  normalizeEvent,
  type Project,
  type RangeTotals,
  type Session,
  type SessionKind,
} from '@sessiontrack/core';
import fc from 'fast-check';
import { analyticsOptions } from './analytics.js';
import type { Store, WriteOp } from './store.js';

// Random traffic for the analytics property test (conformance/analytics.case.test.ts) and the reference it is checked
// against: core's definitions applied to the raw rows read back through the ordinary read calls
// (listSessions, getEvents), not through the analytics path under test.

const MIN = 60_000;
const HOUR = 60 * MIN;

export interface EventSpec {
  type: EventType;
  name: string;
  workflowId: string | null;
  afterMs: number;
  /** A tool call's details.durationMs (as the MCP integration records it). */
  durationMs: number | null;
}

export interface SessionSpec {
  /** Offset from the traffic's base time. */
  startMs: number;
  userId: string | null;
  anonymousId: string | null;
  kind: SessionKind;
  country: string | null;
  region: string | null;
  entryPage: string | null;
  /** The client's name in the session's metadata (as packages/mcp writes it). */
  client: string | null;
  events: EventSpec[];
  /** A heartbeat after the events reporting this engaged time (as the tracker does), or none. */
  engagedMs: number | null;
  /** identify() after the events (a track call with this user id), which moves the session to that user. */
  identifyAs: string | null;
  /** Ended explicitly this long after its last event, or left to live / time out. */
  endAfterMs: number | null;
}

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);

export const eventSpec: fc.Arbitrary<EventSpec> = fc.record({
  type: pick([
    'action',
    'action',
    'tool_call',
    'error',
    'workflow_start',
    'workflow_complete',
    'workflow_fail',
    'pageview',
  ] as const),
  name: pick(['export', 'filter', 'share', 'search', 'echo']),
  workflowId: fc.option(pick(['checkout', 'signup']), { nil: null }),
  afterMs: fc.integer({ min: 0, max: 20 * MIN }),
  durationMs: fc.option(fc.double({ min: 0, max: 5000, noNaN: true }), { nil: null }),
});

/** Sessions over about four days: around midnights, with users shared between sessions. */
export const sessionSpec: fc.Arbitrary<SessionSpec> = fc.record({
  startMs: fc.oneof(fc.integer({ min: 0, max: 4 * 24 * HOUR }), fc.integer({ min: 22 * HOUR, max: 26 * HOUR })),
  userId: fc.option(pick(['u1', 'u2', 'u3', 'u4']), { nil: null }),
  anonymousId: fc.option(pick(['a1', 'a2']), { nil: null }),
  kind: pick(['web', 'web', 'mcp', 'api'] as const),
  country: fc.option(pick(['DE', 'FR', 'US']), { nil: null }),
  region: fc.option(pick(['BE', 'BY', 'CA']), { nil: null }),
  entryPage: fc.option(pick(['/', '/pricing', '/docs']), { nil: null }),
  client: fc.option(pick(['claude-code', 'cursor']), { nil: null }),
  events: fc.array(eventSpec, { maxLength: 8 }),
  // Sometimes more than the session will last: the aggregates count at most its duration.
  engagedMs: fc.option(fc.integer({ min: 0, max: 30 * MIN }), { nil: null }),
  identifyAs: fc.option(pick(['u1', 'u5']), { nil: null }),
  endAfterMs: fc.option(fc.integer({ min: 0, max: 40 * MIN }), { nil: null }),
});

/** Writes the traffic through `commit`, each step with its own clock, as ingest would. */
export async function writeTraffic(store: Store, project: Project, base: number, specs: readonly SessionSpec[]) {
  let n = 0;
  for (const spec of specs) {
    const at = base + spec.startMs;
    const session = buildSession(
      {
        kind: spec.kind,
        userId: spec.userId ?? undefined,
        anonymousId: spec.anonymousId ?? undefined,
        entry: spec.entryPage ? { page: spec.entryPage } : undefined,
        transport: spec.kind === 'mcp' ? 'streamable-http' : undefined,
        metadata: spec.client === null ? undefined : { clientName: spec.client },
      },
      {
        project,
        now: at,
        origin: null,
        userAgent: null,
        geo: { country: spec.country, region: spec.country ? spec.region : null, continent: null },
      },
      `s_${project.id}_${String(++n).padStart(6, '0')}`,
    );
    const ops: { op: WriteOp; now: number }[] = [{ op: { op: 'start', session }, now: at }];
    let t = at;
    spec.events.forEach((e, i) => {
      t += e.afterMs;
      const event = normalizeEvent(
        {
          id: `e${i}`,
          type: e.type,
          name: e.name,
          timestamp: t,
          page: `/p/${e.name}`,
          details:
            e.workflowId || e.durationMs !== null
              ? {
                  ...(e.workflowId ? { workflowId: e.workflowId } : {}),
                  ...(e.durationMs !== null ? { durationMs: e.durationMs } : {}),
                }
              : undefined,
        },
        t,
      );
      ops.push({ op: { op: 'events', projectId: project.id, sessionId: session.id, events: [event] }, now: t });
    });
    if (spec.engagedMs !== null) {
      ops.push({
        op: { op: 'heartbeat', projectId: project.id, sessionId: session.id, page: null, engagedMs: spec.engagedMs },
        now: t,
      });
    }
    if (spec.identifyAs !== null) {
      // A track call continues the session while it is live (else it starts a new one, as ingest does).
      const newSession = {
        ...session,
        id: `${session.id}_i`,
        userId: spec.identifyAs,
        startedAt: t,
        lastActivityAt: t,
      };
      ops.push({
        op: { op: 'track', projectId: project.id, sessionId: session.id, newSession, events: [], end: null },
        now: t,
      });
    }
    if (spec.endAfterMs !== null) {
      t += spec.endAfterMs;
      ops.push({
        op: { op: 'end', projectId: project.id, sessionId: session.id, reason: 'logout', page: null, lastAction: null },
        now: t,
      });
    }
    // A step whose session has timed out meanwhile answers 410: that is part of the traffic.
    for (const { op, now } of ops) await store.commit([op], now);
  }
}

/** The reference: core's definitions over the raw rows of [fromDate, toDate] (of one kind, or all). */
export async function referenceRange(
  store: Store,
  project: Project,
  fromDate: string,
  toDate: string,
  now: number,
  kind?: SessionKind,
) {
  const from = dayStart(fromDate, project.timeZone);
  const to = dayStart(nextDate(toDate), project.timeZone);
  const sessions: Session[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listSessions({ projectId: project.id, from, to, limit: 500, cursor }, now);
    sessions.push(...page.sessions.filter((s) => kind === undefined || s.kind === kind));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  const events = [];
  for (const s of sessions) events.push(...(await store.getEvents(s.projectId, s.id)));
  const days = computeDays(sessions, events, fromDate, toDate, analyticsOptions(project), now);
  const totals = emptyTotals();
  const users = new Set<string>();
  for (const d of days) {
    addTotals(totals, d, COUNT_DIMS);
    for (const u of d.users) users.add(u);
  }
  return { days, totals, uniqueUsers: users.size };
}

function nextDate(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** Days without their user lists (stored rollups do not load them), for comparison. */
export const withoutUsers = (days: readonly DayRollup[]) => days.map(({ users: _u, ...d }) => d);

/** Totals with only the dimensions asked for. */
export function onlyDims(t: RangeTotals, dims: readonly string[]): RangeTotals {
  const counts: RangeTotals['counts'] = {};
  for (const [k, v] of Object.entries(t.counts))
    if (dims.includes(k) && Object.keys(v).length > 0) counts[k as keyof typeof counts] = v;
  return { ...t, counts };
}
