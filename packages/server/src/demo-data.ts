import { type ImportSessionInput, mulberry32 } from '@sessiontrack/core';

// Realistic demo traffic for `sessiontrack demo`: web visits and MCP agent sessions spread over
// past days, shaped like a small SaaS product (weekday and hour curves, bounces, sources and
// campaigns, devices, countries with regions, returning users incl. power users and strugglers,
// workflows that are completed, failed or abandoned, errors, tool calls with error rates).
// Deterministic for a seed, so a re-run produces the same session ids and the import skips them.

export interface DemoOptions {
  days: number;
  sessions: number;
  /** The clock: every session starts before it; a few are still live at it. */
  now: number;
  seed: number;
  /** Part of every session id, so demos of several projects never collide. */
  prefix: string;
}

/** One session as `POST /api/v1/import` takes it (times as epoch ms). */
export type DemoSession = Omit<ImportSessionInput, 'kind' | 'events' | 'startedAt'> & {
  kind: 'web' | 'mcp';
  startedAt: number;
  events: DemoEvent[];
};
export interface DemoEvent {
  id: string;
  type: ImportSessionInput['events'][number]['type'];
  name?: string;
  timestamp: number;
  page?: string;
  resourceId?: string;
  details?: Record<string, unknown>;
}

type Weighted<T> = readonly (readonly [T, number])[];

const SEC = 1000;

/**
 * A web visit's engaged time: a share (30–90 %) of its length, as a tracker would report it. The
 * share comes from the session id, not from the generator, so the rest of the demo stays the same
 * for a seed.
 */
function engagedOf(s: { id: string; startedAt: number }, lastActivityAt: number): number {
  let h = 0;
  for (let i = 0; i < s.id.length; i++) h = (Math.imul(h, 31) + s.id.charCodeAt(i)) >>> 0;
  return Math.round(Math.max(0, lastActivityAt - s.startedAt) * (0.3 + 0.6 * ((h % 1000) / 1000)));
}
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** Sessions by hour of the day (UTC): a working-day curve with an evening tail. */
const HOURS = [2, 1, 1, 1, 1, 2, 4, 7, 11, 14, 15, 14, 11, 12, 14, 15, 13, 10, 8, 7, 6, 5, 4, 3];
/** Monday first: quieter weekends. */
const WEEKDAYS = [1, 1.05, 1.05, 1, 0.9, 0.5, 0.45];

const COUNTRIES: Weighted<readonly [string, readonly string[]]> = [
  [['US', ['CA', 'NY', 'TX', 'WA', 'MA']], 30],
  [['DE', ['BE', 'BY', 'HH', 'NW']], 12],
  [['GB', ['ENG', 'SCT', 'WLS']], 9],
  [['IN', ['MH', 'KA', 'DL']], 8],
  [['FR', ['IDF', 'ARA', 'PAC']], 6],
  [['BR', ['SP', 'RJ']], 5],
  [['CA', ['ON', 'QC', 'BC']], 5],
  [['NL', ['NH', 'ZH']], 4],
  [['JP', ['13', '27']], 4],
  [['AU', ['NSW', 'VIC']], 3],
  [['ES', ['MD', 'CT']], 3],
  [['PL', ['14', '24']], 3],
  [['SE', ['AB']], 2],
  [['NG', ['LA']], 2],
  [['SG', ['01']], 2],
];

const DEVICES: Weighted<readonly [string, Weighted<string>, Weighted<string>, readonly string[]]> = [
  [
    [
      'desktop',
      [
        ['Chrome', 62],
        ['Firefox', 14],
        ['Safari', 12],
        ['Edge', 12],
      ],
      [
        ['Windows', 48],
        ['Mac OS', 34],
        ['Linux', 18],
      ],
      ['1920x1080', '2560x1440', '1440x900', '1536x864'],
    ],
    58,
  ],
  [
    [
      'mobile',
      [
        ['Mobile Safari', 48],
        ['Chrome', 44],
        ['Samsung Browser', 8],
      ],
      [
        ['iOS', 50],
        ['Android', 50],
      ],
      ['390x844', '412x915', '375x667'],
    ],
    36,
  ],
  [
    [
      'tablet',
      [
        ['Mobile Safari', 70],
        ['Chrome', 30],
      ],
      [
        ['iOS', 70],
        ['Android', 30],
      ],
      ['820x1180', '768x1024'],
    ],
    6,
  ],
];

const ENTRY_PAGES: Weighted<string> = [
  ['/', 34],
  ['/pricing', 14],
  ['/docs', 16],
  ['/docs/getting-started', 8],
  ['/blog/session-tracking-without-cookies', 9],
  ['/blog/mcp-servers-in-production', 6],
  ['/features', 7],
  ['/signup', 4],
  ['/changelog', 2],
];
const PAGES = [
  '/',
  '/pricing',
  '/docs',
  '/docs/api',
  '/docs/tracker',
  '/features',
  '/app',
  '/app/settings',
  '/app/reports',
];

/** [referrer or null (direct), campaign or null] */
const SOURCES: Weighted<readonly [string | null, string | null]> = [
  [[null, null], 38],
  [['https://www.google.com/', null], 24],
  [['https://news.ycombinator.com/', null], 7],
  [['https://github.com/', null], 8],
  [['https://www.reddit.com/', null], 4],
  [['https://x.com/', null], 3],
  [['https://duckduckgo.com/', null], 3],
  [['https://www.linkedin.com/', 'launch_week'], 4],
  [['https://mail.example.com/', 'newsletter_nov'], 5],
  [['https://www.google.com/', 'brand_search'], 4],
];

/** Features that are used together, so "features used together" has a story to tell. */
const FEATURE_GROUPS: readonly (readonly string[])[] = [
  ['search', 'filter', 'open_result'],
  ['export_csv', 'share_report'],
  ['create_project', 'invite_member', 'copy_write_key'],
  ['copy_snippet', 'open_docs'],
  ['change_plan', 'update_billing'],
];
const WORKFLOWS: Weighted<string> = [
  ['onboarding', 4],
  ['checkout', 3],
  ['export_report', 3],
  ['invite_team', 2],
];
const ERRORS = ['TypeError: cannot read properties of undefined', 'NetworkError: request failed', 'ChunkLoadError'];

const TOOLS: Weighted<readonly [string, number, number]> = [
  // [name, median duration ms, error rate]
  [['search_docs', 180, 0.01], 26],
  [['read_file', 40, 0.02], 20],
  [['list_files', 30, 0.01], 12],
  [['run_query', 900, 0.07], 12],
  [['get_issue', 250, 0.02], 10],
  [['create_issue', 400, 0.04], 6],
  [['write_file', 60, 0.03], 8],
  [['deploy_preview', 8000, 0.14], 4],
];
const MCP_CLIENTS: Weighted<readonly [string, string]> = [
  [['claude-desktop', '0.14.2'], 38],
  [['cursor', '1.9.0'], 26],
  [['vscode-copilot', '1.104.0'], 16],
  [['windsurf', '1.12.4'], 8],
  [['inspector', '0.17.0'], 4],
  [['custom-agent', '0.3.1'], 8],
];
const TRANSPORTS: Weighted<string> = [
  ['streamable-http', 82],
  ['stdio', 12],
  ['sse', 6],
];

type Archetype = 'power' | 'struggler' | 'quick' | 'regular';
interface User {
  id: string;
  archetype: Archetype;
  country: readonly [string, string];
  device: number;
}

/** All demo sessions at once (tests; small demos). */
export const generateDemo = (opts: DemoOptions): DemoSession[] => [...demoSessions(opts)];

/** The demo sessions one by one, so a demo of millions never holds them all in memory. */
export function* demoSessions(opts: DemoOptions): Generator<DemoSession> {
  const r = mulberry32(opts.seed);
  const pick = <T>(list: Weighted<T>): T => {
    let total = 0;
    for (const [, w] of list) total += w;
    let x = r() * total;
    for (const [v, w] of list) {
      x -= w;
      if (x < 0) return v;
    }
    return list[list.length - 1]![0];
  };
  const any = <T>(list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
  const chance = (p: number) => r() < p;
  /** Log-normal around a median: durations and gaps are heavy-tailed. */
  const logNormal = (median: number, spread = 1) => median * Math.exp(spread * gauss());
  const gauss = () => {
    const u = 1 - r();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  };
  const country = (): readonly [string, string] => {
    const [code, regions] = pick(COUNTRIES);
    return [code, any(regions)];
  };

  // Returning users: about one user per four sessions; a few archetypes visit far more often.
  const users: User[] = [];
  const userCount = Math.max(5, Math.round(opts.sessions / 4));
  for (let i = 0; i < userCount; i++) {
    const archetype: Archetype =
      i % 20 === 0 ? 'power' : i % 20 === 1 ? 'struggler' : i % 5 === 2 ? 'quick' : 'regular';
    users.push({ id: `user_${String(i + 1).padStart(4, '0')}`, archetype, country: country(), device: r() });
  }
  const userWeight = (u: User) => (u.archetype === 'power' ? 14 : u.archetype === 'struggler' ? 5 : 1);
  const weightedUsers: Weighted<User> = users.map((u) => [u, userWeight(u)] as const);

  // Days weighted by weekday and a gentle upward trend, so "change vs previous period" moves.
  const days: Weighted<number> = Array.from({ length: opts.days }, (_, d) => {
    const start = opts.now - (d + 1) * DAY;
    const weekday = (new Date(start).getUTCDay() + 6) % 7;
    return [d, WEEKDAYS[weekday]! * (1 + (0.35 * (opts.days - d)) / opts.days)] as const;
  });
  const hours: Weighted<number> = HOURS.map((w, h) => [h, w] as const);

  const liveCount = Math.max(1, Math.round(opts.sessions * 0.004));
  for (let i = 0; i < opts.sessions; i++) {
    const id = `demo-${opts.prefix}-${opts.seed}-${String(i).padStart(8, '0')}`;
    const live = i < liveCount;
    let startedAt: number;
    if (live) {
      startedAt = opts.now - Math.floor(r() * 20 * MIN) - MIN;
    } else {
      const day = pick(days);
      const midnight = Math.floor((opts.now - day * DAY) / DAY) * DAY;
      startedAt = midnight + pick(hours) * HOUR + Math.floor(r() * HOUR);
      if (startedAt > opts.now - 30 * MIN) startedAt -= DAY;
    }
    const known = chance(0.72);
    const user = known ? pick(weightedUsers) : null;
    const s = chance(0.2) ? mcpSession(id, startedAt, user) : webSession(id, startedAt, user);
    if (live) {
      // Still going: last activity in the last few minutes, no end yet.
      delete s.end;
      const cut = opts.now - Math.floor(r() * 4 * MIN);
      s.events = s.events.filter((e) => e.timestamp <= cut);
      s.lastActivityAt = Math.max(cut - Math.floor(r() * MIN), startedAt);
    }
    yield s;
  }

  function base(id: string, startedAt: number, user: User | null, kind: 'web' | 'mcp'): DemoSession {
    const [code, region] = user && chance(0.9) ? user.country : country();
    return {
      id,
      kind,
      userId: user?.id ?? null,
      anonymousId: `anon_${Math.floor(r() * 1e9).toString(36)}`,
      startedAt,
      geo: { country: code, region },
      events: [],
    };
  }

  function webSession(id: string, startedAt: number, user: User | null): DemoSession {
    const s = base(id, startedAt, user, 'web');
    const [type, browsers, oses, screens] = pick(DEVICES);
    s.device = { type, browser: pick(browsers), os: pick(oses), screenSize: any(screens) };
    const [referrer, campaign] = pick(SOURCES);
    const entry = pick(ENTRY_PAGES);
    s.entry = { page: campaign ? `${entry}?utm_campaign=${campaign}&utm_source=demo` : entry, referrer };
    const archetype = user?.archetype ?? 'regular';
    let t = startedAt;
    let n = 0;
    const add = (e: Omit<DemoEvent, 'id' | 'timestamp'>, gapMs: number) => {
      t += Math.max(500, Math.round(gapMs));
      s.events.push({ id: `e${++n}`, timestamp: t, ...e });
    };
    s.events.push({ id: `e${++n}`, type: 'pageview', page: entry, timestamp: startedAt });
    const bounce = archetype === 'quick' ? chance(0.55) : archetype === 'power' ? chance(0.05) : chance(0.38);
    if (bounce) {
      s.lastActivityAt = startedAt + Math.round(r() * 20 * SEC);
      if (chance(0.5)) s.end = { reason: 'navigation' };
      s.engagedMs = engagedOf(s, s.lastActivityAt);
      return s;
    }
    const steps =
      archetype === 'power'
        ? 8 + Math.floor(r() * 25)
        : archetype === 'quick'
          ? 1 + Math.floor(r() * 3)
          : 2 + Math.floor(r() * 9);
    const group = any(FEATURE_GROUPS);
    let page = entry;
    for (let k = 0; k < steps; k++) {
      if (chance(0.45)) {
        page = any(PAGES);
        add({ type: 'pageview', page }, logNormal(25 * SEC));
      } else {
        const name = chance(0.75) ? any(group) : any(any(FEATURE_GROUPS));
        add({ type: 'action', name, page, resourceId: `${name}-btn` }, logNormal(15 * SEC));
      }
    }
    const errorRate = archetype === 'struggler' ? 0.45 : 0.05;
    if (chance(errorRate)) {
      const count = 1 + Math.floor(r() * (archetype === 'struggler' ? 3 : 1));
      for (let k = 0; k < count; k++) {
        add({ type: 'error', name: any(ERRORS), page, details: { message: any(ERRORS) } }, logNormal(10 * SEC));
      }
    }
    if (chance(archetype === 'power' ? 0.6 : 0.3)) {
      const wf = pick(WORKFLOWS);
      const details = { workflowId: wf };
      add({ type: 'workflow_start', name: wf, page, details }, logNormal(10 * SEC));
      const abandon = archetype === 'struggler' ? 0.45 : 0.2;
      const fail = archetype === 'struggler' ? 0.25 : 0.08;
      const x = r();
      if (x >= abandon) {
        add(
          { type: x < abandon + fail ? 'workflow_fail' : 'workflow_complete', name: wf, page, details },
          logNormal(40 * SEC),
        );
      }
    }
    if (chance(0.35)) add({ type: 'pageview', page: any(['/pricing', '/docs', '/app/reports']) }, logNormal(20 * SEC));
    s.engagedMs = engagedOf(s, t);
    // Where the visit ended: navigation away and closed tabs mostly, some log out, the rest time out.
    const x = r();
    const hadError = s.events.some((e) => e.type === 'error');
    if (hadError && x < 0.3) s.end = { reason: 'error' };
    else if (x < 0.5) s.end = { reason: 'navigation' };
    else if (x < 0.65) s.end = { reason: 'logout', page: '/logout' };
    return s;
  }

  function mcpSession(id: string, startedAt: number, user: User | null): DemoSession {
    const s = base(id, startedAt, user, 'mcp');
    const [client, version] = pick(MCP_CLIENTS);
    s.transport = pick(TRANSPORTS);
    // The shape packages/mcp writes (clientName, clientVersion, protocolVersion).
    s.metadata = { clientName: client, clientVersion: version, protocolVersion: '2025-06-18', clientCapabilities: {} };
    const archetype = user?.archetype ?? 'regular';
    const calls = archetype === 'power' ? 15 + Math.floor(r() * 50) : 1 + Math.floor(logNormal(6, 0.8));
    let t = startedAt;
    for (let k = 0; k < calls; k++) {
      const [tool, median, errorRate] = pick(TOOLS);
      t += Math.round(logNormal(20 * SEC, 1.1)) + 200;
      const durationMs = Math.round(logNormal(median, 0.7));
      const isError = chance(archetype === 'struggler' ? errorRate * 4 : errorRate);
      s.events.push({ id: `t${k + 1}`, type: 'tool_call', name: tool, timestamp: t, details: { durationMs, isError } });
    }
    if (chance(0.5)) s.end = { reason: 'logout' };
    return s;
  }
}
