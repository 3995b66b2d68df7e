import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { addDays, createProjectSchema, formatIssues, localDate, updateProjectSchema } from '@sessiontrack/core';
import { type RollupRun, rebuildRange } from '@sessiontrack/store';
import { DAY_MS } from './clock.js';
import { DemoError, runDemo } from './demo.js';
import { ApiError } from './errors.js';
import { runRollup } from './jobs/analytics.js';
import { openStore, type RunningServer, StartupError, startServer } from './node-server.js';
import { Projects } from './projects.js';
import { projectToWire } from './routes/admin.js';
import { dashboardDir } from './routes/dashboard.js';
import { envHelp, flagHelp, flagOptions, readSettings, SERVE_SETTINGS, UsageError, withBareFlags } from './settings.js';

// `sessiontrack <command>` (README "CLI"); the settings of `serve` are declared in settings.ts.
// Every command has --help; a problem the operator must fix is one line on stderr and a non-zero
// exit, never a stack trace.

const VERSION = '0.1.0';

const env = process.env;

/** Every setting of `serve`, in the order of --help. */
const SERVE_KEYS = Object.keys(SERVE_SETTINGS) as (keyof typeof SERVE_SETTINGS)[];
/** Where the other commands find the database: as serve does. */
const STORAGE_KEYS = ['dataDir', 'databaseUrl'] as const;

const HELP = {
  main: `sessiontrack ${VERSION} — self-hosted session tracking for web apps and MCP servers

Usage: sessiontrack <command> [options]

Commands:
  serve            run the server (SQLite in the data dir by default)
  migrate          apply database migrations and exit
  project create   create a project and print its write key
  project list     list projects
  project update   change a project's settings
  project rotate-key  give a project a new write key (the old one works for a grace period)
  project delete   delete a project with all its data
  cleanup          delete sessions (and their events) inactive for N days
  demo             fill a running server with realistic demo traffic (web and MCP)
  rollup           rebuild the aggregates of marked days, or (--rebuild) of any days, from raw rows

Run 'sessiontrack <command> --help' for a command's options.`,
  serve: `Usage: sessiontrack serve [options]

Runs the HTTP server: ingest, read and admin routes, /healthz, /metrics.

Options:
${flagHelp(SERVE_KEYS, [['-h, --help', 'show this help']]).join('\n')}

Environment:
${envHelp(SERVE_KEYS).join('\n')}`,
  migrate: `Usage: sessiontrack migrate [--data-dir <dir>] [--database-url <url>]

Applies pending database migrations and exits. (serve applies them at start too.)`,
  project: `Usage: sessiontrack project create <name> [options]
       sessiontrack project list
       sessiontrack project update <id> [options]
       sessiontrack project rotate-key <id> [--grace-seconds 86400]
       sessiontrack project delete <id>

Options of 'create' and 'update':
  --name <name>              (update) the new name
  --allowed-origin <url>     may be repeated; when set, ingest from other Origins answers 403 (http(s) only)
  --time-zone <iana>         the project's time zone (default UTC)
  --idle-timeout-ms <n>      idle timeout for the project's sessions (default: web 30 min, mcp 1 h)
  --absolute-timeout-ms <n>  absolute cap (default: web 24 h, mcp 30 days)
  --retention-days <n>       days raw sessions and events are kept (default 30)
  --rate-limit <n>           ingest requests per minute for the project, 0 = unlimited
  --bounce-seconds <n>, --bounce-max-actions <n>  the bounce rule (default 30 s, 1 action)
Options of 'rotate-key':
  --grace-seconds <n>        how long the previous key keeps working (default 86400, a day)
'delete' removes the project with its sessions, events, shares and rollups; not the default project.
Running servers see every change within a second.
  --data-dir <dir>, --database-url <url>  as for serve`,
  cleanup: `Usage: sessiontrack cleanup [--days-inactive 30] [--project <id>] [--data-dir <dir>] [--database-url <url>]

Rebuilds the days still marked for a rebuild first, then deletes sessions whose last activity is
older than N days, with their events (in chunks). The aggregates keep their counts.`,
  rollup: `Usage: sessiontrack rollup [--rebuild [--from <date>] [--to <date>]] [--project <id>]
                         [--data-dir <dir>] [--database-url <url>]

The stats are read from aggregates that every write keeps up to date (docs/metrics.md). Without
--rebuild: rebuilds the days marked for it (after an upgrade from a version without maintained
aggregates), as the server does every 10 minutes (--rollup-interval), and prints what it did.

  --rebuild          recompute the days [--from, --to] from raw rows and correct the aggregates to
                     match (after a fix, a definition change such as new bounce thresholds, or rows
                     written by other means); prints each day as it is done. Days whose raw rows
                     may be past the project's retention are skipped: their aggregates are all
                     that is left (after a 'cleanup' with fewer days, rebuild only later days).
                     Each day is one transaction; writes to that day wait for it.
  --from <date>      first day, YYYY-MM-DD in the project's time zone (default: the oldest day
                     still within retention)
  --to <date>        last day (default: today)
  --project <id>     only this project (default: every project)

Idempotent. Only one instance runs it at a time: on a shared PostgreSQL a run that finds another
one in progress says so and exits 0.`,
  demo: `Usage: sessiontrack demo [options]

Sends realistic web and MCP traffic over past days to a running server, through the admin-only
import route (POST /api/v1/import): past timestamps are possible only with the admin token, never
with a write key. Deterministic for a seed: running it again adds nothing (use another --seed).

Options:
  --url <url>           the server (default http://127.0.0.1:3000)
  --days <n>            spread over this many past days, today included (default 30)
  --sessions <n>        how many sessions (default 5000)
  --project <id>        the project to fill (default: default)
  --seed <n>            random seed (default 1)
  --data-dir <dir>      read the admin token from <dir>/admin-token when SESSIONTRACK_ADMIN_TOKEN is unset
                        (env SESSIONTRACK_DATA_DIR, default ./data), as serve keeps it
  -h, --help            show this help`,
};

const help = { help: { type: 'boolean', short: 'h' } } as const;
const storageOptions = { ...flagOptions(STORAGE_KEYS), ...help };
const storage = (values: Parameters<typeof readSettings>[1]) => readSettings(STORAGE_KEYS, values, env);

export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (err) {
    if (err instanceof UsageError || err instanceof StartupError || err instanceof DemoError) {
      process.stderr.write(`sessiontrack: ${err.message}\n`);
      return err instanceof UsageError ? 2 : 1;
    }
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`sessiontrack: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`sessiontrack: ${(err as Error).message}\n`);
    return 1;
  }
}

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'migrate':
      return migrate(rest);
    case 'project':
      return project(rest);
    case 'cleanup':
      return cleanup(rest);
    case 'demo':
      return demo(rest);
    case 'rollup':
      return rollup(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      console.log(HELP.main);
      return 0;
    case '--version':
    case '-v':
      console.log(VERSION);
      return 0;
    default:
      throw new UsageError(`unknown command '${command}' (see sessiontrack --help)`);
  }
}

function int(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got '${v}'`);
  return n;
}

async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: withBareFlags(argv, SERVE_KEYS),
    options: { ...flagOptions(SERVE_KEYS), ...help },
  });
  if (values.help) {
    console.log(HELP.serve);
    return 0;
  }
  const settings = readSettings(SERVE_KEYS, values, env);
  const server = await startServer(settings);
  printBanner(server, settings.dataDir, settings.adminToken !== undefined);
  await untilSignal(server);
  return 0;
}

function printBanner(s: RunningServer, dir: string, tokenFromEnv: boolean): void {
  const tokenFile = join(resolve(dir), 'admin-token');
  const lines = [
    `sessiontrack ${VERSION} listening on ${s.url}`,
    `  storage:     ${s.store.backend === 'sqlite' ? `sqlite ${join(resolve(dir), 'sessiontrack.db')}` : `${s.store.backend} (--database-url)`}`,
    `  project:     default   write key: ${s.writeKey}`,
    s.adminTokenGenerated
      ? `  admin token: ${s.adminToken}   (generated now and kept in ${tokenFile}; it is not printed again)`
      : tokenFromEnv
        ? '  admin token: from SESSIONTRACK_ADMIN_TOKEN'
        : `  admin token: kept in ${tokenFile}`,
    dashboardDir()
      ? `  dashboard:   ${s.url}/`
      : '  dashboard:   not built (run `npm run build`); the API works without it',
    `  try:         curl -s -X POST ${s.url}/api/v1/sessions/start -H 'X-Write-Key: ${s.writeKey}' -H 'Content-Type: application/json' -d '{"anonymousId":"me"}'`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** SIGTERM / SIGINT: stop accepting, commit what was accepted, exit 0. A second signal exits now. */
function untilSignal(server: RunningServer): Promise<void> {
  return new Promise((done) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) process.exit(1);
      stopping = true;
      server.logger.info({ signal }, 'stopping: draining the write buffer');
      server.close().then(done, (err) => {
        server.logger.error({ err }, 'shutdown failed');
        process.exitCode = 1;
        done();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

async function migrate(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: storageOptions });
  if (values.help) {
    console.log(HELP.migrate);
    return 0;
  }
  // Opening a store applies its pending migrations.
  const store = await openStore(storage(values));
  await store.close();
  console.log(`migrations applied (${store.backend})`);
  return 0;
}

async function project(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...storageOptions,
      name: { type: 'string' },
      'allowed-origin': { type: 'string', multiple: true },
      'time-zone': { type: 'string' },
      'idle-timeout-ms': { type: 'string' },
      'absolute-timeout-ms': { type: 'string' },
      'retention-days': { type: 'string' },
      'rate-limit': { type: 'string' },
      'bounce-seconds': { type: 'string' },
      'bounce-max-actions': { type: 'string' },
      'grace-seconds': { type: 'string' },
    },
  });
  const [sub, arg] = positionals;
  if (values.help || !sub) {
    console.log(HELP.project);
    return values.help ? 0 : 2;
  }
  const optional = (flag: keyof typeof values): number | undefined => {
    const v = values[flag];
    return typeof v === 'string' ? int(flag, v, 0) : undefined;
  };
  const fields = {
    allowedOrigins: values['allowed-origin'],
    timeZone: values['time-zone'],
    idleTimeoutMs: optional('idle-timeout-ms'),
    absoluteTimeoutMs: optional('absolute-timeout-ms'),
    retentionDays: optional('retention-days'),
    rateLimitPerMinute: optional('rate-limit'),
    bounceSeconds: optional('bounce-seconds'),
    bounceMaxActions: optional('bounce-max-actions'),
  };
  const subs = ['create', 'list', 'update', 'rotate-key', 'delete'];
  if (!subs.includes(sub)) throw new UsageError(`unknown subcommand 'project ${sub}' (${subs.join(', ')})`);
  if (sub !== 'list' && !arg)
    throw new UsageError(`project ${sub} needs a ${sub === 'create' ? 'name' : 'project id'}`);
  const store = await openStore(storage(values));
  try {
    const projects = new Projects(store);
    await projects.ensureDefault();
    switch (sub) {
      case 'list':
        for (const p of projects.list()) {
          console.log(`${p.id}\t${p.name}\twrite key: ${p.writeKey}\ttime zone: ${p.timeZone}`);
        }
        return 0;
      case 'create': {
        const input = createProjectSchema.safeParse({ name: arg, ...fields });
        if (!input.success) throw new UsageError(formatIssues(input.error).message);
        const p = await projects.create(input.data);
        console.log(`created project ${p.id} (${p.name})\nwrite key: ${p.writeKey}`);
        return 0;
      }
      case 'update': {
        const input = updateProjectSchema.safeParse({ name: values.name, ...fields });
        if (!input.success) throw new UsageError(formatIssues(input.error).message);
        console.log(JSON.stringify(projectToWire(await projects.update(arg as string, input.data))));
        return 0;
      }
      case 'rotate-key': {
        const grace = int('grace-seconds', values['grace-seconds'], 86_400);
        const r = await projects.rotateKey(arg as string, grace * 1000);
        console.log(
          `write key: ${r.project.writeKey}\nthe previous key works until ${new Date(r.previousKeyValidUntil).toISOString()}`,
        );
        return 0;
      }
      default:
        console.log(JSON.stringify(await projects.delete(arg as string)));
        return 0;
    }
  } catch (err) {
    // The same refusals as the HTTP routes (unknown project, the default project): a usage error here.
    if (err instanceof ApiError) throw new UsageError(err.message);
    throw err;
  } finally {
    await store.close();
  }
}

async function cleanup(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...storageOptions, 'days-inactive': { type: 'string' }, project: { type: 'string' } },
  });
  if (values.help) {
    console.log(HELP.cleanup);
    return 0;
  }
  const days = int('days-inactive', values['days-inactive'], 30);
  const store = await openStore(storage(values));
  try {
    const now = Date.now();
    const all = await store.listProjects();
    await runRollup(store, values.project ? all.filter((p) => p.id === values.project) : all, now);
    const r = await store.cleanup(values.project ?? null, now - days * DAY_MS);
    console.log(JSON.stringify(r));
    return 0;
  } finally {
    await store.close();
  }
}

async function demo(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      days: { type: 'string' },
      sessions: { type: 'string' },
      project: { type: 'string' },
      seed: { type: 'string' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP.demo);
    return 0;
  }
  const days = int('days', values.days, 30);
  const sessions = int('sessions', values.sessions, 5000);
  if (days < 1 || days > 400) throw new UsageError(`--days must be 1 to 400, got ${days}`);
  if (sessions < 1 || sessions > 2_000_000) throw new UsageError(`--sessions must be 1 to 2000000, got ${sessions}`);
  const url = values.url ?? 'http://127.0.0.1:3000';
  if (!/^https?:\/\/[^/]+/.test(url)) throw new UsageError(`--url must be an http(s) URL, got '${url}'`);
  // The admin token as serve finds it: the environment, else the file serve generated.
  const found = readSettings(['dataDir', 'adminToken'], values, env);
  let adminToken = found.adminToken;
  const tokenFile = join(resolve(found.dataDir), 'admin-token');
  if (!adminToken && existsSync(tokenFile)) adminToken = readFileSync(tokenFile, 'utf8').trim();
  if (!adminToken) {
    throw new UsageError(`no admin token: set SESSIONTRACK_ADMIN_TOKEN (or run from where ${tokenFile} exists)`);
  }
  const project = values.project ?? 'default';
  process.stderr.write(`sending ${sessions} demo sessions over ${days} days to ${url} (project ${project})\n`);
  const r = await runDemo({
    url,
    adminToken,
    project,
    days,
    sessions,
    seed: int('seed', values.seed, 1),
    progress: process.stderr,
  });
  console.log(
    `imported ${r.sessions} sessions and ${r.events} events in ${r.requests} requests (${(r.ms / 1000).toFixed(1)} s)` +
      (r.skippedSessions ? `; ${r.skippedSessions} were there already (same --seed)` : ''),
  );
  console.log(`open ${url.replace(/\/+$/, '')}/ and sign in with the admin token to see them`);
  return 0;
}

async function rollup(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...storageOptions,
      project: { type: 'string' },
      rebuild: { type: 'boolean' },
      from: { type: 'string' },
      to: { type: 'string' },
    },
  });
  if (values.help) {
    console.log(HELP.rollup);
    return 0;
  }
  if (!values.rebuild && (values.from || values.to)) throw new UsageError('--from and --to go with --rebuild');
  for (const [flag, v] of [
    ['from', values.from],
    ['to', values.to],
  ] as const) {
    if (v !== undefined && !isDate(v)) throw new UsageError(`--${flag} must be a date YYYY-MM-DD, got '${v}'`);
  }
  if (values.from && values.to && values.from > values.to) throw new UsageError('--from is after --to');
  const store = await openStore(storage(values));
  try {
    const all = await store.listProjects();
    const projects = values.project ? all.filter((p) => p.id === values.project) : all;
    if (values.project && projects.length === 0) throw new UsageError(`unknown project '${values.project}'`);
    const report = (run: RollupRun) => {
      const days = run.days.length === 0 ? 'nothing to rebuild' : `${run.days.length} day(s)`;
      console.log(`${run.project}\t${days}\t(${Math.round(run.ms)} ms)`);
    };
    const now = Date.now();
    const ran = values.rebuild
      ? await store.runExclusive('rollup', async () => {
          for (const p of projects) {
            const to = values.to ?? localDate(now, p.timeZone);
            const from = values.from ?? localDate(now - p.retentionDays * DAY_MS, p.timeZone);
            process.stderr.write(`${p.id}: rebuilding ${from} … ${to}\n`);
            report(
              await rebuildRange(store, p, from, to, now, {
                onDay: (date, ms) => process.stderr.write(`${p.id}\t${date}\t${Math.round(ms)} ms\n`),
              }),
            );
          }
        })
      : (await runRollup(store, projects, now, report)) !== null;
    if (!ran) console.log('another instance is rebuilding right now; nothing to do');
    return 0;
  } finally {
    await store.close();
  }
}

function isDate(v: string): boolean {
  try {
    return addDays(v, 0) === v;
  } catch {
    return false;
  }
}
