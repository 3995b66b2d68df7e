import type { Geo } from '@sessiontrack/core';
import { geoFromRequest } from '../context.js';
import type { McpRequest, Settings } from './options.js';

/** Where the client of a new session is: its geo, and its address for a remote sink to forward. */
export function clientLocation(
  s: Settings,
  req: Request,
  source: McpRequest,
): { geo: Geo; clientAddress: string | null } {
  // The platform's or proxy's word first; the author's lookup when they say nothing.
  const g = geoFromRequest(req, s.trustProxy);
  return {
    geo: g.country || !s.options.geo ? g : s.options.geo(req),
    clientAddress: addressOf(req, source, s.trustProxy),
  };
}

/** First X-Forwarded-For entry (behind a trusted proxy), else the socket's peer (Node only). */
function addressOf(req: Request, source: McpRequest, trustProxy: boolean): string | null {
  const forwarded = trustProxy ? req.headers.get('x-forwarded-for')?.split(',', 1)[0]?.trim() : undefined;
  if (forwarded) return forwarded.slice(0, 64);
  return source instanceof Request ? null : (source.socket?.remoteAddress ?? null);
}
