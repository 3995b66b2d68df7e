import {
  type AnalyticsEvent,
  DEFAULT_GRACE_MS,
  DEFAULT_MAX_RECOVERY_ATTEMPTS,
  expiresAt,
  type Project,
  type ProjectShare,
  type Session,
  type StoredEvent,
} from '@sessiontrack/core';
import type { EventRow } from './batch.js';
import type { SqlType } from './sql/dialect.js';
import { type Sql, sql } from './sql/sql.js';
import type { AgentStateEntry } from './store.js';

// Row <-> model mapping shared by the SQL backends: the column names are the same in each.

/** The sessions columns, each with its type for binding sessions as rows (sql/dialect.ts). */
const SESSION_COLUMN_TYPES = {
  id: 'text',
  project_id: 'text',
  kind: 'text',
  user_id: 'text',
  anonymous_id: 'text',
  status: 'text',
  started_at: 'bigint',
  last_activity_at: 'bigint',
  ended_at: 'bigint',
  disconnected_at: 'bigint',
  expires_at: 'bigint',
  idle_timeout_ms: 'bigint',
  absolute_timeout_ms: 'bigint',
  device_type: 'text',
  browser: 'text',
  os: 'text',
  screen_size: 'text',
  entry_page: 'text',
  entry_source: 'text',
  entry_referrer: 'text',
  entry_campaign: 'text',
  exit_page: 'text',
  exit_reason: 'text',
  last_action: 'text',
  country: 'text',
  region: 'text',
  continent: 'text',
  transport: 'text',
  actions: 'bigint',
  errors: 'bigint',
  tool_calls: 'bigint',
  workflows: 'bigint',
  recovery_attempts: 'bigint',
  metadata: 'json',
  grace_ms: 'bigint',
  max_recovery_attempts: 'bigint',
  engaged_ms: 'bigint',
} as const satisfies Record<string, SqlType>;

export type SessionColumn = keyof typeof SESSION_COLUMN_TYPES;
export const SESSION_COLUMNS = Object.keys(SESSION_COLUMN_TYPES) as readonly SessionColumn[];
export const sessionColumnType = (c: SessionColumn): SqlType => SESSION_COLUMN_TYPES[c];

export type SessionRow = Record<SessionColumn, string | number | null>;

const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const json = (v: unknown): Record<string, unknown> | null => {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? (JSON.parse(v) as Record<string, unknown>) : (v as Record<string, unknown>);
};

export function sessionToRow(s: Session): SessionRow {
  return {
    id: s.id,
    project_id: s.projectId,
    kind: s.kind,
    user_id: s.userId,
    anonymous_id: s.anonymousId,
    status: s.status,
    started_at: s.startedAt,
    last_activity_at: s.lastActivityAt,
    ended_at: s.endedAt,
    disconnected_at: s.disconnectedAt,
    // Stored so that "live" is one indexed comparison; rewritten with every change.
    expires_at: s.status === 'ended' ? (s.endedAt ?? s.lastActivityAt) : expiresAt(s),
    idle_timeout_ms: s.idleTimeoutMs,
    absolute_timeout_ms: s.absoluteTimeoutMs,
    device_type: s.device.type,
    browser: s.device.browser,
    os: s.device.os,
    screen_size: s.device.screenSize,
    entry_page: s.entry.page,
    entry_source: s.entry.source,
    entry_referrer: s.entry.referrer,
    entry_campaign: s.entry.campaign,
    exit_page: s.exit.page,
    exit_reason: s.exit.reason,
    last_action: s.exit.lastAction,
    country: s.geo.country,
    region: s.geo.region,
    continent: s.geo.continent,
    transport: s.transport,
    actions: s.actions,
    errors: s.errors,
    tool_calls: s.toolCalls,
    workflows: s.workflows,
    recovery_attempts: s.recoveryAttempts,
    metadata: s.metadata ? JSON.stringify(s.metadata) : null,
    grace_ms: s.graceMs,
    max_recovery_attempts: s.maxRecoveryAttempts,
    engaged_ms: s.engagedMs,
  };
}

export function rowToSession(r: Record<string, unknown>): Session {
  return {
    id: String(r.id),
    projectId: String(r.project_id),
    kind: r.kind as Session['kind'],
    userId: str(r.user_id),
    anonymousId: str(r.anonymous_id),
    status: r.status as Session['status'],
    startedAt: num(r.started_at),
    lastActivityAt: num(r.last_activity_at),
    endedAt: numOrNull(r.ended_at),
    disconnectedAt: numOrNull(r.disconnected_at),
    idleTimeoutMs: num(r.idle_timeout_ms),
    absoluteTimeoutMs: num(r.absolute_timeout_ms),
    // NULL in rows written before migration 5 (or by bulk loaders): the defaults of that time.
    graceMs: r.grace_ms === null || r.grace_ms === undefined ? DEFAULT_GRACE_MS : num(r.grace_ms),
    maxRecoveryAttempts:
      r.max_recovery_attempts === null || r.max_recovery_attempts === undefined
        ? DEFAULT_MAX_RECOVERY_ATTEMPTS
        : num(r.max_recovery_attempts),
    device: { type: str(r.device_type), browser: str(r.browser), os: str(r.os), screenSize: str(r.screen_size) },
    entry: {
      page: str(r.entry_page),
      source: str(r.entry_source) as Session['entry']['source'],
      referrer: str(r.entry_referrer),
      campaign: str(r.entry_campaign),
    },
    exit: { page: str(r.exit_page), reason: str(r.exit_reason), lastAction: str(r.last_action) },
    geo: { country: str(r.country), region: str(r.region), continent: str(r.continent) },
    transport: str(r.transport),
    actions: num(r.actions),
    errors: num(r.errors),
    toolCalls: num(r.tool_calls),
    workflows: num(r.workflows),
    recoveryAttempts: num(r.recovery_attempts),
    metadata: json(r.metadata),
    engagedMs: numOrNull(r.engaged_ms),
  };
}

export function rowToEvent(r: Record<string, unknown>): StoredEvent {
  return {
    id: String(r.event_id),
    sessionId: String(r.session_id),
    projectId: String(r.project_id),
    type: r.type as StoredEvent['type'],
    name: str(r.name),
    ts: num(r.ts),
    receivedAt: num(r.received_at),
    page: str(r.page),
    resourceId: str(r.resource_id),
    details: json(r.details),
  };
}

export function rowToAnalyticsEvent(r: Record<string, unknown>): AnalyticsEvent {
  return {
    sessionId: String(r.session_id),
    type: r.type as StoredEvent['type'],
    name: str(r.name),
    page: str(r.page),
    details: json(r.details),
  };
}

/** events columns, in the order of `eventValues`, with their types for binding events as rows. */
export const EVENT_COLUMNS = [
  ['project_id', 'text'],
  ['session_id', 'text'],
  ['event_id', 'text'],
  ['type', 'text'],
  ['name', 'text'],
  ['ts', 'bigint'],
  ['received_at', 'bigint'],
  ['page', 'text'],
  ['resource_id', 'text'],
  ['details', 'json'],
] as const satisfies readonly (readonly [string, SqlType])[];

export function eventValues(e: EventRow): (string | number | null)[] {
  const details = e.details ? JSON.stringify(e.details) : null;
  return [e.projectId, e.sessionId, e.id, e.type, e.name, e.ts, e.receivedAt, e.page, e.resourceId, details];
}

/** An agent_state row; `value` is decoded by the caller (TEXT in SQLite, jsonb in PostgreSQL). */
export function rowToAgentState(r: Record<string, unknown>, value: unknown): AgentStateEntry {
  return {
    projectId: String(r.project_id),
    sessionId: String(r.session_id),
    agentId: String(r.agent_id),
    key: String(r.key),
    value,
    expiresAt: numOrNull(r.expires_at),
    updatedAt: num(r.updated_at),
  };
}

export function projectToRow(p: Project): Record<string, string | number | null> {
  return {
    id: p.id,
    name: p.name,
    write_key: p.writeKey,
    allowed_origins: JSON.stringify(p.allowedOrigins),
    time_zone: p.timeZone,
    idle_timeout_ms: p.idleTimeoutMs,
    absolute_timeout_ms: p.absoluteTimeoutMs,
    retention_days: p.retentionDays,
    rate_limit_per_minute: p.rateLimitPerMinute,
    created_at: p.createdAt,
    bounce_seconds: p.bounceSeconds ?? null,
    bounce_max_actions: p.bounceMaxActions ?? null,
    previous_write_key: p.previousWriteKey ?? null,
    previous_key_valid_until: p.previousKeyValidUntil ?? null,
  };
}

export function rowToProject(r: Record<string, unknown>): Project {
  return {
    id: String(r.id),
    name: String(r.name),
    writeKey: String(r.write_key),
    allowedOrigins: JSON.parse(String(r.allowed_origins)) as string[],
    timeZone: String(r.time_zone),
    idleTimeoutMs: numOrNull(r.idle_timeout_ms),
    absoluteTimeoutMs: numOrNull(r.absolute_timeout_ms),
    retentionDays: num(r.retention_days),
    rateLimitPerMinute: num(r.rate_limit_per_minute),
    createdAt: num(r.created_at),
    // Absent when unset (the default applies), so projects without them read back unchanged.
    ...(r.bounce_seconds === null || r.bounce_seconds === undefined ? {} : { bounceSeconds: num(r.bounce_seconds) }),
    ...(r.bounce_max_actions === null || r.bounce_max_actions === undefined
      ? {}
      : { bounceMaxActions: num(r.bounce_max_actions) }),
    ...(r.previous_write_key === null || r.previous_write_key === undefined
      ? {}
      : { previousWriteKey: String(r.previous_write_key), previousKeyValidUntil: num(r.previous_key_valid_until) }),
  };
}

export function rowToShare(r: Record<string, unknown>): ProjectShare {
  return {
    id: String(r.id),
    projectId: String(r.project_id),
    label: r.label === null || r.label === undefined ? null : String(r.label),
    tokenHash: String(r.token_hash),
    createdAt: num(r.created_at),
  };
}

/** What a batch may change on an existing session (batch.ts); everything else is set at start. */
export const MUTABLE_SESSION_COLUMNS = [
  'user_id',
  'status',
  'last_activity_at',
  'ended_at',
  'disconnected_at',
  'expires_at',
  'exit_page',
  'exit_reason',
  'last_action',
  'actions',
  'errors',
  'tool_calls',
  'workflows',
  'recovery_attempts',
  'engaged_ms',
] as const satisfies readonly SessionColumn[];

/**
 * A session's effective status as SQL over the stored `status` and `expires_at`: the same rule as
 * core's `isLive`, at the clock `now`.
 */
export function statusCondition(status: 'live' | 'active' | 'disconnected' | 'ended', now: number): Sql {
  switch (status) {
    case 'live':
      return sql`(status <> 'ended' AND expires_at > ${now})`;
    case 'active':
      return sql`(status = 'active' AND expires_at > ${now})`;
    case 'disconnected':
      return sql`(status = 'disconnected' AND expires_at > ${now})`;
    case 'ended':
      return sql`(status = 'ended' OR expires_at <= ${now})`;
  }
}
