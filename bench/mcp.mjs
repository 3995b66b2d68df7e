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
  --clients <n>    concurrent SDK clients, one session each (default 8)
  --warmup <s>     unmeasured load on each target first (default 2)`;

const opts = parseCli(
  {
    duration: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '10' },
    clients: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
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
const clients = num('clients');
const warmup = num('warmup');

async function target(mode, dataDir) {
  const { child, match } = await startChild(
    `mcp-${mode}`,
    ['bench/mcp-target.mjs', mode, dataDir],
    process.env,
    /listening (\d+)/,
  );
  const port = Number(match[1]);
  const url = new URL(`http://127.0.0.1:${port}/mcp`);
  const sessions = [];
  for (let i = 0; i < clients; i++) {
    const client = new Client({ name: `bench-${i}`, version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(url));
    sessions.push(client);
  }
  return { mode, child, sessions };
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

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'sessiontrack-bench-mcp-'));
try {
  console.log(
    `MCP tool-call round trips: ${clients} SDK clients, ${rounds} paired rounds of ${duration} s (node ${process.version}, ${os.cpus().length} CPUs)`,
  );
  const targets = [await target('plain', dataDir), await target('tracked', dataDir)];
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
      mode,
      rate: median(rs.map((x) => x.rate)),
      p50: median(rs.map((x) => x.p50)),
      p99: median(rs.map((x) => x.p99)),
      cpu: rs[0].cpuPerCall === null ? null : median(rs.map((x) => x.cpuPerCall)),
      calls: rs.reduce((a, x) => a + x.calls, 0),
    };
  };
  const plain = row('plain');
  const tracked = row('tracked');
  const ratios = results.plain.map((p, i) => results.tracked[i].rate / p.rate);
  const overhead = (1 - median(ratios)) * 100;
  const spread = `${((1 - Math.max(...ratios)) * 100).toFixed(1)}% … ${((1 - Math.min(...ratios)) * 100).toFixed(1)}%`;
  const pad = (s, n) => String(s).padStart(n);
  console.log(
    `\n${'target'.padEnd(40)} ${pad('calls/s', 9)} ${pad('p50 ms', 8)} ${pad('p99 ms', 8)} ${pad('CPU µs/call', 12)} ${pad('calls', 8)}`,
  );
  for (const [name, x] of [
    ['SDK alone (ceiling)', plain],
    ['SDK + @sessiontrack/mcp (embedded SQLite)', tracked],
  ]) {
    console.log(
      `${name.padEnd(40)} ${pad(x.rate.toFixed(0), 9)} ${pad(x.p50.toFixed(2), 8)} ${pad(x.p99.toFixed(2), 8)} ${pad(x.cpu === null ? '–' : x.cpu.toFixed(0), 12)} ${pad(x.calls, 8)}`,
    );
  }
  console.log(
    `\noverhead of the integration: ${overhead.toFixed(1)}% of throughput, median of ${ratios.length} paired rounds` +
      ` (pairs ranged ${spread}; target: under 5%)`,
  );
  if (plain.cpu !== null && tracked.cpu !== null) {
    const cpuRatios = results.plain.map((p, i) => results.tracked[i].cpuPerCall / p.cpuPerCall);
    console.log(
      `CPU per tool call of the server process: +${((median(cpuRatios) - 1) * 100).toFixed(1)}% with the integration` +
        ` (${(tracked.cpu - plain.cpu).toFixed(0)} µs more per call, median of paired rounds)`,
    );
  }
  for (const t of targets) for (const c of t.sessions) await c.close();
} finally {
  await cleanup();
  await rm(dataDir, { recursive: true, force: true });
}
