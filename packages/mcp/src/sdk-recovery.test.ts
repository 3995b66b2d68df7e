import { createRequire } from 'node:module';
import { getRequestListener } from '@hono/node-server';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, demoServer, initializeBody, type Listening, listen, rawPost, text } from './mcp.testkit.js';
import { replayInitialize, SdkRecoveryError } from './sdk-recovery.js';

// The guard of sdk-recovery.ts. If an SDK upgrade changes how a transport or server takes its
// session state, these tests fail, naming the SDK version: recovery must then be re-done (see
// the comment at the top of sdk-recovery.ts) before the peer dependency range may move.

const sdkVersion = (createRequire(import.meta.url)('@modelcontextprotocol/sdk/package.json') as { version: string })
  .version;
const why = `SDK ${sdkVersion}: recovery on a fresh transport (sdk-recovery.ts) is broken on this SDK version`;

let http: Listening | undefined;
afterEach(async () => {
  await http?.close();
  http = undefined;
});

const ID = 'mcp_recovered_session_id_0123456789abcd';
const INIT = {
  protocolVersion: '2025-06-18',
  capabilities: { roots: { listChanged: true } },
  clientName: 'old-client',
  clientVersion: '9.9.9',
};

async function recovered() {
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: () => ID });
  const server = demoServer();
  await server.connect(transport);
  await replayInitialize(transport, ID, INIT, new Request('http://127.0.0.1/mcp'));
  return { transport, server };
}

describe(`sdk-recovery on @modelcontextprotocol/sdk ${sdkVersion}`, () => {
  it('gives a fresh transport and server the state of the original handshake', async () => {
    const { transport, server } = await recovered();
    expect(transport.sessionId, why).toBe(ID);
    expect(server.server.getClientVersion(), why).toEqual({ name: 'old-client', version: '9.9.9' });
    expect(server.server.getClientCapabilities(), why).toEqual({ roots: { listChanged: true } });
    await server.close();
  });

  it('serves the old session id to a real client over HTTP, and refuses a second initialize', async () => {
    const { transport, server } = await recovered();
    const listener = getRequestListener((req) => transport.handleRequest(req), { overrideGlobalObjects: false });
    http = await listen((req, res) => listener(req, res));
    // A client that kept its session id does not initialize again (the SDK's reconnect path).
    const { client } = await connect(http.url, { sessionId: ID });
    const who = JSON.parse(text(await client.callTool({ name: 'whoami', arguments: {} })));
    expect(who, why).toEqual({
      sessionId: ID,
      client: { name: 'old-client', version: '9.9.9' },
      capabilities: { roots: { listChanged: true } },
    });
    expect(text(await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } })), why).toBe('42');
    // the transport counts as initialized: another initialize is refused, a foreign id is 404
    expect((await rawPost(http.url, initializeBody())).status, why).toBe(400);
    const foreign = await rawPost(
      http.url,
      { jsonrpc: '2.0', id: 5, method: 'tools/list' },
      { 'mcp-session-id': 'x'.repeat(20) },
    );
    expect(foreign.status, why).toBe(404);
    await client.close();
    await server.close();
  });

  it('fails loudly, not silently, when the replay cannot take', async () => {
    // A transport whose generator does not return the recovered id: the replay must say so.
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => 'another-id-0000000000',
    });
    const server = demoServer();
    await server.connect(transport);
    await expect(replayInitialize(transport, ID, INIT, new Request('http://127.0.0.1/mcp'))).rejects.toThrow(
      SdkRecoveryError,
    );
    // and an already-initialized transport refuses the replayed initialize
    const again = await recovered();
    await expect(replayInitialize(again.transport, ID, INIT, new Request('http://127.0.0.1/mcp'))).rejects.toThrow(
      /replayed initialize answered 400/,
    );
    await server.close();
    await again.server.close();
  });
});
