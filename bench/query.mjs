// Query benchmark (issue #6): a large realistic data set (bench/query-data.mjs, default 1 M sessions
// and about 10 M events over 60 days) bulk-loaded into SQLite or PostgreSQL, then the stats routes
// timed through the real app in-process (Hono `app.request`, the same store, no port): summary,
// daily and three breakdowns over the last 30 days, ≥ 20 runs each, p50/p95. Also timed: the
// rollup job (every day, and one full day), and the same routes before any rollup (all days live).
// The ceiling, measured in the same run: reading the range's 30 rollup day rows, nothing else.

import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { assemble } from '@sessiontrack/server';
import { PgPoolDriver, PostgresStore, rollupProject, SqliteStore } from '@sessiontrack/store';
import pino from 'pino';
import { createFreshDatabase, redact } from './pg-database.mjs';
import { cleanup, parseCli, usageError } from './processes.mjs';
import { DEFAULT_PROJECT, generateDataset } from './query-data.mjs';

const USAGE = `Usage: npm run bench:query -- [options]

  --sessions <n>          sessions to generate (default 1000000; about 10 events each)
  --days <n>              days they span, ending now (default 60)
  --runs <n>              timed runs per query (default 20)
  --database-url <url>    PostgreSQL server: a fresh database is created there (and dropped, unless --keep)
  --keep <dir>            SQLite: keep the generated database in <dir>/sessiontrack.db and reuse it when
                          it exists (serve it with 'sessiontrack serve --data-dir <dir>');
                          PostgreSQL: keep the database and print its URL
  --existing              with --database-url: use that database as it is (a kept one): no generation, no drop
  --cold                  also time the routes once before any rollup (all 30 days live; slow on big sets)`;

const opts = parseCli(
  {
    sessions: { type: 'string', default: '1000000' },
    days: { type: 'string', default: '60' },
    runs: { type: 'string', default: '20' },
    'database-url': { type: 'string' },
    keep: { type: 'string' },
    cold: { type: 'boolean', default: false },
    existing: { type: 'boolean', default: false },
  },
  USAGE,
);
const int = (name) => {
  const n = Number(opts[name]);
  if (!Number.isInteger(n) || n < 1) usageError(`--${name} must be a positive integer`, USAGE);
  return n;
};
const SESSIONS = int('sessions');
const DAYS = int('days');
const RUNS = int('runs');
const ADMIN = 'bench-query-admin-token-0123456789';

const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const log = (...a) => console.error(...a);

async function openStoreAndData() {
  const now = Date.now();
  if (opts['database-url'] && opts.existing) {
    const url = opts['database-url'];
    const store = await PostgresStore.open(new PgPoolDriver({ connectionString: url, max: 8 }));
    return { store, gen: null, where: `PostgreSQL (existing ${redact(url)})`, drop: async () => {}, url };
  }
  if (opts['database-url']) {
    let url = opts['database-url'];
    let drop = async () => {};
    const fresh = await createFreshDatabase(url, 'query');
    url = fresh.url;
    if (opts.keep) fresh.keep();
    else drop = () => fresh.drop();
    const store = await PostgresStore.open(new PgPoolDriver({ connectionString: url, max: 8 }));
    await store.createProject({ ...DEFAULT_PROJECT, createdAt: now - DAYS * 86_400_000 });
    log(`generating ${fmt(SESSIONS)} sessions into ${redact(url)} …`);
    const gen = await generateDataset({ databaseUrl: url, sessions: SESSIONS, days: DAYS, now, onProgress });
    return { store, gen, where: `PostgreSQL (${fresh.name}${opts.keep ? ', kept' : ''})`, drop, url };
  }
  const dir = opts.keep ? path.resolve(opts.keep) : path.join(tmpdir(), `sessiontrack-bench-query-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'sessiontrack.db');
  const reuse = opts.keep && existsSync(file);
  let gen = null;
  if (!reuse) {
    const s = new SqliteStore({ filename: file, checkpointIntervalMs: 0 });
    await s.createProject({ ...DEFAULT_PROJECT, createdAt: now - DAYS * 86_400_000 });
    await s.close();
    log(`generating ${fmt(SESSIONS)} sessions into ${file} …`);
    gen = await generateDataset({ sqliteFile: file, sessions: SESSIONS, days: DAYS, now, onProgress });
  } else log(`reusing ${file}`);
  const store = new SqliteStore({ filename: file });
  const drop = async () => {
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  };
  return { store, gen, where: `SQLite (${reuse ? 'reused ' : ''}${file}${opts.keep ? ', kept' : ''})`, drop };
}

function onProgress({ sessions, events, ms }) {
  if (sessions % 100_000 === 0 || sessions === SESSIONS)
    log(`  ${fmt(sessions)} sessions, ${fmt(events)} events, ${fmt(sessions / (ms / 1000))} sessions/s`);
}

const QUERIES = [
  ['summary', '/api/v1/stats/summary'],
  ['daily', '/api/v1/stats/daily'],
  ['breakdown country', '/api/v1/stats/breakdown?by=country'],
  ['breakdown entryPage', '/api/v1/stats/breakdown?by=entryPage'],
  ['breakdown tool', '/api/v1/stats/breakdown?by=tool'],
];

async function timeQueries(app, runs) {
  const times = Object.fromEntries(QUERIES.map(([name]) => [name, []]));
  const rounds = [];
  for (let i = 0; i < runs; i++) {
    const r0 = performance.now();
    for (const [name, path] of QUERIES) {
      const t = performance.now();
      const res = await app.request(path, { headers: { authorization: `Bearer ${ADMIN}` } });
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
      times[name].push(performance.now() - t);
    }
    rounds.push(performance.now() - r0);
  }
  return { times, rounds };
}

async function main() {
  const machine = `${cpus()[0]?.model.trim()} × ${cpus().length} CPUs, ${Math.round(totalmem() / 2 ** 30)} GiB`;
  const { store, gen, where, drop, url } = await openStoreAndData();
  try {
    const logger = pino({ level: 'silent' });
    const { app } = await assemble(store, logger, { adminToken: ADMIN, ipRateLimitPerMinute: 0 });
    const project = (await store.listProjects()).find((p) => p.id === 'default');
    const now = Date.now();

    const out = [];
    out.push('# sessiontrack query benchmark', '');
    out.push(`machine: ${machine}`, `node:    ${process.version}`, `storage: ${where}`);
    if (gen) {
      out.push(
        `data:    ${fmt(gen.sessions)} sessions, ${fmt(gen.events)} events over ${DAYS} days, generated in ${fmt(gen.ms / 1000, 1)} s ` +
          `(${fmt(gen.sessions / (gen.ms / 1000))} sessions/s, ${fmt(gen.events / (gen.ms / 1000))} events/s, indexes included)`,
      );
    }
    out.push('');

    let cold = null;
    if (opts.cold) {
      // Before any rollup every day of the range is computed live from raw rows.
      const dirty = await store.rollupDirty('default');
      const hasRollups = (await store.readRollups('default', '0000-01-01', '9999-12-31', [])).length > 0;
      if (!hasRollups && dirty.length > 0) {
        log('timing the routes with no rollups (every day live) …');
        cold = await timeQueries(app, 1);
      }
    }

    log('rolling up every day …');
    const perDay = [];
    const r0 = performance.now();
    const run = await rollupProject(store, project, now, { onDay: (_d, ms) => perDay.push(ms) });
    const rollupAllMs = performance.now() - r0;
    // One full day again, alone: mark a day in the middle and roll it up.
    const mid = now - 10 * 86_400_000;
    await new Promise((ok) => setTimeout(ok, 5));
    await store.markRollupDirty([{ projectId: 'default', startedAt: mid }]);
    await new Promise((ok) => setTimeout(ok, 5));
    const one = [];
    const r1 = await rollupProject(store, project, now, { marginMs: 0, onDay: (_d, ms) => one.push(ms) });

    // Ceiling: what any rollup-based answer must do at least — read the range's 30 day rows.
    const today = new Date(now).toISOString().slice(0, 10);
    const first = new Date(now - 29 * 86_400_000).toISOString().slice(0, 10);
    const ceiling = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      await store.readRollups('default', first, today, []);
      ceiling.push(performance.now() - t);
    }

    log(`timing ${RUNS} runs of ${QUERIES.length} routes over the last 30 days …`);
    const firstRun = await timeQueries(app, 1); // the first requests after the rollup (cold caches)
    await timeQueries(app, 2); // warm-up
    const warm = await timeQueries(app, RUNS);

    out.push(
      `rollup:  ${run.days.length} days in ${fmt(rollupAllMs / 1000, 1)} s (per day p50 ${fmt(pct(perDay, 50))} ms, max ${fmt(Math.max(0, ...perDay))} ms); one full day alone (${r1.days.join(', ')}): ${fmt(one[0] ?? 0)} ms`,
    );
    out.push('');
    out.push(
      `| route (last 30 days, ${RUNS} runs) | p50 ms | p95 ms | max ms | first request ms |${cold ? ' no rollups (1 run) ms |' : ''}`,
    );
    out.push(`|---|---:|---:|---:|---:|${cold ? '---:|' : ''}`);
    for (const [name] of QUERIES) {
      const xs = warm.times[name];
      out.push(
        `| ${name} | ${fmt(pct(xs, 50), 1)} | ${fmt(pct(xs, 95), 1)} | ${fmt(Math.max(...xs), 1)} | ${fmt(firstRun.times[name][0], 1)} |${cold ? ` ${fmt(cold.times[name][0], 0)} |` : ''}`,
      );
    }
    out.push(
      `| all five, one after another | ${fmt(pct(warm.rounds, 50), 1)} | ${fmt(pct(warm.rounds, 95), 1)} | ${fmt(Math.max(...warm.rounds), 1)} | ${fmt(firstRun.rounds[0], 1)} |${cold ? ` ${fmt(cold.rounds[0], 0)} |` : ''}`,
    );
    out.push(
      `| ceiling: read the range's 30 rollup day rows | ${fmt(pct(ceiling, 50), 1)} | ${fmt(pct(ceiling, 95), 1)} | ${fmt(Math.max(...ceiling), 1)} | |${cold ? ' |' : ''}`,
    );
    out.push('');
    const worst = Math.max(...QUERIES.map(([name]) => pct(warm.times[name], 95)));
    out.push(`check: every route p95 < 100 ms: ${worst < 100 ? 'ok' : 'MISS'} (worst p95 ${fmt(worst, 1)} ms)`);
    if (url && opts.keep) out.push(`kept database: ${redact(url)}`);
    console.log(out.join('\n'));
  } finally {
    await store.close();
    await drop();
    await cleanup();
  }
}

main().catch(async (err) => {
  console.error(err);
  await cleanup();
  process.exit(1);
});
