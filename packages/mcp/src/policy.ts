import type { Session } from '@sessiontrack/core';
import type { McpSessionMetadata, RecoveryPolicy, RecoveryRefusal } from './sink.js';

// Pure rules of this package, shared by both sinks and tested directly.

type Recoverable = Pick<Session, 'status' | 'userId' | 'lastActivityAt' | 'disconnectedAt' | 'recoveryAttempts'> & {
  kind: string;
  /** When the session stops being live by its idle timeout or absolute cap (ignoring grace). */
  idleOrCapExpiresAt: number;
};

/**
 * May this stored session be served again on a fresh transport at `now`? A session still `active`
 * (the process that served it died without a word) counts as disconnected at its last activity.
 * Checked before anything is written, so a refused request costs no attempt.
 */
export function recoveryDecision(s: Recoverable, policy: RecoveryPolicy, now: number): RecoveryRefusal | null {
  if (s.kind !== 'mcp') return 'not_found';
  // Never authenticate by session id: another principal gets the same answer as a stranger.
  if ((s.userId ?? null) !== (policy.principal ?? null)) return 'principal_mismatch';
  if (s.status === 'ended' || now >= s.idleOrCapExpiresAt) return 'ended';
  const since = s.status === 'disconnected' && s.disconnectedAt !== null ? s.disconnectedAt : s.lastActivityAt;
  if (now - since > policy.graceMs) return 'grace_expired';
  if (s.recoveryAttempts >= policy.maxRecoveryAttempts) return 'attempts_exhausted';
  return null;
}

/** Reads back the metadata this package wrote; tolerant of sessions written by hand. */
export function readMetadata(m: Record<string, unknown> | null): McpSessionMetadata {
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const obj = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null);
  return {
    clientName: str(m?.clientName),
    clientVersion: str(m?.clientVersion),
    protocolVersion: str(m?.protocolVersion),
    clientCapabilities: obj(m?.clientCapabilities),
    custom: obj(m?.custom),
  };
}

/** Exponential backoff with full jitter: attempt 0 → up to `base`, capped at `max`. */
export function backoffMs(attempt: number, base = 200, max = 10_000, random = Math.random): number {
  return Math.round(random() * Math.min(max, base * 2 ** Math.min(attempt, 30)));
}
