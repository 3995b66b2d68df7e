import type { LifecyclePolicy, Project, Session, SessionKind, SessionStatus } from './types.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Defaults (docs/lifecycle.md): web idle 30 min / 24 h; MCP idle 1 h / 30 days; grace 10 min. */
export const KIND_DEFAULTS: Record<SessionKind, { idleTimeoutMs: number; absoluteTimeoutMs: number }> = {
  web: { idleTimeoutMs: 30 * MINUTE, absoluteTimeoutMs: DAY },
  api: { idleTimeoutMs: 30 * MINUTE, absoluteTimeoutMs: DAY },
  mcp: { idleTimeoutMs: HOUR, absoluteTimeoutMs: 30 * DAY },
};
export const DEFAULT_GRACE_MS = 10 * MINUTE;
export const DEFAULT_MAX_RECOVERY_ATTEMPTS = 3;
/** The most a session start may ask for. */
export const MAX_GRACE_MS = 24 * HOUR;
export const MAX_RECOVERY_ATTEMPTS = 100;

export function policyFor(
  project: Pick<Project, 'idleTimeoutMs' | 'absoluteTimeoutMs'>,
  kind: SessionKind,
): LifecyclePolicy {
  const d = KIND_DEFAULTS[kind];
  return {
    idleTimeoutMs: project.idleTimeoutMs ?? d.idleTimeoutMs,
    absoluteTimeoutMs: project.absoluteTimeoutMs ?? d.absoluteTimeoutMs,
    graceMs: DEFAULT_GRACE_MS,
    maxRecoveryAttempts: DEFAULT_MAX_RECOVERY_ATTEMPTS,
  };
}

type LifecycleFields = Pick<
  Session,
  'status' | 'startedAt' | 'lastActivityAt' | 'disconnectedAt' | 'idleTimeoutMs' | 'absoluteTimeoutMs' | 'graceMs'
>;

/**
 * The moment a not-ended session stops being live if nothing else happens. Stored alongside the
 * session so that "which sessions are live" is one indexed comparison in every backend.
 */
export function expiresAt(s: LifecycleFields): number {
  const idle = s.lastActivityAt + s.idleTimeoutMs;
  const cap = s.startedAt + s.absoluteTimeoutMs;
  const grace = s.status === 'disconnected' && s.disconnectedAt !== null ? s.disconnectedAt + s.graceMs : Infinity;
  return Math.min(idle, cap, grace);
}

/** Live = not ended and not past its expiry. Expiry is a rule applied at read time, not a job. */
export function isLive(s: LifecycleFields, now: number): boolean {
  return s.status !== 'ended' && now < expiresAt(s);
}

export function effectiveStatus(s: LifecycleFields, now: number): SessionStatus {
  return isLive(s, now) ? s.status : 'ended';
}

/**
 * The session as every answer must show it at `now`: a session past its idle timeout, absolute
 * cap or grace period is ended at its last activity with reason `timeout`, whether or not the
 * sweeper has written that yet.
 */
export function effectiveSession<S extends Session>(s: S, now: number): S {
  if (s.status === 'ended' || isLive(s, now)) return s;
  return { ...s, ...timeoutEnd(s) };
}

/** The fields that an expiry writes: ended at the last activity, never when it was noticed. */
export function timeoutEnd(s: Pick<Session, 'lastActivityAt' | 'exit'>): Pick<Session, 'status' | 'endedAt' | 'exit'> {
  return { status: 'ended', endedAt: s.lastActivityAt, exit: { ...s.exit, reason: 'timeout' } };
}

/** Recovery: disconnected, still inside its grace period, and fewer than its allowed attempts. */
export function canRecover(
  s: LifecycleFields & Pick<Session, 'recoveryAttempts' | 'maxRecoveryAttempts'>,
  now: number,
): boolean {
  return s.status === 'disconnected' && isLive(s, now) && s.recoveryAttempts < s.maxRecoveryAttempts;
}

/** Seconds from start to end (or to the last activity while live): idle gaps are not time on site. */
export function durationSeconds(s: Pick<Session, 'startedAt' | 'lastActivityAt' | 'endedAt'>): number {
  const end = s.endedAt ?? s.lastActivityAt;
  return Math.max(0, Math.round((end - s.startedAt) / 1000));
}

/**
 * Engaged seconds (docs/metrics.md): the reported engaged time, never above the wall-clock
 * duration (a client's clock, or a second tab, cannot make a session more engaged than long);
 * null when no client reported any.
 */
export function engagedSeconds(
  s: Pick<Session, 'startedAt' | 'lastActivityAt' | 'endedAt' | 'engagedMs'>,
): number | null {
  return s.engagedMs === null ? null : Math.min(Math.round(s.engagedMs / 1000), durationSeconds(s));
}

/**
 * What an incoming activity (events or heartbeat) may do to a session at `now`:
 * - `continue`: it is live and active;
 * - `recover`: it is disconnected but recoverable, and the activity brings it back;
 * - `ended`: it has ended or expired (or is disconnected beyond recovery): answer 410.
 */
export type ActivityDecision = 'continue' | 'recover' | 'ended';

export function decideActivity(
  s: LifecycleFields & Pick<Session, 'recoveryAttempts' | 'maxRecoveryAttempts'>,
  now: number,
): ActivityDecision {
  if (!isLive(s, now)) return 'ended';
  if (s.status === 'active') return 'continue';
  return canRecover(s, now) ? 'recover' : 'ended';
}
