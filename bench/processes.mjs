// What the benchmarks share: child processes that are always cleaned up (the sessiontrack server,
// the ceiling), fresh-database cleanup, sessions to load, and option parsing with a usage text.

import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { dropAllFreshDatabases } from './pg-database.mjs';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SERVER_BIN = path.join(ROOT, 'packages', 'server', 'bin', 'sessiontrack.js');
export const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** parseArgs with the script's usage text: `--help` prints it, a bad option prints it and exits 2. */
export function parseCli(options, usage) {
  let values;
  try {
    ({ values } = parseArgs({
      options: { ...options, help: { type: 'boolean', short: 'h', default: false } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    usageError(err.message, usage);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  return values;
}

export function usageError(message, usage) {
  console.error(`${message}\n\n${usage}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Child processes and cleanup

const children = new Set();
const tempDirs = new Set();

const alive = (child) => child.exitCode === null && child.signalCode === null;

/**
 * Starts `node <args>` from the repository root and resolves once its stdout matches `ready`.
 * Output is kept (the last 64 KiB) so a failure can show it; the pipes stay drained afterwards.
 */
export function startChild(name, args, env, ready) {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));

  let output = '';
  let stdout = '';
  const keep = (text) => {
    output += text;
    if (output.length > 65536) output = output.slice(-65536);
  };
  const describe = () => `--- ${name} output ---\n${output.trimEnd() || '(none)'}\n--- end of ${name} output ---`;

  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (message) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (alive(child)) child.kill('SIGKILL');
      reject(new Error(`${name}: ${message}\n${describe()}`));
    };
    const timer = setTimeout(
      () => fail(`no line matching ${ready} within ${START_TIMEOUT_MS / 1000} s`),
      START_TIMEOUT_MS,
    );
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (text) => {
      keep(text);
      if (settled) return;
      stdout += text;
      // Only complete lines: a chunk may end in the middle of the key.
      const match = ready.exec(stdout.slice(0, stdout.lastIndexOf('\n') + 1));
      if (match) {
        settled = true;
        clearTimeout(timer);
        stdout = '';
        resolve({ child, match, output: () => output });
      }
    });
    child.stderr.on('data', keep);
    child.on('error', (err) => fail(`could not start: ${err.message}`));
    child.on('exit', (code, signal) => fail(`exited before it was ready (${signal ?? `code ${code}`})`));
  });
}

/** SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT_MS. */
export function stopChild(child) {
  if (!alive(child)) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (alive(child)) child.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function cleanup() {
  await Promise.all([...children].map(stopChild));
  for (const dir of tempDirs) {
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    tempDirs.delete(dir);
  }
  // After the server has stopped: a database made by --fresh-database is dropped.
  await dropAllFreshDatabases();
}

// Last resort on any exit path (process.exit, uncaught error): kill what is left, synchronously.
process.on('exit', () => {
  for (const child of children) if (alive(child)) child.kill('SIGKILL');
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {}
  }
});

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) process.exit(130); // second Ctrl-C: the exit hook SIGKILLs the children
    interrupted = true;
    console.error(`\n${signal}: stopping child processes…`);
    cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The sessiontrack server and its sessions

/** The real server as a user starts it; `databaseUrl` for PostgreSQL, else SQLite in a temp dir. */
export async function startServer(databaseUrl) {
  if (!existsSync(SERVER_BIN)) {
    throw new Error(`${path.relative(ROOT, SERVER_BIN)} does not exist (run \`npm run build\` first?)`);
  }
  const port = await freePort();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'sessiontrack-bench-'));
  tempDirs.add(dataDir);
  const args = [
    SERVER_BIN,
    'serve',
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
    '--data-dir',
    dataDir,
    '--ip-rate-limit',
    '0',
  ];
  if (databaseUrl) args.push('--database-url', databaseUrl);
  // The server's configuration comes from the flags above only: a DATABASE_URL or SESSIONTRACK_*
  // setting of the shell running the benchmark (trust proxy, geo DB, sweep interval…) is dropped.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL' && !k.startsWith('SESSIONTRACK_')),
  );
  const started = await startChild(
    'sessiontrack server',
    args,
    { ...env, SESSIONTRACK_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'warn' },
    /write key: (\S+)/,
  );
  return { ...started, url: `http://127.0.0.1:${port}`, writeKey: started.match[1], dataDir };
}

export const jsonHeaders = (writeKey) => ({ 'content-type': 'application/json', 'x-write-key': writeKey });

export async function createSessions(target, count, prefix = 'bench') {
  const ids = new Array(count);
  const worker = async (first) => {
    for (let n = first; n < count; n += 10) {
      const res = await fetch(`${target.url}/api/v1/sessions/start`, {
        method: 'POST',
        headers: jsonHeaders(target.writeKey),
        body: JSON.stringify({ anonymousId: `${prefix}-${n}`, kind: 'api' }),
      });
      const text = await res.text();
      if (res.status !== 201) {
        throw new Error(`POST /api/v1/sessions/start answered ${res.status}, expected 201: ${text.slice(0, 500)}`);
      }
      const { sessionId } = JSON.parse(text);
      if (typeof sessionId !== 'string') throw new Error(`POST /api/v1/sessions/start: no sessionId in ${text}`);
      ids[n] = sessionId;
    }
  };
  await Promise.all(Array.from({ length: Math.min(10, count) }, (_, k) => worker(k)));
  return ids;
}
