// Dashboard benchmark: how long after sign-in the overview is fully drawn (the seven cards, the
// sessions-per-day chart and every top list), in Chromium, against the real server. Next to it, the
// ceiling measured in the same run: the same API requests the overview makes, sent from Node in
// parallel with nothing rendered. The difference is what the browser and the app add.
//
// Standalone it fills a fresh SQLite data dir with `sessiontrack demo`; with --data-dir or
// --database-url it runs against an existing data set (e.g. the 1 M sessions of bench:query).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { launchChromium, overviewDrawn, signIn } from './browser.mjs';
import { ADMIN_TOKEN, cleanup, freePort, parseCli, ROOT, SERVER_BIN, startChild, usageError } from './processes.mjs';

const USAGE = `Usage: npm run bench:dashboard -- [options]

  --runs <n>            measured sign-ins (default 7), each in a fresh browser profile (cold cache)
  --sessions <n>        demo sessions when no data set is given (default 5000)
  --days <n>            days the demo spreads over (default 30)
  --data-dir <dir>      serve this existing data dir (SQLite) instead of a demo
  --database-url <url>  serve this PostgreSQL database instead of a demo
  --project <id>        the project to open (default: default)
  --range <r>           today, 7d or 30d (default 30d)
  --chromium <path>     the browser (default /usr/bin/chromium, env SESSIONTRACK_E2E_CHROMIUM)`;

const opts = parseCli(
  {
    runs: { type: 'string', default: '7' },
    sessions: { type: 'string', default: '5000' },
    days: { type: 'string', default: '30' },
    'data-dir': { type: 'string' },
    'database-url': { type: 'string' },
    project: { type: 'string', default: 'default' },
    range: { type: 'string', default: '30d' },
    chromium: { type: 'string', default: process.env.SESSIONTRACK_E2E_CHROMIUM ?? '/usr/bin/chromium' },
  },
  USAGE,
);
const runs = Number(opts.runs);
if (!Number.isInteger(runs) || runs < 1) usageError('--runs must be a positive integer', USAGE);
if (!['today', '7d', '30d'].includes(opts.range)) usageError('--range must be today, 7d or 30d', USAGE);
if (!existsSync(opts.chromium)) {
  console.error(`no Chromium at ${opts.chromium} (apt-get install -y chromium, or --chromium <path>)`);
  process.exit(1);
}
if (!existsSync(path.join(ROOT, 'packages/dashboard/dist/app/index.html'))) {
  console.error('the dashboard is not built: npm run bench:dashboard builds it (or npm run build)');
  process.exit(1);
}

const log = (s) => process.stderr.write(`${s}\n`);

async function main() {
  const port = await freePort();
  const dataDir = opts['data-dir'] ?? (await mkdtemp(path.join(os.tmpdir(), 'sessiontrack-bench-dashboard-')));
  const args = [SERVER_BIN, 'serve', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir];
  args.push('--ip-rate-limit', '0');
  if (opts['database-url']) args.push('--database-url', opts['database-url']);
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL' && !k.startsWith('SESSIONTRACK_')),
  );
  // Stopped by cleanup() (processes.mjs keeps every child it started).
  await startChild(
    'sessiontrack server',
    args,
    { ...env, SESSIONTRACK_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'warn' },
    /write key: (\S+)/,
  );
  const url = `http://127.0.0.1:${port}`;
  if (!opts['data-dir'] && !opts['database-url']) {
    log(`filling a fresh data dir with ${opts.sessions} demo sessions over ${opts.days} days…`);
    await demo(url);
    // The server rolls up imported days by itself seconds later; doing it now keeps the runs even.
    await cli(['rollup', '--data-dir', dataDir]);
  }
  const summary = await api(url, `/stats/summary?project=${opts.project}`);
  log(`data set: ${summary.sessions} sessions in the last 30 days of project ${opts.project}`);

  const browser = await launchChromium(opts.chromium);
  const hash = `#/overview?project=${encodeURIComponent(opts.project)}&range=${opts.range}`;
  const cold = [];
  const warm = [];
  const ceiling = [];
  try {
    // One unmeasured round: the server's first queries (page cache, prepared statements) and Chromium's start.
    log(`warm-up: ${(await signIn(browser, url, hash, overviewDrawn)).cold.toFixed(0)} ms`);
    await overviewRequests(url);
    for (let i = 0; i < runs; i++) {
      const r = await signIn(browser, url, hash, overviewDrawn);
      cold.push(r.cold);
      warm.push(r.warm);
      ceiling.push(await overviewRequests(url));
      log(
        `run ${i + 1}/${runs}: cold ${r.cold.toFixed(0)} ms, warm ${r.warm.toFixed(0)} ms, API only ${ceiling.at(-1).toFixed(0)} ms`,
      );
    }
  } finally {
    await browser.close();
    await cleanup();
    if (!opts['data-dir']) await rm(dataDir, { recursive: true, force: true });
  }

  console.log(`\nmachine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, node ${process.version}`);
  console.log(
    `data: ${summary.sessions} sessions (${opts['database-url'] ? 'PostgreSQL' : 'SQLite'}), range ${opts.range}, ${runs} runs\n`,
  );
  const rows = [
    ['sign-in → overview drawn, fresh profile', cold],
    ['sign-in → overview drawn, cached assets', warm],
    ['ceiling: the same API requests from Node', ceiling],
  ];
  console.log('| measured | median ms | p95 ms | max ms |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [name, xs] of rows) {
    console.log(
      `| ${name} | ${pct(xs, 0.5).toFixed(0)} | ${pct(xs, 0.95).toFixed(0)} | ${Math.max(...xs).toFixed(0)} |`,
    );
  }
  const target = pct(cold, 0.95) <= 1000;
  console.log(`\ntarget (overview within 1 s of sign-in, p95 of fresh profiles): ${target ? 'met' : 'NOT met'}`);
}

/** The overview's requests (docs/dashboard.md), in parallel from Node: the floor under the browser. */
async function overviewRequests(url) {
  const p = `project=${encodeURIComponent(opts.project)}`;
  const today = new Date().toISOString().slice(0, 10);
  const days = opts.range === 'today' ? 1 : opts.range === '7d' ? 7 : 30;
  const from = new Date(Date.parse(today) - (days - 1) * 86_400_000).toISOString().slice(0, 10);
  const prevFrom = new Date(Date.parse(from) - days * 86_400_000).toISOString().slice(0, 10);
  const prevTo = new Date(Date.parse(from) - 86_400_000).toISOString().slice(0, 10);
  const r = `${p}&from=${from}&to=${today}`;
  const paths = [
    `/projects`,
    `/sessions/active?${p}&limit=1`,
    `/stats/summary?${r}`,
    `/stats/summary?${p}&from=${prevFrom}&to=${prevTo}`,
    `/stats/daily?${r}`,
    `/stats/countries?${r}&limit=10`,
    ...['entryPage', 'exitPage', 'source', 'referrer', 'campaign', 'deviceType', 'browser', 'os'].map(
      (by) => `/stats/breakdown?${r}&by=${by}&limit=8`,
    ),
  ];
  const t0 = performance.now();
  await Promise.all(paths.map((x) => api(url, x)));
  return performance.now() - t0;
}

async function api(url, p) {
  const res = await fetch(`${url}/api/v1${p}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (!res.ok) throw new Error(`GET ${p}: ${res.status} ${await res.text()}`);
  return res.json();
}

const demo = (url) =>
  cli(['demo', '--url', url, '--sessions', opts.sessions, '--days', opts.days, '--project', opts.project]);

function cli(args) {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [SERVER_BIN, ...args], {
      env: { ...process.env, SESSIONTRACK_ADMIN_TOKEN: ADMIN_TOKEN },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`sessiontrack ${args[0]} exited with ${code}`))));
  });
}

function pct(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

main()
  .catch((err) => {
    console.error(err.stack ?? String(err));
    process.exitCode = 1;
  })
  .finally(cleanup);
