import { isbot } from 'isbot';
import UAParser from 'ua-parser-js';
import type { Device, EntrySource } from './types.js';

// Derivations from what a client sends. Pure: the caller passes every input (the Origin header,
// the user agent); nothing here reads a clock, a network or a file.

/** A page as stored: its path only — no host, no query string, no fragment. */
export function pagePath(page: string | null | undefined): string | null {
  if (!page) return null;
  const url = parseUrl(page);
  if (url) return url.pathname || '/';
  // A bare path: cut the query string and the fragment.
  const cut = page.search(/[?#]/);
  const path = cut === -1 ? page : page.slice(0, cut);
  return path || '/';
}

/** The host of a page given as a full URL, else of the Origin header (for pages given as paths). */
export function pageHost(page: string | null | undefined, origin: string | null | undefined): string | null {
  return (page ? parseUrl(page)?.host : undefined) ?? (origin ? parseUrl(origin)?.host : undefined) ?? null;
}

/**
 * Where a visit came from: `direct` without a referrer, `internal` when the referrer is the page's
 * own host (www. ignored), else `external`. An unparseable referrer counts as external: somebody
 * sent it on purpose.
 */
export function entrySource(referrer: string | null | undefined, host: string | null): EntrySource {
  if (!referrer) return 'direct';
  const ref = parseUrl(referrer);
  if (!ref) return 'external';
  if (host && bareHost(ref.host) === bareHost(host)) return 'internal';
  return 'external';
}

/** The referrer as stored: origin and path, without query string (which can carry tokens). */
export function referrerForStorage(referrer: string | null | undefined): string | null {
  if (!referrer) return null;
  const ref = parseUrl(referrer);
  if (ref) return `${ref.protocol}//${ref.host}${ref.pathname}`;
  // Not a URL: keep it (somebody sent it on purpose), but never its query string either.
  return referrer.split(/[?#]/)[0]?.slice(0, 256) || null;
}

/** `utm_campaign` of a page URL or a path with a query string. */
export function campaignFromPage(page: string | null | undefined): string | null {
  if (!page) return null;
  const q = page.indexOf('?');
  if (q === -1) return null;
  const hash = page.indexOf('#', q);
  const params = new URLSearchParams(page.slice(q + 1, hash === -1 ? undefined : hash));
  return params.get('utm_campaign') || null;
}

/** All `utm_*` parameters of a page, for metadata. */
export function utmParams(page: string | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!page) return out;
  const q = page.indexOf('?');
  if (q === -1) return out;
  for (const [k, v] of new URLSearchParams(page.slice(q + 1).split('#')[0])) {
    if (k.startsWith('utm_') && v) out[k] = v;
  }
  return out;
}

/** Device type, browser and OS from a user agent (ua-parser-js 1.x, MIT). */
export function deviceFromUserAgent(userAgent: string | null | undefined): Omit<Device, 'screenSize'> {
  if (!userAgent) return { type: null, browser: null, os: null };
  const ua = new UAParser(userAgent).getResult();
  // ua-parser-js leaves the type empty for desktops: anything that is not a known handheld or
  // console and has a recognised OS is a desktop.
  const t = ua.device.type;
  const type =
    t === 'mobile' || t === 'tablet' || t === 'console' || t === 'smarttv' || t === 'wearable'
      ? t
      : t === 'embedded'
        ? 'other'
        : ua.os.name
          ? 'desktop'
          : null;
  return { type, browser: ua.browser.name ?? null, os: ua.os.name ?? null };
}

/**
 * HTTP libraries and API tools that name themselves plainly. isbot counts them as bots, which is
 * right for a page view but wrong here: they are programs sending on purpose (a backend, a
 * script, `curl` from the README), and a web session they start is real. Crawlers, spiders,
 * headless browsers and monitoring agents stay bots.
 */
const HTTP_CLIENT =
  /^(?:curl|wget|node|undici|node-fetch|axios|python-requests|python-urllib|python-httpx|PostmanRuntime|insomnia)\b/i;

/** A crawler or other bot by its user agent (the maintained `isbot` list). Empty agents are not bots. */
export function isBotUserAgent(userAgent: string | null | undefined): boolean {
  return Boolean(userAgent) && !HTTP_CLIENT.test(userAgent as string) && isbot(userAgent);
}

function parseUrl(s: string): URL | null {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return null;
  try {
    return new URL(s);
  } catch {
    return null;
  }
}

function bareHost(host: string): string {
  return host.toLowerCase().replace(/^www\./, '');
}
