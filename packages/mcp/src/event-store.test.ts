import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SqliteStore } from '@sessiontrack/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedSink } from './embedded-sink.js';
import { initializeBody } from './mcp.testkit.js';
import { createMcpSessions, type McpSessions } from './sessions.js';

// Resumable streams with the one event store the application passes (transportOptions.eventStore):
// each session resumes its own streams and only those. Through the Web handler, the SDK's real
// transport and its example in-memory store.

let store: SqliteStore;
let mcp: McpSessions;

function server(): McpServer {
  const s = new McpServer({ name: 'resumable', version: '1.0.0' }, { capabilities: { logging: {} } });
  // Two events on the call's SSE stream: a log notification, then the result.
  s.registerTool('report', {}, async (extra) => {
    await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: 'working' } });
    return { content: [{ type: 'text', text: `result for ${extra.sessionId}` }] };
  });
  return s;
}

beforeAll(() => {
  store = new SqliteStore({ filename: ':memory:' });
  mcp = createMcpSessions({
    sink: embeddedSink({ store }),
    createServer: () => server(),
    transportOptions: { eventStore: new InMemoryEventStore() },
  });
});
afterAll(async () => {
  await mcp.shutdown();
  await store.close();
});

const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-06-18',
};
const post = (body: unknown, session?: string) =>
  mcp.handleRequest(
    new Request('http://localhost/mcp', {
      method: 'POST',
      headers: { ...HEADERS, ...(session ? { 'mcp-session-id': session } : {}) },
      body: JSON.stringify(body),
    }),
  );
const resume = (session: string, lastEventId: string) =>
  mcp.handleRequest(
    new Request('http://localhost/mcp', {
      method: 'GET',
      headers: { ...HEADERS, accept: 'text/event-stream', 'mcp-session-id': session, 'last-event-id': lastEventId },
    }),
  );

async function open(name: string): Promise<string> {
  const res = await post(initializeBody(name));
  const id = res.headers.get('mcp-session-id') as string;
  await res.text();
  (await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, id)).body?.cancel();
  return id;
}

/** The SSE events of a finished response: id and data. */
function events(text: string): { id: string; data: string }[] {
  return text
    .split('\n\n')
    .map((block) => ({
      id: /^id: (.*)$/m.exec(block)?.[1] ?? '',
      data: /^data: (.*)$/m.exec(block)?.[1] ?? '',
    }))
    .filter((e) => e.id !== '');
}

/** Reads a replay stream (which stays open) until `until` shows up or a second has passed. */
async function readFor(res: Response, until: string): Promise<string> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + 1000;
  while (!text.includes(until) && Date.now() < deadline) {
    const chunk = await Promise.race([
      reader.read(),
      new Promise<null>((r) => setTimeout(() => r(null), deadline - Date.now())),
    ]);
    if (chunk === null || chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
  }
  await reader.cancel();
  return text;
}

describe('one event store for every session', () => {
  it("resumes a session's own stream, and refuses another session's event id without replaying anything", async () => {
    const a = await open('a');
    const b = await open('b');
    const call = await post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'report' } }, a);
    expect(call.headers.get('content-type')).toContain('text/event-stream');
    const sent = events(await call.text());
    expect(sent).toHaveLength(2);
    const [first] = sent;

    // Its own client resumes after the notification: the result comes again.
    const own = await resume(a, first?.id as string);
    expect(own.status).toBe(200);
    expect(await readFor(own, `result for ${a}`)).toContain(`result for ${a}`);

    // Another session with that id is told it is unknown, and is sent nothing of session a.
    const other = await resume(b, first?.id as string);
    expect(other.status).toBe(400);
    expect(await other.text()).not.toContain(`result for ${a}`);
  });
});
