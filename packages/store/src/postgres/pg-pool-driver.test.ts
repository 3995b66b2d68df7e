import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgPoolDriver } from './pg-pool-driver.js';

// The node-postgres driver on a real server (TEST_DATABASE_URL; PGlite has no wire protocol to
// pipeline or prepare on): a transaction's BEGIN pipelined with its first statement, statements
// prepared once per connection, and a connection whose prepared statement no longer fits the
// schema dropped instead of failing every later transaction.

const url = process.env.TEST_DATABASE_URL;
if (!url) console.log('pg-pool-driver.test.ts: skipped, TEST_DATABASE_URL is not set (CI sets it)');

describe.skipIf(!url)('PgPoolDriver on a PostgreSQL server', () => {
  const database = `sessiontrack_driver_${process.pid}_${Date.now()}`;
  let target = '';
  const admin = (sql: string, on = url) => {
    const c = new pg.Client({ connectionString: on });
    return c
      .connect()
      .then(() => c.query(sql))
      .finally(() => c.end());
  };
  beforeAll(async () => {
    await admin(`CREATE DATABASE ${database}`);
    const u = new URL(url as string);
    u.pathname = `/${database}`;
    target = u.toString();
  });
  afterAll(async () => {
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });

  it('commits a transaction whole, rolls a failed one back whole, and goes on', async () => {
    const db = new PgPoolDriver({ connectionString: target, max: 1 });
    try {
      await db.query('CREATE TABLE t1 (a integer PRIMARY KEY)');
      await db.transaction(async (tx) => {
        await tx.query('INSERT INTO t1 (a) VALUES ($1)', [1]);
        await tx.query('INSERT INTO t1 (a) VALUES ($1)', [2]);
      });
      await expect(
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO t1 (a) VALUES ($1)', [3]);
          await tx.query('INSERT INTO t1 (a) VALUES ($1)', [1]); // duplicate key
        }),
      ).rejects.toMatchObject({ code: '23505' });
      // The BEGIN of the next transaction goes out with its first statement on the same connection.
      const seen = await db.transaction(
        async (tx) => (await tx.query<{ a: number }>('SELECT a FROM t1 ORDER BY a')).rows,
      );
      expect(seen.map((r) => r.a)).toEqual([1, 2]);
    } finally {
      await db.close();
    }
  });

  it('prepares a statement of transactions once it is seen twice, on each connection', async () => {
    const db = new PgPoolDriver({ connectionString: target, max: 1 });
    try {
      const text = 'SELECT $1::integer + 1 AS n';
      const prepared = () =>
        db.transaction(async (tx) => {
          const [r] = (await tx.query<{ n: number }>(text, [41])).rows;
          expect(r?.n).toBe(42);
          return (
            await tx.query<{ n: string }>('SELECT count(*) AS n FROM pg_prepared_statements WHERE statement = $1', [
              text,
            ])
          ).rows[0]?.n;
        });
      expect(await prepared()).toBe('0');
      expect(await prepared()).toBe('1');
      expect(await prepared()).toBe('1');
    } finally {
      await db.close();
    }
  });

  it('drops a connection whose prepared statement an added column outdated; the next one prepares anew', async () => {
    const db = new PgPoolDriver({ connectionString: target, max: 1 });
    try {
      await db.query('CREATE TABLE t2 (a integer)');
      await db.query('INSERT INTO t2 (a) VALUES (1)');
      const read = () => db.transaction(async (tx) => (await tx.query('SELECT * FROM t2 WHERE a = $1', [1])).rows);
      await read();
      await read(); // prepared now
      await admin('ALTER TABLE t2 ADD COLUMN b integer', target); // another instance migrating
      await expect(read()).rejects.toMatchObject({ code: '0A000' });
      expect(await read()).toEqual([{ a: 1, b: null }]);
    } finally {
      await db.close();
    }
  });
});
