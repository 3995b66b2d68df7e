// Who the client is behind reverse proxies, for the server and the MCP integration alike (one rule
// for both, docs/operations.md "Security"). Each proxy appends the address of its peer to
// X-Forwarded-For, so only the right-hand end of the header is written by proxies we trust; anything
// to the left of the first untrusted hop is whatever the client chose to send. As Express's
// `trust proxy` (proxy-addr): walk from the socket's peer leftwards while the hop is trusted, and the
// first untrusted hop is the client. Pure (no node:net) so that it runs wherever core runs.

/** A network (`10.0.0.0/8`, `fc00::/7`), as its address bytes (4 or 16) and prefix length. */
export interface AddressRange {
  readonly bytes: readonly number[];
  readonly prefix: number;
}

/**
 * Which peers may speak for a client. `false`: nobody, the socket's peer is the client. `hops`: that
 * many proxies stand in front (1: the peer is a proxy and the right-most X-Forwarded-For entry is the
 * client). `ranges`: a peer or hop inside one of them is a proxy.
 */
export type TrustProxy = false | { readonly hops: number } | { readonly ranges: readonly AddressRange[] };

export interface ForwardedClient {
  /** The client's address, normalised (see normalizeAddress); null when nothing names one. */
  address: string | null;
  /** The request came through a trusted proxy: its other headers (CF-IPCountry …) may be believed. */
  proxied: boolean;
}

export const MAX_TRUSTED_HOPS = 100;

// Express's names for the ranges a proxy usually sits in.
const NAMED_RANGES: Record<string, string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/**
 * `--trust-proxy`'s text: `0` (off), a number of hops (`1`, `2`), or a comma-separated list of
 * addresses, CIDR ranges and the names loopback, linklocal, uniquelocal. Throws RangeError saying what
 * is wrong.
 */
export function parseTrustProxy(text: string): TrustProxy {
  const raw = text.trim();
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops > MAX_TRUSTED_HOPS) throw new RangeError(`at most ${MAX_TRUSTED_HOPS} hops, got ${hops}`);
    return hops === 0 ? false : { hops };
  }
  const ranges: AddressRange[] = [];
  for (const item of raw.split(',')) {
    const entry = item.trim().toLowerCase();
    const named = NAMED_RANGES[entry];
    const parsed = (named ?? [entry]).map(parseRange);
    if (!entry || parsed.some((r) => !r))
      throw new RangeError(
        `expected a number of hops or addresses, CIDR ranges, loopback, linklocal, uniquelocal; got '${item.trim()}'`,
      );
    ranges.push(...(parsed as AddressRange[]));
  }
  return { ranges };
}

/**
 * The client of a request whose socket peer is `peer` (null where the runtime does not say, as on
 * edge platforms: then `hops` assumes the peer is the first proxy, and `ranges` trusts nothing).
 * An X-Forwarded-For entry that is not an address ends the walk: the hop that passed it on is the
 * client, so garbage never lets a client pick an address.
 */
export function forwardedClient(
  forwardedFor: string | null | undefined,
  peer: string | null | undefined,
  trust: TrustProxy,
): ForwardedClient {
  const peerAddress = peer ? normalizeAddress(peer) : null;
  if (!trust) return { address: peerAddress, proxied: false };
  const trusted = (address: string, hop: number) =>
    'hops' in trust ? hop < trust.hops : trust.ranges.some((r) => inRange(address, r));
  if ('ranges' in trust && !(peerAddress && trusted(peerAddress, 0))) return { address: peerAddress, proxied: false };
  const entries = forwardedFor ? forwardedFor.split(',') : [];
  let client = peerAddress;
  for (let hop = 1, i = entries.length - 1; i >= 0; hop++, i--) {
    const address = normalizeAddress(entries[i]!);
    if (!address) break;
    client = address;
    if (!trusted(address, hop)) break;
  }
  return { address: client, proxied: true };
}

/**
 * What X-Forwarded-For entries and sockets contain, as one spelling: '203.0.113.9:443' and
 * '[2001:db8::1]:443' lose the port, 'fe80::1%eth0' its zone, '::ffff:203.0.113.9' (a dual-stack
 * socket's IPv4 client) is '203.0.113.9', IPv6 in RFC 5952 form (so that one client is one key of a
 * rate limit). Anything else ('unknown', '') is null.
 */
export function normalizeAddress(raw: string): string | null {
  let text = raw.trim();
  if (text.length > 64) return null;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) text = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(text)) text = text.slice(0, text.lastIndexOf(':'));
  text = text.replace(/%.*$/, '');
  const bytes = addressBytes(text);
  return bytes ? formatBytes(bytes) : null;
}

function parseRange(text: string): AddressRange | null {
  const [address, prefixText, ...rest] = text.split('/');
  if (rest.length > 0) return null;
  const bytes = addressBytes(address!);
  if (!bytes) return null;
  const max = bytes.length * 8;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  return prefix <= max ? { bytes, prefix } : null;
}

function inRange(address: string, range: AddressRange): boolean {
  const bytes = addressBytes(address);
  if (!bytes || bytes.length !== range.bytes.length) return false;
  for (let bit = 0; bit < range.prefix; bit += 8) {
    const left = Math.min(8, range.prefix - bit);
    const mask = (0xff << (8 - left)) & 0xff;
    if ((bytes[bit / 8]! & mask) !== (range.bytes[bit / 8]! & mask)) return false;
  }
  return true;
}

/** 4 bytes for IPv4 (and IPv4-mapped IPv6), 16 for IPv6, null for anything else. */
function addressBytes(text: string): number[] | null {
  const v4 = ipv4Bytes(text);
  if (v4) return v4;
  const v6 = ipv6Bytes(text);
  if (!v6) return null;
  const mapped = v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
  return mapped ? v6.slice(12) : v6;
}

function ipv4Bytes(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes = parts.map((p) => (/^(0|[1-9]\d{0,2})$/.test(p) ? Number(p) : 256));
  return bytes.every((b) => b <= 255) ? bytes : null;
}

function ipv6Bytes(text: string): number[] | null {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (half: string): number[] | null => {
    if (half === '') return [];
    const out: number[] = [];
    const parts = half.split(':');
    for (const [i, part] of parts.entries()) {
      if (i === parts.length - 1 && part.includes('.')) {
        const v4 = ipv4Bytes(part);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) out.push(Number.parseInt(part, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  // An embedded IPv4 address may only end the address.
  if (halves.length === 2 && halves[0]!.includes('.')) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

function formatBytes(bytes: number[]): string {
  if (bytes.length === 4) return bytes.join('.');
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  // RFC 5952: the longest run of two or more zero groups (the first of equals) becomes '::'.
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLength).join(':')}`;
}
