// Storage alone, no HTTP: how many events per second the SQLite store commits through the same
// batch path the server uses (load sessions, plan, insert with dedup, counters once per session),
// next to raw better-sqlite3 inserts into the same events table — the floor under everything.
//
//   npm run bench:store -- [--batches 400] [--ops 22] [--events 10] [--database-url <url>]
//
// With --database-url the same batches go through PostgresStore.commit instead, in a fresh database
// created on that server (and dropped afterwards), next to the events INSERT alone.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildSession } from '@sessiontrack/core';
import { PgPoolDriver, PostgresStore, SqliteStore } from '@sessiontrack/store';
import Database from 'better-sqlite3';
import { createFreshDatabase, describeServer, dropAllFreshDatabases } from './pg-database.mjs';

const { values } = parseArgs({
  options: {
    batches: { type: 'string', default: '400' },
    ops: { type: 'string', default: '22' },
    events: { type: 'string', default: '10' },
    'database-url': { type: 'string' },
  },
});
const BATCHES = Number(values.batches);
const OPS = Number(values.ops);
const EVENTS = Number(values.events);
const dir = mkdtempSync(join(tmpdir(), 'sessiontrack-store-bench-'));
const project = { id: 'p', idleTimeoutMs: null, absoluteTimeoutMs: null };
const geo = { country: null, region: null, continent: null };

async function storePath(pgUrl) {
  const store = pgUrl
    ? await PostgresStore.open(new PgPoolDriver({ connectionString: pgUrl }))
    : new SqliteStore({ filename: join(dir, 'store.db') });
  const now = Date.now();
  const sessions = Array.from({ length: 50 }, (_, i) =>
    buildSession({ anonymousId: `a${i}`, kind: 'api' }, { project, now, origin: null, userAgent: null, geo }),
  );
  // SQLite: the synchronous path, as measured before PostgreSQL existed; PostgreSQL: the async one.
  const commit = store.commitSync ? (ops, at) => store.commitSync(ops, at) : (ops, at) => store.commit(ops, at);
  await commit(
    sessions.map((session) => ({ op: 'start', session })),
    now,
  );
  let k = 0;
  const t0 = performance.now();
  for (let b = 0; b < BATCHES; b++) {
    const ops = [];
    for (let r = 0; r < OPS; r++) {
      const s = sessions[k++ % sessions.length];
      const events = Array.from({ length: EVENTS }, (_, i) => ({
        id: `e${k}-${i}`,
        type: 'action',
        name: 'click',
        page: '/pricing',
        ts: now,
        resourceId: null,
        details: null,
      }));
      ops.push({ op: 'events', projectId: 'p', sessionId: s.id, events });
    }
    await commit(ops, now + b);
  }
  const ms = performance.now() - t0;
  await store.close();
  return ms;
}

function rawInserts() {
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE events (seq INTEGER PRIMARY KEY, project_id TEXT NOT NULL, session_id TEXT NOT NULL,
    event_id TEXT NOT NULL, type TEXT NOT NULL, name TEXT, ts INTEGER NOT NULL, received_at INTEGER NOT NULL,
    page TEXT, resource_id TEXT, details TEXT, UNIQUE (session_id, event_id))`);
  const insert = db.prepare(`INSERT INTO events (project_id, session_id, event_id, type, name, ts, received_at, page,
    resource_id, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`);
  const batch = db.transaction((b) => {
    for (let i = 0; i < OPS * EVENTS; i++) {
      insert.run('p', `s_${i % 50}`, `e${b}-${i}`, 'action', 'click', 1, 1, '/pricing', null, null);
    }
  });
  const t0 = performance.now();
  for (let b = 0; b < BATCHES; b++) batch(b);
  const ms = performance.now() - t0;
  db.close();
  return ms;
}

/** The events INSERT of PostgresStore alone (unnest, ON CONFLICT DO NOTHING RETURNING), one transaction per batch. */
async function rawPg(pgUrl) {
  const driver = new PgPoolDriver({ connectionString: pgUrl });
  const cols = (rows) => [
    rows.map(() => 'p'),
    rows.map((r) => r.s),
    rows.map((r) => r.e),
    rows.map(() => 'action'),
    rows.map(() => 'click'),
    rows.map(() => 1),
    rows.map(() => 1),
    rows.map(() => '/pricing'),
    rows.map(() => null),
    rows.map(() => null),
  ];
  const t0 = performance.now();
  for (let b = 0; b < BATCHES; b++) {
    const rows = Array.from({ length: OPS * EVENTS }, (_, i) => ({ s: `s_${i % 50}`, e: `raw${b}-${i}` }));
    await driver.transaction((tx) =>
      tx.query(
        `INSERT INTO events (project_id, session_id, event_id, type, name, ts, received_at, page, resource_id, details)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
                              $8::text[], $9::text[], $10::jsonb[])
         ON CONFLICT DO NOTHING RETURNING session_id, event_id`,
        cols(rows),
      ),
    );
  }
  const ms = performance.now() - t0;
  await driver.close();
  return ms;
}

async function postgres(url) {
  const db = await createFreshDatabase(url, 'store');
  try {
    const total = BATCHES * OPS * EVENTS;
    const store = await storePath(db.url); // also applies the migrations
    const raw = await rawPg(db.url);
    const driver = new PgPoolDriver({ connectionString: db.url });
    const server = await describeServer(driver);
    await driver.close();
    const rate = (ms) => Math.round((total / ms) * 1000).toLocaleString('en-US');
    console.log(`${server}, fresh database ${db.name}`);
    console.log(
      `${BATCHES} transactions of ${OPS} operations × ${EVENTS} events (${total.toLocaleString('en-US')} events)\n`,
    );
    console.log('| path | events/s | ms per transaction |');
    console.log('|---|---:|---:|');
    console.log(`| events INSERT alone (unnest, one tx per batch) | ${rate(raw)} | ${(raw / BATCHES).toFixed(2)} |`);
    console.log(
      `| PostgresStore.commit (lock sessions, insert, update sessions) | ${rate(store)} | ${(store / BATCHES).toFixed(2)} |`,
    );
    console.log(`\nstore / insert alone: ${(raw / store).toFixed(2)}×`);
  } finally {
    await db.drop();
    await dropAllFreshDatabases();
  }
}

if (values['database-url']) {
  try {
    await postgres(values['database-url']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

try {
  const total = BATCHES * OPS * EVENTS;
  const raw = rawInserts();
  const store = await storePath();
  const rate = (ms) => Math.round((total / ms) * 1000).toLocaleString('en-US');
  console.log(
    `${BATCHES} transactions of ${OPS} operations × ${EVENTS} events (${total.toLocaleString('en-US')} events)\n`,
  );
  console.log('| path | events/s | ms per transaction |');
  console.log('|---|---:|---:|');
  console.log(`| raw better-sqlite3 insert (ceiling) | ${rate(raw)} | ${(raw / BATCHES).toFixed(2)} |`);
  console.log(`| SqliteStore.commit (the server's path) | ${rate(store)} | ${(store / BATCHES).toFixed(2)} |`);
  console.log(`\nstore / raw: ${(raw / store).toFixed(2)}×`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
