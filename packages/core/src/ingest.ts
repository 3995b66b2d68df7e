import {
  campaignFromPage,
  deviceFromUserAgent,
  entrySource,
  pageHost,
  pagePath,
  referrerForStorage,
} from './derive.js';
import { newEventId, newSessionId } from './ids.js';
import { policyFor } from './lifecycle.js';
import type { EventInput, StartSessionInput } from './schemas.js';
import type { EventType, Geo, Project, Session } from './types.js';

// From validated wire input to the values the store keeps. Pure: the caller passes the clock,
// the request's Origin and User-Agent headers and the geo it derived.

/** An event ready to store: page reduced to its path, time clamped, id assigned. */
export interface NewEvent {
  id: string;
  type: EventType;
  name: string | null;
  ts: number;
  page: string | null;
  resourceId: string | null;
  details: Record<string, unknown> | null;
}

/** Client clocks drift; an event may be a week old (retried from storage), never in the future. */
const MAX_EVENT_AGE_MS = 7 * 24 * 60 * 60 * 1000;
const MAX_CLOCK_SKEW_MS = 60 * 1000;

export function normalizeEvent(e: EventInput, now: number): NewEvent {
  const t = e.timestamp ?? now;
  return {
    id: e.id ?? newEventId(),
    type: e.type,
    name: e.name ?? null,
    ts: Math.min(Math.max(t, now - MAX_EVENT_AGE_MS), now + MAX_CLOCK_SKEW_MS),
    page: pagePath(e.page),
    resourceId: e.resourceId ?? null,
    details: e.details ?? null,
  };
}

export interface StartContext {
  project: Pick<Project, 'id' | 'idleTimeoutMs' | 'absoluteTimeoutMs'>;
  now: number;
  /** The request's Origin header: the host of pages given as paths. */
  origin: string | null;
  /** The request's User-Agent header; the body's `userAgent` wins. */
  userAgent: string | null;
  geo: Geo;
}

/** A new session from a start (or a /track that could not continue). */
export function buildSession(
  input: Omit<StartSessionInput, 'sessionId' | 'writeKey'>,
  ctx: StartContext,
  id = newSessionId(),
): Session {
  const policy = policyFor(ctx.project, input.kind);
  const derived = deviceFromUserAgent(input.userAgent ?? ctx.userAgent);
  const entry = input.entry;
  const page = pagePath(entry?.page);
  return {
    id,
    projectId: ctx.project.id,
    kind: input.kind,
    userId: input.userId ?? null,
    anonymousId: input.anonymousId ?? null,
    status: 'active',
    startedAt: ctx.now,
    lastActivityAt: ctx.now,
    endedAt: null,
    disconnectedAt: null,
    idleTimeoutMs: policy.idleTimeoutMs,
    absoluteTimeoutMs: policy.absoluteTimeoutMs,
    graceMs: input.graceMs ?? policy.graceMs,
    maxRecoveryAttempts: input.maxRecoveryAttempts ?? policy.maxRecoveryAttempts,
    device: {
      type: input.device?.type ?? derived.type,
      browser: input.device?.browser ?? derived.browser,
      os: input.device?.os ?? derived.os,
      screenSize: input.device?.screenSize ?? null,
    },
    entry: {
      page,
      source: entry ? entrySource(entry.referrer, pageHost(entry.page, ctx.origin)) : null,
      referrer: referrerForStorage(entry?.referrer),
      campaign: entry?.campaign ?? campaignFromPage(entry?.page),
    },
    exit: { page, reason: null, lastAction: null },
    geo: ctx.geo,
    transport: input.transport ?? null,
    actions: 0,
    errors: 0,
    toolCalls: 0,
    workflows: 0,
    recoveryAttempts: 0,
    metadata: input.metadata ?? null,
    engagedMs: null,
  };
}
