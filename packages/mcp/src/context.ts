import { continentOf, type Geo } from '@sessiontrack/core';

// Request context of a new MCP session, pure functions of the Web Request.

/**
 * Country and region, by the sessiontrack server's rules (packages/server/src/geo.ts): Cloudflare
 * Workers' `request.cf` is set by the platform and always believed; headers (CF-IPCountry with
 * CF-Region-Code / CF-Region, Vercel's X-Vercel-IP-Country / -Region) only with `trustProxy`,
 * because a client can send them too. XX (unknown), T1 (Tor) and anything that is not a country
 * code mean no country. Regions are ISO 3166-2 (`DE-BE`) when given as a code, else the name.
 * No IP lookup here: pass the `geo` option for that.
 */
export function geoFromRequest(req: Request, trustProxy: boolean): Geo {
  const cf = (req as Request & { cf?: { country?: unknown; regionCode?: unknown; region?: unknown } }).cf;
  const h = req.headers;
  const header = (...names: string[]) => {
    if (!trustProxy) return null;
    for (const n of names) {
      const v = h.get(n)?.trim();
      if (v) return v;
    }
    return null;
  };
  const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : null);
  const raw = str(cf?.country) ?? header('cf-ipcountry', 'x-vercel-ip-country');
  const country = raw && continentOf(raw) ? raw.toUpperCase() : null;
  if (!country) return { country: null, region: null, continent: null };
  const code = (str(cf?.regionCode) ?? header('cf-region-code', 'x-vercel-ip-country-region'))?.toUpperCase();
  const name = str(cf?.region) ?? header('cf-region');
  const region =
    code && /^[A-Z0-9]{1,3}$/.test(code)
      ? `${country}-${code}`
      : code && /^[A-Z]{2}-[A-Z0-9]{1,3}$/.test(code) && code.startsWith(`${country}-`)
        ? code
        : name && name.length <= 100 && !/\p{Cc}/u.test(name)
          ? name
          : null;
  return { country, region, continent: continentOf(country) };
}

/** The initialize request in a POST body (one message or a batch of one), or null. */
export function initializeParams(body: unknown): {
  protocolVersion: string | null;
  capabilities: Record<string, unknown> | null;
  clientName: string | null;
  clientVersion: string | null;
} | null {
  const msg = Array.isArray(body) ? body.find(isInitialize) : isInitialize(body) ? body : undefined;
  if (!msg) return null;
  const p = (msg as { params?: Record<string, unknown> }).params ?? {};
  const info = (p.clientInfo ?? {}) as Record<string, unknown>;
  const s = (v: unknown, max: number) => (typeof v === 'string' ? v.slice(0, max) : null);
  const caps = p.capabilities;
  return {
    protocolVersion: s(p.protocolVersion, 32),
    capabilities: caps && typeof caps === 'object' && !Array.isArray(caps) ? (caps as Record<string, unknown>) : null,
    clientName: s(info.name, 128),
    clientVersion: s(info.version, 64),
  };
}

function isInitialize(m: unknown): boolean {
  return Boolean(m && typeof m === 'object' && (m as { method?: unknown }).method === 'initialize' && 'id' in m);
}
