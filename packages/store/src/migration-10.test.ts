import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { buildSession, normalizeEvent, type Project } from '@sessiontrack/core';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { Migration } from './migration.js';
import { PG_MIGRATIONS } from './postgres/pg-migrations.js';
import { PgPoolDriver } from './postgres/pg-pool-driver.js';
import { PostgresStore } from './postgres/pg-store.js';
import { PgliteDriver } from './postgres/pglite-driver.testkit.js';
import { EVENT_COLUMNS, eventValues, SESSION_COLUMNS, sessionToRow } from './rows.js';
import { SQLITE_MIGRATIONS } from './sqlite/sqlite-migrations.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

// Migration 10 (sessions keyed by (id, project), issue 14.10) on data written under migration 9:
// every session, event and agent-state entry is kept as it was, and then the same session id
// (and event id) starts in a second project. On SQLite (a file), PGlite and a real PostgreSQL.

const T0 = Date.parse('2025-06-01T10:00:00.000Z');
const dir = mkdtempSync(join(tmpdir(), 'sessiontrack-m10-'));
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
  rmSync(dir, { recursive: true, force: true });
});

const project = (id: string): Project => ({
  id,
  name: id,
  writeKey: `wk_${id}_0000000000000000`,
  allowedOrigins: [],
  timeZone: 'UTC',
  idleTimeoutMs: null,
  absoluteTimeoutMs: null,
  retentionDays: 30,
  rateLimitPerMinute: 0,
  createdAt: T0,
});
const OLD = project('p_m9_old');
const NEW = project('p_m9_new');
const ctx = (p: Project) => ({
  project: p,
  now: T0,
  origin: null,
  userAgent: null,
  geo: { country: null, region: null, continent: null },
});
const ID = 's_m9_kept_000000000001';
const before = { ...buildSession({ kind: 'mcp', userId: 'u_1', metadata: { a: 1 } }, ctx(OLD), ID), actions: 2 };
const events = ['e1', 'e2'].map((id, i) => ({
  ...normalizeEvent({ id, type: 'action', name: `n${i}` }, T0 + i),
  projectId: OLD.id,
  sessionId: ID,
  receivedAt: T0 + i,
}));

type Exec = (text: string, params?: unknown[]) => Promise<unknown>;

/** Applies migrations 1-9 and writes one session with two events and an agent-state entry. */
async function seedVersion9(exec: Exec, migrations: readonly Migration[], ph: (n: number) => string) {
  await exec(
    'CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)',
  );
  for (const m of migrations.filter((x) => x.version < 10)) {
    await exec(m.sql);
    await exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (${ph(1)}, ${ph(2)}, ${ph(3)})`, [
      m.version,
      m.name,
      T0,
    ]);
  }
  const list = (n: number, from = 1) => Array.from({ length: n }, (_, i) => ph(from + i)).join(', ');
  const row = sessionToRow(before);
  await exec(
    `INSERT INTO sessions (${SESSION_COLUMNS.join(', ')}) VALUES (${list(SESSION_COLUMNS.length)})`,
    SESSION_COLUMNS.map((c) => row[c]),
  );
  for (const e of events) {
    await exec(
      `INSERT INTO events (${EVENT_COLUMNS.map(([c]) => c).join(', ')}) VALUES (${list(EVENT_COLUMNS.length)})`,
      eventValues(e),
    );
  }
  await exec(
    `INSERT INTO agent_state (project_id, session_id, agent_id, key, value, expires_at, updated_at) VALUES (${list(7)})`,
    [OLD.id, ID, 'agent', 'k', JSON.stringify({ kept: true }), null, T0],
  );
}

async function checkMigrated(store: Store) {
  expect(await store.getSession(OLD.id, ID)).toEqual(before);
  expect((await store.getEvents(OLD.id, ID)).map((e) => [e.id, e.name])).toEqual([
    ['e1', 'n0'],
    ['e2', 'n1'],
  ]);
  expect((await store.getAgentState(OLD.id, ID, 'agent', 'k', T0))?.value).toEqual({ kept: true });
  // The old keys would refuse these: the same session id and event id in another project.
  const mine = buildSession({ kind: 'web', anonymousId: 'a' }, ctx(NEW), ID);
  const [started, added] = await store.commit(
    [
      { op: 'start', session: mine },
      { op: 'events', projectId: NEW.id, sessionId: ID, events: [normalizeEvent({ id: 'e1', type: 'action' }, T0)] },
    ],
    T0,
  );
  expect(started).toMatchObject({ ok: true, session: { id: ID, projectId: NEW.id } });
  expect(added).toMatchObject({ ok: true, accepted: 1, duplicates: 0 });
  expect(await store.getEvents(OLD.id, ID)).toHaveLength(2);
  expect((await store.sessionsById(ID)).map((s) => s.projectId)).toEqual([NEW.id, OLD.id]);
  // The old duplicate rule holds within the project.
  const [again] = await store.commit(
    [{ op: 'events', projectId: OLD.id, sessionId: ID, events: [normalizeEvent({ id: 'e2', type: 'action' }, T0)] }],
    T0,
  );
  expect(again).toMatchObject({ ok: true, accepted: 0, duplicates: 1 });
}

describe('migration 10: sessions keyed by (id, project)', () => {
  it('on SQLite: keeps sessions, events and agent state, then takes the same id in another project', async () => {
    const filename = join(dir, 'v9.db');
    const db = new Database(filename);
    await seedVersion9(
      async (text, params) => (params ? db.prepare(text).run(...params) : db.exec(text)),
      SQLITE_MIGRATIONS,
      () => '?',
    );
    db.close();
    const store = new SqliteStore({ filename });
    try {
      await checkMigrated(store);
    } finally {
      await store.close();
    }
  });

  it('on PostgreSQL (PGlite): the same', async () => {
    const driver = new PgliteDriver(new PGlite());
    await seedVersion9(
      (text, params) => driver.query(text, params),
      PG_MIGRATIONS,
      (n) => `$${n}`,
    );
    const store = await PostgresStore.open(driver, 'pglite');
    try {
      await checkMigrated(store);
    } finally {
      await store.close();
    }
  });

  const url = process.env.TEST_DATABASE_URL;
  it.skipIf(!url)('on a PostgreSQL server: the same', async () => {
    const database = `sessiontrack_m10_${process.pid}_${Date.now()}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    cleanups.push(async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await c.end();
    });
    const target = new URL(url as string);
    target.pathname = `/${database}`;
    const driver = new PgPoolDriver({ connectionString: target.toString(), max: 2 });
    await seedVersion9(
      (text, params) => driver.query(text, params),
      PG_MIGRATIONS,
      (n) => `$${n}`,
    );
    const store = await PostgresStore.open(driver);
    try {
      await checkMigrated(store);
    } finally {
      await store.close();
    }
  });
});
