// Ingest benchmark: the real sessiontrack server against a bare node:http "ceiling" server.
//
//   npm run bench:ingest -- [--duration 10] [--rounds 3] [--connections 50] [--events 1,10]
//                           [--database-url <url> [--fresh-database]] [--json <file>]
//
// See bench/README.md for what it measures and how to read the numbers. Not a timed test: it
// prints a table, and exits non-zero only if a server failed to start or every request failed.

import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFreshDatabase, redact } from './pg-database.mjs';
import {
  cleanup,
  createSessions,
  freePort,
  jsonHeaders,
  parseCli,
  startChild,
  startServer,
  usageError,
} from './processes.mjs';
import { checkWrk, wrkEvents } from './wrk.mjs';

const CEILING_BIN = fileURLToPath(new URL('./ceiling-server.mjs', import.meta.url));

const SESSION_COUNT = 200;
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
  const values = parseCli(
    {
      duration: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '3' },
      connections: { type: 'string', default: '50' },
      events: { type: 'string', default: '1,10' },
      warmup: { type: 'string', default: '1' },
      'database-url': { type: 'string' },
      'fresh-database': { type: 'boolean', default: false },
      json: { type: 'string' },
    },
    USAGE,
  );
  const positiveInt = (name, raw) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) {
      usageError(`--${name} must be a positive integer (got ${JSON.stringify(raw)})`, USAGE);
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
    usageError('--fresh-database needs --database-url (the server to create the database on)', USAGE);
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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Targets

async function startCeiling() {
  const port = await freePort();
  const started = await startChild('ceiling server', [CEILING_BIN, String(port)], process.env, /listening (\d+)/);
  return { ...started, url: `http://127.0.0.1:${port}`, writeKey: 'ceiling-ignores-the-key' };
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
 * One wrk run (bench/wrk.mjs). Every request gets a fresh body (unique event ids: tag, thread,
 * counter, index) and the next session id of the list, so nothing is deduplicated and sessions
 * share the load.
 */
function runRound(target, sessionIds, eventsPerRequest, tag, opts, duration = opts.duration) {
  return wrkEvents({
    url: target.url,
    connections: opts.connections,
    seconds: duration,
    sessionIds,
    eventsPerRequest,
    tag,
    headers: jsonHeaders(target.writeKey),
  });
}

/** The round with the median req/s (the lower one of the two middle rounds for an even count). */
function medianRound(rounds) {
  const sorted = [...rounds].sort((a, b) => a.reqPerSec - b.reqPerSec);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

// ---------------------------------------------------------------------------------------------
// Output

const int = (n) => Math.round(n).toLocaleString('en-US');
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
    `load:    wrk (1 thread), ${opts.connections} connections, ${opts.duration} s per round, ` +
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
    await checkWrk();
    server = await startServer(opts.serverDatabaseUrl ?? opts.databaseUrl);
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
