import type { countriesOf, DailyStats, exitsOf, WireEvent, WireSession, WorkflowOutcome } from '@sessiontrack/core';

// The read API of the server (docs/api.md), as the dashboard uses it. The admin token is kept in
// sessionStorage: it survives a reload of the tab, not the closing of the browser.

export type { WireEvent, WireSession };

export interface Project {
  id: string;
  name: string;
  writeKey: string;
  timeZone: string;
}

// The shapes of the stats routes are core's (the server answers with them as they are).
export type { BreakdownRow, Summary, UserPattern as Pattern, WorkflowStats } from '@sessiontrack/core';
export type Daily = DailyStats;
export type Countries = ReturnType<typeof countriesOf>;
export type Exits = ReturnType<typeof exitsOf>;

/** GET /sessions/{id}: the session, its events, and its workflows with their outcome. */
export type SessionDetail = WireSession & {
  events: WireEvent[];
  workflowOutcomes: WorkflowOutcome[];
  abandonedWorkflows: string[];
};

const TOKEN_KEY = 'sessiontrack.adminToken';

export const storedToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);
export const storeToken = (t: string | null): void => {
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
  return (await res.json()) as T;
}
