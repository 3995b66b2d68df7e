import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SqliteStore } from '@sessiontrack/store';
import { afterAll, expect, it } from 'vitest';
import { connect, text } from './mcp.testkit.js';

// Smoke test of examples/mcp-server as `npm run example:mcp` starts it (after the build).

const ROOT = resolve(import.meta.dirname, '../../..');
const dir = mkdtempSync(join(tmpdir(), 'st-mcp-example-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The example as `npm run example:mcp` starts it, with `env`; resolves once it listens. */
async function startExample(env: Record<string, string>) {
  if (!existsSync(join(ROOT, 'packages/mcp/dist/index.js'))) {
    throw new Error('packages/mcp/dist is missing: run `npx tsc -b` (npm test does) before this test');
  }
  const proc = spawn(process.execPath, ['examples/mcp-server/server.mjs'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', SESSIONTRACK_URL: '', SESSIONTRACK_WRITE_KEY: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run = { proc, out: '', url: '', exited: new Promise<number | null>((r) => proc.on('exit', (code) => r(code))) };
  proc.stdout.on('data', (d) => {
    run.out += d;
  });
  proc.stderr.on('data', (d) => {
    run.out += d;
  });
  run.url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`example did not start:\n${run.out}`)), 20_000);
    proc.stdout.on('data', () => {
      const m = /listening on (\S+)/.exec(run.out);
      if (m?.[1]) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    proc.on('exit', () => fail(new Error(`example exited:\n${run.out}`)));
  });
  return run;
}

it('starts, serves echo, add and fail over MCP, and stores the session in its SQLite file', async () => {
  const { proc, url, exited, out } = await startExample({ SESSIONTRACK_DATA_DIR: dir });
  try {
    expect(out).toContain('embedded sink');
    const { client, transport } = await connect(url, { name: 'smoke' });
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['add', 'echo', 'fail']);
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'hello' } }))).toBe('hello');
    expect(text(await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } }))).toBe('42');
    const failed = await client.callTool({ name: 'fail', arguments: {} });
    expect(failed.isError).toBe(true);
    const id = transport.sessionId as string;
    await client.close();
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);

    const store = new SqliteStore({ filename: join(dir, 'sessiontrack.db') });
    try {
      // a graceful stop leaves the session disconnected: recoverable by the next process
      expect(await store.getSession(id)).toMatchObject({ kind: 'mcp', toolCalls: 3, status: 'disconnected' });
      expect((await store.getEvents(id)).map((e) => [e.name, e.details?.isError])).toEqual([
        ['echo', false],
        ['add', false],
        ['fail', true],
      ]);
    } finally {
      await store.close();
    }
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
});

it('with OTEL_TRACES_EXPORTER=console prints a SERVER span per request with the conventions names', async () => {
  const run = await startExample({
    SESSIONTRACK_DATA_DIR: join(dir, 'otel'),
    OTEL_TRACES_EXPORTER: 'console',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
  });
  try {
    const { client } = await connect(run.url, { name: 'otel-smoke' });
    await client.callTool({ name: 'echo', arguments: { text: 'traced' } });
    await client.callTool({ name: 'fail', arguments: {} });
    await client.close();
    run.proc.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    // The console exporter prints each span as an object literal.
    expect(run.out).toContain("name: 'tools/call echo'");
    expect(run.out).toContain("'gen_ai.tool.name': 'echo'");
    expect(run.out).toContain("'gen_ai.operation.name': 'execute_tool'");
    expect(run.out).toContain("'error.type': 'tool_error'");
    expect(run.out).toMatch(/'mcp\.session\.id': 'mcp_/);
    expect(run.out).toContain('kind: 1'); // SpanKind.SERVER
  } finally {
    if (run.proc.exitCode === null) run.proc.kill('SIGKILL');
  }
});
