// A realistic analytics data set, bulk-generated straight into a sessiontrack database (SQLite file
// or PostgreSQL), for bench/query.mjs and for anyone who needs a big database (e.g. to time the
// dashboard): `generateDataset({ sqliteFile | databaseUrl, sessions, days })`.
//
// Shape (seeded, so every run with the same options writes the same rows):
// - sessions spread over `days` days ending now (today only up to now), with a weekly rhythm
//   (weekends at 60 %), a daily curve (quiet at night, peak in the afternoon, UTC) and slow growth;
// - users Zipf-like: a few heavy users, a long tail; 25 % of sessions anonymous only;
// - 15 % MCP sessions (tool calls, transports), 85 % web (pageviews, actions, errors, workflows);
// - durations log-normal (median about 3 min), a quarter of sessions bounces;
// - about 10 events per session on average; countries, regions, devices, pages, referrers and
//   campaigns from weighted lists.
// The sessions' stored counters match their events, as the write path would have left them.

import { mulberry32 } from '@sessiontrack/core';
import Database from 'better-sqlite3';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;

export const DEFAULT_PROJECT = {
  id: 'default',
  name: 'Default',
  writeKey: 'wk_bench_query_0000000000000000',
  allowedOrigins: [],
  timeZone: 'UTC',
  idleTimeoutMs: null,
  absoluteTimeoutMs: null,
  retentionDays: 365,
  rateLimitPerMinute: 0,
  createdAt: 0,
};

// The seeded generator the data sets are drawn with (core's), for the benchmarks that import it from here.
export { mulberry32 };

/** A weighted choice: [[value, weight], …] → () => value. */
export function weighted(rand, entries) {
  const total = entries.reduce((s, [, w]) => s + w, 0);
  const cum = [];
  let acc = 0;
  for (const [v, w] of entries) {
    acc += w / total;
    cum.push([v, acc]);
  }
  return () => {
    const r = rand();
    for (const [v, c] of cum) if (r < c) return v;
    return cum[cum.length - 1][0];
  };
}

export const zipf = (rand, n, s = 1.1) => Math.min(n - 1, Math.floor(n * rand() ** (1 + s)));

export const COUNTRIES = [
  ['US', 30, 'NA', ['CA', 'NY', 'TX', 'WA', 'FL']],
  ['DE', 10, 'EU', ['BE', 'BY', 'HH', 'NW']],
  ['GB', 8, 'EU', ['ENG', 'SCT']],
  ['FR', 6, 'EU', ['IDF', 'ARA']],
  ['IN', 6, 'AS', ['KA', 'MH', 'DL']],
  ['BR', 4, 'SA', ['SP', 'RJ']],
  ['CA', 4, 'NA', ['ON', 'BC', 'QC']],
  ['JP', 3, 'AS', ['13', '27']],
  ['NL', 3, 'EU', ['NH', 'ZH']],
  ['AU', 3, 'OC', ['NSW', 'VIC']],
  ['ES', 2, 'EU', ['MD', 'CT']],
  ['PL', 2, 'EU', ['MZ']],
  ['SE', 2, 'EU', ['AB']],
  ['IT', 2, 'EU', ['LO', 'LZ']],
  ['MX', 2, 'NA', ['CMX']],
  ['NG', 1, 'AF', ['LA']],
  ['ZA', 1, 'AF', ['GP']],
  [null, 11, null, [null]],
];
export const PAGES = Array.from({ length: 60 }, (_, i) =>
  i === 0 ? '/' : i < 6 ? ['/pricing', '/docs', '/blog', '/login', '/signup'][i - 1] : `/docs/page-${i}`,
);
export const ACTIONS = Array.from({ length: 40 }, (_, i) =>
  i < 8 ? ['search', 'export', 'filter', 'share', 'save', 'copy', 'upload', 'invite'][i] : `action_${i}`,
);
export const TOOLS = [
  'search',
  'fetch',
  'read_file',
  'write_file',
  'run_query',
  'echo',
  'add',
  'summarize',
  'translate',
  'fail',
];
export const WORKFLOWS = ['checkout', 'signup', 'onboarding', 'export_report', 'invite_team'];

/** Session and event rows, in start order, handed to `onSession(sessionRow, eventRows)`. */
function* rows({ sessions, days, seed, now }) {
  const rand = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand());
  const pickCountry = weighted(
    rand,
    COUNTRIES.map((c) => [c, c[1]]),
  );
  const pickDevice = weighted(rand, [
    [['desktop', 'Windows'], 40],
    [['desktop', 'macOS'], 18],
    [['desktop', 'Linux'], 4],
    [['mobile', 'iOS'], 18],
    [['mobile', 'Android'], 16],
    [['tablet', 'iOS'], 4],
  ]);
  const pickBrowser = weighted(rand, [
    ['Chrome', 60],
    ['Safari', 20],
    ['Firefox', 8],
    ['Edge', 8],
    ['Samsung Internet', 4],
  ]);
  const pickReferrer = weighted(rand, [
    [null, 40],
    ['https://www.google.com/', 30],
    ['https://news.ycombinator.com/', 6],
    ['https://www.reddit.com/', 6],
    ['https://twitter.com/', 5],
    ['https://github.com/', 8],
    ['https://duckduckgo.com/', 5],
  ]);
  const pickExit = weighted(rand, [
    ['timeout', 60],
    ['navigation', 25],
    ['logout', 15],
  ]);
  // Sessions per day: weekday rhythm and growth; per hour: a daily curve.
  const start = Math.floor(now / DAY) * DAY - (days - 1) * DAY;
  const dayWeights = [];
  for (let d = 0; d < days; d++) {
    const weekday = new Date(start + d * DAY).getUTCDay();
    const growth = 0.8 + (0.4 * d) / days;
    const dayEnd = Math.min(start + (d + 1) * DAY, now);
    const share = Math.max(0, (dayEnd - (start + d * DAY)) / DAY); // today: only up to now
    dayWeights.push((weekday === 0 || weekday === 6 ? 0.6 : 1) * growth * share);
  }
  const hourCurve = Array.from(
    { length: 24 },
    (_, h) => 0.25 + Math.max(0, Math.sin(((h - 6) / 24) * 2 * Math.PI)) ** 2,
  );
  const hourTotal = hourCurve.reduce((a, b) => a + b, 0);
  const pickHour = weighted(
    rand,
    hourCurve.map((w, h) => [h, w / hourTotal]),
  );
  const weightTotal = dayWeights.reduce((a, b) => a + b, 0);

  let n = 0;
  for (let d = 0; d < days; d++) {
    const count = Math.round((sessions * dayWeights[d]) / weightTotal);
    const dayStart = start + d * DAY;
    const starts = [];
    for (let i = 0; i < count; i++) {
      let t = dayStart + pickHour() * 60 * MIN + Math.floor(rand() * 60 * MIN);
      if (t >= now) t = dayStart + Math.floor(rand() * Math.max(1, now - dayStart));
      starts.push(t);
    }
    starts.sort((a, b) => a - b);
    for (const startedAt of starts) {
      const id = `s_bench_${String(++n).padStart(9, '0')}`;
      const mcp = rand() < 0.15;
      const bounce = !mcp && rand() < 0.25;
      const durationMs = bounce
        ? Math.floor(rand() * 25_000)
        : Math.min(4 * 60 * MIN, Math.floor(Math.exp(Math.log(180_000) + 1.2 * normal())));
      const eventCount = bounce ? 1 + (rand() < 0.3 ? 1 : 0) : 1 + Math.floor(-Math.log(rand() || 1e-12) * 12.5);
      const [country, , continent, regions] = pickCountry();
      const region = regions[Math.floor(rand() * regions.length)];
      const [deviceType, os] = pickDevice();
      const referrer = pickReferrer();
      const entryPage = PAGES[zipf(rand, PAGES.length)];
      const user = rand() < 0.75 ? `u_${zipf(rand, 150_000, 0.8)}` : null;
      const events = [];
      let page = entryPage;
      let actions = 0;
      let errors = 0;
      let toolCalls = 0;
      let workflows = 0;
      let lastAction = null;
      const workflow = !mcp && !bounce && rand() < 0.3 ? WORKFLOWS[zipf(rand, WORKFLOWS.length)] : null;
      const outcome = rand();
      for (let e = 0; e < eventCount; e++) {
        const ts = startedAt + Math.floor((durationMs * e) / Math.max(1, eventCount - 1 || 1));
        let type;
        let name = null;
        let details = null;
        if (e === 0) type = mcp ? 'tool_call' : 'pageview';
        else if (workflow && e === 1) {
          type = 'workflow_start';
          name = workflow;
          details = `{"workflowId":"${workflow}"}`;
        } else if (workflow && e === eventCount - 1 && outcome < 0.7) {
          type = outcome < 0.6 ? 'workflow_complete' : 'workflow_fail';
          name = workflow;
          details = `{"workflowId":"${workflow}"}`;
        } else {
          const r = rand();
          if (mcp) type = r < 0.85 ? 'tool_call' : r < 0.95 ? 'action' : 'error';
          else type = r < 0.45 ? 'pageview' : r < 0.93 ? 'action' : r < 0.97 ? 'error' : 'custom';
        }
        if (type === 'pageview') {
          page = PAGES[zipf(rand, PAGES.length)];
          name = null;
        } else if (type === 'action') {
          name = ACTIONS[zipf(rand, ACTIONS.length)];
          actions++;
          lastAction = name;
        } else if (type === 'tool_call') {
          name = TOOLS[zipf(rand, TOOLS.length)];
          toolCalls++;
        } else if (type === 'error') {
          name = 'TypeError';
          errors++;
        } else if (type === 'workflow_start') workflows++;
        else if (type === 'custom') name = 'custom_event';
        events.push([id, `e${e}`, type, name, ts, ts, mcp ? null : page, null, details]);
      }
      const lastActivityAt = startedAt + (eventCount > 1 ? durationMs : 0);
      const idle = mcp ? 60 * MIN : 30 * MIN;
      const live = lastActivityAt + idle > now;
      const endedAt = live ? null : lastActivityAt;
      yield [
        {
          id,
          kind: mcp ? 'mcp' : 'web',
          user_id: user,
          anonymous_id: `a_${Math.floor(rand() * 400_000)}`,
          status: live ? 'active' : 'ended',
          started_at: startedAt,
          last_activity_at: lastActivityAt,
          ended_at: endedAt,
          expires_at: live ? lastActivityAt + idle : lastActivityAt,
          idle_timeout_ms: idle,
          absolute_timeout_ms: mcp ? 30 * DAY : DAY,
          device_type: mcp ? null : deviceType,
          browser: mcp ? null : pickBrowser(),
          os: mcp ? null : os,
          entry_page: mcp ? null : entryPage,
          entry_source: mcp ? null : referrer ? 'external' : 'direct',
          entry_referrer: mcp ? null : referrer,
          entry_campaign: !mcp && rand() < 0.1 ? ['spring', 'launch', 'newsletter'][Math.floor(rand() * 3)] : null,
          exit_page: mcp ? null : page,
          exit_reason: live ? null : pickExit(),
          last_action: lastAction,
          country,
          region: country ? region : null,
          continent,
          transport: mcp ? (rand() < 0.8 ? 'streamable-http' : 'stdio') : null,
          actions,
          errors,
          tool_calls: toolCalls,
          workflows,
        },
        events,
      ];
    }
  }
}

const SESSION_FIELDS = [
  'id',
  'kind',
  'user_id',
  'anonymous_id',
  'status',
  'started_at',
  'last_activity_at',
  'ended_at',
  'expires_at',
  'idle_timeout_ms',
  'absolute_timeout_ms',
  'device_type',
  'browser',
  'os',
  'entry_page',
  'entry_source',
  'entry_referrer',
  'entry_campaign',
  'exit_page',
  'exit_reason',
  'last_action',
  'country',
  'region',
  'continent',
  'transport',
  'actions',
  'errors',
  'tool_calls',
  'workflows',
];

/**
 * Writes the data set into a migrated sessiontrack database (the caller opens a store once so the
 * migrations ran) and marks every day for the rollup job. Returns counts and timing.
 */
export async function generateDataset({
  sqliteFile,
  databaseUrl,
  sessions = 1_000_000,
  days = 60,
  seed = 42,
  now = Date.now(),
  onProgress = () => {},
}) {
  const started = performance.now();
  let sessionCount = 0;
  let eventCount = 0;
  const progress = () => onProgress({ sessions: sessionCount, events: eventCount, ms: performance.now() - started });
  if (sqliteFile) {
    const db = new Database(sqliteFile);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    const insertSession = db.prepare(
      `INSERT INTO sessions (project_id, ${SESSION_FIELDS.join(', ')})
       VALUES ('default', ${SESSION_FIELDS.map((f) => `@${f}`).join(', ')})`,
    );
    const insertEvent = db.prepare(
      `INSERT INTO events (project_id, session_id, event_id, type, name, ts, received_at, page, resource_id, details)
       VALUES ('default', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    let batch = [];
    const flush = db.transaction((list) => {
      for (const [s, evs] of list) {
        insertSession.run(s);
        for (const e of evs) insertEvent.run(e);
      }
    });
    for (const item of rows({ sessions, days, seed, now })) {
      batch.push(item);
      sessionCount++;
      eventCount += item[1].length;
      if (batch.length === 20_000) {
        flush(batch);
        batch = [];
        progress();
      }
    }
    flush(batch);
    db.prepare(
      `INSERT INTO rollup_dirty (project_id, utc_day, marked_at)
       SELECT DISTINCT project_id, started_at / 86400000, ? FROM sessions WHERE project_id = 'default'
       ON CONFLICT DO UPDATE SET marked_at = excluded.marked_at`,
    ).run(Date.now());
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.exec('ANALYZE');
    db.close();
  } else if (databaseUrl) {
    const client = new pg.Client({ connectionString: databaseUrl, application_name: 'sessiontrack-bench-data' });
    // A second connection: the two COPY streams run at the same time, and one connection runs one
    // statement at a time.
    const client2 = new pg.Client({ connectionString: databaseUrl, application_name: 'sessiontrack-bench-data' });
    await client.connect();
    await client2.connect();
    try {
      // Indexes are built once after the load: much faster than maintaining them row by row.
      await client.query('ALTER TABLE events DROP CONSTRAINT events_pkey');
      await client.query('DROP INDEX events_received');
      const sessionStream = client.query(
        copyFrom(`COPY sessions (project_id, ${SESSION_FIELDS.join(', ')}) FROM STDIN`),
      );
      const eventStream = client2.query(
        copyFrom(
          'COPY events (project_id, session_id, event_id, type, name, ts, received_at, page, resource_id, details) FROM STDIN',
        ),
      );
      const cell = (v) => (v === null || v === undefined ? '\\N' : String(v));
      const write = (stream, text) => (stream.write(text) ? undefined : new Promise((ok) => stream.once('drain', ok)));
      let sBuf = '';
      let eBuf = '';
      for (const [s, evs] of rows({ sessions, days, seed, now })) {
        sBuf += `default\t${SESSION_FIELDS.map((f) => cell(s[f])).join('\t')}\n`;
        for (const e of evs) eBuf += `default\t${e.map(cell).join('\t')}\n`;
        sessionCount++;
        eventCount += evs.length;
        if (sessionCount % 5_000 === 0) {
          await write(sessionStream, sBuf);
          await write(eventStream, eBuf);
          sBuf = '';
          eBuf = '';
          if (sessionCount % 20_000 === 0) progress();
        }
      }
      await write(sessionStream, sBuf);
      await write(eventStream, eBuf);
      const done = (stream) => new Promise((ok, fail) => stream.on('finish', ok).on('error', fail).end());
      await Promise.all([done(sessionStream), done(eventStream)]);
      progress();
      await client.query('ALTER TABLE events ADD PRIMARY KEY (session_id, event_id)');
      await client.query('CREATE INDEX events_received ON events (received_at)');
      await client.query(
        `INSERT INTO rollup_dirty (project_id, utc_day, marked_at)
         SELECT DISTINCT project_id, started_at / 86400000, $1::bigint FROM sessions WHERE project_id = 'default'
         ON CONFLICT (project_id, utc_day) DO UPDATE SET marked_at = excluded.marked_at`,
        [Date.now()],
      );
      await client.query('ANALYZE');
    } finally {
      await client.end();
      await client2.end();
    }
  } else throw new Error('generateDataset: give sqliteFile or databaseUrl');
  return { sessions: sessionCount, events: eventCount, ms: performance.now() - started };
}
