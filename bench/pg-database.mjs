// Fresh PostgreSQL databases for the benchmarks: created on the server a URL names, dropped again
// afterwards (also on Ctrl-C), so a run never measures — or leaves — someone else's data.

import pg from 'pg';

/** The same URL with another database name (the path), or with `postgres` for maintenance. */
export function withDatabase(url, database) {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** A URL without its password, for output. */
export function redact(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'URL';
  }
}

/** Runs `fn(client)` on a connection to the server's `postgres` database. */
async function onMaintenanceDb(url, fn) {
  const client = new pg.Client({
    connectionString: withDatabase(url, 'postgres'),
    application_name: 'sessiontrack-bench',
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

const live = new Set();

/**
 * Creates `sessiontrack_bench_<label>_<pid>_<time>` on the server of `url` (any database of it may be
 * named) and returns its URL and a `drop()` that removes it — with `WITH (FORCE)`, so connections a
 * killed child left behind do not keep it alive.
 */
export async function createFreshDatabase(url, label = 'run') {
  const name = `sessiontrack_bench_${label}_${process.pid}_${Date.now().toString(36)}`.replace(/[^a-z0-9_]/g, '_');
  await onMaintenanceDb(url, (c) => c.query(`CREATE DATABASE ${name}`));
  let dropped = false;
  const db = {
    name,
    url: withDatabase(url, name),
    /** Leave it on the server: no drop, not even on the error and signal paths. */
    keep() {
      live.delete(db);
    },
    async drop() {
      if (dropped) return;
      dropped = true;
      live.delete(db);
      await onMaintenanceDb(url, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
  live.add(db);
  return db;
}

/** Drops every database this process created and has not dropped yet (for error and signal paths). */
export async function dropAllFreshDatabases() {
  for (const db of [...live]) {
    await db.drop().catch((err) => console.error(`warning: could not drop database ${db.name}: ${err.message}`));
  }
}

/** PostgreSQL's version and the settings that decide write speed, for the output. */
export async function describeServer(client) {
  const { rows } = await client.query(
    `SELECT current_setting('server_version') AS version, current_setting('synchronous_commit') AS sync,
            current_setting('shared_buffers') AS shared_buffers, current_setting('max_connections') AS max_connections`,
  );
  const r = rows[0];
  return `PostgreSQL ${r.version}, synchronous_commit=${r.sync}, shared_buffers=${r.shared_buffers}, max_connections=${r.max_connections}`;
}
