// Where a request comes from, as country / region / continent. The IP address is only ever an
// argument here: it is never stored, logged or put into an error message, and only the derived
// `Geo` leaves this module.

import { createRequire } from 'node:module';
import { BlockList, isIP } from 'node:net';
import { continentOf, type ForwardedClient, type Geo, normalizeAddress } from '@sessiontrack/core';
import maxmind, { type Reader, type Response } from 'maxmind';

export interface GeoLookup {
  /** Never throws: an unparseable, private, reserved or unknown address gives all null. */
  lookup(ip: string): Geo;
}

export interface GeoLookupOptions {
  /** A country .mmdb; defaults to the bundled @ip-location-db/geo-whois-asn-country-mmdb file. */
  countryDb?: string;
  /** Optional MaxMind GeoLite2-City (or GeoIP2-City) .mmdb: adds regions and refines countries. */
  cityDb?: string;
}

// The bundled file ({country_code: 'DE'}) and MaxMind's Country/City files ({country: {iso_code},
// subdivisions: [{iso_code, names}]}) differ in shape; reading both lets an operator pass either.
interface GeoRecord {
  country_code?: string;
  country?: { iso_code?: string };
  subdivisions?: { iso_code?: string; names?: { en?: string } }[];
}

const noGeo = (): Geo => ({ country: null, region: null, continent: null });

/** Opens the databases once (each is read into memory); lookups are then synchronous. */
export async function openGeoLookup(options: GeoLookupOptions = {}): Promise<GeoLookup> {
  const [countries, cities] = await Promise.all([
    openDb(options.countryDb ?? bundledCountryDb()),
    options.cityDb ? openDb(options.cityDb) : null,
  ]);
  return {
    lookup(ip) {
      try {
        const address = normalizeAddress(ip);
        if (!address || !isPublicAddress(address)) return noGeo();
        // The city database, when given, is the finer source; its region only counts with its own country.
        const city = cities?.get(address) as GeoRecord | null | undefined;
        const cityCountry = countryCode(city?.country?.iso_code ?? city?.country_code);
        if (cityCountry) {
          const subdivision = city?.subdivisions?.[0];
          return geoOf(
            cityCountry,
            regionCode(cityCountry, subdivision?.iso_code) ?? regionName(subdivision?.names?.en),
          );
        }
        const record = countries.get(address) as GeoRecord | null;
        return geoOf(countryCode(record?.country_code ?? record?.country?.iso_code), null);
      } catch {
        // A corrupt database must cost a request its geo, never the request itself.
        return noGeo();
      }
    },
  };
}

/**
 * Geo of a request from `client` (core's forwardedClient). Cloudflare's headers are believed only
 * when the request came through a trusted proxy (a client can send them too): CF-IPCountry wins,
 * where XX (unknown) and T1 (Tor) mean "no country", and CF-Region-Code or CF-Region give the
 * region. Without them, the lookup of the address decides.
 */
export function resolveGeo(headers: Headers, client: ForwardedClient, lookup: GeoLookup | null): Geo {
  const { address } = client;
  const looked = () => (address && lookup ? lookup.lookup(address) : noGeo());
  const cfCountry = client.proxied ? headers.get('cf-ipcountry')?.trim() : undefined;
  if (!cfCountry) return looked();
  const country = countryCode(cfCountry);
  if (!country) return noGeo();
  const region =
    regionCode(country, headers.get('cf-region-code')) ??
    regionName(headers.get('cf-region')) ??
    // CF-IPCountry is on by default, the region headers need a Cloudflare managed transform: fall back
    // to the city database's region when it agrees on the country.
    sameCountryRegion(looked(), country);
  return geoOf(country, region);
}

function sameCountryRegion(geo: Geo, country: string): string | null {
  return geo.country === country ? geo.region : null;
}

function geoOf(country: string | null, region: string | null): Geo {
  return { country, region: country ? region : null, continent: continentOf(country) };
}

/** A country we cannot place on a continent ('XX', 'T1', 'EU', garbage) is no country. */
function countryCode(value: string | null | undefined): string | null {
  return continentOf(value) ? value!.trim().toUpperCase() : null;
}

/**
 * Regions are stored as ISO 3166-2 codes ('US-CA'), the same whether they came from Cloudflare or
 * MaxMind (both give the part after the country), so that e.g. Limburg (NL) and Limburg (BE) stay
 * apart in a breakdown.
 */
function regionCode(country: string, value: string | null | undefined): string | null {
  const code = value?.trim().toUpperCase();
  if (!code) return null;
  if (/^[A-Z0-9]{1,3}$/.test(code)) return `${country}-${code}`;
  return /^[A-Z]{2}-[A-Z0-9]{1,3}$/.test(code) && code.startsWith(`${country}-`) ? code : null;
}

/** A region name, used only when no code is given; bounded because it ends up in breakdowns. */
function regionName(value: string | null | undefined): string | null {
  const name = value?.trim();
  return name && name.length <= 100 && !/\p{Cc}/u.test(name) ? name : null;
}

// Private, shared, loopback, link-local, documentation, benchmarking, multicast and reserved
// ranges. They locate nobody, and the bundled database even answers some of them (192.168.0.0/16,
// 172.16.0.0/12, 2001:db8::/32 …) with a real country, so they never reach a lookup.
const NOT_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 3], // multicast 224/4 and reserved 240/4
] as const) {
  NOT_PUBLIC.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 127], // unspecified and loopback
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  NOT_PUBLIC.addSubnet(network, prefix, 'ipv6');
}

function isPublicAddress(address: string): boolean {
  return !NOT_PUBLIC.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');
}

function bundledCountryDb(): string {
  // The package has no entry point, only data files; resolve the file itself from this package.
  return createRequire(import.meta.url).resolve(
    '@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb',
  );
}

async function openDb(path: string): Promise<Reader<Response>> {
  try {
    return await maxmind.open<Response>(path);
  } catch (cause) {
    throw new Error(`cannot open geo database ${path}: ${(cause as Error).message}`, { cause });
  }
}
