import { durationSeconds, effectiveSession, engagedSeconds, expiresAt } from './lifecycle.js';
import type { Session, StoredEvent } from './types.js';

// The JSON shapes of docs/api.md's responses. Times leave the system here as ISO 8601 UTC strings.

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

export interface WireSession {
  id: string;
  projectId: string;
  kind: Session['kind'];
  userId: string | null;
  anonymousId: string | null;
  status: Session['status'];
  startedAt: string;
  lastActivityAt: string;
  endedAt: string | null;
  expiresAt: string | null;
  durationSeconds: number;
  /** Seconds visible and active (docs/metrics.md); null when the client reports none. */
  engagedSeconds: number | null;
  device: Session['device'];
  entry: Session['entry'];
  exit: Session['exit'];
  geo: Session['geo'];
  transport: string | null;
  actions: number;
  errors: number;
  toolCalls: number;
  workflows: number;
  recoveryAttempts: number;
  metadata: Record<string, unknown> | null;
}

export interface WireEvent {
  id: string;
  type: StoredEvent['type'];
  name: string | null;
  timestamp: string;
  receivedAt: string;
  page: string | null;
  resourceId: string | null;
  details: Record<string, unknown> | null;
  sinceLastMs: number;
}

/** The session object, with the clock applied: an expired session shows as ended at its last activity. */
export function sessionToWire(stored: Session, now: number): WireSession {
  const s = effectiveSession(stored, now);
  return {
    id: s.id,
    projectId: s.projectId,
    kind: s.kind,
    userId: s.userId,
    anonymousId: s.anonymousId,
    status: s.status,
    startedAt: iso(s.startedAt) as string,
    lastActivityAt: iso(s.lastActivityAt) as string,
    endedAt: iso(s.endedAt),
    expiresAt: s.status === 'ended' ? null : iso(expiresAt(s)),
    durationSeconds: durationSeconds(s),
    engagedSeconds: engagedSeconds(s),
    device: s.device,
    entry: s.entry,
    exit: s.exit,
    geo: s.geo,
    transport: s.transport,
    actions: s.actions,
    errors: s.errors,
    toolCalls: s.toolCalls,
    workflows: s.workflows,
    recoveryAttempts: s.recoveryAttempts,
    metadata: s.metadata,
  };
}

/**
 * Events oldest first, each with the gap since the one before it; the first one's since the session
 * started (Contract v1.1: "time since last action" is a number for every event). A client clock
 * behind the server's can put an event before the start: that gap is 0, not negative.
 */
export function eventsToWire(events: readonly StoredEvent[], startedAt: number): WireEvent[] {
  let prev = startedAt;
  return events.map((e) => {
    const sinceLastMs = Math.max(0, e.ts - prev);
    prev = e.ts;
    return {
      id: e.id,
      type: e.type,
      name: e.name,
      timestamp: iso(e.ts) as string,
      receivedAt: iso(e.receivedAt) as string,
      page: e.page,
      resourceId: e.resourceId,
      details: e.details,
      sinceLastMs,
    };
  });
}
