import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { buildSession, normalizeEvent, type Project } from '@sessiontrack/core';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRange, rollupProject } from '../analytics.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';
import { SqliteStore } from './sqlite-store.js';

const require = createRequire(import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'sessiontrack-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
const newFile = () => join(dir, `store-${++files}.db`);

// The Store conformance suite runs on SQLite from conformance/; these are SQLite's own behaviours.

const T0 = Date.parse('2025-06-01T10:00:00.000Z');

const project: Project = {
  id: 'p_sqlite_test',
  name: 'SQLite test',
  writeKey: 'wk_sqlite_test_000000000',
  allowedOrigins: ['https://app.example'],
  timeZone: 'UTC',
  idleTimeoutMs: null,
  absoluteTimeoutMs: null,
  retentionDays: 30,
  rateLimitPerMinute: 0,
  createdAt: T0,
};

/** How a session of these tests starts: the project above, at T0, from nowhere in particular. */
const ctx = { project, now: T0, origin: null, userAgent: null, geo: { country: null, region: null, continent: null } };

const readMigrations = (filename: string) => {
  const db = new Database(filename, { readonly: true });
  try {
    return db.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version').all() as {
      version: number;
      name: string;
      applied_at: number;
    }[];
  } finally {
    db.close();
  }
};

describe('SqliteStore (file specifics)', () => {
  it('keeps projects, sessions and events across closing and reopening the file', async () => {
    const filename = newFile();
    const first = new SqliteStore({ filename });
    await first.createProject(project);
    const session = buildSession(
      { kind: 'web', userId: 'u_1', anonymousId: null, metadata: { a: 1 } },
      {
        project,
        now: T0,
        origin: 'https://app.example',
        userAgent: null,
        geo: { country: 'DE', region: null, continent: 'EU' },
      },
      's_sqlite_reopen_0000000001',
    );
    const results = await first.commit(
      [
        { op: 'start', session },
        {
          op: 'events',
          projectId: project.id,
          sessionId: session.id,
          events: [normalizeEvent({ id: 'e1', type: 'action', name: 'click', page: '/a', details: { k: 'v' } }, T0)],
        },
      ],
      T0,
    );
    expect(results.every((r) => r.ok)).toBe(true);
    const storedSession = await first.getSession(session.projectId, session.id);
    const storedEvents = await first.getEvents(session.projectId, session.id);
    expect(storedSession?.actions).toBe(1);
    await first.close();

    const second = new SqliteStore({ filename });
    try {
      expect(await second.listProjects()).toEqual([project]);
      expect(await second.getSession(session.projectId, session.id)).toEqual(storedSession);
      expect(await second.getEvents(session.projectId, session.id)).toEqual(storedEvents);
      expect(storedEvents).toHaveLength(1);
      // the event id still deduplicates after the reopen
      const [again] = await second.commit(
        [
          {
            op: 'events',
            projectId: project.id,
            sessionId: session.id,
            events: [normalizeEvent({ id: 'e1', type: 'action', name: 'click' }, T0 + 1000)],
          },
        ],
        T0 + 1000,
      );
      expect(again).toMatchObject({ ok: true, accepted: 0, duplicates: 1 });
    } finally {
      await second.close();
    }
  });

  it('records migrations in schema_migrations and does not apply them again on reopen', async () => {
    const filename = newFile();
    await new SqliteStore({ filename }).close();
    const applied = readMigrations(filename);
    expect(applied.map((m) => [m.version, m.name])).toEqual(SQLITE_MIGRATIONS.map((m) => [m.version, m.name]));
    expect(applied.every((m) => Number.isInteger(m.applied_at) && m.applied_at > 0)).toBe(true);

    const reopened = new SqliteStore({ filename });
    await reopened.ping();
    await reopened.createProject(project);
    await reopened.close();
    expect(readMigrations(filename)).toEqual(applied);
    const third = new SqliteStore({ filename });
    try {
      expect(await third.listProjects()).toEqual([project]);
    } finally {
      await third.close();
    }
  });

  it("keeps a session's facets across reopening, and reads 'unknown' ones (sessions of before migration 6) from the events", async () => {
    const filename = newFile();
    const p = { ...project, id: 'p_sqlite_facets' };
    const first = new SqliteStore({ filename });
    await first.createProject(p);
    const a = buildSession({ kind: 'web', userId: 'u_a' }, { ...ctx, project: p }, 's_sqlite_facets_000000000a');
    const b = buildSession({ kind: 'web', userId: 'u_b' }, { ...ctx, project: p }, 's_sqlite_facets_000000000b');
    const action = (s: typeof a, id: string, name: string) => ({
      op: 'events' as const,
      projectId: p.id,
      sessionId: s.id,
      events: [normalizeEvent({ id, type: 'action', name }, T0)],
    });
    await first.commit(
      [{ op: 'start', session: a }, { op: 'start', session: b }, action(a, 'e1', 'export'), action(b, 'e1', 'export')],
      T0,
    );
    await first.close();
    // b as a session stored before facets existed
    const raw = new Database(filename);
    raw.prepare("UPDATE sessions SET facets = 'unknown' WHERE id = ?").run(b.id);
    raw.close();
    const second = new SqliteStore({ filename });
    try {
      await second.commit([action(a, 'e2', 'share'), action(b, 'e2', 'share'), action(b, 'e3', 'export')], T0 + 1000);
      const r = await loadRange(second, p, { fromDate: '2025-06-01', toDate: '2025-06-01', dims: ['action', 'pair'] });
      expect(r.totals.counts).toEqual({ action: { export: 2, share: 2 }, pair: { 'export\tshare': 2 } });
    } finally {
      await second.close();
    }
  });

  it('after migration 9, sessions of before get their paths from their events, and their days are rebuilt', async () => {
    const filename = newFile();
    const p = { ...project, id: 'p_sqlite_paths', timeZone: 'UTC' };
    const first = new SqliteStore({ filename });
    await first.createProject(p);
    const a = buildSession({ kind: 'web', userId: 'u_a' }, { ...ctx, project: p }, 's_sqlite_paths_00000000a');
    const pv = (id: string, page: string) => ({
      op: 'events' as const,
      projectId: p.id,
      sessionId: a.id,
      events: [normalizeEvent({ id, type: 'pageview', page }, T0)],
    });
    await first.commit([{ op: 'start', session: a }, pv('e1', '/'), pv('e2', '/pricing')], T0);
    await first.close();
    // As before migration 9: pageviews were not read, the facets NULL and the aggregates without paths.
    const raw = new Database(filename);
    raw.prepare('UPDATE sessions SET facets = NULL').run();
    raw.prepare("DELETE FROM rollup_counts WHERE dim LIKE 'path%'").run();
    raw.prepare('DELETE FROM schema_migrations WHERE version = 9').run();
    raw.close();
    const second = new SqliteStore({ filename });
    try {
      await second.commit([pv('e3', '/signup')], T0 + 1000);
      const q = { fromDate: '2025-06-01', toDate: '2025-06-01', dims: ['path1', 'path3'] as const };
      // The live day is rebuilt by the rollup job (the marks the migration wrote); the commit
      // already counted the session's change from its recovered path.
      await rollupProject(second, p, T0 + 1000);
      expect((await loadRange(second, p, q)).totals.counts).toEqual({
        path1: { '/': 1 },
        path3: { '/\t/pricing\t/signup': 1 },
      });
    } finally {
      await second.close();
    }
  });

  it('runs the file in WAL journal mode', async () => {
    const filename = newFile();
    const store = new SqliteStore({ filename });
    try {
      const db = new Database(filename);
      try {
        // journal_mode=WAL is persistent in the file, so a second connection sees it
        expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      } finally {
        db.close();
      }
    } finally {
      await store.close();
    }
  });

  it('creates a new database file, its WAL and shared memory readable by its owner only (0600)', async () => {
    const filename = join(dir, 'private.db');
    const store = new SqliteStore({ filename });
    try {
      await store.createProject(project);
      for (const f of [filename, `${filename}-wal`, `${filename}-shm`]) {
        expect((statSync(f).mode & 0o777).toString(8), f).toBe('600');
      }
    } finally {
      await store.close();
    }
  });

  it('creates the directory of a new database file', async () => {
    const filename = join(dir, 'nested', 'deeper', 'store.db');
    const store = new SqliteStore({ filename });
    try {
      await expect(store.ping()).resolves.toBeUndefined();
      expect(readMigrations(filename)).toHaveLength(SQLITE_MIGRATIONS.length);
    } finally {
      await store.close();
    }
  });
});

describe('SqliteStore session cache', () => {
  it('sees what another connection wrote to the same file (CLI cleanup beside a running server)', async () => {
    const filename = newFile();
    const server = new SqliteStore({ filename });
    const other = new SqliteStore({ filename, checkpointIntervalMs: 0 });
    try {
      await server.createProject(project);
      const session = buildSession({ kind: 'web', anonymousId: 'a' }, ctx, 's_sqlite_cache_00000000001');
      const events = (id: string, at: number) => ({
        op: 'events' as const,
        projectId: project.id,
        sessionId: session.id,
        events: [normalizeEvent({ id, type: 'action' }, at)],
      });
      await server.commit([{ op: 'start', session }, events('e1', T0)], T0);
      // the server has the session cached now; another connection ends it…
      const [ended] = await other.commit(
        [{ op: 'end', projectId: project.id, sessionId: session.id, reason: 'logout', page: null, lastAction: null }],
        T0 + 1000,
      );
      expect(ended).toMatchObject({ ok: true, session: { status: 'ended' } });
      // …and the server's next write must see it, not its cached copy.
      const [late] = await server.commit([events('e2', T0 + 2000)], T0 + 2000);
      expect(late).toEqual({ ok: false, error: 'session_ended' });
      // a deletion by another connection is seen too
      await other.cleanup(null, T0 + 10_000);
      const [gone] = await server.commit([events('e3', T0 + 3000)], T0 + 3000);
      expect(gone).toEqual({ ok: false, error: 'not_found' });
    } finally {
      await other.close();
      await server.close();
    }
  });

  it('commits beside another process writing the same file: waits for the lock, never fails', async () => {
    const filename = newFile();
    const store = new SqliteStore({ filename });
    const OTHER_WRITES = 3000;
    // The other writer (an MCP server's embedded sink, say) on its own thread and connection,
    // committing as fast as it can: a transaction that read before it committed and then writes
    // would fail at once with SQLITE_BUSY unless it took the write lock first.
    const other = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       const db = new (require(workerData.driver))(workerData.filename);
       db.pragma('busy_timeout = 5000');
       db.pragma('synchronous = OFF');
       const touch = db.prepare("UPDATE projects SET name = ? WHERE id = ?");
       for (let n = 1; n <= ${OTHER_WRITES}; n++) touch.run('other ' + n, workerData.project);
       db.close();
       parentPort.postMessage(${OTHER_WRITES});`,
      { eval: true, workerData: { filename, project: project.id, driver: require.resolve('better-sqlite3') } },
    );
    try {
      await store.createProject(project);
      const done = new Promise<number>((ok, fail) => other.once('message', ok).once('error', fail));
      let finished = false;
      void done.then(() => {
        finished = true;
      });
      let batches = 0;
      do {
        const session = buildSession(
          { kind: 'mcp', anonymousId: 'a' },
          ctx,
          `s_sqlite_busy_${String(batches).padStart(10, '0')}`,
        );
        const results = await store.commit(
          [
            { op: 'start', session },
            {
              op: 'events',
              projectId: project.id,
              sessionId: session.id,
              events: [normalizeEvent({ id: 'e', type: 'tool_call', name: 'add' }, T0)],
            },
          ],
          T0,
        );
        expect(results.every((r) => r.ok)).toBe(true);
        batches++;
        await new Promise((r) => setImmediate(r));
      } while (!finished);
      // every write of both sides went in, however the machine's load interleaved them
      expect(await done).toBe(OTHER_WRITES);
      expect(await store.countLive(project.id, T0)).toBe(batches);
    } finally {
      await other.terminate();
      await store.close();
    }
  });

  it('a failed transaction leaves no cached state behind', async () => {
    const store = new SqliteStore({ filename: ':memory:' });
    try {
      await store.createProject(project);
      const session = buildSession({ kind: 'web', anonymousId: 'a' }, ctx, 's_sqlite_cache_00000000002');
      const second = buildSession({ kind: 'web', anonymousId: 'b' }, ctx, 's_sqlite_cache_00000000003');
      await store.commit(
        [
          { op: 'start', session },
          { op: 'start', session: second },
        ],
        T0,
      );
      // details that cannot be serialised make the insert throw inside the transaction, after
      // the end of the first session was already planned
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await expect(
        store.commit(
          [
            { op: 'end', projectId: project.id, sessionId: session.id, reason: 'logout', page: null, lastAction: null },
            {
              op: 'events',
              projectId: project.id,
              sessionId: second.id,
              events: [{ ...normalizeEvent({ id: 'x', type: 'action' }, T0), details: cyclic }],
            },
          ],
          T0 + 1000,
        ),
      ).rejects.toThrow();
      // the end was rolled back, and the cache must not claim otherwise
      expect((await store.getSession(session.projectId, session.id))?.status).toBe('active');
      const [r] = await store.commit(
        [
          {
            op: 'events',
            projectId: project.id,
            sessionId: session.id,
            events: [normalizeEvent({ id: 'y', type: 'action' }, T0 + 2000)],
          },
        ],
        T0 + 2000,
      );
      expect(r).toMatchObject({ ok: true, accepted: 1, session: { status: 'active', actions: 1 } });
    } finally {
      await store.close();
    }
  });
});

describe('SqliteStore beside the shared transactions', () => {
  it('a commit issued while a shared-layer transaction is open is not lost with its rollback', async () => {
    const store = new SqliteStore({ filename: ':memory:' });
    try {
      await store.createProject(project);
      const imported = buildSession({ kind: 'web', anonymousId: 'a' }, ctx, 's_sqlite_shared_0000000001');
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      // the import's transaction fails after its first statement (details that cannot be serialised)…
      const failing = store.importSessions([
        { session: imported, events: [{ ...normalizeEvent({ id: 'x', type: 'action' }, T0), details: cyclic }] },
      ]);
      // …while a commit arrives: it must wait for that transaction, not run inside it
      const live = buildSession({ kind: 'web', anonymousId: 'b' }, ctx, 's_sqlite_shared_0000000002');
      const committed = store.commit([{ op: 'start', session: live }], T0);
      await expect(failing).rejects.toThrow();
      expect(await committed).toMatchObject([{ ok: true }]);
      expect(await store.getSession(imported.projectId, imported.id)).toBeNull();
      expect(await store.getSession(live.projectId, live.id)).toEqual(live);
    } finally {
      await store.close();
    }
  });
});

describe('SqliteStore upgrade to aggregates per kind (migration 11)', () => {
  it('keeps the figures of before, splits the days with raw rows by kind, and keeps an unknown kind past retention', async () => {
    const filename = newFile();
    // A database of before migration 11, written by hand as the code of then left it.
    const db = new Database(filename);
    db.exec(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= 10)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, T0);
    }
    db.prepare(
      `INSERT INTO projects (id, name, write_key, time_zone, retention_days, created_at) VALUES (?, ?, ?, 'UTC', 30, ?)`,
    ).run(project.id, project.name, project.writeKey, T0);
    const session = db.prepare(
      `INSERT INTO sessions (id, project_id, kind, user_id, status, started_at, last_activity_at, ended_at, expires_at,
        idle_timeout_ms, absolute_timeout_ms, engaged_ms, exit_reason, transport)
       VALUES (?, ?, ?, 'u1', 'ended', ?, ?, ?, ?, 1800000, 86400000, ?, 'logout', ?)`,
    );
    session.run('s_up_web', project.id, 'web', T0, T0 + 60_000, T0 + 60_000, T0 + 60_000, 20_000, null);
    session.run('s_up_mcp', project.id, 'mcp', T0, T0 + 120_000, T0 + 120_000, T0 + 120_000, null, 'stdio');
    // 2025-04-01 is past retention: only its aggregates are left. 2025-06-01 has raw rows and
    // aggregates that knew no kinds.
    for (const [day, n] of [
      ['2025-04-01', 5],
      ['2025-06-01', 2],
    ] as const) {
      db.prepare(`INSERT INTO rollup_days VALUES (?, ?, 0, ?, ?, ?, 0, 0, 0, 0, 0)`).run(
        project.id,
        day,
        n,
        n,
        n * 60_000,
      );
      db.prepare(`INSERT INTO rollup_counts VALUES (?, 'country', ?, '', ?)`).run(project.id, day, n);
    }
    db.prepare(`INSERT INTO rollup_users VALUES (?, '2025-04-01', 'u:old', 1)`).run(project.id);
    db.prepare(`INSERT INTO rollup_users VALUES (?, '2025-06-01', 'u:u1', 2)`).run(project.id);
    db.prepare(`INSERT INTO rollup_user_prev VALUES (?, '2025-04-01', '', 1), (?, '2025-06-01', '', 1)`).run(
      project.id,
      project.id,
    );
    db.close();

    const store = new SqliteStore({ filename });
    try {
      const range = (kind?: 'web' | 'mcp', fromDate = '2025-04-01') =>
        loadRange(store, project, {
          fromDate,
          toDate: '2025-06-01',
          dims: ['country', 'transport'],
          users: true,
          kind,
        });
      // Before the rollup job: every figure of before still counts over all kinds.
      expect((await range()).totals).toMatchObject({ sessions: 7, endedSessions: 7 });
      expect((await range()).uniqueUsers).toBe(2);
      const { rollupProject } = await import('../analytics.js');
      expect((await rollupProject(store, project, T0 + 3_600_000)).days).toEqual(['2025-06-01']);
      const all = await range();
      expect(all.totals).toMatchObject({
        sessions: 7,
        endedSessions: 7,
        durationMsSum: 5 * 60_000 + 180_000,
        engagedSessions: 1,
        engagedMsSum: 20_000,
      });
      expect(all.uniqueUsers).toBe(2);
      expect(all.totals.counts.country).toEqual({ '': 7 });
      // Per kind: the rebuilt day only; the day past retention has no kind.
      const web = await range('web');
      expect(web.totals).toMatchObject({
        sessions: 1,
        durationMsSum: 60_000,
        engagedSessions: 1,
        engagedMsSum: 20_000,
      });
      expect(web.uniqueUsers).toBe(1);
      const mcp = await range('mcp');
      expect(mcp.totals).toMatchObject({ sessions: 1, durationMsSum: 120_000, engagedSessions: 0 });
      expect(mcp.totals.counts.transport).toEqual({ stdio: 1 });
      expect(mcp.uniqueUsers).toBe(1);
      expect((await range(undefined, '2025-06-01')).uniqueUsers).toBe(1);
    } finally {
      await store.close();
    }
  });
});
