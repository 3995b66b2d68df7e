import { createServer, type Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

// Real pieces for the tests: an SDK McpServer with the example's tools, a node:http server on a
// real port, and the SDK's own Client over StreamableHTTPClientTransport.

/** echo / add / fail, plus `whoami`, which shows what the server knows of its client. */
export function demoServer(): McpServer {
  const server = new McpServer({ name: 'sessiontrack-test', version: '1.0.0' }, { capabilities: { logging: {} } });
  server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  server.registerTool('add', { inputSchema: { a: z.number(), b: z.number() } }, async ({ a, b }) => ({
    content: [{ type: 'text', text: String(a + b) }],
  }));
  server.registerTool('fail', {}, async () => ({
    content: [{ type: 'text', text: 'failed on purpose' }],
    isError: true,
  }));
  server.registerTool('slow', { inputSchema: { ms: z.number() } }, async ({ ms }) => {
    await new Promise((r) => setTimeout(r, ms));
    return { content: [{ type: 'text', text: 'done' }] };
  });
  server.registerTool('whoami', {}, async (extra) => ({
    content: [
      {
        type: 'text',
        text: JSON.stringify({
          sessionId: extra.sessionId,
          client: server.server.getClientVersion() ?? null,
          capabilities: server.server.getClientCapabilities() ?? null,
        }),
      },
    ],
  }));
  return server;
}

export interface Listening {
  url: string;
  port: number;
  http: HttpServer;
  close(): Promise<void>;
}

/** node:http on `port` (0: any), every request to `handler`. */
export async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void> | void,
  port = 0,
): Promise<Listening> {
  const http = createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((err) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, '127.0.0.1', () => resolve());
  });
  const p = (http.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}/mcp`,
    port: p,
    http,
    close: () =>
      new Promise<void>((resolve) => {
        // SSE streams stay open: cut them, as a dying process would.
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

export interface Connected {
  client: Client;
  transport: StreamableHTTPClientTransport;
}

export async function connect(
  url: string,
  opts: { headers?: Record<string, string>; name?: string; sessionId?: string } = {},
): Promise<Connected> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: opts.headers ?? {} },
    // No background reconnects of the GET stream: the tests decide when requests happen.
    reconnectionOptions: {
      maxReconnectionDelay: 1000,
      initialReconnectionDelay: 1000,
      reconnectionDelayGrowFactor: 1,
      maxRetries: 0,
    },
    ...(opts.sessionId ? { sessionId: opts.sessionId } : {}),
  });
  const client = new Client({ name: opts.name ?? 'test-client', version: '2.3.4' }, { capabilities: { roots: {} } });
  await client.connect(transport);
  return { client, transport };
}

/** The text of a tool result. */
export function text(result: unknown): string {
  const c = (result as { content?: { type: string; text?: string }[] }).content?.[0];
  return c?.text ?? '';
}

/** A raw JSON-RPC POST, for status codes the SDK client hides. */
export async function rawPost(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-06-18',
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

export const initializeBody = (name = 'raw-client') => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name, version: '0.0.1' } },
});
