import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { McpRequest } from './options.js';

// Node's http (and Express) in front of the Web-standard handler: Hono's adapter turns the
// IncomingMessage into a Request and writes the Response back; what it cannot carry (a body the
// framework parsed already, `req.auth`, the original request for `principal`/`metadata`) goes
// around it.

export type WebHandler = (
  req: Request,
  opts: { parsedBody?: unknown; authInfo?: AuthInfo; source?: McpRequest },
) => Promise<Response>;

export type NodeHandler = (req: IncomingMessage, res: ServerResponse, body?: unknown) => Promise<void>;

/** The parsed body of a Node request, by request (a WeakMap: nothing to clean up). */
const parsedBodies = new WeakMap<IncomingMessage, { body: unknown }>();

export function nodeAdapter(handle: WebHandler): NodeHandler {
  const listener = getRequestListener(
    (request, env) => {
      const incoming = (env as { incoming: IncomingMessage & { auth?: AuthInfo } }).incoming;
      const parsed = parsedBodies.get(incoming);
      return handle(request, { parsedBody: parsed?.body, authInfo: incoming.auth, source: incoming });
    },
    { overrideGlobalObjects: false },
  );
  return async (req, res, body) => {
    if (body !== undefined) parsedBodies.set(req, { body });
    await listener(req, res);
  };
}
