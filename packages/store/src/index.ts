export * from './analytics.js';
export * from './batch.js';
export type { Migration } from './migration.js';
export type { PgDriver, PgQueryable, PgQueryResult } from './postgres/pg-driver.js';
export { PgPoolDriver, type PgPoolOptions } from './postgres/pg-pool-driver.js';
export { PostgresStore } from './postgres/pg-store.js';
export * from './rows.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js';
export * from './store.js';
