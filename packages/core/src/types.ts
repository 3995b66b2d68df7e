// The session model shared by every part. Times are epoch milliseconds inside the system and
// become ISO strings only at the HTTP edge (see wire.ts).

export const SESSION_KINDS = ['web', 'mcp', 'api'] as const;
export type SessionKind = (typeof SESSION_KINDS)[number];

export const SESSION_STATUSES = ['active', 'disconnected', 'ended'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

export const END_REASONS = ['logout', 'timeout', 'error', 'navigation'] as const;
export type EndReason = (typeof END_REASONS)[number];

export const EVENT_TYPES = [
  'pageview',
  'action',
  'error',
  'workflow_start',
  'workflow_complete',
  'workflow_fail',
  'tool_call',
  'custom',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type EntrySource = 'direct' | 'internal' | 'external';

export interface Device {
  type: string | null;
  browser: string | null;
  os: string | null;
  screenSize: string | null;
}

export interface Entry {
  page: string | null;
  source: EntrySource | null;
  referrer: string | null;
  campaign: string | null;
}

export interface Exit {
  page: string | null;
  reason: string | null;
  lastAction: string | null;
}

export interface Geo {
  country: string | null;
  region: string | null;
  continent: string | null;
}

/** Per-session lifecycle limits, copied onto the session when it starts. */
export interface LifecyclePolicy {
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  /** How long a disconnected session may still be recovered. */
  graceMs: number;
  maxRecoveryAttempts: number;
}

/** A session as stored. `status` is the *written* state; `effectiveSession` applies the clock. */
export interface Session {
  id: string;
  projectId: string;
  kind: SessionKind;
  userId: string | null;
  anonymousId: string | null;
  status: SessionStatus;
  startedAt: number;
  lastActivityAt: number;
  endedAt: number | null;
  disconnectedAt: number | null;
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  /** How long after a disconnect the session may be recovered (default 10 min). */
  graceMs: number;
  /** Recoveries allowed (default 3). */
  maxRecoveryAttempts: number;
  device: Device;
  entry: Entry;
  exit: Exit;
  geo: Geo;
  transport: string | null;
  actions: number;
  errors: number;
  toolCalls: number;
  workflows: number;
  recoveryAttempts: number;
  metadata: Record<string, unknown> | null;
  /**
   * Milliseconds the page was visible and the user active, the largest total a client reported
   * (docs/metrics.md, "Engaged time"); null while none did (MCP and API clients report none).
   */
  engagedMs: number | null;
}

/** An event as stored. `ts` is the client's time (clamped), `receivedAt` the server's. */
export interface StoredEvent {
  id: string;
  sessionId: string;
  projectId: string;
  type: EventType;
  name: string | null;
  ts: number;
  receivedAt: number;
  page: string | null;
  resourceId: string | null;
  details: Record<string, unknown> | null;
}

export interface Project {
  id: string;
  name: string;
  writeKey: string;
  allowedOrigins: string[];
  timeZone: string;
  /** null: the kind's default (web 30 min, mcp 1 h). */
  idleTimeoutMs: number | null;
  /** null: the kind's default (web 24 h, mcp 30 days). */
  absoluteTimeoutMs: number | null;
  retentionDays: number;
  rateLimitPerMinute: number;
  createdAt: number;
  /** Bounce threshold (analytics): absent = 30 s. */
  bounceSeconds?: number | undefined;
  /** Bounce threshold (analytics): absent = at most 1 action. */
  bounceMaxActions?: number | undefined;
  /** The write key before the last rotation, accepted until `previousKeyValidUntil` (absent: none). */
  previousWriteKey?: string | undefined;
  /** Epoch ms; with `previousWriteKey`. */
  previousKeyValidUntil?: number | undefined;
}

/**
 * What PATCH /projects/{id} may change: every field optional; null resets a timeout or a bounce
 * threshold to its default.
 */
export interface ProjectChanges {
  name?: string | undefined;
  allowedOrigins?: string[] | undefined;
  timeZone?: string | undefined;
  idleTimeoutMs?: number | null | undefined;
  absoluteTimeoutMs?: number | null | undefined;
  retentionDays?: number | undefined;
  rateLimitPerMinute?: number | undefined;
  bounceSeconds?: number | null | undefined;
  bounceMaxActions?: number | null | undefined;
}

/** A read-only share link of one project; the token itself is kept only as its SHA-256 digest. */
export interface ProjectShare {
  id: string;
  projectId: string;
  label: string | null;
  /** hex SHA-256 of the token. */
  tokenHash: string;
  createdAt: number;
}
