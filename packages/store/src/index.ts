export * from './batch.js';
export * from './rows.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js';
export * from './store.js';
