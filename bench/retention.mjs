// Retention on PostgreSQL (issue #3): delete 1,000,000 old events with the store's
// deleteEventsBefore while a real server takes in events on the same database — how long does the
// delete take, and what does it do to ingest throughput and latency?
//
//   npm run bench:retention -- --database-url postgres://postgres@127.0.0.1:5432/postgres
//                              [--events 1000000] [--sessions 50000] [--rate 0] [--window 10]
//
// A fresh database is created on that server and dropped at the end. See bench/README.md.

import os from 'node:os';
import autocannon from 'autocannon';
import pg from 'pg';
import { PgPoolDriver, PostgresStore } from '../packages/store/dist/index.js';
import { createFreshDatabase, describeServer, redact } from './pg-database.mjs';
import { cleanup, createSessions, jsonHeaders, parseCli, startServer, usageError } from './processes.mjs';

const DAY_MS = 24 * 60 * 60 * 1000;
const INGEST_SESSIONS = 200;
const PROJECT = 'default';

const USAGE = `usage: node bench/retention.mjs --database-url <url> [options]   (or: npm run bench:retention -- …)

  --database-url <url>      a PostgreSQL server (any database on it); a fresh database is created and dropped
  --events <n>              old events to load and delete (default 1000000)
  --sessions <n>            old sessions they belong to (default 50000)
  --age-days <n>            how old the old events are (default 40; the delete removes everything older than 30 days)
  --connections <n>         ingest connections (default 50)
  --events-per-request <n>  events per ingest request (default 10)
  --rate <req/s>            ingest requests per second over all connections, 0 = as fast as the server answers (default 0)
  --window <s>              seconds of ingest measured before and after the delete (default 10)
  --skip-idle               do not measure the delete without ingest first (saves a second load)
  -h, --help                show this help`;

function parseOptions() {
  const values = parseCli(
    {
      'database-url': { type: 'string' },
      events: { type: 'string', default: '1000000' },
      sessions: { type: 'string', default: '50000' },
      'age-days': { type: 'string', default: '40' },
      connections: { type: 'string', default: '50' },
      'events-per-request': { type: 'string', default: '10' },
      rate: { type: 'string', default: '0' },
      window: { type: 'string', default: '10' },
      'skip-idle': { type: 'boolean', default: false },
    },
    USAGE,
  );
  const fail = (msg) => usageError(msg, USAGE);
  if (!values['database-url']) fail('--database-url is required');
  const int = (name, min) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min} (got ${values[name]})`);
    return n;
  };
  const opts = {
    databaseUrl: values['database-url'],
    events: int('events', 1),
    sessions: int('sessions', 1),
    ageDays: int('age-days', 31),
    connections: int('connections', 1),
    eventsPerRequest: int('events-per-request', 1),
    rate: int('rate', 0),
    window: int('window', 1),
    idle: !values['skip-idle'],
  };
  if (opts.sessions > opts.events) fail('--sessions must not exceed --events');
  return opts;
}

const eventsPath = (id) => `/api/v1/sessions/${encodeURIComponent(id)}/events`;

/**
 * Starts autocannon against the events route (fresh event ids per request, sessions round robin)
 * and returns { stop, done }: `done` resolves with the result once it ends (after `duration` s, or
 * when `stop()` is called).
 */
function startLoad(server, sessions, opts, tag, duration) {
  let nextConnection = 0;
  let nextSession = 0;
  const statusCodes = {};
  const requestFor = (conn) => {
    let counter = 0;
    return {
      method: 'POST',
      headers: jsonHeaders(server.writeKey),
      onResponse: (status) => {
        statusCodes[status] = (statusCodes[status] ?? 0) + 1;
      },
      setupRequest(req) {
        counter++;
        req.path = eventsPath(sessions[nextSession++ % sessions.length]);
        const ts = Date.now();
        const events = [];
        for (let i = 0; i < opts.eventsPerRequest; i++) {
          events.push({
            id: `r-${tag}-${conn}-${counter}-${i}`,
            type: 'action',
            name: 'click',
            page: '/pricing',
            timestamp: ts,
          });
        }
        req.body = JSON.stringify({ events });
        return req;
      },
    };
  };
  const started = performance.now();
  let instance;
  const done = new Promise((resolve, reject) => {
    instance = autocannon(
      {
        url: server.url,
        connections: opts.connections,
        duration,
        ...(opts.rate > 0 ? { overallRate: opts.rate } : {}),
        method: 'POST',
        headers: jsonHeaders(server.writeKey),
        setupClient(client) {
          client.setRequests([requestFor(nextConnection++)]);
        },
      },
      (err, result) => {
        if (err) return reject(err);
        const seconds = (performance.now() - started) / 1000;
        resolve({
          seconds,
          reqPerSec: (result['2xx'] + result.non2xx) / seconds,
          eventsPerSec: (result['2xx'] * opts.eventsPerRequest) / seconds,
          p50: result.latency.p50,
          p99: result.latency.p99,
          max: result.latency.max,
          ok: result['2xx'],
          non2xx: result.non2xx,
          errors: result.errors,
          statusCodes,
        });
      },
    );
  });
  return { stop: () => instance.stop(), done };
}

// ---------------------------------------------------------------------------------------------
// Old data and the delete

/** `events` old events over `sessions` ended sessions, received over one day `ageDays` ago. */
async function loadOldEvents(db, opts) {
  const start = Date.now() - opts.ageDays * DAY_MS;
  const perSession = Math.ceil(opts.events / opts.sessions);
  const t0 = performance.now();
  await db.query(
    `INSERT INTO sessions (id, project_id, kind, anonymous_id, status, started_at, last_activity_at, ended_at,
                           expires_at, idle_timeout_ms, absolute_timeout_ms, entry_page, exit_page, exit_reason, actions)
     SELECT 'old_' || lpad(g::text, 8, '0'), $1, 'web', 'anon-' || g, 'ended',
            $2::bigint + (g - 1) * $3::bigint, $2::bigint + g * $3::bigint, $2::bigint + g * $3::bigint,
            $2::bigint + g * $3::bigint, 1800000, 86400000, '/', '/pricing', 'timeout', $4
     FROM generate_series(1, $5::int) g
     ON CONFLICT (id) DO NOTHING`,
    [PROJECT, start, Math.floor(DAY_MS / opts.sessions), perSession, opts.sessions],
  );
  // Event g belongs to session ceil(g / perSession); received_at grows with g over one day.
  await db.query(
    `INSERT INTO events (project_id, session_id, event_id, type, name, ts, received_at, page, details)
     SELECT $1, 'old_' || lpad(((g - 1) / $2::int + 1)::text, 8, '0'), 'old-' || g,
            CASE WHEN g % 10 = 0 THEN 'pageview' ELSE 'action' END, 'click',
            $3::bigint + g * $4::bigint, $3::bigint + g * $4::bigint, '/pricing',
            CASE WHEN g % 20 = 0 THEN jsonb_build_object('plan', 'pro', 'n', g) END
     FROM generate_series(1, $5::int) g`,
    [PROJECT, perSession, start, Math.max(1, Math.floor(DAY_MS / opts.events)), opts.events],
  );
  // As if the rows had been there for weeks: vacuumed, analysed, checkpointed.
  await db.query('VACUUM ANALYZE events');
  await db.query('VACUUM ANALYZE sessions');
  await db.query('CHECKPOINT');
  return (performance.now() - t0) / 1000;
}

/** A PgDriver that times the store's DELETE statements (one per slice). */
function timedDriver(inner, slices) {
  return {
    async query(sql, params) {
      const t = performance.now();
      const r = await inner.query(sql, params);
      if (/^\s*DELETE FROM events/.test(sql)) slices.push({ ms: performance.now() - t, rows: r.rowCount });
      return r;
    },
    transaction: (fn) => inner.transaction(fn),
    withConnection: (fn) => inner.withConnection(fn),
    close: () => inner.close(),
  };
}

async function walLsn(db) {
  return (await db.query('SELECT pg_current_wal_lsn() AS lsn')).rows[0].lsn;
}

/** The retention job's call, timed: deleteEventsBefore(now − 30 days, project). */
async function deleteOld(store, db, slices) {
  slices.length = 0;
  const lsn = await walLsn(db);
  const t0 = performance.now();
  const deleted = await store.deleteEventsBefore(Date.now() - 30 * DAY_MS, PROJECT);
  const seconds = (performance.now() - t0) / 1000;
  const wal = Number(
    (await db.query('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS bytes', [lsn])).rows[0].bytes,
  );
  return { deleted, seconds, rowsPerSec: deleted / seconds, slices: [...slices], walBytes: wal };
}

// ---------------------------------------------------------------------------------------------
// Main

const int = (n) => Math.round(n).toLocaleString('en-US');
const mb = (bytes) => `${int(bytes / 2 ** 20)} MiB`;

async function tableSize(db) {
  const { rows } = await db.query(
    `SELECT pg_total_relation_size('events') AS total, pg_relation_size('events') AS heap,
            (SELECT count(*) FROM events) AS n`,
  );
  return { total: Number(rows[0].total), heap: Number(rows[0].heap), rows: Number(rows[0].n) };
}

async function main() {
  const opts = parseOptions();
  const cpus = os.cpus();
  console.log('# PostgreSQL retention benchmark\n');
  console.log(
    `machine: ${cpus[0]?.model?.trim() ?? 'unknown'} × ${cpus.length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
      `${os.platform()} ${os.release()}, Node ${process.version}`,
  );
  const fresh = await createFreshDatabase(opts.databaseUrl, 'retention');
  const slices = [];
  let server;
  let store;
  // Setup and measuring queries go through their own connection, without the store's 10 s
  // statement timeout (loading a million rows takes longer); the delete goes through the store.
  const pool = new pg.Client({ connectionString: fresh.url, application_name: 'sessiontrack-bench' });
  try {
    await pool.connect();
    // The server first: it applies the migrations and creates the default project.
    server = await startServer(fresh.url);
    store = await PostgresStore.open(timedDriver(new PgPoolDriver({ connectionString: fresh.url }), slices));
    console.log(`server:  ${await describeServer(pool)} (${redact(opts.databaseUrl)}, fresh database ${fresh.name})`);
    console.log(
      `data:    ${int(opts.events)} events received ${opts.ageDays} days ago over one day, ${int(opts.sessions)} sessions; ` +
        `deleted with PostgresStore.deleteEventsBefore(now − 30 days, '${PROJECT}') (slices of 50,000)`,
    );
    console.log(
      `ingest:  sessiontrack serve --database-url (same database), autocannon ${opts.connections} connections, ` +
        `${opts.eventsPerRequest} events/request, ${opts.rate > 0 ? `${int(opts.rate)} req/s` : 'as fast as it answers'}\n`,
    );

    const rows = [];
    if (opts.idle) {
      const loadSec = await loadOldEvents(pool, opts);
      const size = await tableSize(pool);
      console.error(
        `[idle] loaded ${int(size.rows)} events in ${loadSec.toFixed(1)} s (${mb(size.total)} with indexes)`,
      );
      const d = await deleteOld(store, pool, slices);
      console.error(`[idle] deleted ${int(d.deleted)} in ${d.seconds.toFixed(2)} s`);
      rows.push({ label: 'without ingest', d });
      await pool.query('TRUNCATE events'); // the second load starts from the same empty table
    }

    const loadSec = await loadOldEvents(pool, opts);
    const before = await tableSize(pool);
    console.error(`[load] ${int(before.rows)} events in ${loadSec.toFixed(1)} s (${mb(before.total)} with indexes)`);
    const sessions = await createSessions(server, INGEST_SESSIONS, 'retention-bench');

    const warm = await startLoad(server, sessions, opts, 'w', 2).done;
    const baseline = await startLoad(server, sessions, opts, 'b', opts.window).done;
    console.error(`[ingest before] ${int(baseline.reqPerSec)} req/s, p99 ${baseline.p99} ms`);

    const during = startLoad(server, sessions, opts, 'd', 3600);
    await new Promise((r) => setTimeout(r, 250)); // connections open before the delete starts
    const d = await deleteOld(store, pool, slices);
    during.stop();
    const duringResult = await during.done;
    console.error(`[ingest during] ${int(duringResult.reqPerSec)} req/s, p99 ${duringResult.p99} ms`);
    rows.push({ label: 'while ingest runs', d });

    const after = await startLoad(server, sessions, opts, 'a', opts.window).done;
    console.error(`[ingest after] ${int(after.reqPerSec)} req/s, p99 ${after.p99} ms`);
    const end = await tableSize(pool);

    // Integrity: no old event left, every acknowledged new event stored.
    const left = Number(
      (await pool.query('SELECT count(*) AS n FROM events WHERE received_at < $1', [Date.now() - 30 * DAY_MS])).rows[0]
        .n,
    );
    console.log('| delete | rows deleted | seconds | rows/s | slices | slowest slice ms | WAL written |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      const slowest = Math.max(...r.d.slices.map((s) => s.ms));
      console.log(
        `| ${r.label} | ${int(r.d.deleted)} | ${r.d.seconds.toFixed(2)} | ${int(r.d.rowsPerSec)} | ${r.d.slices.length} | ` +
          `${int(slowest)} | ${mb(r.d.walBytes)} |`,
      );
    }
    console.log('\n| ingest | seconds | req/s | events/s | p50 ms | p99 ms | max ms | non-2xx | errors |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const [label, r] of [
      ['before the delete', baseline],
      ['during the delete', duringResult],
      ['after the delete', after],
    ]) {
      console.log(
        `| ${label} | ${r.seconds.toFixed(1)} | ${int(r.reqPerSec)} | ${int(r.eventsPerSec)} | ${r.p50} | ${r.p99} | ` +
          `${r.max} | ${r.non2xx} | ${r.errors} |`,
      );
    }
    const ratio = (a, b) => (b > 0 ? `${(a / b).toFixed(2)}×` : '—');
    console.log(
      `\nduring / before: req/s ${ratio(duringResult.reqPerSec, baseline.reqPerSec)}, ` +
        `p99 ${ratio(duringResult.p99, baseline.p99)}`,
    );
    console.log(
      `events table: ${int(before.rows)} rows, ${mb(before.total)} with indexes before; ${int(end.rows)} rows, ` +
        `${mb(end.total)} after (DELETE frees space for reuse, it does not shrink the files)`,
    );
    // Every 2xx carried new ids, so each acknowledged event must be there; a request that timed out
    // may have been committed without an answer, so more rows than acknowledgements is not an error.
    const acked = (warm.ok + baseline.ok + duringResult.ok + after.ok) * opts.eventsPerRequest;
    const ok = left === 0 && end.rows >= acked;
    console.log(
      `check: old events left ${left} (expect 0); new events stored ${int(end.rows)}, acknowledged ${int(acked)} ` +
        `— ${ok ? 'OK' : 'MISMATCH'}`,
    );
    return ok ? 0 : 1;
  } catch (err) {
    console.error(`error: ${err?.stack ?? err}`);
    if (server) console.error(`--- server output ---\n${server.output()}`);
    return 1;
  } finally {
    await store?.close().catch(() => {});
    await pool.end().catch(() => {});
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    console.error(`error: ${err?.stack ?? err}`);
    await cleanup();
    process.exit(1);
  },
);
