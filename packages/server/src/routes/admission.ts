import { type ForwardedClient, forwardedClient, type Project } from '@sessiontrack/core';
import type { Context } from 'hono';
import type { AppEnv, RouteDeps } from '../app-deps.js';
import { readJsonBody } from '../body.js';
import { ApiError } from '../errors.js';

// Admission of a write-key request (ingest and agent state): address rate limit → write key →
// body (bounded, JSON) → Origin → project rate limit.

type C = Context<AppEnv>;

export interface Admitted {
  project: Project;
  body: Record<string, unknown> | undefined;
  /** The request's time, read once. */
  at: number;
}

export interface Admission {
  admit(c: C): Promise<Admitted>;
  /** Who the client is, behind the trusted proxies (for geo and the limit; never stored). */
  client(c: C): ForwardedClient;
}

export function admission(deps: RouteDeps): Admission {
  const { config, projects, limiter, metrics, now } = deps;

  const client = (c: C) =>
    forwardedClient(c.req.header('x-forwarded-for'), deps.socketAddress?.(c) ?? null, config.trustProxy);

  async function projectFor(key: string): Promise<Project> {
    const p = await projects.byWriteKey(key);
    if (!p) throw new ApiError('unauthorized', 'unknown write key');
    return p;
  }

  async function admit(c: C): Promise<Admitted> {
    const at = now();
    if (config.ipRateLimitPerMinute > 0) {
      const ip = client(c).address;
      if (ip && !isLoopback(ip)) {
        const wait = limiter.take(`ip:${ip}`, config.ipRateLimitPerMinute, at);
        if (wait > 0) {
          metrics.rateLimited.inc({ limit: 'ip' });
          throw new ApiError('rate_limited', 'too many requests from this address', [], wait);
        }
      }
    }
    // A key in the header is checked before the body is read: a wrong key costs nothing.
    const headerKey = c.req.header('x-write-key');
    let project = headerKey ? await projectFor(headerKey) : undefined;
    const raw = await readJsonBody(c.req.raw, { limitBytes: config.bodyLimitBytes, allowTextPlain: true });
    if (raw !== undefined && (typeof raw !== 'object' || raw === null || Array.isArray(raw))) {
      throw new ApiError('validation_failed', 'body: expected a JSON object');
    }
    const body = raw as Record<string, unknown> | undefined;
    if (!project) {
      const bodyKey = body?.writeKey;
      if (typeof bodyKey !== 'string' || !bodyKey) {
        throw new ApiError('unauthorized', 'missing write key (X-Write-Key header or "writeKey" in the body)');
      }
      project = await projectFor(bodyKey);
    }
    const origin = c.req.header('origin');
    if (origin && project.allowedOrigins.length > 0 && !project.allowedOrigins.includes(origin)) {
      throw new ApiError('forbidden', `origin ${origin} is not allowed for this project`);
    }
    if (project.rateLimitPerMinute > 0) {
      const wait = limiter.take(`project:${project.id}`, project.rateLimitPerMinute, at);
      if (wait > 0) {
        metrics.rateLimited.inc({ limit: 'project' });
        throw new ApiError('rate_limited', 'project rate limit exceeded', [], wait);
      }
    }
    return { project, body, at };
  }

  return { admit, client };
}

function isLoopback(ip: string): boolean {
  // Normalised by forwardedClient: IPv4-mapped loopback is already 127.x.
  return ip === '::1' || ip.startsWith('127.');
}
