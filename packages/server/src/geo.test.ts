import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forwardedClient, parseTrustProxy } from '@sessiontrack/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GeoLookup, openGeoLookup, resolveGeo } from './geo.js';

const NONE = { country: null, region: null, continent: null };
const headers = (init: Record<string, string> = {}) => new Headers(init);
/** The client at `address`, as forwardedClient gives it: `proxied` when it came through a trusted proxy. */
const via = (address: string | null, proxied: boolean) => ({ address, proxied });

// The addresses below were checked against the bundled database; they belong to long-standing
// registrations (Google, Cloudflare/APNIC, heise.de, Sakura Internet, NIC.br, Hetzner, IIJ).
describe('openGeoLookup with the bundled country database', () => {
  let geo: GeoLookup;
  beforeAll(async () => {
    geo = await openGeoLookup({});
  });

  it.each([
    ['8.8.8.8', 'US', 'NA'],
    ['1.1.1.1', 'AU', 'OC'],
    ['193.99.144.80', 'DE', 'EU'],
    ['133.242.0.1', 'JP', 'AS'],
    ['200.160.2.3', 'BR', 'SA'],
    ['2001:4860:4860::8888', 'US', 'NA'],
    ['2a01:4f8::1', 'DE', 'EU'],
    ['2001:240::1', 'JP', 'AS'],
  ])('%s is in %s (%s)', (ip, country, continent) => {
    expect(geo.lookup(ip)).toEqual({ country, region: null, continent });
  });

  it('unwraps IPv4-mapped IPv6, which the database does not index', () => {
    expect(geo.lookup('::ffff:8.8.8.8')).toEqual({ country: 'US', region: null, continent: 'NA' });
  });

  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.5.4',
    '192.168.1.1', // the bundled data answers AU here
    '100.64.0.1',
    '169.254.0.1',
    '203.0.113.7',
    '224.0.0.1',
    '::1',
    '::ffff:192.168.1.1',
    'fe80::1',
    'fd12:3456::1',
    '2001:db8::1', // the bundled data answers JP here
  ])('private or reserved %s gives no geo', (ip) => {
    expect(geo.lookup(ip)).toEqual(NONE);
  });

  it.each(['', 'unknown', 'not an ip', '999.1.1.1', '1.2.3', 'x'.repeat(10_000)])('never throws: %j', (ip) => {
    expect(geo.lookup(ip)).toEqual(NONE);
  });

  it('fails to open a missing or corrupt database with a clear message', async () => {
    await expect(openGeoLookup({ countryDb: '/nonexistent/country.mmdb' })).rejects.toThrow(
      /cannot open geo database \/nonexistent\/country\.mmdb/,
    );
    const dir = await mkdtemp(join(tmpdir(), 'geo-'));
    try {
      await writeFile(join(dir, 'bad.mmdb'), 'not a database');
      await expect(openGeoLookup({ countryDb: join(dir, 'bad.mmdb') })).rejects.toThrow(/cannot open geo database/);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});

describe('openGeoLookup with a city database', () => {
  let dir: string;
  let geo: GeoLookup;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'geo-'));
    const cityDb = join(dir, 'city.mmdb');
    await writeFile(
      cityDb,
      cityMmdb([
        // 193.0.0.0/8 holds 193.99.144.80 (DE in the country database): the city database wins.
        [
          '193.0.0.0',
          8,
          {
            continent: { code: 'EU' },
            country: { iso_code: 'AT' },
            subdivisions: [{ iso_code: '9', names: { en: 'Vienna' } }],
          },
        ],
        ['133.0.0.0', 8, { country: { iso_code: 'JP' }, subdivisions: [{ names: { en: 'Tokyo' } }] }],
        // A record without a country (as for some anycast networks) leaves the country database to answer.
        ['8.0.0.0', 8, { continent: { code: 'NA' } }],
      ]),
    );
    geo = await openGeoLookup({ cityDb });
  });
  afterAll(() => rm(dir, { recursive: true }));

  it('takes country and ISO 3166-2 region from the city record', () => {
    expect(geo.lookup('193.99.144.80')).toEqual({ country: 'AT', region: 'AT-9', continent: 'EU' });
    expect(geo.lookup('::ffff:193.99.144.80')).toEqual({ country: 'AT', region: 'AT-9', continent: 'EU' });
  });

  it('uses the English subdivision name when the record has no code', () => {
    expect(geo.lookup('133.242.0.1')).toEqual({ country: 'JP', region: 'Tokyo', continent: 'AS' });
  });

  it('falls back to the country database', () => {
    expect(geo.lookup('8.8.8.8')).toEqual({ country: 'US', region: null, continent: 'NA' });
    expect(geo.lookup('2a01:4f8::1')).toEqual({ country: 'DE', region: null, continent: 'EU' });
  });
});

describe('resolveGeo', () => {
  let geo: GeoLookup;
  beforeAll(async () => {
    geo = await openGeoLookup({});
  });

  it('looks the address up when no proxy is trusted, ignoring Cloudflare headers', () => {
    const h = headers({ 'cf-ipcountry': 'FR', 'cf-region-code': 'IDF' });
    expect(resolveGeo(h, via('8.8.8.8', false), geo)).toEqual({ country: 'US', region: null, continent: 'NA' });
    expect(resolveGeo(h, via('127.0.0.1', false), geo)).toEqual(NONE);
  });

  it('believes CF-IPCountry and the region headers with a trusted proxy', () => {
    const h = headers({ 'cf-ipcountry': 'fr', 'cf-region': 'Île-de-France', 'cf-region-code': 'IDF' });
    expect(resolveGeo(h, via('8.8.8.8', true), geo)).toEqual({ country: 'FR', region: 'FR-IDF', continent: 'EU' });
    expect(resolveGeo(h, via(null, true), null)).toEqual({ country: 'FR', region: 'FR-IDF', continent: 'EU' });
  });

  it('uses CF-Region when there is no region code', () => {
    const h = headers({ 'cf-ipcountry': 'US', 'cf-region': 'Texas' });
    expect(resolveGeo(h, via(null, true), null)).toEqual({ country: 'US', region: 'Texas', continent: 'NA' });
  });

  it('accepts a region code that already carries its country, and drops one of another country', () => {
    const h = (code: string) => headers({ 'cf-ipcountry': 'US', 'cf-region-code': code });
    expect(resolveGeo(h('US-TX'), via(null, true), null).region).toBe('US-TX');
    expect(resolveGeo(h('CA-ON'), via(null, true), null).region).toBeNull();
    expect(resolveGeo(h('not a code'), via(null, true), null).region).toBeNull();
  });

  it('reads XX (unknown) and T1 (Tor) as no geo, without a lookup', () => {
    for (const code of ['XX', 'T1']) {
      expect(resolveGeo(headers({ 'cf-ipcountry': code, 'cf-region-code': 'TX' }), via('8.8.8.8', true), geo)).toEqual(
        NONE,
      );
    }
  });

  it('falls back to the lookup when Cloudflare sent no country', () => {
    expect(resolveGeo(headers({ 'cf-region-code': 'TX' }), via('193.99.144.80', true), geo)).toEqual({
      country: 'DE',
      region: null,
      continent: 'EU',
    });
    expect(resolveGeo(headers({ 'cf-ipcountry': ' ' }), via('193.99.144.80', true), geo).country).toBe('DE');
  });

  it('takes the region from the lookup when it agrees with CF-IPCountry', () => {
    const fake: GeoLookup = { lookup: () => ({ country: 'DE', region: 'DE-BY', continent: 'EU' }) };
    expect(resolveGeo(headers({ 'cf-ipcountry': 'DE' }), via('193.99.144.80', true), fake).region).toBe('DE-BY');
    expect(resolveGeo(headers({ 'cf-ipcountry': 'AT' }), via('193.99.144.80', true), fake)).toEqual({
      country: 'AT',
      region: null,
      continent: 'EU',
    });
  });

  it('gives no geo for private addresses, a missing address or no lookup', () => {
    expect(resolveGeo(headers(), via('192.168.1.1', true), geo)).toEqual(NONE);
    expect(resolveGeo(headers(), via('::1', false), geo)).toEqual(NONE);
    expect(resolveGeo(headers(), via(null, false), geo)).toEqual(NONE);
    expect(resolveGeo(headers(), via('8.8.8.8', false), null)).toEqual(NONE);
  });

  it('works end to end with forwardedClient behind two trusted proxies', () => {
    const h = headers({ 'x-forwarded-for': '81.2.69.142, [2a01:4f8::1]:443, 10.0.0.1' });
    const client = (trust: string) => forwardedClient(h.get('x-forwarded-for'), '127.0.0.1', parseTrustProxy(trust));
    expect(resolveGeo(h, client('2'), geo)).toEqual({ country: 'DE', region: null, continent: 'EU' });
    expect(resolveGeo(h, client('loopback, 10.0.0.0/8'), geo)).toEqual({
      country: 'DE',
      region: null,
      continent: 'EU',
    });
    expect(resolveGeo(h, client('0'), geo)).toEqual(NONE);
  });

  it('ignores Cloudflare headers from a peer that is not a trusted proxy', () => {
    const h = headers({ 'cf-ipcountry': 'FR', 'x-forwarded-for': '8.8.8.8' });
    const client = forwardedClient(h.get('x-forwarded-for'), '193.99.144.80', parseTrustProxy('10.0.0.0/8'));
    expect(resolveGeo(h, client, geo).country).toBe('DE');
  });
});

// A minimal MaxMind DB writer (IPv6 tree, 24-bit records, IPv4 prefixes under ::/96, as in
// GeoLite2), so that the City record format is tested without shipping MaxMind's licensed data.
type Value = string | number | Value[] | { [key: string]: Value };

function cityMmdb(prefixes: [network: string, bits: number, record: Value][]): Buffer {
  const EMPTY = -1;
  const nodes: [number, number][] = [[EMPTY, EMPTY]];
  const data: Buffer[] = [];
  for (const [network, bits, record] of prefixes) {
    const path =
      '0'.repeat(96) +
      network
        .split('.')
        .map((octet) => Number(octet).toString(2).padStart(8, '0'))
        .join('');
    let node = 0;
    for (let depth = 0; depth < 96 + bits; depth++) {
      const side = Number(path[depth]);
      if (depth === 96 + bits - 1) {
        nodes[node]![side] = -2 - data.length; // a data record
      } else {
        if (nodes[node]![side] === EMPTY) nodes[node]![side] = nodes.push([EMPTY, EMPTY]) - 1;
        node = nodes[node]![side]!;
      }
    }
    data.push(encode(record));
  }
  const offsets = data.map((_, i) => data.slice(0, i).reduce((sum, b) => sum + b.length, 0));
  const pointer = (value: number) =>
    value === EMPTY ? nodes.length : value >= 0 ? value : nodes.length + 16 + offsets[-2 - value]!;
  const tree = Buffer.alloc(nodes.length * 6);
  nodes.forEach(([left, right], i) => {
    tree.writeUIntBE(pointer(left), i * 6, 3);
    tree.writeUIntBE(pointer(right), i * 6 + 3, 3);
  });
  const metadata = encode({
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: 1_700_000_000,
    database_type: 'Test-City',
    description: { en: 'test' },
    ip_version: 6,
    languages: ['en'],
    node_count: nodes.length,
    record_size: 24,
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...data, Buffer.from('abcdef4d61784d696e642e636f6d', 'hex'), metadata]);
}

function encode(value: Value): Buffer {
  // Control byte: type in the top 3 bits, size (< 29 here) in the low 5; arrays are extended type 11.
  if (typeof value === 'string') return Buffer.concat([Buffer.from([(2 << 5) | value.length]), Buffer.from(value)]);
  if (typeof value === 'number') {
    const n = Buffer.alloc(4);
    n.writeUInt32BE(value);
    return Buffer.concat([Buffer.from([(6 << 5) | 4]), n]);
  }
  if (Array.isArray(value)) return Buffer.concat([Buffer.from([value.length, 11 - 7]), ...value.map(encode)]);
  const entries = Object.entries(value);
  return Buffer.concat([
    Buffer.from([(7 << 5) | entries.length]),
    ...entries.flatMap(([k, v]) => [encode(k), encode(v)]),
  ]);
}
