import { type DemoSession, demoSessions } from './demo-data.js';

// `sessiontrack demo`: generates demo traffic and sends it to a running server through the
// admin-only import route (POST /api/v1/import), in batches, with a progress bar on stderr.
// Past timestamps are only possible there: the ingest routes (write keys) never take them.

export interface DemoRun {
  url: string;
  adminToken: string;
  project: string;
  days: number;
  sessions: number;
  seed: number;
  /** Where the progress bar goes (stderr); null: no progress output. */
  progress: NodeJS.WriteStream | null;
}

export interface DemoResult {
  sessions: number;
  skippedSessions: number;
  events: number;
  requests: number;
  ms: number;
}

/** The import route takes 4 MiB; stay well under it. */
const MAX_BATCH_BYTES = 2 * 1024 * 1024;
const MAX_BATCH_SESSIONS = 1000;
const MAX_BATCH_EVENTS = 20_000;
const PARALLEL = 2;

export class DemoError extends Error {}

export async function runDemo(opts: DemoRun): Promise<DemoResult> {
  const started = Date.now();
  const base = opts.url.replace(/\/+$/, '');
  const headers = { authorization: `Bearer ${opts.adminToken}`, 'content-type': 'application/json' };
  // Checks the token and the project before generating anything.
  const projects = await call(`${base}/api/v1/projects`, { headers });
  const list = (projects as { projects: { id: string }[] }).projects;
  if (!list.some((p) => p.id === opts.project)) {
    throw new DemoError(`no project '${opts.project}' on ${base} (projects: ${list.map((p) => p.id).join(', ')})`);
  }

  // Generated lazily, batch by batch, as the requests go out.
  const batches = batch(
    demoSessions({ days: opts.days, sessions: opts.sessions, now: Date.now(), seed: opts.seed, prefix: opts.project }),
  );
  const result: DemoResult = { sessions: 0, skippedSessions: 0, events: 0, requests: 0, ms: 0 };
  let done = 0;
  const bar = progressBar(opts.progress, opts.sessions);
  const worker = async () => {
    for (;;) {
      const { value: b, done: finished } = batches.next();
      if (finished) return;
      const r = (await call(`${base}/api/v1/import?project=${encodeURIComponent(opts.project)}`, {
        method: 'POST',
        headers,
        body: b.body,
      })) as Omit<DemoResult, 'requests' | 'ms'>;
      result.sessions += r.sessions;
      result.skippedSessions += r.skippedSessions;
      result.events += r.events;
      result.requests++;
      done += b.count;
      bar(done);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  bar(opts.sessions, true);
  result.ms = Date.now() - started;
  return result;
}

/** Sessions into request bodies under the route's limits, one body at a time. */
export function* batch(sessions: Iterable<DemoSession>): Generator<{ body: string; count: number }> {
  let parts: string[] = [];
  let bytes = 0;
  let events = 0;
  for (const s of sessions) {
    const json = JSON.stringify(s);
    if (
      parts.length > 0 &&
      (bytes + json.length > MAX_BATCH_BYTES ||
        parts.length >= MAX_BATCH_SESSIONS ||
        events + s.events.length > MAX_BATCH_EVENTS)
    ) {
      yield { body: `{"sessions":[${parts.join(',')}]}`, count: parts.length };
      parts = [];
      bytes = 0;
      events = 0;
    }
    parts.push(json);
    bytes += json.length + 1;
    events += s.events.length;
  }
  if (parts.length > 0) yield { body: `{"sessions":[${parts.join(',')}]}`, count: parts.length };
}

async function call(url: string, init: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new DemoError(`cannot reach ${new URL(url).origin}: ${(err as Error).cause ?? (err as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text.slice(0, 300);
    try {
      message = (JSON.parse(text) as { error: { message: string } }).error.message;
    } catch {
      // not our error shape: show the start of the body
    }
    const hint = res.status === 401 ? ' (set SESSIONTRACK_ADMIN_TOKEN to the server’s admin token)' : '';
    throw new DemoError(`${init.method ?? 'GET'} ${new URL(url).pathname}: ${res.status} ${message}${hint}`);
  }
  return JSON.parse(text);
}

function progressBar(stream: NodeJS.WriteStream | null, total: number): (done: number, last?: boolean) => void {
  if (!stream) return () => {};
  const width = 30;
  let lastDrawn = -1;
  return (done, last = false) => {
    const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
    if (pct === lastDrawn && !(last && stream.isTTY)) return;
    lastDrawn = pct;
    const filled = Math.round((pct / 100) * width);
    const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(pct).padStart(3)}%  ${done}/${total} sessions`;
    // A TTY redraws one line; a pipe or file gets one line per step.
    if (stream.isTTY) stream.write(`\r${line}${last ? '\n' : ''}`);
    else if (last || pct % 10 === 0) stream.write(`${line}\n`);
  };
}
