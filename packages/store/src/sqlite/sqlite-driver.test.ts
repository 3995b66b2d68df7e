import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteDriver } from './sqlite-driver.js';

// The one connection is shared by everything in the process: while an async transaction is open,
// nothing else may run on it (it would land inside the transaction and go with its rollback).

describe('SqliteDriver', () => {
  let db: Database.Database;
  let driver: SqliteDriver;
  beforeEach(() => {
    db = new Database(':memory:');
    db.exec('CREATE TABLE t (v TEXT PRIMARY KEY)');
    driver = new SqliteDriver(db);
  });
  afterEach(() => db.close());

  const later = () => new Promise((ok) => setTimeout(ok, 20));
  const values = async () => (await driver.query<{ v: string }>('SELECT v FROM t ORDER BY v')).rows.map((r) => r.v);

  it('runs statements issued during an open transaction after it, outside its rollback', async () => {
    const failing = driver.transaction(async (tx) => {
      await tx.query('INSERT INTO t (v) VALUES (?)', ['in tx']);
      await later();
      throw new Error('rolled back');
    });
    // issued while the transaction is open: must neither see its rows nor go down with it
    const seen = values();
    const written = driver.query('INSERT INTO t (v) VALUES (?)', ['outside']);
    const next = driver.transaction(async (tx) => tx.query('INSERT INTO t (v) VALUES (?)', ['next tx']));
    await expect(failing).rejects.toThrow('rolled back');
    expect(await seen).toEqual([]);
    expect((await written).rowCount).toBe(1);
    expect((await next).rowCount).toBe(1);
    expect(await values()).toEqual(['next tx', 'outside']);
  });

  it('commits a transaction, answers rows and changed-row counts', async () => {
    const r = await driver.transaction(async (tx) => {
      await tx.query('INSERT INTO t (v) VALUES (?), (?)', ['a', 'b']);
      return tx.query<{ v: string }>('UPDATE t SET v = v || ? RETURNING v', ['!']);
    });
    expect(r.rows.map((x) => x.v).sort()).toEqual(['a!', 'b!']);
    expect(r.rowCount).toBe(2);
    expect((await driver.query('DELETE FROM t')).rowCount).toBe(2);
    expect(await values()).toEqual([]);
  });
});
