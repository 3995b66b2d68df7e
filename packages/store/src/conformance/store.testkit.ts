import {
  buildSession,
  type EndReason,
  type EventInput,
  type EventType,
  type NewEvent,
  normalizeEvent,
  type Project,
  randomToken,
  type Session,
  type SessionKind,
} from '@sessiontrack/core';
import { afterAll, afterEach, beforeEach, describe, expect } from 'vitest';
import type { SessionQuery, Store, WriteOp, WriteResult } from '../store.js';
import { type Backend, backends } from './backends.testkit.js';

// The Store conformance suite: written once, one file per behaviour area (`*.case.test.ts` in this
// folder), and every file runs its area on every backend (backends.testkit.ts). It covers what the
// server relies on: batch semantics of `commit`, lifecycle rules (idle timeout, absolute cap,
// recovery, lazy expiry), reads with effective status, sweeping, cleanup and the admin calls.
//
// A fresh store is opened before every test (`store` below is that test's). Each test uses its own
// projects and session ids and explicit clocks (a fixed base time plus offsets; nothing sleeps),
// and calls that span projects (`countLive(null)`, `sweepExpired`, `cleanup(null)`) are measured
// against a baseline, so a backend may also hand out stores that share one database.

export const SEC = 1000;
export const MIN = 60 * SEC;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;
/** The base of every clock in this suite. */
export const T0 = Date.parse('2025-06-01T10:00:00.000Z');
export const IDLE = 30 * MIN; // web default
export const GRACE = 10 * MIN;

export type Ok = Extract<WriteResult, { ok: true }>;

const RUN = randomToken(6);
let counter = 0;
/** Unique per run and call, at least 16 characters (a valid client-chosen session id). */
export const uid = (prefix: string): string => `${prefix}_${RUN}_${String(++counter).padStart(6, '0')}`;

export function makeProject(over: Partial<Project> = {}): Project {
  const id = uid('p');
  return {
    id,
    name: `Project ${id}`,
    writeKey: uid('wk'),
    allowedOrigins: ['https://app.example'],
    timeZone: 'Europe/Berlin',
    idleTimeoutMs: null,
    absoluteTimeoutMs: null,
    retentionDays: 30,
    rateLimitPerMinute: 0,
    createdAt: T0,
    ...over,
  };
}

export interface SessionOver {
  id?: string;
  userId?: string | null;
  kind?: SessionKind;
  graceMs?: number;
  maxRecoveryAttempts?: number;
}

export function makeSession(project: Project, now: number, over: SessionOver = {}): Session {
  return buildSession(
    {
      kind: over.kind ?? 'web',
      userId: over.userId === undefined ? 'u_1' : over.userId,
      anonymousId: 'a_1',
      device: { type: 'desktop', browser: 'Firefox', os: 'Linux', screenSize: '1920x1080' },
      entry: { page: 'https://app.example/pricing?utm_campaign=spring', referrer: 'https://news.example/' },
      transport: over.kind === 'mcp' ? 'streamable-http' : null,
      metadata: { plan: 'pro', nested: { n: 1 } },
      ...(over.graceMs === undefined ? {} : { graceMs: over.graceMs }),
      ...(over.maxRecoveryAttempts === undefined ? {} : { maxRecoveryAttempts: over.maxRecoveryAttempts }),
    },
    {
      project,
      now,
      origin: 'https://app.example',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
      geo: { country: 'DE', region: 'BE', continent: 'EU' },
    },
    over.id ?? uid('s'),
  );
}

export function ev(id: string, type: EventType, at: number, more: Partial<EventInput> = {}): NewEvent {
  return normalizeEvent({ id, type, timestamp: at, ...more }, at);
}

export type Ref = Pick<Session, 'projectId' | 'id'>;
export const startOp = (session: Session): WriteOp => ({ op: 'start', session });
export const eventsOp = (s: Ref, events: NewEvent[]): WriteOp => ({
  op: 'events',
  projectId: s.projectId,
  sessionId: s.id,
  events,
});
export const heartbeatOp = (s: Ref, page: string | null = null): WriteOp => ({
  op: 'heartbeat',
  projectId: s.projectId,
  sessionId: s.id,
  page,
});
export const endOp = (
  s: Ref,
  reason: EndReason = 'logout',
  page: string | null = null,
  lastAction: string | null = null,
) => ({ op: 'end', projectId: s.projectId, sessionId: s.id, reason, page, lastAction }) satisfies WriteOp;
export const disconnectOp = (s: Ref): WriteOp => ({ op: 'disconnect', projectId: s.projectId, sessionId: s.id });
export const trackOp = (
  projectId: string,
  sessionId: string | null,
  newSession: Session,
  events: NewEvent[] = [],
  end: EndReason | null = null,
): WriteOp => ({ op: 'track', projectId, sessionId, newSession, events, end });

export function ok(r: WriteResult | undefined): Ok {
  if (!r?.ok) throw new Error(`expected an ok result, got ${JSON.stringify(r)}`);
  return r;
}

export const ENDED = { ok: false, error: 'session_ended' } as const;
export const NOT_FOUND = { ok: false, error: 'not_found' } as const;
export const CONFLICT = { ok: false, error: 'conflict' } as const;

/** The store of the test that runs now (a live binding: reassigned before every test). */
export let store: Store;
let closed = false;

/** The test closed `store` itself (the suite must not close it again). */
export const markClosed = (): void => {
  closed = true;
};

/**
 * Runs `body` (the tests of one behaviour area, in `describe(area)`) on every backend; a backend
 * that cannot run is skipped with its reason printed. Prints the backends covered at the end.
 */
/** The backend whose suite is being collected or run (for `it.skipIf(!backend.peer)`). */
export let backend: Backend;

/** A second store on the current test's database (another instance); closed after the test. */
export async function openPeer(): Promise<Store> {
  if (!backend.peer) throw new Error(`${backend.name} has no second handle`);
  const s = await backend.peer();
  peers.push(s);
  return s;
}
const peers: Store[] = [];

export function conformance(area: string, body: () => void): void {
  const covered: string[] = [];
  for (const b of backends()) {
    if (b.skip) console.warn(`Store conformance: ${b.name} is SKIPPED: ${b.skip}`);
    covered.push(b.skip ? `${b.name}: skipped (${b.skip})` : `${b.name}: ran`);
    const suite = b.skip ? describe.skip : describe;
    suite(`Store conformance: ${b.name}`, () => {
      beforeEach(async () => {
        backend = b;
        store = await b.open();
        closed = false;
      });
      afterEach(async () => {
        for (const p of peers.splice(0)) await p.close();
        if (!closed) await store.close();
      });
      backend = b;
      describe(area, body);
    });
  }
  afterAll(() => console.log(`Store conformance (${area}) backends:\n  ${covered.join('\n  ')}`));
}

export const commitOne = async (op: WriteOp, now: number): Promise<WriteResult> => {
  const results = await store.commit([op], now);
  expect(results).toHaveLength(1);
  return results[0]!;
};
/** The stored session of this id: of `projectId`, or the one project that has it. */
export const stored = async (id: string, projectId?: string): Promise<Session> => {
  const found = projectId === undefined ? await store.sessionsById(id) : [await store.getSession(projectId, id)];
  const [s] = found;
  if (!s || found.length > 1) throw new Error(`session ${id} is not stored (or not in one project only)`);
  return s;
};
export const newProject = (over: Partial<Project> = {}) => store.createProject(makeProject(over));
/** A session started (committed) at `at`. */
export const started = async (project: Project, at: number, over: SessionOver = {}): Promise<Session> => {
  const s = makeSession(project, at, over);
  ok(await commitOne(startOp(s), at));
  return s;
};
export const listAll = async (q: Omit<SessionQuery, 'limit' | 'cursor'>, now: number, limit = 100) => {
  const out: Session[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const r = await store.listSessions({ ...q, limit, cursor }, now);
    expect(r.sessions.length).toBeLessThanOrEqual(limit);
    out.push(...r.sessions);
    if (!r.nextCursor) return out;
    cursor = r.nextCursor;
  }
  throw new Error('pagination did not end');
};
export const ids = (sessions: readonly Session[]) => sessions.map((s) => s.id);
export const sorted = (list: readonly string[]) => [...list].sort();
