// PostgreSQL write strategies for a batch of events (issue #3): which idempotent insert is fastest
// for the batch sizes the group commit produces? No HTTP, no sessions table: only the events insert
// of one transaction, on one connection at a time — as PostgresStore.commit does it.
//
//   npm run bench:pg-insert -- --database-url postgres://postgres@127.0.0.1:5432/postgres
//                              [--sizes 220,1000] [--batches 300] [--rounds 3] [--retried 0]
//
// It creates a fresh database on that server (the URL's own database is not touched), builds the
// events table from PG_MIGRATIONS, measures, and drops the database again. See bench/README.md.

import os from 'node:os';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { PG_MIGRATIONS } from '../packages/store/dist/postgres/pg-migrations.js';
import { createFreshDatabase, describeServer, dropAllFreshDatabases, redact } from './pg-database.mjs';
import { parseCli, usageError } from './processes.mjs';

const USAGE = `usage: node bench/pg-insert.mjs --database-url <url> [options]   (or: npm run bench:pg-insert -- …)

  --database-url <url>  a PostgreSQL server (any database on it); a fresh database is created and dropped
  --sizes <list>        events per transaction, one scenario each (default 220,1000)
  --batches <n>         measured transactions per strategy, size and round (default 300)
  --warmup <n>          unmeasured transactions before each measurement (default 20)
  --rounds <n>          rounds; each strategy runs once per round and size, the median round counts (default 3)
  --retried <share>     share of each batch's events re-sent from the previous batch, 0–0.9 (default 0)
  --clients <n>         connections writing at the same time, each one transaction at a time (default 1)
  --strategies <list>   subset of: unnest,values,copy-kept,copy-per-tx,copy-direct
  -h, --help            show this help`;

const COLUMNS = ['project_id', 'session_id', 'event_id', 'type', 'name', 'ts', 'received_at', 'page', 'resource_id'];
const ALL_COLUMNS = [...COLUMNS, 'details'];
const COLS = ALL_COLUMNS.join(', ');
const STAGE_COLUMNS = `project_id text, session_id text, event_id text, type text, name text, ts bigint,
  received_at bigint, page text, resource_id text, details jsonb`;
const EVENTS_PER_SESSION = 10; // ten events per request, one request per session in a batch

function parseOptions() {
  const values = parseCli(
    {
      'database-url': { type: 'string' },
      sizes: { type: 'string', default: '220,1000' },
      batches: { type: 'string', default: '300' },
      warmup: { type: 'string', default: '20' },
      rounds: { type: 'string', default: '3' },
      retried: { type: 'string', default: '0' },
      clients: { type: 'string', default: '1' },
      strategies: { type: 'string' },
    },
    USAGE,
  );
  const fail = (msg) => usageError(msg, USAGE);
  if (!values['database-url']) fail('--database-url is required');
  const int = (name, raw, min) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min} (got ${JSON.stringify(raw)})`);
    return n;
  };
  const retried = Number(values.retried);
  if (!(retried >= 0 && retried <= 0.9)) fail(`--retried must be between 0 and 0.9 (got ${values.retried})`);
  const strategies = values.strategies
    ? values.strategies.split(',').map((s) => s.trim())
    : STRATEGIES.map((s) => s.key);
  for (const s of strategies) if (!STRATEGIES.some((x) => x.key === s)) fail(`unknown strategy ${s}`);
  return {
    databaseUrl: values['database-url'],
    sizes: values.sizes.split(',').map((s) => int('sizes', s.trim(), 1)),
    batches: int('batches', values.batches, 1),
    warmup: int('warmup', values.warmup, 0),
    rounds: int('rounds', values.rounds, 1),
    retried,
    clients: int('clients', values.clients, 1),
    strategies,
  };
}

// ---------------------------------------------------------------------------------------------
// Data: batches as the server's group commit produces them

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const token = (n) => {
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(Math.random() * 62)];
  return s;
};

/**
 * `count` batches of `size` events: ten events per session, half of each batch's sessions seen in
 * earlier batches, half new (the primary key is (session_id, event_id), so this decides where in
 * the index the keys land). With `retried` > 0, that share of a batch is events of the previous
 * batch sent again (a client retry): they must come back as duplicates. Every tenth event has
 * details, so the jsonb column is exercised too.
 */
function makeBatches(count, size, retried, tag) {
  const seen = [];
  const batches = [];
  let previous = [];
  let counter = 0;
  const now = Date.now();
  for (let b = 0; b < count; b++) {
    const rows = [];
    const again = Math.min(previous.length, Math.floor(size * retried));
    for (let i = 0; i < again; i++) rows.push(previous[i]);
    const fresh = size - again;
    const sessions = Math.max(1, Math.ceil(fresh / EVENTS_PER_SESSION));
    for (let s = 0; s < sessions && rows.length < size; s++) {
      let sessionId;
      if (s % 2 === 1 && seen.length > 0) sessionId = seen[Math.floor(Math.random() * seen.length)];
      else {
        sessionId = `s_${token(24)}`;
        seen.push(sessionId);
      }
      for (let e = 0; e < EVENTS_PER_SESSION && rows.length < size; e++) {
        counter++;
        rows.push({
          projectId: 'default',
          sessionId,
          id: `e-${tag}-${counter.toString(36)}-${token(8)}`,
          type: 'action',
          name: 'click',
          ts: now + counter,
          receivedAt: now + b,
          page: '/pricing',
          resourceId: null,
          details: counter % 10 === 0 ? { plan: 'pro', step: counter % 7, label: 'tab\there "quoted" \\ back' } : null,
        });
      }
    }
    batches.push(rows);
    previous = rows;
  }
  return batches;
}

// ---------------------------------------------------------------------------------------------
// Strategies. Each `run(client, rows)` runs one transaction and returns, per row, whether it was
// new — the store needs that (a second copy of an id in the same batch is a duplicate).

const key = (sessionId, eventId) => `${sessionId}\u0000${eventId}`;
const flags = (rows, returned) => {
  const fresh = new Set(returned.map((r) => key(r.session_id, r.event_id)));
  return rows.map((e) => fresh.delete(key(e.sessionId, e.id)));
};
const jsonOrNull = (d) => (d ? JSON.stringify(d) : null);

/** COPY text format: tab-separated, \N for NULL, backslash escapes. */
const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_ESCAPES = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
function copyField(v) {
  if (v === null || v === undefined) return '\\N';
  const s = String(v);
  return COPY_SPECIAL.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]) : s;
}
function copyText(rows) {
  let out = '';
  for (const e of rows) {
    out +=
      `${copyField(e.projectId)}\t${copyField(e.sessionId)}\t${copyField(e.id)}\t${copyField(e.type)}\t` +
      `${copyField(e.name)}\t${e.ts}\t${e.receivedAt}\t${copyField(e.page)}\t${copyField(e.resourceId)}\t` +
      `${copyField(jsonOrNull(e.details))}\n`;
  }
  return out;
}
function copyInto(client, table, rows) {
  return new Promise((resolve, reject) => {
    const stream = client.query(copyFrom(`COPY ${table} (${COLS}) FROM STDIN`));
    stream.on('error', reject);
    stream.on('finish', resolve);
    stream.end(copyText(rows));
  });
}

async function inTransaction(client, fn) {
  await client.query('BEGIN');
  try {
    const r = await fn();
    await client.query('COMMIT');
    return r;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

const STRATEGIES = [
  {
    key: 'unnest',
    label: 'unnest arrays → INSERT … ON CONFLICT DO NOTHING RETURNING (current)',
    idempotent: true,
    run: (client, rows) =>
      inTransaction(client, async () => {
        const { rows: added } = await client.query(
          `INSERT INTO events (${COLS})
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
                                $8::text[], $9::text[], $10::jsonb[])
           ON CONFLICT DO NOTHING RETURNING session_id, event_id`,
          [
            rows.map((e) => e.projectId),
            rows.map((e) => e.sessionId),
            rows.map((e) => e.id),
            rows.map((e) => e.type),
            rows.map((e) => e.name),
            rows.map((e) => e.ts),
            rows.map((e) => e.receivedAt),
            rows.map((e) => e.page),
            rows.map((e) => e.resourceId),
            rows.map((e) => jsonOrNull(e.details)),
          ],
        );
        return flags(rows, added);
      }),
  },
  {
    key: 'values',
    label: 'multi-row VALUES ($1…$10), … → INSERT … ON CONFLICT DO NOTHING RETURNING',
    idempotent: true,
    run: (client, rows) =>
      inTransaction(client, async () => {
        const params = [];
        const tuples = [];
        for (const e of rows) {
          const n = params.length;
          tuples.push(
            `($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5}, $${n + 6}, $${n + 7}, $${n + 8}, $${n + 9}, $${n + 10})`,
          );
          params.push(
            e.projectId,
            e.sessionId,
            e.id,
            e.type,
            e.name,
            e.ts,
            e.receivedAt,
            e.page,
            e.resourceId,
            jsonOrNull(e.details),
          );
        }
        const { rows: added } = await client.query(
          `INSERT INTO events (${COLS}) VALUES ${tuples.join(', ')} ON CONFLICT DO NOTHING RETURNING session_id, event_id`,
          params,
        );
        return flags(rows, added);
      }),
  },
  {
    key: 'copy-kept',
    label: 'COPY → temp staging table (created once per connection, ON COMMIT DELETE ROWS) → INSERT … SELECT',
    idempotent: true,
    async prepare(client) {
      await client.query(`CREATE TEMP TABLE events_stage (${STAGE_COLUMNS}) ON COMMIT DELETE ROWS`);
    },
    run: (client, rows) =>
      inTransaction(client, async () => {
        await copyInto(client, 'events_stage', rows);
        const { rows: added } = await client.query(
          `INSERT INTO events (${COLS}) SELECT ${COLS} FROM events_stage
           ON CONFLICT DO NOTHING RETURNING session_id, event_id`,
        );
        return flags(rows, added);
      }),
  },
  {
    key: 'copy-per-tx',
    label: 'COPY → temp staging table (created in each transaction, ON COMMIT DROP) → INSERT … SELECT',
    idempotent: true,
    run: (client, rows) =>
      inTransaction(client, async () => {
        await client.query(`CREATE TEMP TABLE events_stage_tx (${STAGE_COLUMNS}) ON COMMIT DROP`);
        await copyInto(client, 'events_stage_tx', rows);
        const { rows: added } = await client.query(
          `INSERT INTO events (${COLS}) SELECT ${COLS} FROM events_stage_tx
           ON CONFLICT DO NOTHING RETURNING session_id, event_id`,
        );
        return flags(rows, added);
      }),
  },
  {
    key: 'copy-direct',
    label: 'COPY straight into events (NOT idempotent: a duplicate fails the batch; reference only)',
    idempotent: false,
    run: (client, rows) =>
      inTransaction(client, async () => {
        await copyInto(client, 'events', rows);
        return rows.map(() => true);
      }),
  },
];

// ---------------------------------------------------------------------------------------------
// Measurement

async function connect(url) {
  const client = new pg.Client({
    connectionString: url,
    statement_timeout: 10_000, // as PgPoolDriver
    application_name: 'sessiontrack-bench',
  });
  await client.connect();
  return client;
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/**
 * One strategy, one size: fresh (truncated) table, warm-up, then the timed transactions — on
 * `clients` connections at once, each committing its share of the batches one after the other.
 */
async function measure(url, admin, strategy, batches, warmup, clients) {
  await admin.query('TRUNCATE events');
  await admin.query('CHECKPOINT'); // so no checkpoint started by an earlier run lands in this one
  const conns = await Promise.all(Array.from({ length: clients }, () => connect(url)));
  try {
    for (const c of conns) await strategy.prepare?.(c);
    for (let i = 0; i < warmup; i++) await strategy.run(conns[i % clients], batches[i]);
    const measured = batches.slice(warmup);
    const times = [];
    let events = 0;
    let fresh = 0;
    const t0 = performance.now();
    await Promise.all(
      conns.map(async (client, k) => {
        for (let i = k; i < measured.length; i += clients) {
          const rows = measured[i];
          const t = performance.now();
          const isNew = await strategy.run(client, rows);
          times.push(performance.now() - t);
          events += rows.length;
          for (const f of isNew) if (f) fresh++;
        }
      }),
    );
    const ms = performance.now() - t0;
    times.sort((a, b) => a - b);
    return {
      eventsPerSec: (events / ms) * 1000,
      msPerTx: ms / measured.length,
      p50: percentile(times, 50),
      p99: percentile(times, 99),
      events,
      fresh,
    };
  } finally {
    await Promise.all(conns.map((c) => c.end()));
  }
}

/**
 * Idempotency, per strategy: a batch of 220 events with 10 ids sent twice inside it, committed
 * twice, then a batch of half old, half new events. Rows counted after each step.
 */
async function checkIdempotent(url, admin, strategy) {
  await admin.query('TRUNCATE events');
  const [base] = makeBatches(1, 210, 0, 'idem');
  const first = [...base, ...base.slice(0, 10)]; // 220 rows, 210 distinct
  const [more] = makeBatches(1, 110, 0, 'idem2');
  const mixed = [...base.slice(0, 110), ...more]; // 110 stored already + 110 new
  const client = await connect(url);
  const count = async () => Number((await admin.query('SELECT count(*) AS n FROM events')).rows[0].n);
  const newOf = (f) => f.filter(Boolean).length;
  const steps = [];
  try {
    await strategy.prepare?.(client);
    const a = await strategy.run(client, first);
    steps.push({ step: 'batch A (220 rows, 210 distinct)', expectNew: 210, gotNew: newOf(a), expectRows: 210 });
    steps.at(-1).rows = await count();
    // The second copy of an id inside a batch must be reported as a duplicate, the first as new.
    steps.at(-1).flagsOk = a.slice(0, 210).every(Boolean) && a.slice(210).every((f) => !f);
    const b = await strategy.run(client, first);
    steps.push({ step: 'batch A again', expectNew: 0, gotNew: newOf(b), expectRows: 210, rows: await count() });
    const c = await strategy.run(client, mixed);
    steps.push({ step: 'half of A + 110 new', expectNew: 110, gotNew: newOf(c), expectRows: 320, rows: await count() });
    steps.at(-1).flagsOk = c.slice(0, 110).every((f) => !f) && c.slice(110).every(Boolean);
  } catch (err) {
    steps.push({ step: 'error', error: err.message.split('\n')[0] });
  } finally {
    await client.end();
  }
  const pass = steps.every(
    (s) => !s.error && s.gotNew === s.expectNew && s.rows === s.expectRows && s.flagsOk !== false,
  );
  return { pass, steps };
}

// ---------------------------------------------------------------------------------------------
// Main

const int = (n) => Math.round(n).toLocaleString('en-US');
const ms2 = (n) => n.toFixed(2);

async function main() {
  const opts = parseOptions();
  const strategies = STRATEGIES.filter((s) => opts.strategies.includes(s.key));
  const cpus = os.cpus();
  console.log('# PostgreSQL batch insert strategies\n');
  console.log(
    `machine: ${cpus[0]?.model?.trim() ?? 'unknown'} × ${cpus.length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
      `${os.platform()} ${os.release()}, Node ${process.version}`,
  );

  const db = await createFreshDatabase(opts.databaseUrl, 'insert');
  const admin = await connect(db.url);
  try {
    console.log(`server:  ${await describeServer(admin)} (${redact(opts.databaseUrl)}, fresh database ${db.name})`);
    console.log(
      `load:    ${opts.batches} timed transactions (+${opts.warmup} warm-up) per strategy, size and round; ` +
        `${opts.rounds} round(s); ${EVENTS_PER_SESSION} events per session, half of each batch's sessions seen before; ` +
        `${Math.round(opts.retried * 100)} % of each batch re-sent from the previous one; ` +
        `${opts.clients === 1 ? 'one connection' : `${opts.clients} connections at once`}, one transaction at a time on each\n`,
    );
    for (const m of PG_MIGRATIONS) await admin.query(m.sql);

    // Idempotency first: a strategy that fails it is marked in the table.
    const idem = {};
    for (const s of strategies) {
      if (!s.idempotent) continue;
      idem[s.key] = await checkIdempotent(db.url, admin, s);
      for (const step of idem[s.key].steps) {
        console.error(
          `[idempotency] ${s.key.padEnd(11)} ${step.step}: ` +
            (step.error
              ? `ERROR ${step.error}`
              : `new ${step.gotNew}/${step.expectNew}, rows ${step.rows}/${step.expectRows}${step.flagsOk === false ? ', FLAGS WRONG' : ''}`),
        );
      }
    }

    const results = {}; // size → key → rounds[]
    for (let round = 1; round <= opts.rounds; round++) {
      for (const size of opts.sizes) {
        const batches = makeBatches(opts.warmup + opts.batches, size, opts.retried, `r${round}s${size}`);
        // Rotate the order per round so no strategy always runs first (or right after another).
        const order = strategies.map((_, i) => strategies[(i + round - 1) % strategies.length]);
        for (const s of order) {
          if (!s.idempotent && opts.retried > 0) continue; // it would fail on the first retried event
          const r = await measure(db.url, admin, s, batches, opts.warmup, opts.clients);
          results[size] ??= {};
          results[size][s.key] ??= [];
          results[size][s.key].push(r);
          console.error(
            `[${size} events/tx] round ${round}/${opts.rounds} ${s.key.padEnd(11)} ${int(r.eventsPerSec)} events/s, ` +
              `${ms2(r.msPerTx)} ms/tx, p99 ${ms2(r.p99)} ms, new ${r.fresh}/${r.events}`,
          );
        }
      }
    }

    console.log('| events/tx | strategy | idempotent | events/s | ms per tx | p50 ms | p99 ms | vs unnest |');
    console.log('|---:|---|---|---:|---:|---:|---:|---:|');
    for (const size of opts.sizes) {
      const medians = {};
      for (const s of strategies) {
        const rounds = results[size]?.[s.key];
        if (!rounds) continue;
        const sorted = [...rounds].sort((a, b) => a.eventsPerSec - b.eventsPerSec);
        medians[s.key] = sorted[Math.floor((sorted.length - 1) / 2)];
      }
      for (const s of strategies) {
        const m = medians[s.key];
        if (!m) continue;
        const idemText = s.idempotent ? (idem[s.key]?.pass ? 'yes (checked)' : 'CHECK FAILED') : 'no';
        const vs = medians.unnest ? `${(m.eventsPerSec / medians.unnest.eventsPerSec).toFixed(2)}×` : '—';
        console.log(
          `| ${size} | ${s.key} | ${idemText} | ${int(m.eventsPerSec)} | ${ms2(m.msPerTx)} | ${ms2(m.p50)} | ` +
            `${ms2(m.p99)} | ${vs} |`,
        );
      }
    }
    console.log(`\n(median of ${opts.rounds} round(s) by events/s)\n`);
    for (const s of strategies) console.log(`- ${s.key}: ${s.label}`);
    console.log('');
    for (const [k, v] of Object.entries(idem)) {
      console.log(
        `idempotency ${k}: ${v.pass ? 'PASS' : 'FAIL'} (same batch twice → stored once; duplicates reported)`,
      );
    }
    return Object.values(idem).every((v) => v.pass) ? 0 : 1;
  } finally {
    await admin.end().catch(() => {});
    await db.drop();
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`\n${signal}: dropping the benchmark database…`);
    dropAllFreshDatabases().finally(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    console.error(`error: ${err?.stack ?? err}`);
    await dropAllFreshDatabases();
    process.exit(1);
  },
);
