// Busy-day benchmark (issue #13): N sessions started today, written through the real store's write
// path (the batches the server's group commit hands to `Store.commit`, `/api/v1/track` operations,
// and the sweeper ending idle sessions as the day goes by), then the real server started on that
// database as a user starts it, and timed over HTTP: every stats route (p50/p95 over --runs), the
// overview and the MCP view drawn in Chromium after sign-in, and the requests each view made, sent
// again from Node in parallel with nothing rendered (the floor under the browser). One table per run.
// Several scales in one run show whether the cost grows with today's traffic.

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildSession, localDate, dayStart as localDayStart, newSessionId, normalizeEvent } from '@sessiontrack/core';
import { PgPoolDriver, PostgresStore, SqliteStore } from '@sessiontrack/store';
import { launchChromium, mcpDrawn, overviewDrawn, signIn } from './browser.mjs';
import { createFreshDatabase, redact } from './pg-database.mjs';
import {
  ADMIN_TOKEN,
  cleanup,
  freePort,
  parseCli,
  ROOT,
  SERVER_BIN,
  startChild,
  stopChild,
  usageError,
} from './processes.mjs';
import {
  ACTIONS,
  COUNTRIES,
  DEFAULT_PROJECT,
  mulberry32,
  PAGES,
  TOOLS,
  WORKFLOWS,
  weighted,
  zipf,
} from './query-data.mjs';

const USAGE = `Usage: npm run bench:busy-day -- [options]

  --sessions <list>       sessions started today, one scale per value (default 10000,100000)
  --database-url <url>    PostgreSQL server: a fresh database per scale, dropped afterwards
                          (default: SQLite in a temporary data dir)
  --runs <n>              timed runs per route (default 20)
  --route-budget <s>      a route stops after this many seconds of its own time, with at least 3
                          runs (default 60; the table says how many runs each route got)
  --browser-runs <n>      sign-ins per view, each in a fresh profile (default 3)
  --chromium <path>       the browser (default /usr/bin/chromium, env SESSIONTRACK_E2E_CHROMIUM)
  --seed <n>              the data set's seed (default 13)
  --time-zone <zone>      the project's IANA time zone; "today" is its local day up to a minute
                          ago (default UTC; run early in the UTC day, pick a zone where it is
                          late, e.g. Pacific/Kiritimati, so today is not a few hours long)
  --views-only            time only the views (no single routes, no single overview GETs)
  --keep <dir>            keep each scale's data (SQLite data dir / PostgreSQL database) and
                          write what it is to <dir>/busy-day-<backend>-<n>.json
  --write-only            with --keep: write the data sets, time nothing
  --reuse <dir>           time the data sets a --keep run left in <dir> instead of writing new
                          ones (several backends can be written at once, then timed one by one
                          on a quiet machine); they are left in place`;

const opts = parseCli(
  {
    sessions: { type: 'string', default: '10000,100000' },
    'database-url': { type: 'string' },
    runs: { type: 'string', default: '20' },
    'route-budget': { type: 'string', default: '60' },
    'browser-runs': { type: 'string', default: '3' },
    chromium: { type: 'string', default: process.env.SESSIONTRACK_E2E_CHROMIUM ?? '/usr/bin/chromium' },
    seed: { type: 'string', default: '13' },
    'time-zone': { type: 'string', default: 'UTC' },
    'views-only': { type: 'boolean', default: false },
    keep: { type: 'string' },
    'write-only': { type: 'boolean', default: false },
    reuse: { type: 'string' },
  },
  USAGE,
);
const positive = (name, v) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) usageError(`--${name} must be a positive integer (or a list of them)`, USAGE);
  return n;
};
const SCALES = opts.sessions.split(',').map((v) => positive('sessions', v.trim()));
const RUNS = positive('runs', opts.runs);
const ROUTE_BUDGET_MS = positive('route-budget', opts['route-budget']) * 1000;
const BROWSER_RUNS = positive('browser-runs', opts['browser-runs']);
const SEED = positive('seed', opts.seed);
if (opts['write-only'] && !opts.keep) usageError('--write-only needs --keep <dir>', USAGE);
if (opts.keep && opts.reuse) usageError('--keep and --reuse exclude each other', USAGE);
const TIME_ZONE = opts['time-zone'];
try {
  localDate(0, TIME_ZONE);
} catch {
  usageError(`--time-zone: unknown IANA time zone '${TIME_ZONE}'`, USAGE);
}
/** Start of the project's local day that holds `t`. */
const todayStart = (t) => localDayStart(localDate(t, TIME_ZONE), TIME_ZONE);
const PG = opts['database-url'];
if (!existsSync(opts.chromium)) {
  console.error(`no Chromium at ${opts.chromium} (apt-get install -y chromium, or --chromium <path>)`);
  process.exit(1);
}
if (!existsSync(path.join(ROOT, 'packages/dashboard/dist/app/index.html'))) {
  console.error('the dashboard is not built: npm run bench:busy-day builds it (or npm run build)');
  process.exit(1);
}

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const log = (s) => process.stderr.write(`${s}\n`);
const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const pct = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};

// ---------------------------------------------------------------------------------------------
// The day's traffic

const ORIGIN = 'https://shop.example';
const USER_AGENTS = [
  [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    45,
  ],
  [
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
    15,
  ],
  ['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', 5],
  [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
    7,
  ],
  [
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    15,
  ],
  [
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
    10,
  ],
  [
    'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    3,
  ],
];
const REFERRERS = [
  [null, 40],
  ['https://www.google.com/', 30],
  ['https://news.ycombinator.com/', 6],
  ['https://www.reddit.com/', 6],
  ['https://github.com/', 8],
  ['https://duckduckgo.com/', 5],
];

/**
 * The day as calls in time order: every session makes a first `/api/v1/track` call when it starts
 * (web: a pageview and an action, a third of them also starting a workflow; MCP: tool calls) and
 * most make a second one minutes later (another page and action, the workflow's outcome, or an
 * explicit end). The rest end when they go idle, by the sweeper.
 */
function plan(n, seed, now) {
  const rand = mulberry32(seed);
  const dayStart = todayStart(now);
  // Today up to a minute ago, with a daily curve (quiet at night, peak in the afternoon, local).
  const curve = (h) => 0.25 + Math.max(0, Math.sin(((h - 6) / 24) * 2 * Math.PI)) ** 2;
  const span = now - MIN - dayStart;
  const starts = new Float64Array(n);
  for (let i = 0; i < n; ) {
    const t = dayStart + Math.floor(rand() * span);
    if (rand() * 1.25 < curve(((t - dayStart) / 3_600_000) % 24)) starts[i++] = t;
  }
  starts.sort();
  const pickCountry = weighted(
    rand,
    COUNTRIES.map((c) => [c, c[1]]),
  );
  const pickUa = weighted(rand, USER_AGENTS);
  const pickReferrer = weighted(rand, REFERRERS);
  const sessions = [];
  const second = []; // [time, session index]
  for (let i = 0; i < n; i++) {
    const t = starts[i];
    const mcp = rand() < 0.15;
    const [country, , continent, regions] = pickCountry();
    const s = {
      t,
      id: newSessionId(),
      mcp,
      geo: { country, region: country ? regions[Math.floor(rand() * regions.length)] : null, continent },
      userId: rand() < 0.6 ? `u_${zipf(rand, 50_000, 0.8)}` : null,
      anonymousId: `a_${i}`,
      ua: mcp ? null : pickUa(),
      referrer: mcp ? null : pickReferrer(),
      entry: PAGES[zipf(rand, PAGES.length)],
      campaign: !mcp && rand() < 0.1 ? ['spring', 'launch', 'newsletter'][Math.floor(rand() * 3)] : null,
      action: ACTIONS[zipf(rand, ACTIONS.length)],
      tools: Array.from({ length: 1 + Math.floor(rand() * 4) }, () => TOOLS[zipf(rand, TOOLS.length)]),
      toolError: rand() < 0.05,
      transport: rand() < 0.8 ? 'streamable-http' : 'stdio',
      workflow: !mcp && rand() < 0.3 ? WORKFLOWS[zipf(rand, WORKFLOWS.length)] : null,
      outcome: rand(),
      page2: PAGES[zipf(rand, PAGES.length)],
      action2: ACTIONS[zipf(rand, ACTIONS.length)],
      end: rand() < 0.4 ? (rand() < 0.6 ? 'navigation' : 'logout') : null,
    };
    sessions.push(s);
    // 70 % come back 30 s … 20 min later (within the idle timeout, so the session continues).
    if (rand() < 0.7) {
      const t2 = t + 30_000 + Math.floor(rand() ** 2 * 20 * MIN);
      if (t2 < now) second.push([t2, i]);
    }
  }
  second.sort((a, b) => a[0] - b[0]);
  return { sessions, second, dayStart };
}

function firstCall(s, project) {
  const input = s.mcp
    ? { kind: 'mcp', userId: s.userId ?? undefined, anonymousId: s.anonymousId, transport: s.transport }
    : {
        kind: 'web',
        userId: s.userId ?? undefined,
        anonymousId: s.anonymousId,
        userAgent: s.ua,
        entry: {
          page: `${ORIGIN}${s.entry}${s.campaign ? `?utm_campaign=${s.campaign}` : ''}`,
          referrer: s.referrer ?? undefined,
        },
      };
  const session = buildSession(input, { project, now: s.t, origin: ORIGIN, userAgent: null, geo: s.geo }, s.id);
  const ev = (e, dt = 0) => normalizeEvent({ ...e, timestamp: s.t + dt }, s.t + dt);
  const events = s.mcp
    ? s.tools.map((name, k) =>
        ev({ type: 'tool_call', name, details: k === 0 && s.toolError ? { isError: true } : undefined }, k * 2000),
      )
    : [
        ev({ type: 'pageview', page: `${ORIGIN}${s.entry}` }),
        ev({ type: 'action', name: s.action, page: `${ORIGIN}${s.entry}` }, 5000),
        ...(s.workflow
          ? [ev({ type: 'workflow_start', name: s.workflow, details: { workflowId: s.workflow } }, 6000)]
          : []),
      ];
  return { op: 'track', projectId: project.id, sessionId: null, newSession: session, events, end: null };
}

function secondCall(s, t, project) {
  const ev = (e, dt = 0) => normalizeEvent({ ...e, timestamp: t + dt }, t + dt);
  let events;
  if (s.mcp) events = s.tools.map((name, k) => ev({ type: 'tool_call', name }, k * 1000));
  else {
    events = [ev({ type: 'pageview', page: `${ORIGIN}${s.page2}` }), ev({ type: 'action', name: s.action2 }, 3000)];
    // Workflows: 60 % complete, 10 % fail, the rest are abandoned.
    if (s.workflow && s.outcome < 0.7) {
      const type = s.outcome < 0.6 ? 'workflow_complete' : 'workflow_fail';
      events.push(ev({ type, name: s.workflow, details: { workflowId: s.workflow } }, 4000));
    }
  }
  return {
    op: 'track',
    projectId: project.id,
    sessionId: s.id,
    newSession: buildSession(
      { kind: s.mcp ? 'mcp' : 'web' },
      { project, now: t, origin: ORIGIN, userAgent: null, geo: s.geo },
    ),
    events,
    end: s.mcp ? null : s.end,
  };
}

/**
 * Writes the day through `store.commit` in time order: a batch holds the calls of at most a minute
 * of the day (and at most 1,000 operations), committed "at" its last call, and the sweeper runs every
 * 5 minutes of the day, as the server's would.
 */
async function writeDay(store, project, n, now) {
  const t0 = performance.now();
  const { sessions, second } = plan(n, SEED, now);
  let events = 0;
  let calls = 0;
  let swept = 0;
  let batch = [];
  let batchStart = 0;
  let nextSweep = todayStart(now) + 5 * MIN;
  let lastLog = performance.now();
  const flush = async (at) => {
    if (batch.length === 0) return;
    const results = await store.commit(batch, at);
    for (const r of results) if (!r.ok) throw new Error(`commit: ${r.error}`);
    for (const r of results) if (r.rotated) throw new Error('a second call started a new session (rotated)');
    for (const op of batch) events += op.events.length;
    calls += batch.length;
    batch = [];
  };
  let i = 0;
  let j = 0;
  while (i < sessions.length || j < second.length) {
    const firstNext = i < sessions.length && (j >= second.length || sessions[i].t <= second[j][0]);
    const t = firstNext ? sessions[i].t : second[j][0];
    if (batch.length > 0 && (t - batchStart > MIN || batch.length >= 1000)) await flush(batchStart + MIN);
    while (t >= nextSweep) {
      await flush(nextSweep);
      swept += await store.sweepExpired(nextSweep);
      nextSweep += 5 * MIN;
    }
    if (batch.length === 0) batchStart = t;
    if (firstNext) batch.push(firstCall(sessions[i++], project));
    else {
      const [t2, k] = second[j++];
      batch.push(secondCall(sessions[k], t2, project));
    }
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      log(`  ${fmt(i)} / ${fmt(n)} sessions, ${fmt(events)} events, ${fmt(i / ((lastLog - t0) / 1000))} sessions/s`);
    }
  }
  await flush(now);
  swept += await store.sweepExpired(now);
  return { sessions: n, calls, events, swept, ms: performance.now() - t0 };
}

// ---------------------------------------------------------------------------------------------
// What is timed

const P = 'project=default';
/** Every stats route, the dimensions the dashboard's lists use, and the MCP view's session lists. */
const ROUTES = [
  ['summary', `/stats/summary?${P}`],
  ['daily', `/stats/daily?${P}`],
  ...['entryPage', 'exitPage', 'source', 'referrer', 'campaign', 'deviceType', 'browser', 'os', 'country'].map((by) => [
    `breakdown ${by}`,
    `/stats/breakdown?${P}&by=${by}&limit=8`,
  ]),
  ['breakdown tool', `/stats/breakdown?${P}&by=tool&limit=12`],
  ['breakdown transport', `/stats/breakdown?${P}&by=transport&limit=8`],
  ['countries', `/stats/countries?${P}&limit=10`],
  ['activity', `/stats/activity?${P}`],
  ['together', `/stats/together?${P}`],
  ['workflows/abandoned', `/stats/workflows/abandoned?${P}`],
  ['durations', `/stats/durations?${P}`],
  ['exits', `/stats/exits?${P}`],
  ['sessions/active', `/sessions/active?${P}&limit=1`],
  ['sessions mcp (500)', `/sessions?${P}&kind=mcp&limit=500`],
];

async function api(url, p, method = 'GET', body = null) {
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
  if (body !== null) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}/api/v1${p}`, { method, headers, body });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 300)}`);
  return text;
}

/** Rounds over every route, one request at a time; a route leaves once its budget is spent (≥ 3 runs). */
async function timeRoutes(url) {
  const times = new Map(ROUTES.map(([name]) => [name, []]));
  const failed = new Map(ROUTES.map(([name]) => [name, []]));
  if (opts['views-only']) return { times, failed };
  const spent = new Map(ROUTES.map(([name]) => [name, 0]));
  for (const [name, p] of ROUTES) await attempt([], failed.get(name), () => api(url, p)); // first: caches, prepared statements
  for (let round = 0; round < RUNS; round++) {
    for (const [name, p] of ROUTES) {
      const xs = times.get(name);
      if (xs.length + failed.get(name).length >= 3 && spent.get(name) > ROUTE_BUDGET_MS) continue;
      const t = performance.now();
      await attempt(xs, failed.get(name), async () => {
        await api(url, p);
        return performance.now() - t;
      });
      spent.set(name, spent.get(name) + performance.now() - t);
    }
    log(`  route round ${round + 1}/${RUNS}`);
  }
  return { times, failed };
}

/** The requests a view made, again from Node, all at once: what the server alone takes. */
async function inParallel(url, requests) {
  const t = performance.now();
  await Promise.all(requests.map((r) => api(url, r.path, r.method, r.body)));
  return performance.now() - t;
}

/** The 14 GETs the overview made before stats/batch: all at once, then one after another. */
function singleOverviewRequests() {
  const today = localDate(Date.now(), TIME_ZONE);
  const day = (d, n) => new Date(Date.parse(d) + n * DAY).toISOString().slice(0, 10);
  const r = `${P}&from=${day(today, -29)}&to=${today}`;
  return [
    `/sessions/active?${P}&limit=1`,
    `/stats/summary?${r}`,
    `/stats/summary?${P}&from=${day(today, -59)}&to=${day(today, -30)}`,
    `/stats/daily?${r}`,
    `/stats/countries?${r}&limit=10`,
    ...['entryPage', 'exitPage', 'source', 'referrer', 'campaign', 'deviceType', 'browser', 'os'].map(
      (by) => `/stats/breakdown?${r}&by=${by}&limit=8`,
    ),
  ].map((path) => ({ method: 'GET', path, body: null }));
}

async function sequentially(url, requests) {
  const t = performance.now();
  for (const r of requests) await api(url, r.path, r.method, r.body);
  return performance.now() - t;
}

/** Runs `fn` and records its time, or its failure (a timeout, an error answer) without stopping the run. */
async function attempt(xs, failures, fn) {
  try {
    xs.push(await fn());
  } catch (err) {
    failures.push(err.message.split('\n')[0].slice(0, 200));
    log(`  failed: ${failures.at(-1)}`);
  }
}

async function timeView(browser, url, hash, ready) {
  const timeout = 5 * MIN;
  const cold = [];
  const warm = [];
  const node = [];
  const failures = [];
  let requests = [];
  // Unmeasured: Chromium's start, the app's files; it also records what the view asks for.
  try {
    const first = await signIn(browser, url, hash, ready, timeout, false);
    requests = first.requests;
    log(`  ${hash}: warm-up ${fmt(first.cold)} ms, ${requests.length} API requests`);
  } catch (err) {
    failures.push(`warm-up: ${err.message.split('\n')[0].slice(0, 200)}`);
    log(`  ${hash}: warm-up failed: ${failures.at(-1)}`);
  }
  for (let k = 0; k < BROWSER_RUNS; k++) {
    await attempt(cold, failures, async () => {
      const r = await signIn(browser, url, hash, ready, timeout);
      requests = r.requests;
      warm.push(r.warm);
      return r.cold;
    });
    if (requests.length > 0) await attempt(node, failures, () => inParallel(url, requests));
    log(
      `  ${hash}: run ${k + 1}/${BROWSER_RUNS}: ${cold.map((x) => fmt(x)).join(', ')} ms; API only ${node.map((x) => fmt(x)).join(', ')} ms`,
    );
  }
  return { cold, warm, node, requests, failures };
}

async function timeSingles(url) {
  const requests = singleOverviewRequests();
  const parallel = [];
  const serial = [];
  const failures = [];
  for (let k = 0; k < (opts['views-only'] ? 0 : BROWSER_RUNS); k++) {
    await attempt(parallel, failures, () => inParallel(url, requests));
    await attempt(serial, failures, () => sequentially(url, requests));
    log(
      `  14 single GETs: all at once ${parallel.map((x) => fmt(x)).join(', ')} ms; one by one ${serial.map((x) => fmt(x)).join(', ')} ms`,
    );
  }
  return { parallel, serial, failures };
}

// ---------------------------------------------------------------------------------------------
// One scale: a fresh database, the day written, the server started on it, everything timed

async function openFresh(n) {
  if (PG) {
    const fresh = await createFreshDatabase(PG, `busyday_${n}`);
    if (opts.keep) fresh.keep();
    const store = await PostgresStore.open(new PgPoolDriver({ connectionString: fresh.url, max: 4 }));
    const drop = opts.keep ? async () => {} : () => fresh.drop();
    return { store, serve: ['--database-url', fresh.url], dataDir: null, drop, where: fresh.name };
  }
  const dataDir = await mkdtemp(path.join(opts.keep ?? os.tmpdir(), 'sessiontrack-bench-busy-day-'));
  const store = new SqliteStore({ filename: path.join(dataDir, 'sessiontrack.db') });
  const drop = opts.keep ? async () => {} : () => rm(dataDir, { recursive: true, force: true });
  return { store, serve: [], dataDir, drop, where: dataDir };
}

const manifestFile = (dir, n) => path.join(dir, `busy-day-${PG ? 'postgres' : 'sqlite'}-${n}.json`);

/** A kept data set: ended what expired since it was written (as the server's sweeper would), then served. */
async function openKept(n) {
  const m = JSON.parse(await readFile(manifestFile(opts.reuse, n), 'utf8'));
  const store = PG
    ? await PostgresStore.open(new PgPoolDriver({ connectionString: m.url, max: 4 }))
    : new SqliteStore({ filename: path.join(m.dataDir, 'sessiontrack.db') });
  let swept = 0;
  for (;;) {
    const k = await store.sweepExpired(Date.now());
    if (k <= 0) break;
    swept += k;
  }
  await store.close();
  log(
    `reusing ${fmt(n)} sessions written at ${new Date(m.now).toISOString()} in ${m.where}; ${fmt(swept)} expired since, ended now`,
  );
  return {
    gen: { ...m.gen, swept: m.gen.swept + swept },
    db: { serve: m.url ? ['--database-url', m.url] : [], dataDir: m.dataDir, drop: async () => {} },
  };
}

/** Writes one scale's day into a fresh database (kept, with its manifest, under --keep). */
async function writeScale(n) {
  const now = Date.now();
  const db = await openFresh(n);
  const project = { ...DEFAULT_PROJECT, timeZone: TIME_ZONE, createdAt: now - DAY };
  await db.store.createProject(project);
  log(`writing ${fmt(n)} sessions started today into ${db.where} …`);
  const gen = await writeDay(db.store, project, n, now);
  await db.store.close();
  log(
    `  ${fmt(gen.sessions)} sessions, ${fmt(gen.calls)} track calls, ${fmt(gen.events)} events, ${fmt(gen.swept)} swept, ${fmt(gen.ms / 1000, 1)} s`,
  );
  if (opts.keep) {
    const url = PG ? db.serve[1] : undefined;
    const manifest = { n, now, timeZone: TIME_ZONE, where: db.where, url, dataDir: db.dataDir, gen };
    await writeFile(manifestFile(opts.keep, n), JSON.stringify(manifest, null, 2));
    log(`  kept: ${manifestFile(opts.keep, n)}`);
  }
  return { gen, db };
}

async function runScale(n) {
  const { gen, db } = opts.reuse ? await openKept(n) : await writeScale(n);
  if (opts['write-only']) return null;
  try {
    const port = await freePort();
    const dataDir = db.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'sessiontrack-bench-busy-day-')));
    const args = [SERVER_BIN, 'serve', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir];
    args.push('--ip-rate-limit', '0', ...db.serve);
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL' && !k.startsWith('SESSIONTRACK_')),
    );
    const server = await startChild(
      'sessiontrack server',
      args,
      { ...env, SESSIONTRACK_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'warn' },
      /write key: (\S+)/,
    );
    const url = `http://127.0.0.1:${port}`;
    try {
      const summary = JSON.parse(await api(url, `/stats/summary?${P}`));
      log(`  server up: summary says ${fmt(summary.sessions)} sessions`);
      const t0 = performance.now();
      const routes = await timeRoutes(url);
      const routesMs = performance.now() - t0;
      const browser = await launchChromium(opts.chromium);
      let overview;
      let mcp;
      try {
        overview = await timeView(browser, url, '#/overview?project=default', overviewDrawn);
        mcp = await timeView(browser, url, '#/mcp?project=default', mcpDrawn);
      } finally {
        await browser.close();
      }
      const singles = await timeSingles(url);
      const result = { n, gen, summary, routes, routesMs, overview, mcp, singles };
      console.log(report([result]).join('\n')); // now, so a later scale that fails loses nothing
      return result;
    } finally {
      await stopChild(server.child);
      if (!db.dataDir) await rm(dataDir, { recursive: true, force: true });
    }
  } finally {
    await db.drop();
  }
}

// ---------------------------------------------------------------------------------------------

const MACHINE = `${os.cpus()[0]?.model.trim()} × ${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;

function report(results) {
  const backend = PG ? `PostgreSQL (${redact(PG)}, a fresh database per scale)` : 'SQLite (a fresh data dir per scale)';
  const out = ['', '# sessiontrack busy-day benchmark', ''];
  const load = os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
  out.push(`machine: ${MACHINE}, load average ${load} now`);
  out.push(
    `node:    ${process.version}`,
    `storage: ${backend}`,
    `at:      ${new Date().toISOString()}`,
    `today:   ${localDate(Date.now(), TIME_ZONE)} in ${TIME_ZONE} (${fmt((Date.now() - todayStart(Date.now())) / 3_600_000, 1)} h of it)`,
    '',
  );
  for (const r of results) {
    out.push(
      `${fmt(r.n)} sessions today: ${fmt(r.gen.calls)} track calls, ${fmt(r.gen.events)} events, ${fmt(r.gen.swept)} ended by the sweeper; ` +
        `written in ${fmt(r.gen.ms / 1000, 1)} s (${fmt(r.gen.events / (r.gen.ms / 1000))} events/s); summary: ${fmt(r.summary.sessions)} sessions; routes timed in ${fmt(r.routesMs / 1000, 1)} s`,
    );
  }
  out.push('');
  const head = results.map((r) => `${fmt(r.n)}: p50 / p95 ms (runs)`);
  out.push(`| route | ${head.join(' | ')} |`, `| --- | ${results.map(() => '---:').join(' | ')} |`);
  const cell = (xs, failures = []) =>
    (xs.length ? `${fmt(pct(xs, 0.5))} / ${fmt(pct(xs, 0.95))} (${xs.length})` : '—') +
    (failures.length ? ` + ${failures.length} failed` : '');
  const row = (label, of) => out.push(`| ${label} | ${results.map(of).join(' | ')} |`);
  for (const [name] of ROUTES) row(name, (r) => cell(r.routes.times.get(name), r.routes.failed.get(name)));
  for (const [view, label] of [
    ['overview', 'overview'],
    ['mcp', 'MCP view'],
  ]) {
    row(`${label}: API requests`, (r) => r[view].requests.length);
    row(`${label}: those requests at once from Node`, (r) => cell(r[view].node));
    row(`${label}: sign-in → drawn, fresh profile`, (r) => cell(r[view].cold, r[view].failures));
    row(`${label}: reload → drawn, cached assets`, (r) => cell(r[view].warm));
  }
  row('14 single overview GETs, all at once', (r) => cell(r.singles.parallel, r.singles.failures));
  row('14 single overview GETs, one by one', (r) => cell(r.singles.serial));
  out.push('');
  for (const r of results) {
    for (const view of ['overview', 'mcp']) {
      out.push(`${view} requests at ${fmt(r.n)}: ${r[view].requests.map((q) => `${q.method} ${q.path}`).join(' ')}`);
      for (const f of r[view].failures) out.push(`${view} failure at ${fmt(r.n)}: ${f}`);
    }
    for (const f of r.singles.failures) out.push(`single GETs failure at ${fmt(r.n)}: ${f}`);
  }
  return out;
}

async function main() {
  if (opts.keep) await mkdir(opts.keep, { recursive: true });
  const results = [];
  for (const n of SCALES) results.push(await runScale(n));
  if (opts['write-only']) return;
  if (results.length > 1) console.log(report(results).join('\n'));
}

main()
  .catch((err) => {
    console.error(err.stack ?? String(err));
    process.exitCode = 1;
  })
  .finally(cleanup);
