import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type RunningServer, serve, stopAll } from '../../server/src/serve.testkit.js';
import { connect, demoServer, initializeBody, type Listening, listen, rawPost } from './mcp.testkit.js';
import { remoteSink } from './remote-sink.js';
import { createMcpSessions, type McpSessions } from './sessions.js';

// The remote sink against a real sessiontrack server process (the CLI, SQLite in a temp dir),
// including a restart of that server in the middle of a run.

const ADMIN = 'test-admin-token-0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'st-mcp-remote-'));
afterAll(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const start = (port?: number) =>
  serve(['--data-dir', dir, '--sweep-interval', '1000', ...(port ? ['--port', String(port)] : [])], {
    SESSIONTRACK_ADMIN_TOKEN: ADMIN,
    LOG_LEVEL: 'warn',
  });

const portOf = (s: RunningServer) => Number(new URL(s.url).port);

async function read(server: RunningServer, id: string) {
  const res = await fetch(`${server.url}/api/v1/sessions/${id}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown> & {
      events: { name: string; details: Record<string, unknown> }[];
    },
  };
}

/** A raw MCP request with a session id; once more if it met a keep-alive socket of a dead process. */
async function retriedPost(url: string, sessionId: string): Promise<Response> {
  const post = () => rawPost(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': sessionId });
  try {
    return await post();
  } catch {
    return post();
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(server: RunningServer, over: { port?: number; graceMs?: number } = {}) {
  const sink = remoteSink({ url: server.url, writeKey: server.writeKey, flushIntervalMs: 20 });
  const mcp: McpSessions = createMcpSessions({
    sink,
    createServer: () => demoServer(),
    ...(over.graceMs === undefined ? {} : { graceMs: over.graceMs }),
  });
  const http: Listening = await listen((req, res) => mcp.handle(req, res), over.port);
  cleanups.push(async () => {
    await http.close();
    await mcp.shutdown();
  });
  return { sink, mcp, http };
}

describe('remote sink', () => {
  it('delivers every tool call exactly once while the sessiontrack server restarts mid-run', async () => {
    let server = await start();
    const port = portOf(server);
    const { sink, http } = await rig(server);
    const { client, transport } = await connect(http.url, { name: 'remote-client' });
    const id = transport.sessionId as string;

    const N = 60;
    for (let i = 0; i < N; i++) {
      if (i === 20) await server.stop('SIGKILL'); // the server dies with writes queued or in flight …
      if (i === 40) server = await start(port); // … and comes back on the same address
      const r = await client.callTool({ name: i % 10 === 9 ? 'fail' : 'add', arguments: { a: i, b: 1 } });
      expect(r.isError === true).toBe(i % 10 === 9);
      await new Promise((r) => setTimeout(r, 5));
    }
    await sink.flush();
    expect(sink.pending).toBe(0);
    expect(sink.dropped).toBe(0);

    const { status, body } = await read(server, id);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      kind: 'mcp',
      transport: 'streamable-http',
      toolCalls: N,
      metadata: { clientName: 'remote-client', clientVersion: '2.3.4' },
    });
    expect(body.events).toHaveLength(N);
    expect(body.events.filter((e) => e.details.isError === true)).toHaveLength(N / 10);

    await transport.terminateSession();
    await sink.flush();
    expect((await read(server, id)).body).toMatchObject({ status: 'ended', exit: { reason: 'logout' } });
    await client.close();
  });

  it('recovers a session after the MCP process restarts, through the server (heartbeat), and keeps agent state', async () => {
    const server = await start();
    let r = await rig(server);
    const port = r.http.port;
    const { client, transport } = await connect(r.http.url, { name: 'agent' });
    const id = transport.sessionId as string;
    await client.callTool({ name: 'echo', arguments: { text: 'one' } });
    await r.mcp.state.set(id, 'planner', 'plan', { step: 2 }, { ttlMs: 60_000 });
    await r.sink.flush();

    // the MCP process dies; a new one (fresh memory, same sessiontrack server) takes over
    await r.http.close();
    r = await rig(server, { port });
    let who: string | undefined;
    for (let i = 0; i < 2 && !who; i++) {
      try {
        who = JSON.parse(
          ((await client.callTool({ name: 'whoami', arguments: {} })).content as { text: string }[])[0]?.text ?? '',
        ).client.name;
      } catch (err) {
        if (!(err instanceof TypeError)) throw err; // a keep-alive socket of the dead process
      }
    }
    expect(who).toBe('agent');
    expect(r.mcp.get(id)?.recoveryAttempts).toBe(1);
    expect(await r.mcp.state.get(id, 'planner', 'plan')).toEqual({ step: 2 });
    await r.mcp.state.delete(id, 'planner');
    expect(await r.mcp.state.get(id, 'planner', 'plan')).toBeUndefined();
    await r.sink.flush();
    const { body } = await read(server, id);
    expect(body).toMatchObject({ status: 'active', recoveryAttempts: 1, toolCalls: 2 });

    // an unknown session is not recovered
    const res = await rawPost(
      r.http.url,
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { 'mcp-session-id': 'mcp_unknown_to_the_server_000000000000' },
    );
    expect(res.status).toBe(404);
    await client.close();
  });

  it('counts the grace of a session whose process died from its last activity, as the embedded sink does', async () => {
    const server = await start();
    let r = await rig(server);
    const port = r.http.port;
    const { client, transport } = await connect(r.http.url);
    const id = transport.sessionId as string;
    await client.callTool({ name: 'echo', arguments: { text: 'one' } });
    await r.sink.flush();
    // the process dies without a word; the next one grants 1 s of grace, and the client comes back
    // after 1.5 s: counted from the last activity that is too late (from the disconnect the next
    // process writes, it would be in time)
    await r.http.close();
    r = await rig(server, { port, graceMs: 1000 });
    await new Promise((ok) => setTimeout(ok, 1500));
    const res = await retriedPost(r.http.url, id);
    expect(res.status).toBe(404);
    expect(r.mcp.tombstone(id)?.reason).toBe('unrecoverable');
    await client.close().catch(() => {});
  });

  it('forwards where the client is to a server behind a trusted proxy: headers, or the address lookup', async () => {
    const geoDir = mkdtempSync(join(tmpdir(), 'st-mcp-geo-'));
    const server = await serve(['--data-dir', geoDir, '--trust-proxy'], {
      SESSIONTRACK_ADMIN_TOKEN: ADMIN,
      LOG_LEVEL: 'warn',
    });
    const sink = remoteSink({ url: server.url, writeKey: server.writeKey, flushIntervalMs: 20 });
    const mcp = createMcpSessions({ sink, createServer: () => demoServer(), trustProxy: true });
    const http = await listen((req, res) => mcp.handle(req, res));
    cleanups.push(async () => {
      await http.close();
      await mcp.shutdown();
      await server.stop();
      rmSync(geoDir, { recursive: true, force: true });
    });
    // behind Cloudflare: the country and region headers travel on
    const viaCf = await connect(http.url, { headers: { 'cf-ipcountry': 'DE', 'cf-region-code': 'BE' } });
    // behind another proxy: the client's address (the hop the proxy appended, not the private one
    // the client wrote to its left) travels on, the server looks it up (bundled database)
    const viaXff = await connect(http.url, { headers: { 'x-forwarded-for': '10.0.0.1, 8.8.8.8' } });
    await sink.flush();
    expect((await read(server, viaCf.transport.sessionId as string)).body.geo).toEqual({
      country: 'DE',
      region: 'DE-BE',
      continent: 'EU',
    });
    expect((await read(server, viaXff.transport.sessionId as string)).body.geo).toMatchObject({
      country: 'US',
      continent: 'NA',
    });
    // and the address itself is nowhere in what the server answers
    expect(JSON.stringify((await read(server, viaXff.transport.sessionId as string)).body)).not.toContain('8.8.8.8');
  });

  it('has the start acknowledged by the server before the initialize answer, queued writes or not', async () => {
    const server = await start();
    // Nothing queued would be sent for a minute: only the start's own send can explain the session.
    const sink = remoteSink({ url: server.url, writeKey: server.writeKey, flushIntervalMs: 60_000 });
    const mcp = createMcpSessions({ sink, createServer: () => demoServer() });
    const http = await listen((req, res) => mcp.handle(req, res));
    cleanups.push(async () => {
      await http.close();
      await mcp.shutdown();
    });
    const init = await rawPost(http.url, initializeBody('acked'));
    const id = init.headers.get('mcp-session-id') as string;
    expect((await read(server, id)).status).toBe(200);
  });

  it('answers 503 to an initialize the server cannot take, and keeps nothing of it', async () => {
    const down = await start();
    const url = down.url;
    await down.stop();
    const sink = remoteSink({ url, writeKey: 'wk_irrelevant', timeoutMs: 1000 });
    const mcp = createMcpSessions({ sink, createServer: () => demoServer() });
    cleanups.push(() => mcp.shutdown());
    const res = await mcp.handleRequest(
      new Request('http://localhost/mcp', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify(initializeBody('refused')),
      }),
    );
    expect(res.status).toBe(503);
    expect(res.headers.get('mcp-session-id')).toBeNull();
    expect(mcp.activeCount()).toBe(0);
  });

  it('answers 503 (retry) to a recovery while the sessiontrack server is unreachable', async () => {
    const down = await start();
    const url = down.url;
    await down.stop();
    const sink = remoteSink({ url, writeKey: 'wk_irrelevant', timeoutMs: 2000 });
    const mcp = createMcpSessions({ sink, createServer: () => demoServer() });
    const http = await listen((req, res) => mcp.handle(req, res));
    cleanups.push(async () => {
      await http.close();
      await mcp.shutdown();
    });
    const res = await rawPost(
      http.url,
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { 'mcp-session-id': 'mcp_some_session_of_before_000000000000' },
    );
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    // not tombstoned: once the server is back, the session may still be recovered
    expect(mcp.tombstone('mcp_some_session_of_before_000000000000')).toBeUndefined();
  });
});
