import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll } from 'vitest';
import { PgPoolDriver } from '../postgres/pg-pool-driver.js';
import { PostgresStore } from '../postgres/pg-store.js';
import { PgliteDriver } from '../postgres/pglite-driver.testkit.js';
import { SqliteStore } from '../sqlite/sqlite-store.js';
import type { Store } from '../store.js';

// Every backend the conformance suite runs on, for one test file (each file is its own process
// and gets its own databases): SQLite in memory and in a file, the PostgreSQL store on PGlite
// (in-process) and on a real server when TEST_DATABASE_URL is set (a fresh database, dropped
// afterwards). TEST_STORE_BACKENDS (e.g. `sqlite-memory,pglite`) narrows the list while iterating;
// every backend left out says why.

export interface Backend {
  name: string;
  /** A ready store; called before every test. */
  open: () => Promise<Store>;
  /**
   * Another store on the database of the last `open` (a second instance); absent where a second
   * handle cannot share it (SQLite in memory).
   */
  peer?: () => Promise<Store>;
  /** Why this backend does not run, printed. */
  skip?: string;
}

const KEYS = ['sqlite-memory', 'sqlite-file', 'pglite', 'postgres'] as const;

export function backends(): Backend[] {
  registerCleanup();
  const serverUrl = process.env.TEST_DATABASE_URL;
  const only = process.env.TEST_STORE_BACKENDS?.split(',').map((s) => s.trim());
  const list: (Backend & { key: (typeof KEYS)[number] })[] = [
    { key: 'sqlite-memory', name: 'sqlite (memory)', open: async () => new SqliteStore({ filename: ':memory:' }) },
    {
      key: 'sqlite-file',
      name: 'sqlite (file)',
      open: async () => new SqliteStore({ filename: newFile() }),
      peer: async () => new SqliteStore({ filename: lastFile() }),
    },
    // One PGlite per file (it boots in seconds); the suite's tests use their own ids.
    {
      key: 'pglite',
      name: 'postgres (PGlite)',
      open: async () => PostgresStore.open(pgliteDriver(), 'pglite'),
      peer: async () => PostgresStore.open(pgliteDriver(), 'pglite'),
    },
    serverUrl
      ? {
          key: 'postgres',
          name: 'postgres (server)',
          open: () => openServer(serverUrl),
          peer: () => openServer(serverUrl),
        }
      : {
          key: 'postgres',
          name: 'postgres (server)',
          open: () => Promise.reject(new Error('unreachable')),
          skip: 'TEST_DATABASE_URL is not set (CI sets it; e.g. postgres://postgres@127.0.0.1:5432/postgres)',
        },
  ];
  return list.map((b) =>
    only && !only.includes(b.key) && !b.skip ? { ...b, skip: `not in TEST_STORE_BACKENDS (${only.join(',')})` } : b,
  );
}

// Created on first use (a narrowed run boots no PGlite), removed once the file's tests are done.
let dir: string | undefined;
let files = 0;
let pglite: PGlite | undefined;
let server: { url: string; database: string } | undefined;
let cleanupRegistered = false;

function registerCleanup(): void {
  if (cleanupRegistered) return;
  cleanupRegistered = true;
  afterAll(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await pglite?.close();
    if (server) {
      const admin = new pg.Client({ connectionString: server.url });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${server.database} WITH (FORCE)`);
      await admin.end();
    }
  });
}

function newFile(): string {
  dir ??= mkdtempSync(join(tmpdir(), 'sessiontrack-sqlite-'));
  return join(dir, `store-${++files}.db`);
}

function lastFile(): string {
  if (!dir || files === 0) throw new Error('peer() before open()');
  return join(dir, `store-${files}.db`);
}

function pgliteDriver(): PgliteDriver {
  pglite ??= new PGlite();
  return new PgliteDriver(pglite, { owned: false });
}

async function openServer(url: string): Promise<Store> {
  if (!server) {
    const database = `sessiontrack_test_${process.pid}_${Date.now()}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    server = { url, database };
  }
  const target = new URL(url);
  target.pathname = `/${server.database}`;
  return PostgresStore.open(new PgPoolDriver({ connectionString: target.toString(), max: 4 }));
}
