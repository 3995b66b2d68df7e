import { normalizeAddress } from '@sessiontrack/core';
import type { McpRequest, Settings } from './options.js';
import { rpcError } from './rpc-errors.js';

// DNS rebinding protection, before anything else of a request is looked at (its body, its session).
// A page on attacker.example whose name the attacker re-points at 127.0.0.1 reaches a local server
// with `Host: attacker.example` (and its own Origin): the MCP spec asks local servers to refuse
// that. The SDK's transport can check it too (`enableDnsRebindingProtection`), but only for the
// exact `host:port` and only once a session's transport has the request; this check also covers
// requests without a session, is port-agnostic, and is on by default where it is safe to be: on a
// loopback socket, where only a local name can be meant (as the SDK's createMcpExpressApp does).

const LOOPBACK_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/** The hostnames a request may name (port-agnostic), or null when nothing is checked. */
function allowedHostsOf(s: Settings, source: McpRequest): readonly string[] | null {
  const configured = s.options.allowedHosts;
  if (configured === false) return null;
  if (configured) return configured.map((h) => h.toLowerCase());
  // Node tells the address the request arrived on; a Web Request does not (configure it there).
  const local = source instanceof Request ? null : source.socket?.localAddress;
  const address = local ? normalizeAddress(local) : null;
  return address && (address.startsWith('127.') || address === '::1') ? LOOPBACK_HOSTS : null;
}

const hostnameOf = (host: string): string | null => {
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    return null;
  }
};

/** A 403 answer for a request whose Host or Origin is not allowed, else null. */
export function refusedHost(s: Settings, req: Request, source: McpRequest): Response | null {
  const hosts = allowedHostsOf(s, source);
  const origins = s.options.allowedOrigins;
  if (hosts) {
    const host = req.headers.get('host');
    const name = host ? hostnameOf(host) : null;
    if (!name || !hosts.includes(name)) return rpcError(403, -32000, 'Forbidden: Host header not allowed');
  }
  const origin = req.headers.get('origin');
  // No Origin: not a browser (or a same-origin GET); the Host check above is what applies.
  if (origin === null) return null;
  const allowed = origins
    ? origins.includes(origin)
    : hosts
      ? (() => {
          const u = URL.canParse(origin) ? new URL(origin) : null;
          return u !== null && (u.protocol === 'http:' || u.protocol === 'https:') && hosts.includes(u.hostname);
        })()
      : true;
  return allowed ? null : rpcError(403, -32000, 'Forbidden: Origin not allowed');
}
