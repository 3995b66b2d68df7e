import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';

// examples/mcp-server as a real child process, as `npm run example:mcp` starts it (after the
// build): for the smoke test, and for what only a separate process shows (its memory, SIGKILL).

export const ROOT = resolve(import.meta.dirname, '../../..');

export interface Example {
  url: string;
  proc: ChildProcess;
  /** Everything it printed so far. */
  readonly output: string;
  /** Resolves with the exit code (null after a signal). */
  exited: Promise<number | null>;
  /** Its resident set now and at its peak, in MiB (Linux /proc). */
  memory(): { rssMiB: number; peakMiB: number };
  /** SIGKILL, and wait for it to be gone. */
  kill(): Promise<void>;
}

/** Starts the example on a free port; its environment on top of `env` (set '' to unset). */
export async function startExample(env: Record<string, string>): Promise<Example> {
  if (!existsSync(join(ROOT, 'packages/mcp/dist/index.js'))) {
    throw new Error('packages/mcp/dist is missing: run `npx tsc -b` (npm test does) before this test');
  }
  const proc = spawn(process.execPath, ['examples/mcp-server/server.mjs'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', SESSIONTRACK_URL: '', SESSIONTRACK_WRITE_KEY: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d) => {
    out += d;
  });
  proc.stderr?.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`example did not start:\n${out}`)), 20_000);
    proc.stdout?.on('data', () => {
      const m = /listening on (\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    proc.on('exit', () => fail(new Error(`example exited:\n${out}`)));
  });
  return {
    url,
    proc,
    get output() {
      return out;
    },
    exited,
    memory() {
      const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
      const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
      return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * POSTs an initialize padded to `mib` MiB to `url` without a session id, streamed (chunked, or
 * with its Content-Length when `declared`) from one reused buffer, so that the sender holds
 * 1 MiB however large the body. Resolves with the status once the server answers (it may answer
 * and close before the body is all sent), or null if the connection died without an answer.
 * Declared: the body follows only if no answer came within 2 s.
 */
export function postHugeInitialize(url: string, mib: number, declared: boolean): Promise<number | null> {
  const head = Buffer.from(
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"huge","version":"1"},"pad":"',
  );
  const tail = Buffer.from('"}}');
  const chunk = Buffer.alloc(1024 * 1024, 'x');
  const length = head.length + mib * chunk.length + tail.length;
  return new Promise((resolve) => {
    let answered = false;
    const req = request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...(declared ? { 'content-length': String(length) } : {}),
      },
    });
    req.on('response', (res) => {
      answered = true;
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? null));
      req.destroy();
    });
    req.on('error', () => {
      if (!answered) resolve(null);
    });
    req.on('close', () => {
      if (!answered) resolve(null);
    });
    let sent = 0;
    const pump = () => {
      if (sent === 0) req.write(head);
      while (sent < mib && !answered) {
        sent++;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!answered) req.end(tail);
    };
    if (!declared) return pump();
    // A declared length is refused before a byte of the body is read: wait for that answer first,
    // as a client sending `Expect: 100-continue` would (writing on would race the server's close).
    req.flushHeaders();
    setTimeout(() => {
      if (!answered) pump();
    }, 2000);
  });
}

/** A POST over node:http, which (unlike fetch) sends any Host header it is given. */
export function postWithHeaders(
  url: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}
