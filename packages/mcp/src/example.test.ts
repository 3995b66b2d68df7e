import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@sessiontrack/store';
import { afterAll, expect, it } from 'vitest';
import { postHugeInitialize, postWithHeaders, startExample } from './example.testkit.js';
import { connect, initializeBody, rawPost, text } from './mcp.testkit.js';

// Smoke test of examples/mcp-server as `npm run example:mcp` starts it (after the build).

const dir = mkdtempSync(join(tmpdir(), 'st-mcp-example-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('starts, serves echo, add and fail over MCP, and stores the session in its SQLite file', async () => {
  const example = await startExample({ SESSIONTRACK_DATA_DIR: dir });
  try {
    const { url } = example;
    expect(example.output).toContain('embedded sink');
    const { client, transport } = await connect(url, { name: 'smoke' });
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['add', 'echo', 'fail']);
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'hello' } }))).toBe('hello');
    expect(text(await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } }))).toBe('42');
    const failed = await client.callTool({ name: 'fail', arguments: {} });
    expect(failed.isError).toBe(true);
    const id = transport.sessionId as string;
    await client.close();
    example.proc.kill('SIGTERM');
    expect(await example.exited).toBe(0);

    const store = new SqliteStore({ filename: join(dir, 'sessiontrack.db') });
    try {
      // a graceful stop leaves the session disconnected: recoverable by the next process
      expect(await store.getSession('default', id)).toMatchObject({
        kind: 'mcp',
        toolCalls: 3,
        status: 'disconnected',
      });
      expect((await store.getEvents('default', id)).map((e) => [e.name, e.details?.isError])).toEqual([
        ['echo', false],
        ['add', false],
        ['fail', true],
      ]);
    } finally {
      await store.close();
    }
  } finally {
    await example.kill();
  }
});

it('answers 413 to a 200 MiB POST without a session id, and its memory stays where it was', async () => {
  const example = await startExample({ SESSIONTRACK_DATA_DIR: dir });
  try {
    const before = example.memory();
    const chunked = await postHugeInitialize(example.url, 200, false);
    const declared = await postHugeInitialize(example.url, 200, true);
    const after = example.memory();
    console.log(
      `example RSS: ${before.rssMiB.toFixed(0)} MiB at start, peak ${after.peakMiB.toFixed(0)} MiB after two 200 MiB POSTs`,
    );
    expect([chunked, declared]).toEqual([413, 413]);
    // The body is never held: the peak stays within a few chunks of the start.
    expect(after.peakMiB - before.peakMiB).toBeLessThan(48);
    // and it still serves
    const { client } = await connect(example.url, { name: 'after' });
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'ok' } }))).toBe('ok');
    await client.close();
  } finally {
    await example.kill();
  }
});

it('refuses Host and Origin headers of another site (DNS rebinding), and serves its own', async () => {
  const example = await startExample({ SESSIONTRACK_DATA_DIR: dir });
  try {
    const own = new URL(example.url).host;
    const init = initializeBody('rebinding');
    const call = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } };
    const answers = [
      await postWithHeaders(example.url, init, { host: 'attacker.example' }),
      await postWithHeaders(example.url, init, { host: `attacker.example:${new URL(example.url).port}` }),
      await postWithHeaders(example.url, init, { host: own, origin: 'http://attacker.example' }),
      await postWithHeaders(example.url, call, { host: 'attacker.example', 'mcp-session-id': 'mcp_x' }),
    ];
    expect(answers.map((a) => a.status)).toEqual([403, 403, 403, 403]);
    expect(answers[0]?.body).toContain('Host header not allowed');
    expect(answers[2]?.body).toContain('Origin not allowed');
    // Its own names (any port: the check is port-agnostic), with or without a local Origin.
    const ok = [
      await postWithHeaders(example.url, init, { host: own }),
      await postWithHeaders(example.url, init, { host: 'localhost', origin: 'http://localhost:5173' }),
    ];
    expect(ok.map((a) => a.status)).toEqual([200, 200]);
  } finally {
    await example.kill();
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
    expect(run.output).toContain("name: 'tools/call echo'");
    expect(run.output).toContain("'gen_ai.tool.name': 'echo'");
    expect(run.output).toContain("'gen_ai.operation.name': 'execute_tool'");
    expect(run.output).toContain("'error.type': 'tool_error'");
    expect(run.output).toMatch(/'mcp\.session\.id': 'mcp_/);
    expect(run.output).toContain('kind: 1'); // SpanKind.SERVER
  } finally {
    await run.kill();
  }
});

it('keeps a session its client was told about through a SIGKILL the moment it was told', async () => {
  const data = mkdtempSync(join(tmpdir(), 'st-mcp-kill-'));
  let example = await startExample({ SESSIONTRACK_DATA_DIR: data });
  try {
    const url = example.url;
    // The initialize answer's headers carry the id: the process dies as soon as they arrive,
    // long before the embedded sink's 100 ms batch would have been committed.
    const init = await rawPost(url, initializeBody('killed'));
    const id = init.headers.get('mcp-session-id') as string;
    await example.kill();
    expect(id).toMatch(/^mcp_/);
    example = await startExample({ SESSIONTRACK_DATA_DIR: data, PORT: new URL(url).port });
    // A real SDK client that keeps the id: recovered from the start committed before the answer.
    const { client, transport } = await connect(url, { sessionId: id });
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'after' } }))).toBe('after');
    expect(transport.sessionId).toBe(id);
    await client.close();
  } finally {
    await example.kill();
    rmSync(data, { recursive: true, force: true });
  }
});
