import { z } from 'zod';
import { addToDelta, emptyDelta } from './activity.js';
import { continentOf } from './continents.js';
import { campaignFromPage, entrySource, pageHost, pagePath, referrerForStorage } from './derive.js';
import type { NewEvent } from './ingest.js';
import { policyFor } from './lifecycle.js';
import {
  boundedObject,
  deviceSchema,
  entrySchema,
  eventSchema,
  MAX_METADATA_BYTES,
  sessionIdSchema,
  timeInput,
} from './schemas.js';
import { END_REASONS, type Project, SESSION_KINDS, type Session } from './types.js';

// The admin-only import (POST /api/v1/import): whole sessions with their events and *past*
// timestamps, e.g. the demo data or a migration from another tool. Ingest routes never accept a
// past start or a week-old event; this path exists so that normal write keys cannot rewrite
// history while an operator holding the admin token can.

export const MAX_IMPORT_SESSIONS = 1000;
export const MAX_IMPORT_EVENTS = 20_000;

const geoSchema = z.object({
  country: z
    .string()
    .regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2, upper case')
    .nullish(),
  region: z.string().max(64).nullish(),
  continent: z
    .string()
    .regex(/^[A-Z]{2}$/)
    .nullish(),
});

export const importSessionSchema = z
  .object({
    id: sessionIdSchema,
    kind: z.enum(SESSION_KINDS).default('web'),
    userId: z.string().max(256).nullish(),
    anonymousId: z.string().max(256).nullish(),
    startedAt: timeInput,
    /** Default: the newest event, else the start. */
    lastActivityAt: timeInput.optional(),
    /** Absent: the session is still open (live until its idle timeout, as any other). */
    end: z
      .object({
        reason: z.enum(END_REASONS).default('logout'),
        page: z.string().max(2048).nullish(),
        lastAction: z.string().max(256).nullish(),
      })
      .optional(),
    device: deviceSchema.optional(),
    entry: entrySchema.optional(),
    geo: geoSchema.optional(),
    transport: z.string().max(64).nullish(),
    metadata: boundedObject(MAX_METADATA_BYTES).nullish(),
    /** Engaged milliseconds, as a tracker would have reported them (absent: none reported). */
    engagedMs: z
      .number()
      .int()
      .min(0)
      .max(365 * 24 * 60 * 60 * 1000)
      .nullish(),
    // Every imported event needs its id (idempotent re-import) and its time (the past is the point).
    events: z.array(eventSchema.extend({ id: z.string().min(1).max(128), timestamp: timeInput })).default([]),
  })
  .refine((s) => Boolean(s.userId || s.anonymousId), {
    message: 'one of userId or anonymousId is required',
    path: ['userId'],
  });
export type ImportSessionInput = z.infer<typeof importSessionSchema>;

export const importBodySchema = z
  .object({ sessions: z.array(importSessionSchema).min(1).max(MAX_IMPORT_SESSIONS) })
  .refine((b) => b.sessions.reduce((n, s) => n + s.events.length, 0) <= MAX_IMPORT_EVENTS, {
    message: `at most ${MAX_IMPORT_EVENTS} events per request`,
    path: ['sessions'],
  })
  .refine((b) => new Set(b.sessions.map((s) => s.id)).size === b.sessions.length, {
    message: 'session ids must be unique within a request',
    path: ['sessions'],
  });

/** One session ready for `Store.importSessions`: its final state and its events, oldest first. */
export interface ImportedSession {
  session: Session;
  events: NewEvent[];
}

/**
 * Builds the stored session from an imported one: counters, exit page and last action come from
 * its events exactly as the ingest path would have counted them (activity.ts); times are taken as
 * given, except that nothing may lie in the future (clock skew of the sender) and the last
 * activity is never before the start or the newest event.
 */
export function importedSession(
  input: ImportSessionInput,
  project: Pick<Project, 'id' | 'idleTimeoutMs' | 'absoluteTimeoutMs'>,
  now: number,
): ImportedSession {
  if (input.startedAt > now) throw new RangeError('startedAt: in the future');
  const policy = policyFor(project, input.kind);
  const events: NewEvent[] = input.events
    .map((e) => ({
      id: e.id,
      type: e.type,
      name: e.name ?? null,
      ts: Math.min(Math.max(e.timestamp, input.startedAt), now),
      page: pagePath(e.page),
      resourceId: e.resourceId ?? null,
      details: e.details ?? null,
    }))
    .sort((a, b) => a.ts - b.ts);
  const delta = emptyDelta();
  for (const e of events) addToDelta(delta, e);
  const newest = events.at(-1)?.ts ?? input.startedAt;
  const lastActivityAt = Math.min(Math.max(input.lastActivityAt ?? newest, newest, input.startedAt), now);
  const page = pagePath(input.entry?.page);
  const country = input.geo?.country ?? null;
  const end = input.end;
  const session: Session = {
    id: input.id,
    projectId: project.id,
    kind: input.kind,
    userId: input.userId ?? null,
    anonymousId: input.anonymousId ?? null,
    status: end ? 'ended' : 'active',
    startedAt: input.startedAt,
    lastActivityAt,
    endedAt: end ? lastActivityAt : null,
    disconnectedAt: null,
    idleTimeoutMs: policy.idleTimeoutMs,
    absoluteTimeoutMs: policy.absoluteTimeoutMs,
    graceMs: policy.graceMs,
    maxRecoveryAttempts: policy.maxRecoveryAttempts,
    device: {
      type: input.device?.type ?? null,
      browser: input.device?.browser ?? null,
      os: input.device?.os ?? null,
      screenSize: input.device?.screenSize ?? null,
    },
    entry: {
      page,
      source: input.entry ? entrySource(input.entry.referrer, pageHost(input.entry.page, null)) : null,
      referrer: referrerForStorage(input.entry?.referrer),
      campaign: input.entry?.campaign ?? campaignFromPage(input.entry?.page),
    },
    exit: {
      page: pagePath(end?.page) ?? delta.exitPage ?? page,
      reason: end?.reason ?? null,
      lastAction: end?.lastAction ?? delta.lastAction,
    },
    geo: { country, region: input.geo?.region ?? null, continent: input.geo?.continent ?? continentOf(country) },
    transport: input.transport ?? null,
    actions: delta.actions,
    errors: delta.errors,
    toolCalls: delta.toolCalls,
    workflows: delta.workflows,
    recoveryAttempts: 0,
    metadata: input.metadata ?? null,
    engagedMs: input.engagedMs ?? null,
  };
  return { session, events };
}
