// MCP tool-call round trips through the SDK, without and with @sessiontrack/mcp, same run, same
// machine. Each target is its own process (bench/mcp-target.mjs); the load is real SDK Clients
// over StreamableHTTPClientTransport, each calling a tool in a loop. Rounds run in pairs, back to
// back, alternating which target goes first; the overhead is the median of the per-pair ratios,
// which holds up on a machine whose background load drifts (a shared CI box, other test runs).
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { cleanup, parseCli, startChild, usageError } from './processes.mjs';

const USAGE = `usage: node bench/mcp.mjs [--duration <s>] [--rounds <n>] [--clients <n>] [--warmup <s>]

  --duration <s>   seconds per measured round (default 2)
  --rounds <n>     measured round pairs (default 10)
  --clients <list> concurrent SDK clients (one session each) per scenario (default 1,8)
  --warmup <s>     unmeasured load on each target first (default 2)
  --null-sink      the tracked server stores nothing (handler cost alone, without the SQLite writes)
  --otel           both servers register an OpenTelemetry SDK (exports dropped): the cost of the spans and metrics`;

const opts = parseCli(
  {
    duration: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '10' },
    clients: { type: 'string', default: '1,8' },
    warmup: { type: 'string', default: '2' },
    'null-sink': { type: 'boolean', default: false },
    otel: { type: 'boolean', default: false },
  },
  USAGE,
);
const num = (name) => {
  const v = Number(opts[name]);
  if (!Number.isFinite(v) || v < 0) usageError(`--${name}: not a number`, USAGE);
  return v;
};
const duration = num('duration');
const rounds = num('rounds');
const warmup = num('warmup');

async function target(mode, dataDir) {
  const { child, match } = await startChild(
    `mcp-${mode}`,
    ['bench/mcp-target.mjs', mode, dataDir],
    { ...process.env, BENCH_NULL_SINK: opts['null-sink'] ? '1' : '0', BENCH_OTEL: opts.otel ? '1' : '0' },
    /listening (\d+)/,
  );
  return { mode, child, url: new URL(`http://127.0.0.1:${match[1]}/mcp`), sessions: [] };
}

/** `n` SDK clients with a session each on target `t` (replacing the previous ones). */
async function openSessions(t, n) {
  for (const c of t.sessions) await c.close();
  t.sessions = [];
  for (let i = 0; i < n; i++) {
    const client = new Client({ name: `bench-${i}`, version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(t.url));
    t.sessions.push(client);
  }
}

/**
 * CPU time (user + system, ms) the target process has used so far, from /proc (Linux); null
 * elsewhere. CPU per call is the steadier measure on a shared machine: throughput also moves
 * with what the neighbours do, CPU time much less.
 */
function cpuMs(child) {
  try {
    const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in USER_HZ (100)
  } catch {
    return null;
  }
}

/** Every client calls `add` back to back for `seconds`; returns calls/s, latency percentiles, CPU per call. */
async function load(t, seconds) {
  const cpu0 = cpuMs(t.child);
  const end = performance.now() + seconds * 1000;
  const latencies = [];
  await Promise.all(
    t.sessions.map(async (client) => {
      let i = 0;
      while (performance.now() < end) {
        const t0 = performance.now();
        const r = await client.callTool({ name: 'add', arguments: { a: i, b: 1 } });
        latencies.push(performance.now() - t0);
        if (r.content[0].text !== String(i + 1)) throw new Error(`${t.mode}: wrong answer`);
        i++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((latencies.length * p) / 100))];
  const cpu1 = cpuMs(t.child);
  const cpuPerCall = cpu0 === null || cpu1 === null ? null : ((cpu1 - cpu0) * 1000) / latencies.length;
  return { rate: latencies.length / seconds, p50: pct(50), p99: pct(99), calls: latencies.length, cpuPerCall };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const pad = (v, n) => String(v).padStart(n);
/** Room for the longest scenario label ("8 clients: SDK + @sessiontrack/mcp (null sink, OTel SDK)"). */
const LABEL_WIDTH = 58;
const variant = [opts['null-sink'] && 'null sink', opts.otel && 'OTel SDK'].filter(Boolean).join(', ');
const pct = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;

/** One scenario: `n` clients on each target, `rounds` paired rounds; prints its rows and overheads. */
async function scenario(targets, n) {
  for (const t of targets) await openSessions(t, n);
  if (warmup > 0) for (const t of targets) await load(t, warmup);
  const results = { plain: [], tracked: [] };
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so neither always runs on the warmer machine.
    const order = r % 2 ? [...targets].reverse() : targets;
    for (const t of order) results[t.mode].push(await load(t, duration));
  }
  const row = (mode) => {
    const rs = results[mode];
    return {
      rate: median(rs.map((x) => x.rate)),
      p50: median(rs.map((x) => x.p50)),
      p99: median(rs.map((x) => x.p99)),
      cpu: rs.some((x) => x.cpuPerCall === null) ? null : median(rs.map((x) => x.cpuPerCall)),
      calls: rs.reduce((a, x) => a + x.calls, 0),
    };
  };
  const paired = (f) => median(results.plain.map((p, i) => f(results.tracked[i], p)));
  const plain = row('plain');
  const tracked = row('tracked');
  const label = `${n} client${n === 1 ? '' : 's'}`;
  for (const [name, x] of [
    [`${label}: SDK alone (ceiling)${opts.otel ? ' (OTel SDK)' : ''}`, plain],
    [`${label}: SDK + @sessiontrack/mcp${variant ? ` (${variant})` : ''}`, tracked],
  ]) {
    console.log(
      `${name.padEnd(LABEL_WIDTH)} ${pad(x.rate.toFixed(0), 8)} ${pad(x.p50.toFixed(2), 8)} ${pad(x.p99.toFixed(2), 8)} ${pad(x.cpu === null ? '–' : x.cpu.toFixed(0), 12)} ${pad(x.calls, 8)}`,
    );
  }
  return {
    clients: n,
    plain,
    tracked,
    // Medians of the per-pair ratios: each pair ran back to back, under the same background load.
    roundTrip: paired((t, p) => t.p50 / p.p50 - 1) * 100,
    throughput: paired((t, p) => 1 - t.rate / p.rate) * 100,
    cpu: plain.cpu === null ? null : paired((t, p) => t.cpuPerCall / p.cpuPerCall - 1) * 100,
  };
}

// The SDK client's transport adds an abort listener per request to one long-lived AbortSignal
// (whose limit it sets itself); past it every request prints a warning. A client-side matter,
// equal for both targets: it is kept out of the table.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
  if (warning?.name === 'MaxListenersExceededWarning') return;
  emitWarning(warning, ...rest);
};

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'sessiontrack-bench-mcp-'));
try {
  const counts = String(opts.clients)
    .split(',')
    .map((x) => Number(x));
  if (counts.some((x) => !Number.isInteger(x) || x < 1)) usageError('--clients: a list of positive integers', USAGE);
  console.log(
    `MCP tool-call round trips (tool \`add\`), ${rounds} paired rounds of ${duration} s per scenario (node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)})`,
  );
  const targets = [await target('plain', dataDir), await target('tracked', dataDir)];
  console.log(
    `\n${'scenario: target'.padEnd(LABEL_WIDTH)} ${pad('calls/s', 8)} ${pad('p50 ms', 8)} ${pad('p99 ms', 8)} ${pad('CPU µs/call', 12)} ${pad('calls', 8)}`,
  );
  const out = [];
  for (const n of counts) out.push(await scenario(targets, n));
  console.log('\noverhead of the integration (median of paired rounds; target: under 5%):');
  for (const o of out) {
    console.log(
      `  ${pad(o.clients, 3)} client(s): round trip (p50) ${pct(o.roundTrip)}, throughput ${pct(-o.throughput)}` +
        (o.cpu === null ? '' : `, server CPU per call ${pct(o.cpu)}`),
    );
  }
  for (const t of targets) for (const c of t.sessions) await c.close();
} finally {
  await cleanup();
  await rm(dataDir, { recursive: true, force: true });
}
