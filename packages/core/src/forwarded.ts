// Which address is the client's, behind proxies. Every proxy appends the peer it saw to
// X-Forwarded-For, so only the right end of the list was written by someone we trust; anything to
// the left of the first untrusted hop may be the client's own invention. The rule is Express's
// `trust proxy` (proxy-addr): walk from the socket's peer leftwards through X-Forwarded-For while
// the hop is trusted; the first untrusted one is the client. Pure (no node:net), so the server and
// the MCP package, on any runtime, decide it the same way.

/**
 * Whom to believe: `0` nobody (the socket's peer is the client), a count of proxies in front (the
 * peer and the n - 1 hops before it), or the proxies' addresses and ranges (`10.0.0.0/8`, `::1`).
 */
export type TrustProxy = number | readonly string[];

/** An address parsed: its family and its bits. */
interface Parsed {
  v6: boolean;
  bits: bigint;
}

/** A trusted range, `Parsed` with a prefix length. */
interface Range extends Parsed {
  prefix: number;
}

/** Named ranges, as Express knows them: the usual places a proxy of one's own sits. */
const NAMED: Record<string, readonly string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/**
 * An option or flag value as a `TrustProxy`: `false`/`''`/`'0'` nobody, `true` one proxy, a
 * non-negative integer that many, else a comma-separated list of addresses, CIDR ranges and the
 * names loopback, linklocal, uniquelocal. Throws a RangeError naming what it could not read.
 */
export function parseTrustProxy(raw: boolean | number | string | readonly string[] | undefined | null): TrustProxy {
  if (raw === undefined || raw === null || raw === false) return 0;
  if (raw === true) return 1;
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw) || raw < 0) throw new RangeError(`trust proxy: ${raw} is not a count of proxies`);
    return raw;
  }
  const list = typeof raw === 'string' ? raw.split(',') : raw;
  const entries = list.map((e) => e.trim()).filter((e) => e !== '');
  if (entries.length === 0) return 0;
  if (entries.length === 1 && /^\d+$/.test(entries[0] as string)) return Number(entries[0]);
  for (const e of entries) {
    if (!(e in NAMED) && !parseRange(e))
      throw new RangeError(`trust proxy: "${e.slice(0, 60)}" is not an address or range`);
  }
  return entries;
}

/** Whether anything is trusted at all (e.g. to believe a proxy's geo headers). */
export const trustsProxy = (trust: TrustProxy): boolean => (typeof trust === 'number' ? trust > 0 : trust.length > 0);

/**
 * The client's address, normalised (no brackets, port or zone; IPv4-mapped IPv6 as IPv4), or null
 * when none is known. `peer` is the socket's remote address; null where the runtime does not tell
 * (a Web `Request`): the peer is then taken as the first trusted hop, the platform's own proxy.
 * A hop that is not an address ends the walk at the last address that was: a garbled entry
 * cannot be the client, and the hop to its right (a trusted proxy, or the peer) wrote it.
 */
export function forwardedClient(
  xForwardedFor: string | null | undefined,
  peer: string | null,
  trust: TrustProxy,
): string | null {
  const peerAddr = peer === null ? null : normaliseAddress(peer);
  if (!trustsProxy(trust)) return peerAddr;
  const isTrusted = trustTest(trust);
  if (peerAddr !== null && !isTrusted(peerAddr, 0)) return peerAddr;
  if (peer !== null && peerAddr === null) return null;
  const hops = (xForwardedFor ?? '').split(',');
  let last = peerAddr;
  // Hop 1 is the right-most X-Forwarded-For entry (the one the peer appended).
  for (let i = hops.length - 1, hop = 1; i >= 0; i--, hop++) {
    const raw = hops[i]?.trim() ?? '';
    if (raw === '' && hops.length === 1) break;
    const addr = normaliseAddress(raw);
    if (addr === null) return last;
    if (!isTrusted(addr, hop)) return addr;
    last = addr;
  }
  // Every hop was trusted: the left-most is as far as anyone can tell.
  return last;
}

/** `raw` as an address (brackets, port and zone dropped, IPv4-mapped IPv6 as IPv4), else null. */
export function normaliseAddress(raw: string): string | null {
  let a = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
  if (bracketed) a = bracketed[1] as string;
  else if (/^[\d.]+:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(':'));
  a = a.replace(/%.*$/, '');
  const p = parse(a);
  if (!p) return null;
  if (p.v6 && p.bits >> 32n === 0xffffn) return format({ v6: false, bits: p.bits & 0xffffffffn });
  return format(p);
}

function trustTest(trust: TrustProxy): (addr: string, hop: number) => boolean {
  if (typeof trust === 'number') return (_addr, hop) => hop < trust;
  const ranges = trust.flatMap((e) => NAMED[e] ?? [e]).map(parseRange);
  return (addr) => {
    const p = parse(addr);
    return p !== null && ranges.some((r) => r !== null && inRange(p, r));
  };
}

function inRange(p: Parsed, r: Range): boolean {
  if (p.v6 !== r.v6) return false;
  const width = p.v6 ? 128 : 32;
  const shift = BigInt(width - r.prefix);
  return p.bits >> shift === r.bits >> shift;
}

function parseRange(raw: string): Range | null {
  const [addr, prefixText, extra] = raw.split('/');
  if (extra !== undefined || addr === undefined) return null;
  const normal = normaliseAddress(addr);
  const p = normal === null ? null : parse(normal);
  if (!p) return null;
  const width = p.v6 ? 128 : 32;
  if (prefixText === undefined) return { ...p, prefix: width };
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > width) return null;
  return { ...p, prefix: Number(prefixText) };
}

function parse(a: string): Parsed | null {
  const v4 = parse4(a);
  if (v4 !== null) return { v6: false, bits: v4 };
  const v6 = parse6(a);
  return v6 === null ? null : { v6: true, bits: v6 };
}

function parse4(a: string): bigint | null {
  const parts = a.split('.');
  if (parts.length !== 4) return null;
  let bits = 0n;
  for (const part of parts) {
    // No leading zeros: 010 is octal to some parsers and decimal to others.
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return null;
    bits = (bits << 8n) | BigInt(part);
  }
  return bits;
}

function parse6(a: string): bigint | null {
  if (a.length > 45 || !/^[0-9a-fA-F:.]+$/.test(a)) return null;
  const halves = a.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string): bigint[] | null => {
    if (s === '') return [];
    const out: bigint[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      if (i === parts.length - 1 && part.includes('.')) {
        const v4 = parse4(part);
        if (v4 === null) return null;
        out.push(v4 >> 16n, v4 & 0xffffn);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) out.push(BigInt(`0x${part}`));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0] as string);
  const tail = halves.length === 2 ? groups(halves[1] as string) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  let bits = 0n;
  for (const g of [...head, ...Array<bigint>(halves.length === 2 ? missing : 0).fill(0n), ...tail])
    bits = (bits << 16n) | g;
  return bits;
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, the longest zero run as ::). */
function format(p: Parsed): string {
  if (!p.v6) return [24n, 16n, 8n, 0n].map((s) => String((p.bits >> s) & 0xffn)).join('.');
  const g = Array.from({ length: 8 }, (_, i) => Number((p.bits >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
