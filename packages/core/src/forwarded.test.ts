import { describe, expect, it } from 'vitest';
import { forwardedClient, normalizeAddress, parseTrustProxy, type TrustProxy } from './forwarded.js';

const client = (xff: string | null, peer: string | null, trust: TrustProxy | string) =>
  forwardedClient(xff, peer, typeof trust === 'string' ? parseTrustProxy(trust) : trust).address;

describe('forwardedClient with a number of hops', () => {
  it('takes the right-most entry behind one proxy: a client cannot choose its address by prepending', () => {
    // The proxy appended 198.51.100.7 (its peer); '6.6.6.6' came from the client.
    expect(client('6.6.6.6, 198.51.100.7', '10.0.0.2', '1')).toBe('198.51.100.7');
    expect(client('198.51.100.7', '10.0.0.2', '1')).toBe('198.51.100.7');
  });

  it('skips as many entries as there are proxies in front, and stops at the left end', () => {
    expect(client('6.6.6.6, 198.51.100.7, 10.0.0.1', '10.0.0.2', '2')).toBe('198.51.100.7');
    expect(client('198.51.100.7, 10.0.0.1', '10.0.0.2', '3')).toBe('198.51.100.7');
  });

  it('is the peer when no entry names a client; the peer is assumed the proxy when the runtime has no socket', () => {
    expect(client(null, '10.0.0.2', '1')).toBe('10.0.0.2');
    expect(client('', '10.0.0.2', '1')).toBe('10.0.0.2');
    expect(client('198.51.100.7', null, '1')).toBe('198.51.100.7');
    expect(forwardedClient('198.51.100.7', null, { hops: 1 }).proxied).toBe(true);
  });

  it('never lets garbage pick an address: a non-address entry ends the walk at the hop that passed it on', () => {
    expect(client('8.8.8.8, unknown', '10.0.0.2', '1')).toBe('10.0.0.2');
    expect(client('unknown, 198.51.100.7', '10.0.0.2', '2')).toBe('198.51.100.7');
    expect(client('8.8.8.8, , 198.51.100.7', '10.0.0.2', '3')).toBe('198.51.100.7');
  });
});

describe('forwardedClient with trusted ranges', () => {
  it('walks left while the hop is a trusted proxy; the first untrusted hop is the client', () => {
    const trust = '10.0.0.0/8, loopback';
    expect(client('6.6.6.6, 198.51.100.7, 10.1.2.3', '127.0.0.1', trust)).toBe('198.51.100.7');
    expect(client('198.51.100.7, 6.6.6.6', '10.0.0.2', trust)).toBe('6.6.6.6');
    expect(client('10.9.9.9, 10.1.1.1', '10.0.0.2', trust)).toBe('10.9.9.9');
  });

  it('ignores the header, and the proxy headers, when the peer is not a trusted proxy', () => {
    const trust = parseTrustProxy('10.0.0.0/8');
    expect(forwardedClient('6.6.6.6', '198.51.100.7', trust)).toEqual({ address: '198.51.100.7', proxied: false });
    expect(forwardedClient('6.6.6.6', null, trust)).toEqual({ address: null, proxied: false });
    expect(forwardedClient('6.6.6.6', '10.0.0.2', trust)).toEqual({ address: '6.6.6.6', proxied: true });
  });

  it('matches IPv6 ranges, IPv4-mapped peers as IPv4, and single addresses', () => {
    expect(client('2001:db8::9', 'fd00::1', 'uniquelocal')).toBe('2001:db8::9');
    expect(client('2001:db8::9', '::ffff:10.0.0.2', '10.0.0.0/8')).toBe('2001:db8::9');
    expect(client('2001:db8::9', '192.0.2.1', '192.0.2.1')).toBe('2001:db8::9');
    expect(client('2001:db8::9', '192.0.2.2', '192.0.2.1')).toBe('192.0.2.2');
    expect(client('198.51.100.7', 'fe80::1%eth0', 'linklocal')).toBe('198.51.100.7');
    expect(client('198.51.100.7', '172.32.0.1', '172.16.0.0/12')).toBe('172.32.0.1');
    expect(client('198.51.100.7', '172.31.255.255', '172.16.0.0/12')).toBe('198.51.100.7');
  });
});

describe('forwardedClient without trust', () => {
  it('is the socket peer, whatever the header says', () => {
    expect(forwardedClient('6.6.6.6', '10.0.0.2', false)).toEqual({ address: '10.0.0.2', proxied: false });
    expect(forwardedClient('6.6.6.6', null, parseTrustProxy('0'))).toEqual({ address: null, proxied: false });
  });
});

describe('parseTrustProxy', () => {
  it('reads hops, lists and names', () => {
    expect(parseTrustProxy('0')).toBe(false);
    expect(parseTrustProxy(' 2 ')).toEqual({ hops: 2 });
    expect(parseTrustProxy('10.0.0.0/8')).toEqual({ ranges: [{ bytes: [10, 0, 0, 0], prefix: 8 }] });
    expect(parseTrustProxy('LOOPBACK,192.0.2.1')).toEqual({
      ranges: [
        { bytes: [127, 0, 0, 0], prefix: 8 },
        { bytes: [...new Array(15).fill(0), 1], prefix: 128 },
        { bytes: [192, 0, 2, 1], prefix: 32 },
      ],
    });
  });

  it('refuses what it cannot read, saying so', () => {
    for (const bad of ['true', 'yes', '10.0.0.0/33', '::/129', '10.0.0.0/8,', 'proxy.example', '1.2.3.4/8/1', '101'])
      expect(() => parseTrustProxy(bad), bad).toThrow(RangeError);
  });
});

describe('normalizeAddress', () => {
  it.each([
    ['203.0.113.9', '203.0.113.9'],
    [' 203.0.113.9:443 ', '203.0.113.9'],
    ['[2001:db8::1]:443', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['::ffff:203.0.113.9', '203.0.113.9'],
    ['::FFFF:CB00:7109', '203.0.113.9'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8::', '2001:db8::'],
    ['::', '::'],
    ['::1', '::1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ])('%s is %s', (raw, expected) => {
    expect(normalizeAddress(raw)).toBe(expected);
  });

  it.each([
    'unknown',
    '',
    '1.2.3',
    '1.2.3.4.5',
    '01.2.3.4',
    '256.1.1.1',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '12345::',
    '1.2.3.4::',
    `${'1'.repeat(70)}`,
  ])('%s is not an address', (raw) => {
    expect(normalizeAddress(raw)).toBeNull();
  });
});
