// Ingest benchmark: the real sessiontrack server against a bare node:http "ceiling" server.
//
//   npm run bench:ingest -- [--duration 10] [--rounds 3] [--connections 50] [--events 1,10]
//                           [--database-url <url> [--fresh-database]] [--json <file>]
//
// See bench/README.md for what it measures and how to read the numbers. Not a timed test: it
// prints a table, and exits non-zero only if a server failed to start or every request failed.

import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { createFreshDatabase, dropAllFreshDatabases, redact } from './pg-database.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVER_BIN = path.join(ROOT, 'packages', 'server', 'bin', 'sessiontrack.js');
const CEILING_BIN = fileURLToPath(new URL('./ceiling-server.mjs', import.meta.url));

const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const SESSION_COUNT = 200;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const PAUSE_BETWEEN_ROUNDS_MS = 500;
const TARGET_RATIO = 0.8; // scenario with 1 event/request: server req/s ≥ 0.8 × ceiling req/s
const TARGET_EVENTS_PER_SEC = 150_000; // scenario with 10 events/request: server events/s ≥ 150,000
const TARGET_EVENTS_PER_SEC_PG = 60_000; // the same on PostgreSQL (issue #3)

const USAGE = `usage: node bench/ingest.mjs [options]   (or: npm run bench:ingest -- [options])

  --duration <s>        seconds per round (default 10)
  --rounds <n>          rounds per target and scenario, alternating ceiling/server (default 3)
  --connections <n>     concurrent connections (default 50)
  --events <list>       events per request, one scenario each (default 1,10)
  --warmup <s>          unmeasured load per target before each scenario's rounds (default 1, 0 = none)
  --database-url <url>  passed to the server as --database-url (PostgreSQL)
  --fresh-database      with --database-url: create a new database on that server for this run,
                        hand the server its URL, and drop it afterwards
  --json <file>         also write the results as JSON to <file>
  -h, --help            show this help`;

// ---------------------------------------------------------------------------------------------
// Options

function parseOptions() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        duration: { type: 'string', default: '10' },
        rounds: { type: 'string', default: '3' },
        connections: { type: 'string', default: '50' },
        events: { type: 'string', default: '1,10' },
        warmup: { type: 'string', default: '1' },
        'database-url': { type: 'string' },
        'fresh-database': { type: 'boolean', default: false },
        json: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const positiveInt = (name, raw) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) {
      console.error(`--${name} must be a positive integer (got ${JSON.stringify(raw)})\n\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  const nonNegativeInt = (name, raw) => (raw.trim() === '0' ? 0 : positiveInt(name, raw));
  const events = values.events
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => positiveInt('events', s));
  if (events.length === 0) positiveInt('events', values.events);
  if (values['fresh-database'] && !values['database-url']) {
    console.error(`--fresh-database needs --database-url (the server to create the database on)\n\n${USAGE}`);
    process.exit(2);
  }
  return {
    duration: positiveInt('duration', values.duration),
    rounds: positiveInt('rounds', values.rounds),
    connections: positiveInt('connections', values.connections),
    events,
    warmup: nonNegativeInt('warmup', values.warmup),
    databaseUrl: values['database-url'],
    freshDatabase: values['fresh-database'],
    json: values.json,
  };
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
function startChild(name, args, env, ready) {
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
function stopChild(child) {
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

async function cleanup() {
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

function freePort() {
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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Targets

async function startServer(opts) {
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
  if (opts.databaseUrl) args.push('--database-url', opts.serverDatabaseUrl ?? opts.databaseUrl);
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

async function startCeiling() {
  const port = await freePort();
  const started = await startChild('ceiling server', [CEILING_BIN, String(port)], process.env, /listening (\d+)/);
  return { ...started, url: `http://127.0.0.1:${port}`, writeKey: 'ceiling-ignores-the-key' };
}

const jsonHeaders = (writeKey) => ({ 'content-type': 'application/json', 'x-write-key': writeKey });

async function createSessions(target, count) {
  const ids = new Array(count);
  const worker = async (first) => {
    for (let n = first; n < count; n += 10) {
      const res = await fetch(`${target.url}/api/v1/sessions/start`, {
        method: 'POST',
        headers: jsonHeaders(target.writeKey),
        body: JSON.stringify({ anonymousId: `bench-${n}`, kind: 'api' }),
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

function makeEvents(tag, conn, counter, count) {
  const timestamp = Date.now();
  const events = new Array(count);
  for (let i = 0; i < count; i++) {
    events[i] = { id: `e-${tag}-${conn}-${counter}-${i}`, type: 'action', name: 'click', page: '/pricing', timestamp };
  }
  return JSON.stringify({ events });
}

const eventsPath = (sessionId) => `/api/v1/sessions/${encodeURIComponent(sessionId)}/events`;

/** One request before the load, so a broken endpoint fails fast with its answer instead of 10 s of 4xx. */
async function preflight(name, target, sessionId, eventsPerRequest) {
  const res = await fetch(`${target.url}${eventsPath(sessionId)}`, {
    method: 'POST',
    headers: jsonHeaders(target.writeKey),
    body: makeEvents(`preflight${eventsPerRequest}`, 0, 0, eventsPerRequest),
  });
  const text = await res.text();
  if (res.status < 200 || res.status > 299) {
    throw new Error(`${name}: POST ${eventsPath(sessionId)} answered ${res.status}: ${text.slice(0, 500)}`);
  }
  let accepted;
  try {
    accepted = JSON.parse(text).accepted;
  } catch {}
  if (accepted !== eventsPerRequest) {
    console.error(
      `warning: ${name} answered ${res.status} ${text.slice(0, 200)} (expected accepted=${eventsPerRequest})`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Load

/**
 * One autocannon run. Every request gets a fresh body (unique event ids: tag, connection, counter,
 * index) and the next session id of the list, so nothing is deduplicated and sessions share the load.
 */
async function runRound(target, sessionIds, eventsPerRequest, tag, opts, duration = opts.duration) {
  let nextConnection = 0;
  let nextSession = 0;
  let firstFailure = null;
  const statusCodes = {};
  const onResponse = (status, body) => {
    statusCodes[status] = (statusCodes[status] ?? 0) + 1;
    if ((status < 200 || status > 299) && firstFailure === null) {
      firstFailure = `${status} ${String(body ?? '').slice(0, 300)}`;
    }
  };
  const requestFor = (conn) => {
    let counter = 0;
    return {
      method: 'POST',
      headers: jsonHeaders(target.writeKey),
      onResponse,
      setupRequest(req) {
        counter++;
        req.path = eventsPath(sessionIds[nextSession++ % sessionIds.length]);
        req.body = makeEvents(tag, conn, counter, eventsPerRequest);
        return req;
      },
    };
  };

  const result = await autocannon({
    url: target.url,
    connections: opts.connections,
    duration,
    method: 'POST',
    headers: jsonHeaders(target.writeKey),
    // One request generator per connection, so <conn>-<counter> is unique without shared state.
    setupClient(client) {
      client.setRequests([requestFor(nextConnection++)]);
    },
  });

  const seconds = result.duration || duration;
  const ok = result['2xx'];
  const completed = ok + result.non2xx;
  return {
    reqPerSec: completed / seconds,
    eventsPerSec: (ok * eventsPerRequest) / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds,
    statusCodes,
    firstFailure,
  };
}

/** The round with the median req/s (the lower one of the two middle rounds for an even count). */
function medianRound(rounds) {
  const sorted = [...rounds].sort((a, b) => a.reqPerSec - b.reqPerSec);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

// ---------------------------------------------------------------------------------------------
// Output

const int = (n) => Math.round(n).toLocaleString('en-US');
// autocannon's latency histogram has whole milliseconds; keep any fraction it reports, to 2 places.
const ms = (n) => (Number.isFinite(n) ? String(Math.round(n * 100) / 100) : '-');
const scenarioLetter = (i) => String.fromCharCode(97 + (i % 26));
const scenarioLabel = (i, n) => `${scenarioLetter(i)}: ${n} event${n === 1 ? '' : 's'}/req`;

function roundLine(r) {
  return (
    `${int(r.reqPerSec)} req/s, ${int(r.eventsPerSec)} events/s, p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms, ` +
    `non-2xx ${r.non2xx}, errors ${r.errors}`
  );
}

function checkFor(scenario, opts) {
  const { eventsPerRequest, server, ceiling, ratio } = scenario;
  const targetEvents = opts.databaseUrl ? TARGET_EVENTS_PER_SEC_PG : TARGET_EVENTS_PER_SEC;
  if (eventsPerRequest === 1) {
    return {
      target: `server ≥ ${TARGET_RATIO}× ceiling req/s`,
      actual: `${ratio.toFixed(2)}× (${int(server.reqPerSec)} vs ${int(ceiling.reqPerSec)} req/s)`,
      pass: ratio >= TARGET_RATIO,
    };
  }
  if (eventsPerRequest === 10) {
    return {
      target: `server ≥ ${int(targetEvents)} events/s${opts.databaseUrl ? ' (PostgreSQL)' : ''}`,
      actual: `${int(server.eventsPerSec)} events/s`,
      pass: server.eventsPerSec >= targetEvents,
    };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  const opts = parseOptions();
  const cpus = os.cpus();
  const machine = {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cpus: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
  console.log('# sessiontrack ingest benchmark\n');
  console.log(`machine: ${machine.cpu} × ${machine.cpus} CPUs, ${machine.memoryGiB} GiB, ${machine.platform}`);
  console.log(`node:    ${machine.node}`);
  console.log(
    `load:    autocannon, ${opts.connections} connections, ${opts.duration} s per round, ` +
      `${opts.rounds} round(s) per target after ${opts.warmup} s warm-up, events/request ${opts.events.join(', ')}` +
      (opts.databaseUrl ? ', server with --database-url' : ''),
  );

  let server;
  let ceiling;
  try {
    if (opts.databaseUrl) {
      const db = opts.freshDatabase ? await createFreshDatabase(opts.databaseUrl, 'ingest') : null;
      if (db) opts.serverDatabaseUrl = db.url;
      console.log(
        `storage: PostgreSQL ${redact(opts.databaseUrl)}${db ? ` (fresh database ${db.name}, dropped afterwards)` : ''}`,
      );
    }
    console.log('');
    server = await startServer(opts);
    ceiling = await startCeiling();
  } catch (err) {
    console.error(`error: ${err.message}`);
    await cleanup();
    return 1;
  }

  try {
    return await measure(opts, machine, server, ceiling);
  } catch (err) {
    // Show what the server said about it (it logs warnings and errors to its output).
    console.error(`error: ${err?.stack ?? err}\n--- sessiontrack server output (last 64 KiB) ---`);
    console.error(server.output().trimEnd() || '(none)');
    await cleanup();
    return 1;
  }
}

async function measure(opts, machine, server, ceiling) {
  const serverSessions = await createSessions(server, SESSION_COUNT);
  const ceilingSessions = serverSessions.map((_, n) => `bench-ceiling-session-${String(n).padStart(4, '0')}`);
  const targets = [
    { name: 'ceiling', target: ceiling, sessions: ceilingSessions },
    { name: 'server', target: server, sessions: serverSessions },
  ];

  const scenarios = [];
  for (const [index, eventsPerRequest] of opts.events.entries()) {
    const label = scenarioLabel(index, eventsPerRequest);
    for (const t of targets) {
      await preflight(t.name, t.target, t.sessions[0], eventsPerRequest);
      if (opts.warmup > 0) {
        await runRound(t.target, t.sessions, eventsPerRequest, `${eventsPerRequest}w${t.name[0]}`, opts, opts.warmup);
        await sleep(PAUSE_BETWEEN_ROUNDS_MS);
      }
    }
    const rounds = { ceiling: [], server: [] };
    for (let round = 1; round <= opts.rounds; round++) {
      for (const t of targets) {
        const tag = `${eventsPerRequest}x${round}${t.name[0]}`;
        const r = await runRound(t.target, t.sessions, eventsPerRequest, tag, opts);
        rounds[t.name].push(r);
        console.error(`[${label}] round ${round}/${opts.rounds} ${t.name.padEnd(7)} ${roundLine(r)}`);
        await sleep(PAUSE_BETWEEN_ROUNDS_MS);
      }
    }
    const ceilingMedian = medianRound(rounds.ceiling);
    const serverMedian = medianRound(rounds.server);
    const scenario = {
      label,
      eventsPerRequest,
      ceiling: ceilingMedian,
      server: serverMedian,
      ratio: ceilingMedian.reqPerSec > 0 ? serverMedian.reqPerSec / ceilingMedian.reqPerSec : 0,
      rounds,
    };
    scenario.check = checkFor(scenario, opts);
    scenarios.push(scenario);
  }

  await cleanup();

  // The table: one line per scenario and target, from the median round.
  console.log('\n| scenario | target | req/s | events/s | p50 ms | p99 ms | non-2xx | errors | vs ceiling |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of scenarios) {
    for (const name of ['ceiling', 'server']) {
      const r = s[name];
      const vs = name === 'server' ? `${s.ratio.toFixed(2)}×` : '—';
      console.log(
        `| ${s.label} | ${name} | ${int(r.reqPerSec)} | ${int(r.eventsPerSec)} | ${ms(r.p50)} | ${ms(r.p99)} | ` +
          `${r.non2xx} | ${r.errors} | ${vs} |`,
      );
    }
  }
  console.log(`\n(median of ${opts.rounds} round(s) of ${opts.duration} s per target, by req/s)\n`);

  for (const s of scenarios) {
    if (s.check) {
      console.log(`check ${s.label}: ${s.check.target}: ${s.check.actual} — ${s.check.pass ? 'PASS' : 'MISS'}`);
    } else {
      console.log(`check ${s.label}: no target for this batch size`);
    }
  }

  // Every server response should be a 2xx: all event ids are unique and rate limiting is off.
  let serverOk = 0;
  for (const s of scenarios) {
    for (const r of s.rounds.server) serverOk += r.ok;
    const non2xx = s.rounds.server.reduce((sum, r) => sum + r.non2xx, 0);
    const errors = s.rounds.server.reduce((sum, r) => sum + r.errors, 0);
    if (non2xx > 0) {
      const codes = {};
      for (const r of s.rounds.server) {
        for (const [code, n] of Object.entries(r.statusCodes)) {
          if (Number(code) < 200 || Number(code) > 299) codes[code] = (codes[code] ?? 0) + n;
        }
      }
      const first = s.rounds.server.find((r) => r.firstFailure)?.firstFailure;
      console.log(
        `WARNING ${s.label}: the server answered ${non2xx} non-2xx response(s) over all rounds ` +
          `(${Object.entries(codes)
            .map(([code, n]) => `${code}×${n}`)
            .join(', ')})${first ? `; first: ${first}` : ''}`,
      );
    }
    if (errors > 0) console.log(`WARNING ${s.label}: ${errors} connection error(s)/timeout(s) against the server`);
  }

  if (opts.json) {
    const out = {
      date: new Date().toISOString(),
      machine,
      options: { ...opts, databaseUrl: opts.databaseUrl ? '(set)' : undefined, serverDatabaseUrl: undefined },
      scenarios: scenarios.map((s) => ({
        label: s.label,
        eventsPerRequest: s.eventsPerRequest,
        ceiling: s.ceiling,
        server: s.server,
        ratio: s.ratio,
        check: s.check,
        rounds: s.rounds,
      })),
    };
    await mkdir(path.dirname(path.resolve(opts.json)), { recursive: true });
    await writeFile(opts.json, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`\nwrote ${opts.json}`);
  }

  if (serverOk === 0) {
    console.error('error: every request to the server failed');
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    console.error(`error: ${err?.stack ?? err}`);
    await cleanup();
    process.exit(1);
  },
);
