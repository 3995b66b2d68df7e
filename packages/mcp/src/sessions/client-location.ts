import { forwardedClient, type Geo, trustsProxy } from '@sessiontrack/core';
import { geoFromRequest } from '../context.js';
import type { McpRequest, Settings } from './options.js';

/** Where the client of a new session is: its geo, and its address for a remote sink to forward. */
export function clientLocation(
  s: Settings,
  req: Request,
  source: McpRequest,
): { geo: Geo; clientAddress: string | null } {
  // The platform's or proxy's word first; the author's lookup when they say nothing.
  const g = geoFromRequest(req, trustsProxy(s.trustProxy));
  return {
    geo: g.country || !s.options.geo ? g : s.options.geo(req),
    clientAddress: addressOf(req, source, s),
  };
}

/**
 * The right-most untrusted hop (packages/core/src/forwarded.ts, the server's rule too): the
 * left-most X-Forwarded-For entry is whatever the client sent. The socket's peer is known on
 * Node only; behind a Web `Request` the platform is taken as the first trusted hop.
 */
function addressOf(req: Request, source: McpRequest, s: Settings): string | null {
  const peer = source instanceof Request ? null : (source.socket?.remoteAddress ?? null);
  return forwardedClient(req.headers.get('x-forwarded-for'), peer, s.trustProxy);
}
