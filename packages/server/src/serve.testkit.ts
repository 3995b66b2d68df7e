import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

// The server as a user runs it, for the real-port tests (CLI, PostgreSQL, browser e2e): the built
// CLI (`npx sessiontrack serve`), a free port, the banner parsed for its URL and write key.

export const BIN = resolve(import.meta.dirname, '../bin/sessiontrack.js');

export interface RunningServer {
  proc: ChildProcess;
  url: string;
  writeKey: string;
  /** stdout (the banner and pino's JSON lines) and stderr, as written so far. */
  out: () => string;
  err: () => string;
  /** Stops it (SIGKILL after 10 s) and answers its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<RunningServer>();

/** Stops whatever a test left running (call from afterAll). */
export const stopAll = () => Promise.all([...running].map((r) => r.stop()));

/** `sessiontrack serve --port 0 <args>` with `env` added to this process's environment. */
export function serve(args: string[], env: Record<string, string> = {}): Promise<RunningServer> {
  if (!existsSync(resolve(import.meta.dirname, '../dist/cli.js'))) {
    throw new Error('packages/server/dist is missing: run `npx tsc -b` (npm test does) before these tests');
  }
  const proc = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d) => {
    out += d;
  });
  proc.stderr?.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`server did not start:\n${out}\n${err}`)), 20_000);
    const check = () => {
      const url = /listening on (\S+)/.exec(out)?.[1];
      const writeKey = /write key: (\S+)/.exec(out)?.[1];
      if (!url || !writeKey) return;
      clearTimeout(timer);
      const r: RunningServer = {
        proc,
        url,
        writeKey,
        out: () => out,
        err: () => err,
        stop: async (signal = 'SIGTERM') => {
          running.delete(r);
          if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
          proc.kill(signal);
          const kill = setTimeout(() => proc.kill('SIGKILL'), 10_000);
          const code = await exited;
          clearTimeout(kill);
          return code;
        },
      };
      running.add(r);
      ok(r);
    };
    proc.stdout?.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`server exited with ${code}:\n${out}\n${err}`));
    });
  });
}
