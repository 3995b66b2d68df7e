import { forwardedClient, type Geo } from '@sessiontrack/core';
import { geoFromRequest } from '../context.js';
import type { McpRequest, Settings } from './options.js';

/** Where the client of a new session is: its geo, and its address for a remote sink to forward. */
export function clientLocation(
  s: Settings,
  req: Request,
  source: McpRequest,
): { geo: Geo; clientAddress: string | null } {
  // The right-most untrusted X-Forwarded-For hop (core's forwardedClient, the server's rule too):
  // the left-most entry is whatever the client sent. The socket's peer is known on Node only.
  const peer = source instanceof Request ? null : (source.socket?.remoteAddress ?? null);
  const client = forwardedClient(req.headers.get('x-forwarded-for'), peer, s.trustProxy);
  // The platform's or a trusted proxy's word first; the author's lookup when they say nothing.
  const g = geoFromRequest(req, client.proxied);
  return { geo: g.country || !s.options.geo ? g : s.options.geo(req), clientAddress: client.address };
}
