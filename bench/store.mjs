// Storage alone, no HTTP: how many events per second the SQLite store commits through the same
// batch path the server uses (load sessions, plan, insert with dedup, counters once per session),
// next to raw better-sqlite3 inserts into the same events table — the floor under everything.
//
//   npm run bench:store -- [--batches 400] [--ops 22] [--events 10]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildSession } from '@sessiontrack/core';
import { SqliteStore } from '@sessiontrack/store';
import Database from 'better-sqlite3';

const { values } = parseArgs({
  options: {
    batches: { type: 'string', default: '400' },
    ops: { type: 'string', default: '22' },
    events: { type: 'string', default: '10' },
  },
});
const BATCHES = Number(values.batches);
const OPS = Number(values.ops);
const EVENTS = Number(values.events);
const dir = mkdtempSync(join(tmpdir(), 'sessiontrack-store-bench-'));
const project = { id: 'p', idleTimeoutMs: null, absoluteTimeoutMs: null };
const geo = { country: null, region: null, continent: null };

async function storePath() {
  const store = new SqliteStore({ filename: join(dir, 'store.db') });
  const now = Date.now();
  const sessions = Array.from({ length: 50 }, (_, i) =>
    buildSession({ anonymousId: `a${i}`, kind: 'api' }, { project, now, origin: null, userAgent: null, geo }),
  );
  store.commitSync(
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
    store.commitSync(ops, now + b);
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
