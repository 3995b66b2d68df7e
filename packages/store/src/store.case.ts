import {
  buildSession,
  COUNT_DIMS,
  type EndReason,
  type EventInput,
  type EventType,
  importedSession,
  importSessionSchema,
  type NewEvent,
  normalizeEvent,
  type Project,
  randomToken,
  type Session,
  type SessionKind,
} from '@sessiontrack/core';
import fc from 'fast-check';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadRange, rollupProject } from './analytics.js';
import { onlyDims, referenceRange, sessionSpec, withoutUsers, writeTraffic } from './analytics.testkit.js';
import type { SessionQuery, Store, WriteOp, WriteResult } from './store.js';

// The Store conformance suite: written once, run against every backend (see
// sqlite/sqlite-store.test.ts). It covers what the server relies on: batch semantics of
// `commit`, lifecycle rules (idle timeout, absolute cap, recovery, lazy expiry), reads with
// effective status, sweeping, cleanup and the admin calls.
//
// `open` is called before every test and must return a ready store. Each test uses its own
// projects and session ids and explicit clocks (a fixed base time plus offsets; nothing sleeps),
// and calls that span projects (`countLive(null)`, `sweepExpired`, `cleanup(null)`) are measured
// against a baseline, so a backend may also hand out stores that share one database.

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** The base of every clock in this suite. */
const T0 = Date.parse('2025-06-01T10:00:00.000Z');
const IDLE = 30 * MIN; // web default
const GRACE = 10 * MIN;

type Ok = Extract<WriteResult, { ok: true }>;

const RUN = randomToken(6);
let counter = 0;
/** Unique per run and call, at least 16 characters (a valid client-chosen session id). */
const uid = (prefix: string): string => `${prefix}_${RUN}_${String(++counter).padStart(6, '0')}`;

function makeProject(over: Partial<Project> = {}): Project {
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

interface SessionOver {
  id?: string;
  userId?: string | null;
  kind?: SessionKind;
  graceMs?: number;
  maxRecoveryAttempts?: number;
}

function makeSession(project: Project, now: number, over: SessionOver = {}): Session {
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

function ev(id: string, type: EventType, at: number, more: Partial<EventInput> = {}): NewEvent {
  return normalizeEvent({ id, type, timestamp: at, ...more }, at);
}

type Ref = Pick<Session, 'projectId' | 'id'>;
const startOp = (session: Session): WriteOp => ({ op: 'start', session });
const eventsOp = (s: Ref, events: NewEvent[]): WriteOp => ({
  op: 'events',
  projectId: s.projectId,
  sessionId: s.id,
  events,
});
const heartbeatOp = (s: Ref, page: string | null = null): WriteOp => ({
  op: 'heartbeat',
  projectId: s.projectId,
  sessionId: s.id,
  page,
});
const endOp = (s: Ref, reason: EndReason = 'logout', page: string | null = null, lastAction: string | null = null) =>
  ({ op: 'end', projectId: s.projectId, sessionId: s.id, reason, page, lastAction }) satisfies WriteOp;
const disconnectOp = (s: Ref): WriteOp => ({ op: 'disconnect', projectId: s.projectId, sessionId: s.id });
const trackOp = (
  projectId: string,
  sessionId: string | null,
  newSession: Session,
  events: NewEvent[] = [],
  end: EndReason | null = null,
): WriteOp => ({ op: 'track', projectId, sessionId, newSession, events, end });

function ok(r: WriteResult | undefined): Ok {
  if (!r?.ok) throw new Error(`expected an ok result, got ${JSON.stringify(r)}`);
  return r;
}

const ENDED = { ok: false, error: 'session_ended' } as const;
const NOT_FOUND = { ok: false, error: 'not_found' } as const;
const CONFLICT = { ok: false, error: 'conflict' } as const;

/** Backends this test file ran the suite against, printed once at its end. */
const covered: string[] = [];

export function storeConformance(name: string, open: () => Promise<Store>, opts: { skip?: string } = {}): void {
  const skip = opts.skip;
  if (typeof skip === 'string') console.warn(`Store conformance: ${name} is SKIPPED: ${skip}`);
  covered.push(typeof skip === 'string' ? `${name}: skipped (${skip})` : `${name}: ran`);
  if (covered.length === 1)
    afterAll(() => console.log(`Store conformance backends in this file:\n  ${covered.join('\n  ')}`));
  const suite = typeof skip === 'string' ? describe.skip : describe;

  suite(`Store conformance: ${name}`, () => {
    let store: Store;
    let closed = false;

    beforeEach(async () => {
      store = await open();
      closed = false;
    });
    afterEach(async () => {
      if (!closed) await store.close();
    });

    const commitOne = async (op: WriteOp, now: number): Promise<WriteResult> => {
      const results = await store.commit([op], now);
      expect(results).toHaveLength(1);
      return results[0]!;
    };
    const stored = async (id: string): Promise<Session> => {
      const s = await store.getSession(id);
      if (!s) throw new Error(`session ${id} is not stored`);
      return s;
    };
    const newProject = (over: Partial<Project> = {}) => store.createProject(makeProject(over));
    /** A session started (committed) at `at`. */
    const started = async (project: Project, at: number, over: SessionOver = {}): Promise<Session> => {
      const s = makeSession(project, at, over);
      ok(await commitOne(startOp(s), at));
      return s;
    };
    const listAll = async (q: Omit<SessionQuery, 'limit' | 'cursor'>, now: number, limit = 100) => {
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
    const ids = (sessions: readonly Session[]) => sessions.map((s) => s.id);
    const sorted = (list: readonly string[]) => [...list].sort();

    describe('projects', () => {
      it('creates projects and lists them with every field', async () => {
        const a = makeProject({ createdAt: T0 });
        const b = makeProject({
          createdAt: T0 + MIN,
          allowedOrigins: [],
          timeZone: 'UTC',
          idleTimeoutMs: 5 * MIN,
          absoluteTimeoutMs: 2 * HOUR,
          retentionDays: 7,
          rateLimitPerMinute: 600,
        });
        expect(await store.createProject(a)).toEqual(a);
        expect(await store.createProject(b)).toEqual(b);
        const listed = await store.listProjects();
        expect(listed.find((p) => p.id === a.id)).toEqual(a);
        expect(listed.find((p) => p.id === b.id)).toEqual(b);
      });

      it('refuses a project id or write key that is in use', async () => {
        const a = await newProject();
        await expect(store.createProject(makeProject({ id: a.id }))).rejects.toThrow();
        await expect(store.createProject(makeProject({ writeKey: a.writeKey }))).rejects.toThrow();
        expect((await store.listProjects()).filter((p) => p.id === a.id || p.writeKey === a.writeKey)).toEqual([a]);
      });
      it('reads a project by id and by write key; a rotated key works until its time, then not', async () => {
        const p = await newProject();
        expect(await store.getProject(p.id)).toEqual(p);
        expect(await store.getProject(uid('p_unknown'))).toBeNull();
        expect(await store.projectByWriteKey(p.writeKey, T0)).toEqual(p);
        expect(await store.projectByWriteKey(uid('wk_unknown'), T0)).toBeNull();
        const v0 = await store.projectsVersion();
        const next = uid('wk');
        const rotated = await store.updateProject(
          p.id,
          {},
          { writeKey: next, previousWriteKey: p.writeKey, previousValidUntil: T0 + HOUR },
        );
        expect(rotated).toEqual({
          ...p,
          writeKey: next,
          previousWriteKey: p.writeKey,
          previousKeyValidUntil: T0 + HOUR,
        });
        expect(await store.projectsVersion()).not.toBe(v0);
        expect((await store.projectByWriteKey(next, T0))?.id).toBe(p.id);
        expect((await store.projectByWriteKey(p.writeKey, T0 + HOUR - 1))?.id).toBe(p.id);
        expect(await store.projectByWriteKey(p.writeKey, T0 + HOUR)).toBeNull();
        // A rotated-out key is still taken: no other project may get it.
        await expect(store.createProject(makeProject({ writeKey: next }))).rejects.toThrow();
      });

      it('updates the given fields only, null back to the default, and moves the version', async () => {
        const p = await newProject({ idleTimeoutMs: 5 * MIN, bounceSeconds: 10 });
        const v0 = await store.projectsVersion();
        const changed = await store.updateProject(p.id, {
          name: 'Renamed',
          allowedOrigins: ['https://a.example', 'http://localhost:5173'],
          timeZone: 'America/New_York',
          idleTimeoutMs: null,
          retentionDays: 7,
          rateLimitPerMinute: 60,
          bounceSeconds: null,
          bounceMaxActions: 3,
        });
        const { bounceSeconds: _, ...rest } = p;
        const want: Project = {
          ...rest,
          name: 'Renamed',
          allowedOrigins: ['https://a.example', 'http://localhost:5173'],
          timeZone: 'America/New_York',
          idleTimeoutMs: null,
          retentionDays: 7,
          rateLimitPerMinute: 60,
          bounceMaxActions: 3,
        };
        expect(changed).toEqual(want);
        expect(await store.getProject(p.id)).toEqual(want);
        const v1 = await store.projectsVersion();
        expect(v1).not.toBe(v0);
        // Nothing to change: the project as it is, the version unmoved.
        expect(await store.updateProject(p.id, {})).toEqual(want);
        expect(await store.projectsVersion()).toBe(v1);
        expect(await store.updateProject(uid('p_unknown'), { name: 'x' })).toBeNull();
      });

      it('creates, lists and deletes share links per project', async () => {
        const p = await newProject();
        const q = await newProject();
        const a = { id: uid('sh'), projectId: p.id, label: 'board', tokenHash: uid('h'), createdAt: T0 };
        const b = { id: uid('sh'), projectId: p.id, label: null, tokenHash: uid('h'), createdAt: T0 + MIN };
        const c = { id: uid('sh'), projectId: q.id, label: 'other', tokenHash: uid('h'), createdAt: T0 };
        const v0 = await store.projectsVersion();
        for (const x of [a, b, c]) expect(await store.createShare(x)).toEqual(x);
        expect(await store.projectsVersion()).not.toBe(v0);
        expect(await store.listShares(p.id)).toEqual([a, b]);
        expect((await store.listShares()).filter((x) => x.projectId === p.id || x.projectId === q.id)).toEqual(
          expect.arrayContaining([a, b, c]),
        );
        // Another project's share is not deleted through this one.
        expect(await store.deleteShare(p.id, c.id)).toBe(false);
        const v1 = await store.projectsVersion();
        expect(await store.deleteShare(p.id, a.id)).toBe(true);
        expect(await store.projectsVersion()).not.toBe(v1);
        expect(await store.deleteShare(p.id, a.id)).toBe(false);
        expect(await store.listShares(p.id)).toEqual([b]);
        expect(await store.listShares(q.id)).toEqual([c]);
      });

      it('deletes a project with its sessions, events, shares and rollups, and nothing of another', async () => {
        const p = await newProject({ timeZone: 'UTC' });
        const q = await newProject({ timeZone: 'UTC' });
        const mine = [await started(p, T0), await started(p, T0 + MIN)];
        const kept = await started(q, T0);
        ok(
          await commitOne(
            eventsOp(mine[0]!, [ev('e1', 'action', T0 + SEC), ev('e2', 'action', T0 + 2 * SEC)]),
            T0 + 2 * SEC,
          ),
        );
        ok(await commitOne(eventsOp(kept, [ev('e1', 'action', T0 + SEC)]), T0 + SEC));
        await store.setAgentState({
          projectId: p.id,
          sessionId: mine[0]!.id,
          agentId: 'a',
          key: 'k',
          value: 1,
          expiresAt: null,
          updatedAt: T0,
        });
        await store.createShare({ id: uid('sh'), projectId: p.id, label: null, tokenHash: uid('h'), createdAt: T0 });
        await store.createShare({ id: uid('sh'), projectId: q.id, label: null, tokenHash: uid('h'), createdAt: T0 });
        await rollupProject(store, p, T0 + 3 * DAY);
        await rollupProject(store, q, T0 + 3 * DAY);
        const v0 = await store.projectsVersion();
        const r = await store.deleteProject(p.id);
        expect(r).toEqual({ deletedSessions: 2, deletedEvents: expect.any(Number) });
        expect(r?.deletedEvents).toBeGreaterThanOrEqual(2);
        expect(await store.projectsVersion()).not.toBe(v0);
        expect(await store.getProject(p.id)).toBeNull();
        expect(await store.projectByWriteKey(p.writeKey, T0)).toBeNull();
        for (const s of mine) expect(await store.getSession(s.id)).toBeNull();
        expect(await store.getEvents(mine[0]!.id)).toEqual([]);
        expect(await store.getAgentState(mine[0]!.id, 'a', 'k', T0)).toBeNull();
        expect(await store.listShares(p.id)).toEqual([]);
        expect(await store.readRollups(p.id, '2025-01-01', '2025-12-31', [])).toEqual([]);
        expect(await store.rollupDirty(p.id)).toEqual([]);
        // The other project is untouched.
        expect(await store.getSession(kept.id)).not.toBeNull();
        expect(await store.getEvents(kept.id)).toHaveLength(1);
        expect(await store.listShares(q.id)).toHaveLength(1);
        expect((await store.readRollups(q.id, '2025-01-01', '2025-12-31', [])).length).toBeGreaterThan(0);
        expect(await store.deleteProject(p.id)).toBeNull();
      });
    });

    describe('start', () => {
      it('stores the session as built and answers it', async () => {
        const p = await newProject();
        const s = makeSession(p, T0, { kind: 'mcp' });
        const r = ok(await commitOne(startOp(s), T0));
        expect(r).toEqual({ ok: true, session: s, accepted: 0, duplicates: 0, rotated: false });
        expect(await store.getSession(s.id)).toEqual(s);
        expect(await store.getEvents(s.id)).toEqual([]);
      });

      it('answers null for an unknown session', async () => {
        expect(await store.getSession(uid('s_unknown'))).toBeNull();
        expect(await store.getEvents(uid('s_unknown'))).toEqual([]);
      });

      it('answers conflict for an id in use, in this or another project, and keeps the first', async () => {
        const p = await newProject();
        const q = await newProject();
        const s = await started(p, T0, { userId: 'u_first' });
        const again = makeSession(p, T0 + MIN, { id: s.id, userId: 'u_second' });
        expect(await commitOne(startOp(again), T0 + MIN)).toEqual(CONFLICT);
        const elsewhere = makeSession(q, T0 + MIN, { id: s.id, userId: 'u_third' });
        expect(await commitOne(startOp(elsewhere), T0 + MIN)).toEqual(CONFLICT);
        expect(await store.getSession(s.id)).toEqual(s);
      });

      it('answers conflict for the second start of one id in the same batch', async () => {
        const p = await newProject();
        const first = makeSession(p, T0, { userId: 'u_first' });
        const second = makeSession(p, T0, { id: first.id, userId: 'u_second' });
        const results = await store.commit([startOp(first), startOp(second)], T0);
        expect(results).toEqual([{ ok: true, session: first, accepted: 0, duplicates: 0, rotated: false }, CONFLICT]);
        expect(await store.getSession(first.id)).toEqual(first);
      });
    });

    describe('events', () => {
      it('accepts events and moves counters, exit page, last action and last activity', async () => {
        const p = await newProject();
        const s = await started(p, T0);
        const t = T0 + 5 * MIN;
        const batch = [
          ev('e1', 'pageview', t - 4000, { page: '/docs' }),
          ev('e2', 'action', t - 3000, { name: 'click_buy', page: '/pricing', resourceId: 'buy-btn' }),
          ev('e3', 'error', t - 2500, { name: 'TypeError', details: { message: 'x is undefined' } }),
          ev('e4', 'tool_call', t - 2000, { name: 'search', details: { isError: false } }),
          ev('e5', 'workflow_start', t - 1500, { name: 'checkout' }),
          ev('e6', 'workflow_complete', t - 1000, { name: 'checkout' }),
          ev('e7', 'custom', t - 500, { name: 'scrolled', page: '/pricing/pro' }),
        ];
        const r = ok(await commitOne(eventsOp(s, batch), t));
        expect(r.accepted).toBe(7);
        expect(r.duplicates).toBe(0);
        expect(r.rotated).toBe(false);
        const want = {
          ...s,
          lastActivityAt: t,
          actions: 1,
          errors: 1,
          toolCalls: 1,
          workflows: 1,
          exit: { page: '/pricing/pro', reason: null, lastAction: 'search' },
        };
        expect(r.session).toEqual(want);
        expect(await store.getSession(s.id)).toEqual(want);
        expect(await store.getEvents(s.id)).toHaveLength(7);
      });

      it('counts a failed tool call as an error too', async () => {
        const p = await newProject();
        const s = await started(p, T0, { kind: 'mcp' });
        const t = T0 + MIN;
        ok(
          await commitOne(
            eventsOp(s, [
              ev('t1', 'tool_call', t, { name: 'fetch', details: { isError: true } }),
              ev('t2', 'tool_call', t, { name: 'write', details: { error: true } }),
              ev('t3', 'tool_call', t, { name: 'read' }),
            ]),
            t,
          ),
        );
        const got = await stored(s.id);
        expect(got.toolCalls).toBe(3);
        expect(got.errors).toBe(2);
        expect(got.actions).toBe(0);
        expect(got.exit.lastAction).toBe('read');
      });

      it('stores an event sent twice in one batch once', async () => {
        const p = await newProject();
        const s = await started(p, T0);
        const t = T0 + MIN;
        const click = ev('dup', 'action', t, { name: 'click', page: '/a' });
        const r = ok(await commitOne(eventsOp(s, [click, click, ev('other', 'error', t)]), t));
        expect([r.accepted, r.duplicates]).toEqual([2, 1]);
        // ... and across two operations of the same commit
        const results = await store.commit(
          [eventsOp(s, [ev('x1', 'action', t, { name: 'x' })]), eventsOp(s, [ev('x1', 'action', t, { name: 'x' })])],
          t,
        );
        expect(results.map((x) => (x.ok ? [x.accepted, x.duplicates] : x.error))).toEqual([
          [1, 0],
          [0, 1],
        ]);
        const got = await stored(s.id);
        expect([got.actions, got.errors]).toEqual([2, 1]);
        expect((await store.getEvents(s.id)).map((e) => e.id).sort()).toEqual(['dup', 'other', 'x1']);
      });

      it('stores a batch sent again once: counters, exit page and last action do not move', async () => {
        const p = await newProject();
        const s = await started(p, T0, { kind: 'mcp' });
        const t1 = T0 + MIN;
        const batch = [
          ev('b1', 'action', t1, { name: 'click_buy', page: '/pricing' }),
          ev('b2', 'error', t1, { page: '/pricing' }),
          ev('b3', 'tool_call', t1, { name: 'search', details: { isError: true } }),
          ev('b4', 'workflow_start', t1, { name: 'checkout' }),
          ev('b5', 'pageview', t1, { page: '/docs' }),
        ];
        expect(ok(await commitOne(eventsOp(s, batch), t1))).toMatchObject({ accepted: 5, duplicates: 0 });
        const t2 = T0 + 2 * MIN;
        ok(await commitOne(eventsOp(s, [ev('later', 'action', t2, { name: 'later', page: '/later' })]), t2));
        const before = await stored(s.id);
        expect(before).toMatchObject({
          actions: 2,
          errors: 2,
          toolCalls: 1,
          workflows: 1,
          exit: { page: '/later', lastAction: 'later' },
        });

        const t3 = T0 + 3 * MIN;
        const r = ok(await commitOne(eventsOp(s, batch), t3));
        expect([r.accepted, r.duplicates]).toEqual([0, 5]);
        const after = await stored(s.id);
        expect(after).toMatchObject({
          actions: 2,
          errors: 2,
          toolCalls: 1,
          workflows: 1,
          exit: { page: '/later', lastAction: 'later' },
        });
        expect(r.session).toMatchObject({ actions: 2, errors: 2, toolCalls: 1, workflows: 1 });
        expect(await store.getEvents(s.id)).toHaveLength(6);
      });

      it('deduplicates per session: the same event id in two sessions is two events', async () => {
        const p = await newProject();
        const a = await started(p, T0);
        const b = await started(p, T0);
        const t = T0 + MIN;
        const results = await store.commit(
          [
            eventsOp(a, [ev('same', 'action', t, { name: 'x' })]),
            eventsOp(b, [ev('same', 'action', t, { name: 'x' })]),
          ],
          t,
        );
        expect(results.map((x) => ok(x).accepted)).toEqual([1, 1]);
        expect((await stored(a.id)).actions).toBe(1);
        expect((await stored(b.id)).actions).toBe(1);
      });

      it("answers not_found for another project's session or an unknown one, and changes nothing", async () => {
        const p = await newProject();
        const q = await newProject();
        const s = await started(p, T0);
        const foreign = { projectId: q.id, id: s.id };
        const t = T0 + MIN;
        const results = await store.commit(
          [
            eventsOp(foreign, [ev('f1', 'action', t, { name: 'x' })]),
            heartbeatOp(foreign, '/x'),
            endOp(foreign),
            disconnectOp(foreign),
            eventsOp({ projectId: p.id, id: uid('s_unknown') }, [ev('f2', 'action', t)]),
            heartbeatOp({ projectId: p.id, id: uid('s_unknown') }),
          ],
          t,
        );
        expect(results).toEqual([NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND]);
        expect(await store.getSession(s.id)).toEqual(s);
        expect(await store.getEvents(s.id)).toEqual([]);
      });
    });

    describe('heartbeat', () => {
      it('updates last activity and the exit page, and nothing else', async () => {
        const p = await newProject();
        const s = await started(p, T0);
        const t1 = T0 + 10 * MIN;
        const r = ok(await commitOne(heartbeatOp(s, '/docs'), t1));
        const want = { ...s, lastActivityAt: t1, exit: { ...s.exit, page: '/docs' } };
        expect(r.session).toEqual(want);
        expect(await store.getSession(s.id)).toEqual(want);
        // a bare heartbeat keeps the page; being activity, it keeps the session alive past the first idle window
        const t2 = T0 + 35 * MIN;
        const r2 = ok(await commitOne(heartbeatOp(s), t2));
        expect(r2.session).toEqual({ ...want, lastActivityAt: t2 });
        expect(await store.getSession(s.id)).toEqual({ ...want, lastActivityAt: t2 });
        expect(await store.getEvents(s.id)).toEqual([]);
      });
    });

    describe('expiry', () => {
      it('keeps a session alive until its idle timeout has passed', async () => {
        const p = await newProject();
        const s = await started(p, T0);
        const t = T0 + IDLE - 1;
        ok(await commitOne(eventsOp(s, [ev('e1', 'action', t, { name: 'x' })]), t));
        expect((await stored(s.id)).lastActivityAt).toBe(t);
      });

      it('ends a session at its last activity once the idle timeout has passed', async () => {
        const p = await newProject();
        const s = await started(p, T0);
        const last = T0 + 5 * MIN;
        ok(await commitOne(eventsOp(s, [ev('e1', 'action', last, { name: 'click', page: '/a' })]), last));
        const late = last + IDLE + 1;
        expect(await commitOne(eventsOp(s, [ev('e2', 'action', late, { name: 'late' })]), late)).toEqual(ENDED);
        const got = await stored(s.id);
        expect(got).toMatchObject({
          status: 'ended',
          endedAt: last,
          lastActivityAt: last,
          actions: 1,
          exit: { page: '/a', reason: 'timeout', lastAction: 'click' },
        });
        expect((await store.getEvents(s.id)).map((e) => e.id)).toEqual(['e1']);
        expect(await commitOne(heartbeatOp(s), late + MIN)).toEqual(ENDED);
        expect(await store.getSession(s.id)).toEqual(got);
      });

      it('ends a session at its last activity once the absolute cap has passed, however active', async () => {
        const p = await newProject({ idleTimeoutMs: 30 * MIN, absoluteTimeoutMs: 2 * HOUR });
        const s = await started(p, T0);
        expect([s.idleTimeoutMs, s.absoluteTimeoutMs]).toEqual([30 * MIN, 2 * HOUR]);
        expect(await stored(s.id)).toMatchObject({ idleTimeoutMs: 30 * MIN, absoluteTimeoutMs: 2 * HOUR });
        let t = T0;
        while (t + 20 * MIN < T0 + 2 * HOUR) {
          t += 20 * MIN;
          ok(await commitOne(heartbeatOp(s), t));
        }
        const last = t; // T0 + 1h40m
        expect(await commitOne(heartbeatOp(s), T0 + 2 * HOUR + SEC)).toEqual(ENDED);
        expect(await stored(s.id)).toMatchObject({
          status: 'ended',
          endedAt: last,
          lastActivityAt: last,
          exit: { reason: 'timeout' },
        });
      });

      it('answers an end of an expired session with the timeout end', async () => {
        const p = await newProject();
        const s = await started(p, T0);
        const r = ok(await commitOne(endOp(s, 'logout', '/bye', 'bye'), T0 + IDLE + MIN));
        expect(r.session).toMatchObject({
          status: 'ended',
          endedAt: T0,
          lastActivityAt: T0,
          exit: { page: s.exit.page, reason: 'timeout', lastAction: null },
        });
        expect(await store.getSession(s.id)).toEqual(r.session);
      });
    });

    describe('end', () => {
      it('ends with reason, page and last action, idempotently', async () => {
        const p = await newProject();
        const s = await started(p, T0);
        ok(await commitOne(eventsOp(s, [ev('e1', 'action', T0 + MIN, { name: 'click', page: '/a' })]), T0 + MIN));
        const t = T0 + 3 * MIN;
        const r = ok(await commitOne(endOp(s, 'navigation', '/bye', 'checkout'), t));
        const want = {
          ...s,
          status: 'ended',
          lastActivityAt: t,
          endedAt: t,
          actions: 1,
          exit: { page: '/bye', reason: 'navigation', lastAction: 'checkout' },
        };
        expect(r.session).toEqual(want);
        expect(await store.getSession(s.id)).toEqual(want);
        // a second end (another reason, later) answers the same session and changes nothing
        const again = ok(await commitOne(endOp(s, 'logout', '/other', 'other'), t + 5 * MIN));
        expect(again.session).toEqual(want);
        // ... also once the ended session is long past its idle timeout
        const muchLater = ok(await commitOne(endOp(s, 'error'), t + 2 * DAY));
        expect(muchLater.session).toEqual(want);
        expect(await store.getSession(s.id)).toEqual(want);
      });

      it('keeps exit page and last action from the events when the end names none', async () => {
        const p = await newProject();
        const s = await started(p, T0);
        ok(await commitOne(eventsOp(s, [ev('e1', 'action', T0 + MIN, { name: 'click', page: '/a' })]), T0 + MIN));
        const r = ok(await commitOne(endOp(s, 'logout'), T0 + 2 * MIN));
        expect(r.session.exit).toEqual({ page: '/a', reason: 'logout', lastAction: 'click' });
      });

      it('answers session_ended for events and heartbeats after the end', async () => {
        const p = await newProject();
        const s = await started(p, T0);
        const r = ok(await commitOne(endOp(s), T0 + MIN));
        const t = T0 + 2 * MIN;
        expect(await commitOne(eventsOp(s, [ev('late', 'action', t, { name: 'late' })]), t)).toEqual(ENDED);
        expect(await commitOne(heartbeatOp(s, '/late'), t)).toEqual(ENDED);
        expect(await store.getSession(s.id)).toEqual(r.session);
        expect(await store.getEvents(s.id)).toEqual([]);
      });
    });

    describe('disconnect and recovery', () => {
      it('recovers a disconnected session on activity inside the grace period', async () => {
        const p = await newProject();
        const s = await started(p, T0, { kind: 'mcp' });
        const d = T0 + 5 * MIN;
        const r = ok(await commitOne(disconnectOp(s), d));
        expect(r.session).toMatchObject({ status: 'disconnected', disconnectedAt: d, recoveryAttempts: 0 });
        expect(await stored(s.id)).toMatchObject({ status: 'disconnected', disconnectedAt: d });

        const h = d + GRACE - 1;
        const back = ok(await commitOne(heartbeatOp(s), h));
        const want = { status: 'active', disconnectedAt: null, recoveryAttempts: 1, lastActivityAt: h };
        expect(back.session).toMatchObject(want);
        expect(await stored(s.id)).toMatchObject(want);

        // events recover too, and count a second attempt
        ok(await commitOne(disconnectOp(s), h + MIN));
        const e = ok(await commitOne(eventsOp(s, [ev('e1', 'tool_call', h + 2 * MIN, { name: 'x' })]), h + 2 * MIN));
        expect(e.session).toMatchObject({ status: 'active', recoveryAttempts: 2, toolCalls: 1 });
      });

      it('does not recover after three recoveries', async () => {
        const p = await newProject();
        const s = await started(p, T0, { kind: 'mcp' });
        let t = T0;
        for (let i = 1; i <= 3; i++) {
          t += MIN;
          ok(await commitOne(disconnectOp(s), t));
          t += MIN;
          expect(ok(await commitOne(heartbeatOp(s), t)).session).toMatchObject({
            status: 'active',
            recoveryAttempts: i,
          });
        }
        const last = t;
        ok(await commitOne(disconnectOp(s), t + MIN));
        expect(await commitOne(heartbeatOp(s), t + 2 * MIN)).toEqual(ENDED);
        expect(await stored(s.id)).toMatchObject({
          status: 'ended',
          endedAt: last,
          lastActivityAt: last,
          recoveryAttempts: 3,
          exit: { reason: 'timeout' },
        });
      });

      it('does not recover after the grace period', async () => {
        const p = await newProject();
        const s = await started(p, T0, { kind: 'mcp' });
        const d = T0 + MIN;
        ok(await commitOne(disconnectOp(s), d));
        const late = d + GRACE + 1;
        expect(await commitOne(heartbeatOp(s), late)).toEqual(ENDED);
        expect(await commitOne(eventsOp(s, [ev('e1', 'tool_call', late, { name: 'x' })]), late)).toEqual(ENDED);
        expect(await stored(s.id)).toMatchObject({
          status: 'ended',
          endedAt: T0,
          lastActivityAt: T0,
          recoveryAttempts: 0,
          exit: { reason: 'timeout' },
        });
        expect(await store.getEvents(s.id)).toEqual([]);
      });

      it("follows the session's own grace period and attempt limit, also past the defaults", async () => {
        const p = await newProject();
        const s = await started(p, T0, { kind: 'mcp', graceMs: 3 * HOUR, maxRecoveryAttempts: 4 });
        expect(await stored(s.id)).toMatchObject({ graceMs: 3 * HOUR, maxRecoveryAttempts: 4 });
        let at = T0;
        for (let i = 1; i <= 4; i++) {
          ok(await commitOne(disconnectOp(s), at + MIN));
          // 50 minutes: past the default grace of 10, inside this session's idle timeout of 1 h
          at += MIN + 50 * MIN;
          expect(await store.countLive(p.id, at)).toBe(1);
          expect(ok(await commitOne(heartbeatOp(s), at)).session).toMatchObject({
            status: 'active',
            recoveryAttempts: i,
          });
        }
        ok(await commitOne(disconnectOp(s), at + MIN));
        expect(await commitOne(heartbeatOp(s), at + 2 * MIN)).toEqual(ENDED);
        // a short grace ends the session early, and the clock rule reads it as ended before any sweep
        const short = await started(p, T0, { kind: 'mcp', graceMs: MIN });
        ok(await commitOne(disconnectOp(short), T0 + MIN));
        const page = await store.listSessions({ projectId: p.id, status: 'live', limit: 10 }, T0 + 2 * MIN + 1);
        expect(ids(page.sessions)).not.toContain(short.id);
        expect(await commitOne(heartbeatOp(short), T0 + 2 * MIN + 1)).toEqual(ENDED);
      });

      it('treats a repeated disconnect as one: no recovery attempt, no longer grace', async () => {
        const p = await newProject();
        const s = await started(p, T0, { kind: 'mcp' });
        const d = T0 + MIN;
        ok(await commitOne(disconnectOp(s), d));
        const r = ok(await commitOne(disconnectOp(s), d + 5 * MIN));
        expect(r.session).toMatchObject({ status: 'disconnected', disconnectedAt: d, recoveryAttempts: 0 });
        // the grace runs from the first disconnect
        expect(await commitOne(heartbeatOp(s), d + GRACE + 1)).toEqual(ENDED);
      });

      it('ends a disconnected session on an explicit end', async () => {
        const p = await newProject();
        const s = await started(p, T0, { kind: 'mcp' });
        ok(await commitOne(disconnectOp(s), T0 + MIN));
        const r = ok(await commitOne(endOp(s, 'error'), T0 + 2 * MIN));
        expect(r.session).toMatchObject({ status: 'ended', endedAt: T0 + 2 * MIN, exit: { reason: 'error' } });
        expect(await store.getSession(s.id)).toEqual(r.session);
      });
    });

    describe('track', () => {
      it('starts a session on the first call', async () => {
        const p = await newProject();
        const fresh = makeSession(p, T0);
        const r = ok(
          await commitOne(
            trackOp(p.id, null, fresh, [
              ev('e1', 'pageview', T0, { page: '/pricing' }),
              ev('e2', 'action', T0, { name: 'x' }),
            ]),
            T0,
          ),
        );
        expect(r).toMatchObject({ accepted: 2, duplicates: 0, rotated: false });
        expect(r.session).toMatchObject({ id: fresh.id, status: 'active', actions: 1, startedAt: T0 });
        expect(await store.getSession(fresh.id)).toEqual(r.session);
        expect(await store.getEvents(fresh.id)).toHaveLength(2);
      });

      it('continues a live session, deduplicating its events', async () => {
        const p = await newProject();
        const s = await started(p, T0);
        const t = T0 + 10 * MIN;
        const unused = makeSession(p, t);
        const batch = [ev('e1', 'action', t, { name: 'x', page: '/x' })];
        const r = ok(await commitOne(trackOp(p.id, s.id, unused, batch), t));
        expect(r).toMatchObject({ accepted: 1, duplicates: 0, rotated: false });
        expect(r.session).toMatchObject({ id: s.id, lastActivityAt: t, actions: 1, exit: { page: '/x' } });
        const again = ok(await commitOne(trackOp(p.id, s.id, makeSession(p, t), batch), t + MIN));
        expect(again).toMatchObject({ accepted: 0, duplicates: 1, rotated: false });
        expect(again.session).toMatchObject({ id: s.id, actions: 1 });
        expect(await store.getSession(unused.id)).toBeNull();
      });

      it('counts a track call without events as activity (the tracker heartbeat)', async () => {
        const p = await newProject();
        const s = await started(p, T0);
        const t = T0 + 20 * MIN;
        const r = ok(await commitOne(trackOp(p.id, s.id, makeSession(p, t)), t));
        expect(r).toMatchObject({
          accepted: 0,
          duplicates: 0,
          rotated: false,
          session: { id: s.id, lastActivityAt: t },
        });
        // still live 40 minutes after the start: the idle clock restarted at the track call
        const later = ok(await commitOne(trackOp(p.id, s.id, makeSession(p, t + 25 * MIN)), t + 25 * MIN));
        expect(later).toMatchObject({ rotated: false, session: { id: s.id } });
        expect((await stored(s.id)).lastActivityAt).toBe(t + 25 * MIN);
      });

      it('continues (recovers) a disconnected session inside its grace', async () => {
        const p = await newProject();
        const s = await started(p, T0, { kind: 'mcp' });
        ok(await commitOne(disconnectOp(s), T0 + MIN));
        const r = ok(await commitOne(trackOp(p.id, s.id, makeSession(p, T0 + 2 * MIN)), T0 + 2 * MIN));
        expect(r.rotated).toBe(false);
        expect(r.session).toMatchObject({ id: s.id, status: 'active', recoveryAttempts: 1 });
      });

      it('rotates an expired session and writes its timeout end', async () => {
        const p = await newProject();
        const s = await started(p, T0);
        const t = T0 + IDLE + MIN;
        const fresh = makeSession(p, t);
        const r = ok(await commitOne(trackOp(p.id, s.id, fresh, [ev('e1', 'action', t, { name: 'x' })]), t));
        expect(r).toMatchObject({ accepted: 1, rotated: true });
        expect(r.session).toMatchObject({ id: fresh.id, status: 'active', actions: 1 });
        expect(await stored(s.id)).toMatchObject({ status: 'ended', endedAt: T0, exit: { reason: 'timeout' } });
        expect(await store.getEvents(s.id)).toEqual([]);
        expect(await store.getEvents(fresh.id)).toHaveLength(1);
      });

      it('rotates an ended session', async () => {
        const p = await newProject();
        const s = await started(p, T0);
        const ended = ok(await commitOne(endOp(s), T0 + MIN)).session;
        const fresh = makeSession(p, T0 + 2 * MIN);
        const r = ok(await commitOne(trackOp(p.id, s.id, fresh), T0 + 2 * MIN));
        expect(r.rotated).toBe(true);
        expect(r.session.id).toBe(fresh.id);
        expect(await store.getSession(s.id)).toEqual(ended);
        expect(await store.getSession(fresh.id)).toEqual(fresh);
      });

      it('starts a never-seen client-chosen id as that session (trackers name their sessions)', async () => {
        const p = await newProject();
        const chosen = uid('s_client_chosen');
        const fresh = makeSession(p, T0);
        const r = ok(await commitOne(trackOp(p.id, chosen, fresh, [ev('e1', 'pageview', T0)]), T0));
        expect(r).toMatchObject({ rotated: false, accepted: 1, session: { id: chosen, projectId: p.id } });
        expect(await store.getSession(fresh.id)).toBeNull();
        // a second tab sending the same id a moment later continues it
        const again = ok(await commitOne(trackOp(p.id, chosen, makeSession(p, T0 + 1000)), T0 + 1000));
        expect(again).toMatchObject({ rotated: false, session: { id: chosen } });
      });

      it('sets the user of a continued session (identify after login)', async () => {
        const p = await newProject();
        const s = await started(p, T0, { userId: null });
        const later = makeSession(p, T0 + MIN, { userId: 'u_logged_in' });
        const r = ok(await commitOne(trackOp(p.id, s.id, later), T0 + MIN));
        expect(r).toMatchObject({
          rotated: false,
          session: { id: s.id, userId: 'u_logged_in', anonymousId: s.anonymousId },
        });
        expect((await stored(s.id)).userId).toBe('u_logged_in');
        expect((await listAll({ projectId: p.id, userId: 'u_logged_in' }, T0 + MIN)).map((x) => x.id)).toEqual([s.id]);
      });

      it("rotates another project's session", async () => {
        const p = await newProject();
        const q = await newProject();

        const theirs = await started(q, T0);
        const mine = makeSession(p, T0 + MIN);
        const r2 = ok(
          await commitOne(trackOp(p.id, theirs.id, mine, [ev('e1', 'action', T0 + MIN, { name: 'x' })]), T0 + MIN),
        );
        expect(r2.rotated).toBe(true);
        expect(r2.session).toMatchObject({ id: mine.id, projectId: p.id, actions: 1 });
        expect(await store.getSession(theirs.id)).toEqual(theirs);
        expect(await store.getEvents(theirs.id)).toEqual([]);
      });

      it('ends the session when asked, new or continued', async () => {
        const p = await newProject();
        const fresh = makeSession(p, T0);
        const t = T0 + 2 * MIN;
        const r = ok(await commitOne(trackOp(p.id, null, fresh, [ev('e1', 'action', t, { name: 'x' })], 'logout'), t));
        expect(r).toMatchObject({ accepted: 1, rotated: false });
        expect(r.session).toMatchObject({ status: 'ended', endedAt: t, actions: 1, exit: { reason: 'logout' } });
        expect(await store.getSession(fresh.id)).toEqual(r.session);

        const s = await started(p, T0);
        const r2 = ok(await commitOne(trackOp(p.id, s.id, makeSession(p, t), [], 'navigation'), t));
        expect(r2.rotated).toBe(false);
        expect(r2.session).toMatchObject({ id: s.id, status: 'ended', endedAt: t, exit: { reason: 'navigation' } });
        expect(await store.getSession(s.id)).toEqual(r2.session);
      });
    });

    describe('batches', () => {
      it('applies start, events and end for one session in order in one commit', async () => {
        const p = await newProject();
        const s = makeSession(p, T0);
        const t = T0;
        const results = await store.commit(
          [
            startOp(s),
            eventsOp(s, [ev('e1', 'action', t, { name: 'a', page: '/a' }), ev('e2', 'error', t)]),
            endOp(s, 'navigation', '/bye'),
          ],
          t,
        );
        expect(results).toHaveLength(3);
        expect(ok(results[0]).session).toMatchObject({ id: s.id, status: 'active', actions: 0 });
        expect(ok(results[1])).toMatchObject({ accepted: 2, duplicates: 0 });
        expect(ok(results[1]).session).toMatchObject({ status: 'active', actions: 1, errors: 1 });
        const last = ok(results[2]).session;
        expect(last).toMatchObject({
          status: 'ended',
          endedAt: t,
          actions: 1,
          errors: 1,
          exit: { page: '/bye', reason: 'navigation', lastAction: 'a' },
        });
        expect(await store.getSession(s.id)).toEqual(last);
        expect(await store.getEvents(s.id)).toHaveLength(2);
      });

      it('answers session_ended to events that follow an end in the same commit', async () => {
        const p = await newProject();
        const s = await started(p, T0);
        const t = T0 + MIN;
        const results = await store.commit([endOp(s), eventsOp(s, [ev('e1', 'action', t, { name: 'x' })])], t);
        expect(ok(results[0]).session.status).toBe('ended');
        expect(results[1]).toEqual(ENDED);
        expect(await store.getEvents(s.id)).toEqual([]);
        expect(await store.getSession(s.id)).toEqual(ok(results[0]).session);
      });

      it('answers every operation, in order, and a failed one does not undo the others', async () => {
        const p = await newProject();
        const q = await newProject();
        const a = await started(p, T0);
        const b = makeSession(q, T0 + MIN);
        const c = makeSession(p, T0 + MIN);
        const t = T0 + MIN;
        const results = await store.commit(
          [
            eventsOp(a, [ev('a1', 'action', t, { name: 'x' })]),
            startOp(b),
            heartbeatOp({ projectId: p.id, id: uid('s_unknown') }),
            startOp(makeSession(p, t, { id: a.id })),
            eventsOp(b, [ev('b1', 'pageview', t, { page: '/b' }), ev('b1', 'pageview', t, { page: '/b' })]),
            heartbeatOp({ projectId: p.id, id: b.id }),
            trackOp(p.id, null, c),
            endOp(a, 'logout'),
          ],
          t,
        );
        expect(results.map((r) => (r.ok ? `ok:${r.session.id}:${r.accepted}/${r.duplicates}` : r.error))).toEqual([
          `ok:${a.id}:1/0`,
          `ok:${b.id}:0/0`,
          'not_found',
          'conflict',
          `ok:${b.id}:1/1`,
          'not_found',
          `ok:${c.id}:0/0`,
          `ok:${a.id}:0/0`,
        ]);
        expect(await stored(a.id)).toMatchObject({ status: 'ended', actions: 1 });
        expect(await stored(b.id)).toMatchObject({ projectId: q.id, exit: { page: '/b' } });
        expect(await store.getSession(c.id)).toEqual(c);
      });

      it('answers an empty batch with no results', async () => {
        expect(await store.commit([], T0)).toEqual([]);
      });

      it('loses no update when commits on one session run at the same time', async () => {
        const p = await newProject();
        const s = await started(p, T0);
        const t = T0 + MIN;
        const n = 8;
        const results = await Promise.all(
          Array.from({ length: n }, (_, i) =>
            store.commit(
              [eventsOp(s, [ev(`c${i}`, 'action', t + i, { name: `a${i}` }), ev('shared', 'error', t)])],
              t + i,
            ),
          ),
        );
        const accepted = results.reduce((sum, [r]) => sum + ok(r).accepted, 0);
        expect(accepted).toBe(n + 1);
        expect(await stored(s.id)).toMatchObject({ actions: n, errors: 1 });
        expect(await store.getEvents(s.id)).toHaveLength(n + 1);
      });
    });

    describe('reads', () => {
      it('answers events oldest first, with every field', async () => {
        const p = await newProject();
        const s = await started(p, T0);
        const t1 = T0 + 10 * MIN;
        ok(
          await commitOne(
            eventsOp(s, [
              ev('late', 'action', t1 - SEC, {
                name: 'click',
                page: 'https://app.example/pricing?x=1',
                resourceId: 'buy-btn',
                details: { plan: 'pro', n: [1, 2] },
              }),
              ev('early', 'pageview', t1 - 3 * SEC, { page: '/pricing' }),
            ]),
            t1,
          ),
        );
        const t2 = T0 + 11 * MIN;
        ok(
          await commitOne(
            eventsOp(s, [
              ev('earliest', 'custom', t1 - 5 * SEC, { name: 'retried' }),
              ev('tie1', 'error', t2),
              ev('tie2', 'error', t2),
            ]),
            t2,
          ),
        );
        const got = await store.getEvents(s.id);
        expect(got.map((e) => e.id)).toEqual(['earliest', 'early', 'late', 'tie1', 'tie2']);
        expect(got[2]).toEqual({
          id: 'late',
          sessionId: s.id,
          projectId: p.id,
          type: 'action',
          name: 'click',
          ts: t1 - SEC,
          receivedAt: t1,
          page: '/pricing',
          resourceId: 'buy-btn',
          details: { plan: 'pro', n: [1, 2] },
        });
        expect(got[1]).toMatchObject({ name: null, resourceId: null, details: null, receivedAt: t1 });
      });

      it('lists sessions newest first across pages, without duplicates or gaps', async () => {
        const p = await newProject();
        const other = await newProject();
        const offsets = [1, 2, 2, 3, 4, 4, 4, 5, 7];
        const sessions = offsets.map((o) => makeSession(p, T0 + o * MIN));
        await store.commit([...sessions.map(startOp), startOp(makeSession(other, T0 + 3 * MIN))], T0 + 8 * MIN);
        const now = T0 + 10 * MIN;
        const pages: Session[][] = [];
        let cursor: string | undefined;
        for (;;) {
          const page = await store.listSessions({ projectId: p.id, limit: 2, cursor }, now);
          pages.push(page.sessions);
          if (!page.nextCursor) break;
          cursor = page.nextCursor;
          expect(pages.length).toBeLessThan(10);
        }
        expect(pages.map((x) => x.length)).toEqual([2, 2, 2, 2, 1]);
        const all = pages.flat();
        const starts = all.map((s) => s.startedAt);
        expect(starts).toEqual([...starts].sort((x, y) => y - x));
        expect(new Set(ids(all)).size).toBe(all.length);
        expect(sorted(ids(all))).toEqual(sorted(ids(sessions)));
        const byId = new Map(sessions.map((s) => [s.id, s]));
        for (const s of all) expect(s).toEqual(byId.get(s.id));
        // one page that holds everything has no next cursor
        const one = await store.listSessions({ projectId: p.id, limit: 50 }, now);
        expect(ids(one.sessions)).toEqual(ids(all));
        expect(one.nextCursor).toBeNull();
      });

      it('refuses a malformed cursor', async () => {
        const p = await newProject();
        await expect(store.listSessions({ projectId: p.id, limit: 10, cursor: 'not a cursor' }, T0)).rejects.toThrow();
      });

      it('filters by user and kind', async () => {
        const p = await newProject();
        const a1 = makeSession(p, T0, { userId: 'u_a' });
        const a2 = makeSession(p, T0 + MIN, { userId: 'u_a', kind: 'mcp' });
        const b = makeSession(p, T0 + 2 * MIN, { userId: 'u_b' });
        const anon = makeSession(p, T0 + 3 * MIN, { userId: null });
        const m = makeSession(p, T0 + 4 * MIN, { userId: 'u_b', kind: 'mcp' });
        await store.commit([a1, a2, b, anon, m].map(startOp), T0 + 5 * MIN);
        const now = T0 + 6 * MIN;
        expect(ids(await listAll({ projectId: p.id, userId: 'u_a' }, now))).toEqual([a2.id, a1.id]);
        expect(ids(await listAll({ projectId: p.id, kind: 'mcp' }, now))).toEqual([m.id, a2.id]);
        expect(ids(await listAll({ projectId: p.id, kind: 'web' }, now))).toEqual([anon.id, b.id, a1.id]);
        expect(ids(await listAll({ projectId: p.id, userId: 'u_b', kind: 'mcp' }, now))).toEqual([m.id]);
        expect(await listAll({ projectId: p.id, userId: 'u_nobody' }, now)).toEqual([]);
        expect(ids(await listAll({ projectId: p.id, userId: 'u_a' }, now, 1))).toEqual([a2.id, a1.id]);
      });

      it('filters by effective status: an expired session counts as ended before any sweep', async () => {
        const p = await newProject();
        const now = T0 + 20 * MIN;
        const live = await started(p, T0); // idle until T0 + 30 min
        const ended = await started(p, T0 + MIN);
        ok(await commitOne(endOp(ended), T0 + 2 * MIN));
        const expired = await started(p, T0 - 40 * MIN); // idle since T0 - 10 min, not swept
        const disc = await started(p, T0 + 3 * MIN);
        ok(await commitOne(disconnectOp(disc), T0 + 15 * MIN)); // grace until T0 + 25 min
        const gone = await started(p, T0 + 4 * MIN);
        ok(await commitOne(disconnectOp(gone), T0 + 5 * MIN)); // grace ended at T0 + 15 min

        const q = { projectId: p.id };
        expect(sorted(ids(await listAll({ ...q, status: 'live' }, now)))).toEqual(sorted([live.id, disc.id]));
        expect(ids(await listAll({ ...q, status: 'active' }, now))).toEqual([live.id]);
        expect(ids(await listAll({ ...q, status: 'disconnected' }, now))).toEqual([disc.id]);
        expect(sorted(ids(await listAll({ ...q, status: 'ended' }, now)))).toEqual(
          sorted([ended.id, expired.id, gone.id]),
        );
        expect(sorted(ids(await listAll({ ...q, status: 'ended' }, now, 1)))).toEqual(
          sorted([ended.id, expired.id, gone.id]),
        );
        expect(await listAll(q, now)).toHaveLength(5);
        // later, everything has expired
        const later = T0 + 2 * HOUR;
        expect(await listAll({ ...q, status: 'live' }, later)).toEqual([]);
        expect(await listAll({ ...q, status: 'ended' }, later)).toHaveLength(5);
        // reading does not write: the expired session is still stored as it was
        expect(await store.getSession(expired.id)).toEqual(expired);
      });

      it('filters by start time: from inclusive, to exclusive', async () => {
        const p = await newProject();
        const s = [0, 1, 2, 3].map((h) => makeSession(p, T0 + h * HOUR));
        await store.commit(s.map(startOp), T0 + 3 * HOUR);
        const now = T0 + 4 * HOUR;
        const [s0, s1, s2, s3] = s.map((x) => x.id);
        const q = { projectId: p.id };
        expect(ids(await listAll({ ...q, from: T0 + HOUR, to: T0 + 3 * HOUR }, now))).toEqual([s2, s1]);
        expect(ids(await listAll({ ...q, from: T0 + HOUR + 1 }, now))).toEqual([s3, s2]);
        expect(ids(await listAll({ ...q, to: T0 + HOUR }, now))).toEqual([s0]);
        expect(ids(await listAll({ ...q, from: T0, to: T0 + 4 * HOUR }, now, 1))).toEqual([s3, s2, s1, s0]);
      });

      it('counts live sessions per project and overall', async () => {
        const now = T0 + 20 * MIN;
        const baseline = await store.countLive(null, now);
        const p = await newProject();
        const q = await newProject();
        await started(p, T0 + 10 * MIN);
        const disc = await started(p, T0 + MIN);
        ok(await commitOne(disconnectOp(disc), T0 + 15 * MIN));
        const ended = await started(p, T0);
        ok(await commitOne(endOp(ended), T0 + MIN));
        await started(p, T0 - HOUR); // expired
        await started(q, T0 + 5 * MIN);
        const goneQ = await started(q, T0 + 5 * MIN);
        ok(await commitOne(disconnectOp(goneQ), T0 + 6 * MIN)); // grace over at T0 + 16 min

        expect(await store.countLive(p.id, now)).toBe(2);
        expect(await store.countLive(q.id, now)).toBe(1);
        expect(await store.countLive(null, now)).toBe(baseline + 3);
        expect(await store.countLive(p.id, T0 + 2 * HOUR)).toBe(0);
        expect(await store.countLive((await newProject()).id, now)).toBe(0);
      });
    });

    describe('sweep', () => {
      it('writes the timeout end of expired sessions once, at their last activity', async () => {
        const now = T0 + 2 * HOUR;
        await store.sweepExpired(now); // whatever an earlier test left behind
        const p = await newProject();
        const idle = await started(p, T0);
        const idleLast = T0 + 5 * MIN;
        ok(await commitOne(eventsOp(idle, [ev('e1', 'action', idleLast, { name: 'x', page: '/x' })]), idleLast));
        const disc = await started(p, T0 + HOUR, { kind: 'mcp' });
        ok(await commitOne(disconnectOp(disc), T0 + HOUR + MIN)); // grace over at T0 + 1h11m
        const live = await started(p, now - MIN);
        const ended = await started(p, T0);
        const endedSession = ok(await commitOne(endOp(ended, 'navigation'), T0 + MIN)).session;

        expect(await store.sweepExpired(now)).toBe(2);
        expect(await stored(idle.id)).toMatchObject({
          status: 'ended',
          endedAt: idleLast,
          lastActivityAt: idleLast,
          actions: 1,
          exit: { page: '/x', reason: 'timeout', lastAction: 'x' },
        });
        expect(await stored(disc.id)).toMatchObject({
          status: 'ended',
          endedAt: T0 + HOUR,
          lastActivityAt: T0 + HOUR,
          exit: { reason: 'timeout' },
        });
        expect(await store.getSession(live.id)).toEqual(live);
        expect(await store.getSession(ended.id)).toEqual(endedSession);
        expect(await store.sweepExpired(now)).toBe(0);
        expect(await store.sweepExpired(now + MIN)).toBe(0);
        expect(await store.countLive(p.id, now)).toBe(1);
        // a swept session still answers session_ended
        expect(await commitOne(heartbeatOp(idle), now)).toEqual(ENDED);
      });
    });

    describe('retention and jobs', () => {
      it('deletes raw events received before a time, per project, and keeps sessions and counters', async () => {
        const p = await newProject();
        const q = await newProject();
        const old = await started(p, T0);
        ok(await commitOne(eventsOp(old, [ev('o1', 'action', T0), ev('o2', 'error', T0)]), T0));
        ok(await commitOne(eventsOp(old, [ev('n1', 'action', T0 + 20 * MIN)]), T0 + 20 * MIN));
        const other = await started(q, T0);
        ok(await commitOne(eventsOp(other, [ev('x1', 'action', T0)]), T0));

        expect(await store.deleteEventsBefore(T0 + 10 * MIN, p.id)).toBe(2);
        expect((await store.getEvents(old.id)).map((e) => e.id)).toEqual(['n1']);
        expect(await store.getEvents(other.id)).toHaveLength(1); // another project's are kept
        const s = await stored(old.id);
        expect([s.actions, s.errors]).toEqual([2, 1]); // the session keeps what it counted
        expect(await store.deleteEventsBefore(T0 + 10 * MIN, p.id)).toBe(0);
        expect(await store.deleteEventsBefore(T0 + 10 * MIN)).toBeGreaterThanOrEqual(1);
        expect(await store.getEvents(other.id)).toEqual([]);
      });

      it('runs a free job and reports that it ran', async () => {
        let runs = 0;
        expect(
          await store.runExclusive('conformance-job', async () => {
            runs++;
          }),
        ).toBe(true);
        expect(runs).toBe(1);
        // the lock is released afterwards: it runs again
        expect(await store.runExclusive('conformance-job', async () => void runs++)).toBe(true);
        expect(runs).toBe(2);
        await expect(
          store.runExclusive('conformance-job', async () => {
            throw new Error('job failed');
          }),
        ).rejects.toThrow('job failed');
        expect(await store.runExclusive('conformance-job', async () => void runs++)).toBe(true);
      });
    });

    describe('cleanup', () => {
      it('deletes old ended sessions with their events, keeps recent and live ones', async () => {
        const before = T0 + 2 * DAY;
        await store.cleanup(null, before); // whatever an earlier test left behind
        const p = await newProject();
        const q = await newProject();
        const longIdle = await newProject({ idleTimeoutMs: 10 * DAY, absoluteTimeoutMs: 20 * DAY });

        const oldEnded = await started(p, T0);
        const t1 = T0 + MIN;
        ok(
          await commitOne(
            eventsOp(oldEnded, [ev('e1', 'action', t1), ev('e2', 'action', t1), ev('e3', 'error', t1)]),
            t1,
          ),
        );
        ok(await commitOne(endOp(oldEnded), T0 + 2 * MIN));
        const oldExpired = await started(p, T0); // never ended, expired long ago
        ok(await commitOne(eventsOp(oldExpired, [ev('e1', 'action', t1), ev('e2', 'action', t1)]), t1));
        const recentEnded = await started(p, T0 + 3 * DAY);
        ok(await commitOne(eventsOp(recentEnded, [ev('e1', 'action', T0 + 3 * DAY)]), T0 + 3 * DAY));
        ok(await commitOne(endOp(recentEnded), T0 + 3 * DAY + MIN));
        const recentLive = await started(p, T0 + 3 * DAY);
        const stillLive = await started(longIdle, T0); // idle since T0 but live until T0 + 10 days
        ok(await commitOne(eventsOp(stillLive, [ev('e1', 'tool_call', t1)]), t1));
        const otherOld = await started(q, T0);
        ok(await commitOne(eventsOp(otherOld, [ev('e1', 'action', t1)]), t1));
        ok(await commitOne(endOp(otherOld), T0 + 2 * MIN));

        expect(await store.cleanup(p.id, before)).toEqual({ deletedSessions: 2, deletedEvents: 5 });
        expect(await store.getSession(oldEnded.id)).toBeNull();
        expect(await store.getSession(oldExpired.id)).toBeNull();
        expect(await store.getEvents(oldEnded.id)).toEqual([]);
        expect(await store.getEvents(oldExpired.id)).toEqual([]);
        expect(await store.getSession(recentEnded.id)).not.toBeNull();
        expect(await store.getEvents(recentEnded.id)).toHaveLength(1);
        expect(await store.getSession(recentLive.id)).toEqual(recentLive);
        expect(await store.getSession(otherOld.id)).not.toBeNull();
        expect(await store.cleanup(p.id, before)).toEqual({ deletedSessions: 0, deletedEvents: 0 });

        expect(await store.cleanup(null, before)).toEqual({ deletedSessions: 1, deletedEvents: 1 });
        expect(await store.getSession(otherOld.id)).toBeNull();
        expect(await store.getEvents(otherOld.id)).toEqual([]);
        expect(await store.getSession(stillLive.id)).not.toBeNull();
        expect(await store.getEvents(stillLive.id)).toHaveLength(1);
        expect(await store.getEvents(recentEnded.id)).toHaveLength(1);
        // projects and their settings are kept
        expect((await store.listProjects()).map((x) => x.id)).toEqual(expect.arrayContaining([p.id, q.id]));
      });
    });

    describe('import', () => {
      const imported = (p: Project, at: number, over: Record<string, unknown> = {}) =>
        importedSession(
          importSessionSchema.parse({
            id: uid('s_imp'),
            userId: 'u_imp',
            startedAt: at,
            end: { reason: 'navigation' },
            events: [
              { id: 'e1', type: 'pageview', page: '/a', timestamp: at + 5 * SEC },
              { id: 'e2', type: 'action', name: 'buy', page: '/b', timestamp: at + 20 * SEC },
            ],
            ...over,
          }),
          p,
          T0 + 30 * DAY,
        );

      it('stores past sessions with their events as given, and reads them back like any other', async () => {
        const p = await newProject();
        const a = imported(p, T0);
        const b = imported(p, T0 + DAY, { end: undefined, events: [] });
        expect(await store.importSessions([a, b])).toEqual({ sessions: 2, skippedSessions: 0, events: 2 });
        expect(await store.getSession(a.session.id)).toEqual(a.session);
        expect(await store.getSession(b.session.id)).toEqual(b.session);
        const events = await store.getEvents(a.session.id);
        expect(events.map((e) => [e.id, e.ts, e.receivedAt, e.page])).toEqual([
          ['e1', T0 + 5 * SEC, T0 + 5 * SEC, '/a'],
          ['e2', T0 + 20 * SEC, T0 + 20 * SEC, '/b'],
        ]);
        // b was never ended: long past its idle timeout, it reads as ended (the clock rule).
        const listed = await listAll({ projectId: p.id, status: 'ended' }, T0 + 30 * DAY);
        expect(sorted(ids(listed))).toEqual(sorted([a.session.id, b.session.id]));
        expect(await listAll({ projectId: p.id, from: T0 + DAY }, T0 + 30 * DAY)).toHaveLength(1);
        // the past days it changed are marked for the rollup job
        const dirty = (await store.rollupDirty(p.id)).map((d) => d.utcDay);
        expect(dirty).toEqual(expect.arrayContaining([Math.floor(T0 / DAY), Math.floor((T0 + DAY) / DAY)]));
      });

      it('is idempotent by session id: a re-import skips stored sessions with their events', async () => {
        const p = await newProject();
        const a = imported(p, T0);
        await store.importSessions([a]);
        const again = { ...a, events: [...a.events, { ...a.events[0]!, id: 'e3' }] };
        const c = imported(p, T0 + HOUR);
        expect(await store.importSessions([again, c])).toEqual({ sessions: 1, skippedSessions: 1, events: 2 });
        expect(await store.getEvents(a.session.id)).toHaveLength(2);
        // an id another project uses is skipped too, never overwritten
        const q = await newProject();
        const stolen = { ...imported(q, T0), session: { ...imported(q, T0).session, id: a.session.id } };
        expect(await store.importSessions([stolen])).toMatchObject({ sessions: 0, skippedSessions: 1 });
        expect((await stored(a.session.id)).projectId).toBe(p.id);
      });

      it('an imported open session is live and takes ingest like any other', async () => {
        const p = await newProject();
        const now = T0 + 30 * DAY;
        const live = imported(p, now - 5 * MIN, { end: undefined, events: [] });
        await store.importSessions([live]);
        expect(await store.countLive(p.id, now)).toBe(1);
        const r = ok(await commitOne(eventsOp(live.session, [ev('e9', 'action', now, { name: 'go' })]), now));
        expect(r.session.actions).toBe(1);
      });
    });

    describe('analytics', () => {
      const DAY_DIMS = ['country', 'entryPage', 'exitPage'] as const;
      /** Everything the stats routes can ask, from the analytics path. */
      const viaStore = async (p: Project, fromDate: string, toDate: string, now: number) => {
        const r = await loadRange(
          store,
          p,
          { fromDate, toDate, dims: COUNT_DIMS, dayDims: DAY_DIMS, users: true },
          now,
        );
        return {
          totals: onlyDims(r.totals, COUNT_DIMS),
          uniqueUsers: r.uniqueUsers,
          days: withoutUsers(r.days).map((d) => ({
            ...d,
            counts: onlyDims({ ...d, counts: d.counts }, DAY_DIMS).counts,
          })),
          rolledDays: r.rolledDays,
        };
      };
      const reference = async (p: Project, fromDate: string, toDate: string, now: number) => {
        const r = await referenceRange(store, p, fromDate, toDate, now);
        return {
          totals: onlyDims(r.totals, COUNT_DIMS),
          uniqueUsers: r.uniqueUsers,
          days: withoutUsers(r.days).map((d) => ({
            ...d,
            counts: onlyDims({ ...d, counts: d.counts }, DAY_DIMS).counts,
          })),
        };
      };

      it('property: stats from rollups == stats from raw rows == core over the raw rows', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.array(sessionSpec, { minLength: 1, maxLength: 12 }),
            fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'),
            fc.integer({ min: 0, max: 4 * 24 }),
            async (specs, timeZone, nowHours) => {
              const p = await newProject({ timeZone });
              await writeTraffic(store, p, T0, specs);
              // "now" somewhere in the traffic: days before it are closed, its day is live
              const now = T0 + nowHours * HOUR;
              const [from, to] = ['2025-05-31', '2025-06-06'];
              const ref = await reference(p, from, to, now);
              const live = await viaStore(p, from, to, now);
              expect(live.rolledDays).toBe(0);
              expect({ ...live, rolledDays: undefined }).toEqual({ ...ref, rolledDays: undefined });
              await rollupProject(store, p, now, { marginMs: 0 });
              const rolled = await viaStore(p, from, to, now);
              expect({ ...rolled, rolledDays: undefined }).toEqual({ ...ref, rolledDays: undefined });
              // a sub-range that cuts through rolled and live days
              const sub = await viaStore(p, '2025-06-01', '2025-06-03', now);
              expect({ ...sub, rolledDays: undefined }).toEqual({
                ...(await reference(p, '2025-06-01', '2025-06-03', now)),
                rolledDays: undefined,
              });
            },
          ),
          { numRuns: store.backend === 'sqlite' ? 25 : 10 },
        );
      });

      it('a session at 23:30 UTC counts on the next day for a project in UTC+1', async () => {
        const p = await newProject({ timeZone: 'Africa/Lagos' });
        const at = Date.parse('2025-06-01T23:30:00Z');
        await started(p, at);
        const now = at + 3 * DAY;
        await rollupProject(store, p, now, { marginMs: 0 });
        const r = await loadRange(store, p, { fromDate: '2025-06-01', toDate: '2025-06-02' }, now);
        expect(r.rolledDays).toBe(2); // the UTC day overlaps both local days
        expect(r.days.map((d) => [d.date, d.sessions])).toEqual([
          ['2025-06-01', 0],
          ['2025-06-02', 1],
        ]);
      });

      it('writes mark days dirty: a change to an old session is rolled up again; the job is idempotent', async () => {
        const p = await newProject({ timeZone: 'UTC', idleTimeoutMs: 10 * DAY, absoluteTimeoutMs: 30 * DAY });
        const s = await started(p, T0);
        const now = T0 + 2 * DAY;
        // Marks and rollups carry wall-clock ms, and a mark in the same ms as a rollup counts as
        // possibly unseen: these steps are a few ms apart.
        const tick = () => new Promise((done) => setTimeout(done, 3));
        await tick();
        expect((await rollupProject(store, p, now, { marginMs: 0 })).days).toEqual(['2025-06-01']);
        await tick();
        expect((await rollupProject(store, p, now, { marginMs: 0 })).days).toEqual([]);
        ok(await commitOne(eventsOp(s, [ev('e1', 'tool_call', now, { name: 'search' })]), now));
        await tick();
        expect((await rollupProject(store, p, now + HOUR, { marginMs: 0 })).days).toEqual(['2025-06-01']);
        const r = await loadRange(store, p, { fromDate: '2025-06-01', toDate: '2025-06-01', dims: ['tool'] }, now);
        expect(r.rolledDays).toBe(1);
        expect(r.totals.counts.tool).toEqual({ search: 1 });
        // an import of past sessions marks its days itself
        const old = makeSession(p, T0 - 5 * DAY);
        await tick();
        await store.markRollupDirty([{ projectId: p.id, startedAt: old.startedAt }]);
        expect((await rollupProject(store, p, now + HOUR, { marginMs: 0 })).days).toEqual(['2025-05-27']);
      });

      it('retention removes raw rows and keeps the rollups', async () => {
        const p = await newProject({ timeZone: 'UTC' });
        const s = await started(p, T0, { userId: 'keep-counts' });
        ok(await commitOne(eventsOp(s, [ev('e1', 'action', T0 + MIN, { name: 'export' })]), T0 + MIN));
        ok(await commitOne(endOp(s), T0 + 2 * MIN));
        const now = T0 + 40 * DAY;
        await rollupProject(store, p, now, { marginMs: 0 });
        const q = { fromDate: '2025-06-01', toDate: '2025-06-01', dims: COUNT_DIMS, users: true };
        const before = await loadRange(store, p, q, now);
        expect(before.totals.sessions).toBe(1);
        expect(await store.cleanup(p.id, now - 30 * DAY)).toEqual({ deletedSessions: 1, deletedEvents: 1 });
        expect(await store.getSession(s.id)).toBeNull();
        expect(await store.analyticsRows(p.id, 0, now, true)).toEqual({ sessions: [], events: [] });
        expect(await loadRange(store, p, q, now)).toEqual(before);
      });

      it('erase deletes every raw row of the user and leaves only counts in the rollups', async () => {
        const p = await newProject({ timeZone: 'UTC' });
        const a = await started(p, T0, { userId: 'erase-me' });
        const b = await started(p, T0 + DAY, { userId: 'erase-me' });
        const other = await started(p, T0, { userId: 'someone-else' });
        for (const s of [a, b, other])
          ok(await commitOne(eventsOp(s, [ev('e1', 'action', s.startedAt + MIN)]), s.startedAt + MIN));
        const now = T0 + 3 * DAY;
        await rollupProject(store, p, now, { marginMs: 0 });
        const q = { fromDate: '2025-06-01', toDate: '2025-06-02', users: true };
        expect((await loadRange(store, p, q, now)).uniqueUsers).toBe(2);
        const state = (s: Session) => ({
          projectId: p.id,
          sessionId: s.id,
          agentId: 'a',
          key: 'k',
          value: 1,
          expiresAt: null,
          updatedAt: now,
        });
        await store.setAgentState(state(a));
        await store.setAgentState(state(other));
        expect(await store.eraseUser(p.id, 'erase-me')).toEqual({ deletedSessions: 2, deletedEvents: 2 });
        // MCP agent state of the erased sessions goes with them
        expect(await store.getAgentState(a.id, 'a', 'k', now)).toBeNull();
        expect(await store.getAgentState(other.id, 'a', 'k', now)).not.toBeNull();
        expect(await listAll({ projectId: p.id, userId: 'erase-me' }, now)).toEqual([]);
        expect(await store.getEvents(a.id)).toEqual([]);
        expect(await store.getEvents(b.id)).toEqual([]);
        expect(await store.getSession(other.id)).not.toBeNull();
        const after = await loadRange(store, p, q, now);
        expect(after.totals.sessions).toBe(3);
        expect(after.uniqueUsers).toBe(1);
      });
    });

    describe('agent state (MCP)', () => {
      const entry = (s: Session, agentId: string, key: string, value: unknown, expiresAt: number | null = null) => ({
        projectId: s.projectId,
        sessionId: s.id,
        agentId,
        key,
        value,
        expiresAt,
        updatedAt: T0,
      });

      it('stores JSON values per (session, agent, key), replaces them and hides expired ones', async () => {
        const p = await newProject();
        const s = await started(p, T0, { kind: 'mcp' });
        const other = await started(p, T0, { kind: 'mcp' });
        const value = { cart: ['a', 'b'], n: 2, nested: { ok: true }, text: 'ünï' };
        await store.setAgentState(entry(s, 'planner', 'k', value));
        await store.setAgentState(entry(s, 'planner', 'short', 'soon gone', T0 + MIN));
        await store.setAgentState(entry(s, 'critic', 'k', 42));
        await store.setAgentState(entry(other, 'planner', 'k', [1, 2]));

        expect(await store.getAgentState(s.id, 'planner', 'k', T0)).toEqual(entry(s, 'planner', 'k', value));
        expect((await store.getAgentState(s.id, 'critic', 'k', T0))?.value).toBe(42);
        expect((await store.getAgentState(other.id, 'planner', 'k', T0))?.value).toEqual([1, 2]);
        expect(await store.getAgentState(s.id, 'planner', 'missing', T0)).toBeNull();
        // visible until its expiry, invisible from then on (before any purge)
        expect((await store.getAgentState(s.id, 'planner', 'short', T0 + MIN - 1))?.value).toBe('soon gone');
        expect(await store.getAgentState(s.id, 'planner', 'short', T0 + MIN)).toBeNull();

        // a set replaces value and expiry (an expired entry comes back with a new set)
        await store.setAgentState({ ...entry(s, 'planner', 'short', null, null), updatedAt: T0 + 2 * MIN });
        expect(await store.getAgentState(s.id, 'planner', 'short', T0 + DAY)).toMatchObject({
          value: null,
          expiresAt: null,
          updatedAt: T0 + 2 * MIN,
        });
      });

      it('deletes a key or an agent, and purges expired and orphaned entries', async () => {
        const p = await newProject();
        const a = await started(p, T0, { kind: 'mcp' });
        const c = await started(p, T0, { kind: 'mcp' });
        await store.setAgentState(entry(a, 'x', 'k1', 1));
        await store.setAgentState(entry(a, 'x', 'k2', 2));
        await store.setAgentState(entry(a, 'y', 'k1', 3));
        expect(await store.deleteAgentState(a.id, 'x', 'k1')).toBe(1);
        expect(await store.deleteAgentState(a.id, 'x', 'k1')).toBe(0);
        expect((await store.getAgentState(a.id, 'x', 'k2', T0))?.value).toBe(2);
        expect(await store.deleteAgentState(a.id, 'x')).toBe(1);
        expect((await store.getAgentState(a.id, 'y', 'k1', T0))?.value).toBe(3);

        await store.setAgentState(entry(c, 'x', 'k', 'c'));

        // purge: expired entries go, live ones stay, entries of a session that no longer exists go
        await store.setAgentState(entry(c, 'x', 'old', 'o', T0 + MIN));
        await store.setAgentState(entry(c, 'x', 'later', 'l', T0 + HOUR));
        const ghost = { ...entry(c, 'x', 'k', 'g'), sessionId: uid('s_gone') };
        await store.setAgentState(ghost);
        expect(await store.purgeAgentState(T0 + 2 * MIN)).toBeGreaterThanOrEqual(2);
        expect(await store.getAgentState(c.id, 'x', 'old', T0)).toBeNull();
        expect(await store.getAgentState(ghost.sessionId, 'x', 'k', T0)).toBeNull();
        expect((await store.getAgentState(c.id, 'x', 'later', T0 + 2 * MIN))?.value).toBe('l');
        expect((await store.getAgentState(c.id, 'x', 'k', T0 + 2 * MIN))?.value).toBe('c');
      });
    });

    describe('ping and close', () => {
      it('answers ping while open and refuses work once closed', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
        expect(typeof store.backend).toBe('string');
        expect(store.backend.length).toBeGreaterThan(0);
        await store.close();
        closed = true;
        await expect(store.ping()).rejects.toThrow();
        await expect(store.listProjects()).rejects.toThrow();
      });
    });
  });
}
