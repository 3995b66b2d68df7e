// wrk (Debian package `wrk`) as the HTTP load generator of the ingest benchmark. A C program with
// its own event loop takes a fraction of the CPU a JavaScript generator does, which matters on two
// cores where the generator competes with the server it measures. The requests come from a Lua
// script written per run: every request a fresh body (unique event ids) for the next session of
// the list, so nothing is deduplicated and sessions share the load.

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const WRK = process.env.SESSIONTRACK_WRK ?? 'wrk';

/** Fails with a clear message when wrk is not installed. */
export async function checkWrk() {
  try {
    await run(WRK, ['--version']);
  } catch (err) {
    // `wrk --version` prints its banner and exits 1; only a missing binary is an error.
    if (err.code === 'ENOENT') throw new Error('wrk is not installed (apt-get install -y wrk)');
  }
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && err.code === 'ENOENT') return reject(err);
      if (err && !stdout) return reject(Object.assign(err, { stderr }));
      resolve({ stdout, stderr });
    });
  });
}

const lua = (s) => JSON.stringify(s); // a JSON string is a valid Lua string literal for our ids

/**
 * The Lua script: per thread, a counter; each request POSTs `eventsPerRequest` action events to
 * the next session's events route; statuses are counted per thread and summed in done(), which
 * prints one JSON line the caller parses.
 */
function script({ sessionIds, eventsPerRequest, tag, headers }) {
  const headerLines = Object.entries(headers)
    .map(([k, v]) => `wrk.headers[${lua(k)}] = ${lua(v)}`)
    .join('\n');
  return `
wrk.method = "POST"
${headerLines}
local sessions = { ${sessionIds.map((id) => lua(`/api/v1/sessions/${encodeURIComponent(id)}/events`)).join(', ')} }
local threads = {}
local nextThread = 0
function setup(thread)
  thread:set("tid", nextThread)
  nextThread = nextThread + 1
  table.insert(threads, thread)
end
function init(args)
  counter = 0
  statuses = {}
  firstFailure = ""
end
function request()
  counter = counter + 1
  local ts = os.time() * 1000
  local parts = {}
  for i = 1, ${eventsPerRequest} do
    parts[i] = '{"id":"e-${tag}-' .. tid .. '-' .. counter .. '-' .. i .. '","type":"action","name":"click","page":"/pricing","timestamp":' .. ts .. '}'
  end
  local path = sessions[(counter * 7 + tid) % #sessions + 1]
  return wrk.format(nil, path, nil, '{"events":[' .. table.concat(parts, ",") .. ']}')
end
function response(status, headers, body)
  local k = tostring(status)
  statuses[k] = (statuses[k] or 0) + 1
  if (status < 200 or status > 299) and firstFailure == "" then firstFailure = k .. " " .. string.sub(body or "", 1, 300) end
end
function done(summary, latency, requests)
  local all = {}
  local failure = ""
  for _, t in ipairs(threads) do
    for k, n in pairs(t:get("statuses")) do all[k] = (all[k] or 0) + n end
    local f = t:get("firstFailure")
    if failure == "" and f ~= nil then failure = f end
  end
  local codes = {}
  for k, n in pairs(all) do table.insert(codes, string.format('"%s":%d', k, n)) end
  io.write(string.format('WRK_RESULT {"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50Us":%d,"p99Us":%d,"statuses":{%s},"firstFailure":%q}\\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, latency:percentile(50), latency:percentile(99), table.concat(codes, ","), failure))
end
`;
}

/**
 * One wrk run against `url`: `connections` connections on `threads` threads for `seconds`.
 * Returns requests/s (every completed response), 2xx count, latency p50/p99 in ms (wrk's own
 * histogram, microseconds), status histogram, errors and the first failed answer.
 */
export async function wrkEvents({
  url,
  connections,
  seconds,
  threads = 1,
  sessionIds,
  eventsPerRequest,
  tag,
  headers,
}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sessiontrack-wrk-'));
  try {
    const file = path.join(dir, 'events.lua');
    await writeFile(file, script({ sessionIds, eventsPerRequest, tag, headers }));
    const { stdout, stderr } = await run(WRK, [
      `-t${threads}`,
      `-c${Math.max(connections, threads)}`,
      `-d${seconds}s`,
      '--timeout',
      '10s',
      '-s',
      file,
      url,
    ]);
    const line = stdout.split('\n').find((l) => l.startsWith('WRK_RESULT '));
    if (!line) throw new Error(`wrk printed no result:\n${stdout}\n${stderr}`);
    // %q escapes newlines as "\<newline>"; JSON wants "\n".
    const r = JSON.parse(line.slice('WRK_RESULT '.length).replace(/\\\n/g, '\\n'));
    const secondsRun = r.durationUs / 1e6;
    let ok = 0;
    for (const [code, n] of Object.entries(r.statuses)) if (code.startsWith('2')) ok += n;
    return {
      reqPerSec: r.requests / secondsRun,
      eventsPerSec: (ok * eventsPerRequest) / secondsRun,
      p50: r.p50Us / 1000,
      p99: r.p99Us / 1000,
      ok,
      non2xx: r.requests - ok,
      errors: r.connect + r.read + r.write + r.timeout,
      timeouts: r.timeout,
      seconds: secondsRun,
      statusCodes: r.statuses,
      firstFailure: r.firstFailure === '' ? null : r.firstFailure,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
