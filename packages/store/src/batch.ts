import {
  addToDelta,
  decideActivity,
  emptyDelta,
  isLive,
  type NewEvent,
  type Session,
  timeoutEnd,
} from '@sessiontrack/core';
import type { WriteOp, WriteResult } from './store.js';

// How one batch of write operations changes the sessions, written once for every backend.
//
// A backend commits a batch in one transaction, in three moves:
//   1. load the sessions the batch names (one query),
//   2. `planBatch` walks the operations in order and decides each one (410, 404, recover, …),
//      producing the event rows to insert,
//   3. insert the rows with "on conflict do nothing", then `finishBatch` replays the plan knowing
//      which rows were new, so counters move only for accepted events — once per session per batch.
// No read-before-write per event, and no per-event counter update.

/**
 * A session's key in a batch and the stores' maps: session ids are unique per project only (the
 * same id in two projects is two sessions, issue 14.10), so every map of sessions uses this.
 */
export const sessionKey = (projectId: string, id: string): string => `${projectId}\u0000${id}`;
export const keyOf = (s: Pick<Session, 'projectId' | 'id'>): string => sessionKey(s.projectId, s.id);
/** [projectId, id] of a sessionKey (project ids hold no U+0000: the server makes them). */
export const splitKey = (key: string): [string, string] => {
  const i = key.indexOf('\u0000');
  return [key.slice(0, i), key.slice(i + 1)];
};

export interface EventRow extends NewEvent {
  projectId: string;
  sessionId: string;
  receivedAt: number;
}

/** `key`: the session's sessionKey. */
type Step =
  | { t: 'patch'; key: string; patch: (s: Session) => Session }
  | { t: 'events'; key: string; from: number; to: number }
  | { t: 'result'; op: number; key: string; rotated: boolean; from: number; to: number };

export interface BatchPlan {
  /** Event rows to insert, in operation order. */
  rows: EventRow[];
  steps: Step[];
  /** Errors decided while planning; null where the result comes from `finishBatch`. */
  errors: (WriteResult | null)[];
  /** By sessionKey. */
  base: Map<string, Session>;
  created: Set<string>;
}

/** The sessions a batch needs loaded before it can be planned, as [id, projectId]. */
export function sessionKeysOf(ops: readonly WriteOp[]): [string, string][] {
  const keys = new Map<string, [string, string]>();
  const add = (projectId: string, id: string) => keys.set(sessionKey(projectId, id), [id, projectId]);
  for (const o of ops) {
    if (o.op === 'start') add(o.session.projectId, o.session.id);
    else if (o.op === 'track') {
      if (o.sessionId) add(o.projectId, o.sessionId);
      add(o.projectId, o.newSession.id);
    } else add(o.projectId, o.sessionId);
  }
  return [...keys.values()];
}

/** `loaded`: the stored sessions by sessionKey. */
export function planBatch(ops: readonly WriteOp[], loaded: ReadonlyMap<string, Session>, now: number): BatchPlan {
  const work = new Map(loaded);
  const base = new Map(loaded);
  const created = new Set<string>();
  const rows: EventRow[] = [];
  const steps: Step[] = [];
  const errors: (WriteResult | null)[] = [];

  const patch = (key: string, fn: (s: Session) => Session) => {
    const s = work.get(key);
    if (!s) return;
    work.set(key, fn(s));
    steps.push({ t: 'patch', key, patch: fn });
  };
  const addEvents = (projectId: string, sessionId: string, events: readonly NewEvent[]) => {
    const from = rows.length;
    // An explicit literal, not a spread: spreading costs microseconds per event on this path.
    for (const e of events) {
      rows.push({
        id: e.id,
        type: e.type,
        name: e.name,
        ts: e.ts,
        page: e.page,
        resourceId: e.resourceId,
        details: e.details,
        projectId,
        sessionId,
        receivedAt: now,
      });
    }
    const to = rows.length;
    if (to > from) {
      const key = sessionKey(projectId, sessionId);
      steps.push({ t: 'events', key, from, to });
      patch(key, (s) => ({ ...s, lastActivityAt: Math.max(s.lastActivityAt, now) }));
    }
    return { from, to };
  };
  /** Applies the clock: continue, recover (counts an attempt) or ended (writes a lazy timeout end). */
  const admit = (s: Session): boolean => {
    const decision = decideActivity(s, now);
    if (decision === 'ended') {
      if (s.status !== 'ended') patch(keyOf(s), (x) => ({ ...x, ...timeoutEnd(x) }));
      return false;
    }
    if (decision === 'recover') {
      patch(keyOf(s), (x) => ({
        ...x,
        status: 'active',
        disconnectedAt: null,
        recoveryAttempts: x.recoveryAttempts + 1,
      }));
    }
    return true;
  };
  // Another project's session of the same id has another key: it is simply not there.
  const owned = (projectId: string, id: string | null): Session | undefined =>
    id ? work.get(sessionKey(projectId, id)) : undefined;
  const create = (s: Session) => {
    const key = keyOf(s);
    work.set(key, s);
    base.set(key, s);
    created.add(key);
  };
  const result = (op: number, s: Session, rotated = false, range = { from: 0, to: 0 }) => {
    steps.push({ t: 'result', op, key: keyOf(s), rotated, ...range });
    errors.push(null);
  };

  ops.forEach((o, i) => {
    switch (o.op) {
      case 'start': {
        if (work.has(keyOf(o.session))) {
          errors.push({ ok: false, error: 'conflict' });
          return;
        }
        create(o.session);
        result(i, o.session);
        return;
      }
      case 'events':
      case 'heartbeat': {
        const s = owned(o.projectId, o.sessionId);
        if (!s) {
          errors.push({ ok: false, error: 'not_found' });
          return;
        }
        if (!admit(s)) {
          errors.push({ ok: false, error: 'session_ended' });
          return;
        }
        if (o.op === 'events') {
          result(i, s, false, addEvents(o.projectId, s.id, o.events));
        } else {
          // A heartbeat is activity by itself; its page is where the visitor is now.
          patch(keyOf(s), (x) => ({
            ...x,
            lastActivityAt: Math.max(x.lastActivityAt, now),
            exit: o.page ? { ...x.exit, page: o.page } : x.exit,
            engagedMs: moreEngaged(x.engagedMs, o.engagedMs),
          }));
          result(i, s);
        }
        return;
      }
      case 'end': {
        const s = owned(o.projectId, o.sessionId);
        if (!s) {
          errors.push({ ok: false, error: 'not_found' });
          return;
        }
        // Idempotent: an ended (or expired) session answers as it is.
        if (!isLive(s, now)) {
          admit(s);
        } else {
          patch(keyOf(s), (x) => ({
            ...x,
            status: 'ended',
            lastActivityAt: Math.max(x.lastActivityAt, now),
            endedAt: Math.max(x.lastActivityAt, now),
            disconnectedAt: null,
            exit: {
              page: o.page ?? x.exit.page,
              reason: o.reason,
              lastAction: o.lastAction ?? x.exit.lastAction,
            },
          }));
        }
        result(i, s);
        return;
      }
      case 'disconnect': {
        const s = owned(o.projectId, o.sessionId);
        if (!s) {
          errors.push({ ok: false, error: 'not_found' });
          return;
        }
        // A repeated disconnect is no activity: it neither recovers (an attempt) nor restarts the grace.
        if (s.status === 'disconnected' && isLive(s, now)) {
          result(i, s);
          return;
        }
        if (admit(s)) patch(keyOf(s), (x) => ({ ...x, status: 'disconnected', disconnectedAt: now }));
        result(i, s);
        return;
      }
      case 'track': {
        const old = owned(o.projectId, o.sessionId);
        let s: Session;
        if (old && admit(old)) {
          s = old;
          // identify(): a user id on a session that had none (or another) is the user now.
          const userId = o.newSession.userId;
          if (userId && old.userId !== userId) patch(keyOf(old), (x) => ({ ...x, userId }));
        } else {
          // A client-chosen id this project never used starts that session, so a tracker can name
          // its session before the first answer (a second tab or a beacon then agrees on it). An
          // id of this project's that cannot continue (ended, expired) rotates to the server's new
          // id; another project's ids are not seen here at all (sessionKey).
          const fresh =
            o.sessionId && !work.has(sessionKey(o.projectId, o.sessionId))
              ? { ...o.newSession, id: o.sessionId }
              : o.newSession;
          if (work.has(keyOf(fresh))) {
            errors.push({ ok: false, error: 'conflict' });
            return;
          }
          create(fresh);
          s = fresh;
        }
        const id = s.id;
        const key = keyOf(s);
        const range = addEvents(o.projectId, id, o.events);
        const engaged = o.engagedMs;
        if (engaged !== undefined) patch(key, (x) => ({ ...x, engagedMs: moreEngaged(x.engagedMs, engaged) }));
        // A track call is activity even without events: trackers use it as their heartbeat.
        if (o.events.length === 0) patch(key, (x) => ({ ...x, lastActivityAt: Math.max(x.lastActivityAt, now) }));
        const end = o.end;
        if (end) {
          patch(key, (x) => ({
            ...x,
            status: 'ended',
            endedAt: Math.max(x.lastActivityAt, now),
            lastActivityAt: Math.max(x.lastActivityAt, now),
            exit: { ...x.exit, reason: end },
          }));
        }
        result(i, s, o.sessionId !== null && id !== o.sessionId, range);
        return;
      }
    }
  });
  return { rows, steps, errors, base, created };
}

/**
 * Clients report the engaged time since their last report (each tab and page of a session its own),
 * so the reports add up; what they claim beyond the session's duration is cut when it is read.
 */
const moreEngaged = (had: number | null, sent: number | undefined): number | null =>
  sent === undefined ? had : (had ?? 0) + sent;

export interface BatchOutcome {
  results: WriteResult[];
  /** Sessions that did not exist before the batch, in their final state. */
  inserts: Session[];
  /** Sessions that existed and changed, in their final state. */
  updates: Session[];
}

/** Replays a plan once the backend knows which event rows were new (`inserted[i]`). */
export function finishBatch(plan: BatchPlan, inserted: readonly boolean[]): BatchOutcome {
  const state = new Map(plan.base);
  const touched = new Set<string>();
  const results = [...plan.errors];
  for (const step of plan.steps) {
    const s = state.get(step.key);
    if (!s) continue;
    if (step.t === 'patch') {
      state.set(step.key, step.patch(s));
      touched.add(step.key);
    } else if (step.t === 'events') {
      const d = emptyDelta();
      for (let i = step.from; i < step.to; i++) {
        const row = plan.rows[i];
        if (row && inserted[i]) addToDelta(d, row);
      }
      state.set(step.key, {
        ...s,
        actions: s.actions + d.actions,
        errors: s.errors + d.errors,
        toolCalls: s.toolCalls + d.toolCalls,
        workflows: s.workflows + d.workflows,
        exit: { ...s.exit, page: d.exitPage ?? s.exit.page, lastAction: d.lastAction ?? s.exit.lastAction },
      });
      touched.add(step.key);
    } else {
      let accepted = 0;
      for (let i = step.from; i < step.to; i++) if (inserted[i]) accepted++;
      results[step.op] = {
        ok: true,
        session: s,
        accepted,
        duplicates: step.to - step.from - accepted,
        rotated: step.rotated,
      };
    }
  }
  const inserts: Session[] = [];
  const updates: Session[] = [];
  for (const id of plan.created) {
    const s = state.get(id);
    if (s) inserts.push(s);
  }
  for (const id of touched) {
    const s = state.get(id);
    if (s && !plan.created.has(id)) updates.push(s);
  }
  return { results: results as WriteResult[], inserts, updates };
}
