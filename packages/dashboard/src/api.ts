import type {
  countriesOf,
  DailyStats,
  exitsOf,
  PatternLabel,
  Retention,
  WireEvent,
  WireSession,
  WorkflowOutcome,
} from '@sessiontrack/core';

// The read API of the server (docs/api.md), as the dashboard uses it. The admin token is kept in
// sessionStorage: it survives a reload of the tab, not the closing of the browser.

export type { WireEvent, WireSession };

export interface Project {
  id: string;
  name: string;
  /** Empty on a share link (it cannot read the project's settings). */
  writeKey: string;
  timeZone: string;
  allowedOrigins: string[];
  idleTimeoutMs: number | null;
  absoluteTimeoutMs: number | null;
  retentionDays: number;
  rateLimitPerMinute: number;
  bounceSeconds?: number;
  bounceMaxActions?: number;
  previousKeyValidUntil?: string | null;
}

// The shapes of the stats routes are core's (the server answers with them as they are).
export type {
  BreakdownRow,
  PathRow,
  Summary,
  ToolRow,
  UserPattern as Pattern,
  WorkflowStats,
} from '@sessiontrack/core';
export type Daily = DailyStats;
export type Countries = ReturnType<typeof countriesOf>;
export type Exits = ReturnType<typeof exitsOf>;
export type { PatternLabel, Retention };

/** GET /users: a page of the range's identified users and the distribution of their patterns. */
export interface UsersPage {
  users: { userId: string; sessions: number; lastSeenAt: string; pattern: PatternLabel }[];
  patterns: Record<PatternLabel, number>;
  nextCursor: string | null;
}

/** GET /sessions/{id}: the session, its events, and its workflows with their outcome. */
export type SessionDetail = WireSession & {
  events: WireEvent[];
  workflowOutcomes: WorkflowOutcome[];
  abandonedWorkflows: string[];
};

const TOKEN_KEY = 'sessiontrack.adminToken';
/** Set when the token is a share link's: the one project it reads. */
const SHARE_KEY = 'sessiontrack.shareProject';

export const sharedProject = (): string | null => sessionStorage.getItem(SHARE_KEY);

/**
 * A share link (`#/overview?project=<id>&share=<token>`, docs/api.md): its token becomes this tab's
 * token, read-only for that project, and leaves the address bar (it must not be bookmarked or
 * copied on by accident).
 */
export function takeShareLink(): void {
  const q = location.hash.indexOf('?');
  if (q === -1) return;
  const params = new URLSearchParams(location.hash.slice(q + 1));
  const token = params.get('share');
  if (!token) return;
  params.delete('share');
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(SHARE_KEY, params.get('project') || 'default');
  const rest = params.toString();
  history.replaceState(null, '', `${location.pathname}${location.hash.slice(0, q)}${rest ? `?${rest}` : ''}`);
}

export const storedToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);
export const storeToken = (t: string | null): void => {
  sessionStorage.removeItem(SHARE_KEY);
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
};

/** The token was refused: the app returns to sign-in. */
export class Unauthorized extends Error {}

/** Any other non-2xx answer, with the API's error code. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let onUnauthorized: () => void = () => {};
export const setUnauthorizedHandler = (fn: () => void): void => {
  onUnauthorized = fn;
};

export type Params = Record<string, string | number | undefined | null>;

export function apiPath(path: string, params: Params = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return `/api/v1${path}${qs ? `?${qs}` : ''}`;
}

export function get<T>(path: string, params: Params = {}, token = storedToken(), signal?: AbortSignal): Promise<T> {
  return request<T>(apiPath(path, params), { headers: { authorization: `Bearer ${token ?? ''}` } }, signal);
}

/** A stats batch part: `route` and that route's own query (docs/api.md, "Several stats in one request"). */
export type BatchPart = { route: string } & Params;

/** POST /stats/batch: every part's answer under its name, in one request. */
export function batch<T>(project: string, parts: Record<string, BatchPart>, signal?: AbortSignal): Promise<T> {
  const init = {
    method: 'POST',
    headers: { authorization: `Bearer ${storedToken() ?? ''}`, 'content-type': 'application/json' },
    body: JSON.stringify({ parts }),
  };
  return request<T>(apiPath('/stats/batch', { project }), init, signal);
}

/** A write of the Settings view (admin token); null for a 204. */
export function send<T = unknown>(method: string, path: string, body?: unknown): Promise<T | null> {
  const headers: Record<string, string> = { authorization: `Bearer ${storedToken() ?? ''}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return request<T | null>(apiPath(path), {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function request<T>(url: string, init: RequestInit, signal?: AbortSignal): Promise<T> {
  const res = await fetch(url, { ...init, ...(signal ? { signal } : {}) });
  if (res.status === 401) {
    onUnauthorized();
    throw new Unauthorized('the admin token was refused');
  }
  if (!res.ok) {
    let code = 'http_error';
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { error?: { code?: string; message?: string } };
      code = body.error?.code ?? code;
      message = body.error?.message ?? message;
    } catch {
      // not our error shape
    }
    throw new ApiFailure(res.status, code, message);
  }
  if (res.status === 204) return null as T;
  return (await res.json()) as T;
}
