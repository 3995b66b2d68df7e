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

export interface EventRow extends NewEvent {
  projectId: string;
  sessionId: string;
  receivedAt: number;
}

type Step =
  | { t: 'patch'; sessionId: string; patch: (s: Session) => Session }
  | { t: 'events'; sessionId: string; from: number; to: number }
  | { t: 'result'; op: number; sessionId: string; rotated: boolean; from: number; to: number };

export interface BatchPlan {
  /** Event rows to insert, in operation order. */
  rows: EventRow[];
  steps: Step[];
  /** Errors decided while planning; null where the result comes from `finishBatch`. */
  errors: (WriteResult | null)[];
  base: Map<string, Session>;
  created: Set<string>;
}

/** The session ids a batch needs loaded before it can be planned. */
export function sessionIdsOf(ops: readonly WriteOp[]): string[] {
  const ids = new Set<string>();
  for (const o of ops) {
    if (o.op === 'start') ids.add(o.session.id);
    else if (o.op === 'track') {
      if (o.sessionId) ids.add(o.sessionId);
      ids.add(o.newSession.id);
    } else ids.add(o.sessionId);
  }
  return [...ids];
}

export function planBatch(ops: readonly WriteOp[], loaded: ReadonlyMap<string, Session>, now: number): BatchPlan {
  const work = new Map(loaded);
  const base = new Map(loaded);
  const created = new Set<string>();
  const rows: EventRow[] = [];
  const steps: Step[] = [];
  const errors: (WriteResult | null)[] = [];

  const patch = (sessionId: string, fn: (s: Session) => Session) => {
    const s = work.get(sessionId);
    if (!s) return;
    work.set(sessionId, fn(s));
    steps.push({ t: 'patch', sessionId, patch: fn });
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
      steps.push({ t: 'events', sessionId, from, to });
      patch(sessionId, (s) => ({ ...s, lastActivityAt: Math.max(s.lastActivityAt, now) }));
    }
    return { from, to };
  };
  /** Applies the clock: continue, recover (counts an attempt) or ended (writes a lazy timeout end). */
  const admit = (s: Session): boolean => {
    const decision = decideActivity(s, now);
    if (decision === 'ended') {
      if (s.status !== 'ended') patch(s.id, (x) => ({ ...x, ...timeoutEnd(x) }));
      return false;
    }
    if (decision === 'recover') {
      patch(s.id, (x) => ({
        ...x,
        status: 'active',
        disconnectedAt: null,
        recoveryAttempts: x.recoveryAttempts + 1,
      }));
    }
    return true;
  };
  const owned = (projectId: string, id: string | null): Session | undefined => {
    const s = id ? work.get(id) : undefined;
    return s && s.projectId === projectId ? s : undefined;
  };
  const create = (s: Session) => {
    work.set(s.id, s);
    base.set(s.id, s);
    created.add(s.id);
  };
  const result = (op: number, sessionId: string, rotated = false, range = { from: 0, to: 0 }) => {
    steps.push({ t: 'result', op, sessionId, rotated, ...range });
    errors.push(null);
  };

  ops.forEach((o, i) => {
    switch (o.op) {
      case 'start': {
        if (work.has(o.session.id)) {
          errors.push({ ok: false, error: 'conflict' });
          return;
        }
        create(o.session);
        result(i, o.session.id);
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
          result(i, s.id, false, addEvents(o.projectId, s.id, o.events));
        } else {
          // A heartbeat is activity by itself; its page is where the visitor is now.
          patch(s.id, (x) => ({
            ...x,
            lastActivityAt: Math.max(x.lastActivityAt, now),
            exit: o.page ? { ...x.exit, page: o.page } : x.exit,
            engagedMs: moreEngaged(x.engagedMs, o.engagedMs),
          }));
          result(i, s.id);
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
          patch(s.id, (x) => ({
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
        result(i, s.id);
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
          result(i, s.id);
          return;
        }
        if (admit(s)) patch(s.id, (x) => ({ ...x, status: 'disconnected', disconnectedAt: now }));
        result(i, s.id);
        return;
      }
      case 'track': {
        const old = owned(o.projectId, o.sessionId);
        let id: string;
        if (old && admit(old)) {
          id = old.id;
          // identify(): a user id on a session that had none (or another) is the user now.
          const userId = o.newSession.userId;
          if (userId && old.userId !== userId) patch(id, (x) => ({ ...x, userId }));
        } else {
          // A client-chosen id never seen anywhere starts that session, so a tracker can name its
          // session before the first answer (a second tab or a beacon then agrees on it). An id
          // that exists (ended, expired, another project's) rotates to the server's new id.
          const fresh = o.sessionId && !work.has(o.sessionId) ? { ...o.newSession, id: o.sessionId } : o.newSession;
          if (work.has(fresh.id)) {
            errors.push({ ok: false, error: 'conflict' });
            return;
          }
          create(fresh);
          id = fresh.id;
        }
        const range = addEvents(o.projectId, id, o.events);
        const engaged = o.engagedMs;
        if (engaged !== undefined) patch(id, (x) => ({ ...x, engagedMs: moreEngaged(x.engagedMs, engaged) }));
        // A track call is activity even without events: trackers use it as their heartbeat.
        if (o.events.length === 0) patch(id, (x) => ({ ...x, lastActivityAt: Math.max(x.lastActivityAt, now) }));
        const end = o.end;
        if (end) {
          patch(id, (x) => ({
            ...x,
            status: 'ended',
            endedAt: Math.max(x.lastActivityAt, now),
            lastActivityAt: Math.max(x.lastActivityAt, now),
            exit: { ...x.exit, reason: end },
          }));
        }
        result(i, id, o.sessionId !== null && id !== o.sessionId, range);
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
    const s = state.get(step.sessionId);
    if (!s) continue;
    if (step.t === 'patch') {
      state.set(s.id, step.patch(s));
      touched.add(s.id);
    } else if (step.t === 'events') {
      const d = emptyDelta();
      for (let i = step.from; i < step.to; i++) {
        const row = plan.rows[i];
        if (row && inserted[i]) addToDelta(d, row);
      }
      state.set(s.id, {
        ...s,
        actions: s.actions + d.actions,
        errors: s.errors + d.errors,
        toolCalls: s.toolCalls + d.toolCalls,
        workflows: s.workflows + d.workflows,
        exit: { ...s.exit, page: d.exitPage ?? s.exit.page, lastAction: d.lastAction ?? s.exit.lastAction },
      });
      touched.add(s.id);
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
