import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll } from 'vitest';
import { storeConformance } from '../store.case.js';
import { PgPoolDriver } from './pg-pool-driver.js';
import { PostgresStore } from './pg-store.js';
import { PgliteDriver } from './pglite-driver.testkit.js';

// The PostgreSQL store against PGlite always, and against a real PostgreSQL server when
// TEST_DATABASE_URL is set (CI sets it): a fresh database per run, dropped afterwards.

// One PGlite for the whole suite (it boots in seconds); the suite's tests use their own ids.
const pglite = new PGlite();
afterAll(() => pglite.close());
storeConformance('postgres (PGlite)', async () =>
  PostgresStore.open(new PgliteDriver(pglite, { owned: false }), 'pglite'),
);

const serverUrl = process.env.TEST_DATABASE_URL;
let database: string | undefined;
const open = async (): Promise<PostgresStore> => {
  if (!serverUrl) throw new Error('unreachable');
  if (!database) {
    database = `sessiontrack_test_${process.pid}_${Date.now()}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return PostgresStore.open(new PgPoolDriver({ connectionString: url.toString(), max: 4 }));
};
afterAll(async () => {
  if (!serverUrl || !database) return;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
});
storeConformance(
  'postgres (server)',
  open,
  serverUrl
    ? {}
    : { skip: 'TEST_DATABASE_URL is not set (CI sets it; e.g. postgres://postgres@127.0.0.1:5432/postgres)' },
);
