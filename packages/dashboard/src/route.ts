import { isDate, RANGE_KEYS, type RangeKey } from './format.js';

// The view state lives in the URL hash, so a view can be bookmarked and shared:
//   #/sessions?project=default&range=7d&status=ended&session=s_abc
// Hash routing needs nothing from the server beyond index.html at `/`.

export const VIEWS = ['overview', 'sessions', 'users', 'insights', 'mcp', 'settings'] as const;
export type View = (typeof VIEWS)[number];

export interface Route {
  view: View;
  project: string;
  range: RangeKey;
  from?: string;
  to?: string;
  /** Sessions view: the open timeline. */
  session?: string;
  /** Users view: the user looked at. */
  user?: string;
  /** Sessions view filters. */
  userId?: string;
  status?: string;
  kind?: string;
  country?: string;
  device?: string;
}

export const DEFAULT_ROUTE: Route = { view: 'overview', project: 'default', range: '30d' };

const OPTIONAL = ['from', 'to', 'session', 'user', 'userId', 'status', 'kind', 'country', 'device'] as const;

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q === -1 ? '' : raw.slice(q + 1));
  const view = (VIEWS as readonly string[]).includes(path) ? (path as View) : DEFAULT_ROUTE.view;
  const range = params.get('range');
  const route: Route = {
    view,
    project: params.get('project') || DEFAULT_ROUTE.project,
    range: (RANGE_KEYS as readonly string[]).includes(range ?? '') ? (range as RangeKey) : DEFAULT_ROUTE.range,
  };
  for (const k of OPTIONAL) {
    const v = params.get(k);
    if (v) route[k] = v;
  }
  if (route.from !== undefined && !isDate(route.from)) delete route.from;
  if (route.to !== undefined && !isDate(route.to)) delete route.to;
  return route;
}

export function formatHash(r: Route): string {
  const params = new URLSearchParams();
  if (r.project !== DEFAULT_ROUTE.project) params.set('project', r.project);
  if (r.range !== DEFAULT_ROUTE.range) params.set('range', r.range);
  for (const k of OPTIONAL) {
    const v = r[k];
    if (v) params.set(k, v);
  }
  const qs = params.toString();
  return `#/${r.view}${qs ? `?${qs}` : ''}`;
}

/** A route changed by `patch`; fields set to undefined are removed. */
export function withRoute(r: Route, patch: Partial<Route>): Route {
  const next: Route = { ...r, ...patch };
  for (const k of OPTIONAL) if (next[k] === undefined || next[k] === '') delete next[k];
  return next;
}
