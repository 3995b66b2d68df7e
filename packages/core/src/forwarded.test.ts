import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { forwardedClient, normaliseAddress, parseTrustProxy, trustsProxy } from './forwarded.js';

describe('forwardedClient', () => {
  it('trusts nobody with 0: the socket peer is the client, whatever X-Forwarded-For says', () => {
    expect(forwardedClient('6.6.6.6', '203.0.113.9', 0)).toBe('203.0.113.9');
    expect(forwardedClient('6.6.6.6', null, 0)).toBeNull();
    expect(forwardedClient('6.6.6.6', null, [])).toBeNull();
  });

  it('takes the right-most untrusted hop with a count, not the left-most entry a client can write', () => {
    // The client sent "X-Forwarded-For: 6.6.6.6"; the one proxy appended the peer it saw.
    expect(forwardedClient('6.6.6.6, 198.51.100.7', '10.0.0.2', 1)).toBe('198.51.100.7');
    expect(forwardedClient('198.51.100.7', '10.0.0.2', 1)).toBe('198.51.100.7');
    // Two proxies: the second appended the first's address.
    expect(forwardedClient('6.6.6.6, 198.51.100.7, 10.0.0.1', '10.0.0.2', 2)).toBe('198.51.100.7');
    // Fewer entries than proxies: the left-most is as far as anyone can tell.
    expect(forwardedClient('198.51.100.7', '10.0.0.2', 5)).toBe('198.51.100.7');
    expect(forwardedClient(null, '10.0.0.2', 1)).toBe('10.0.0.2');
    expect(forwardedClient('', '10.0.0.2', 1)).toBe('10.0.0.2');
  });

  it('walks through trusted ranges and stops at the first address outside them', () => {
    const trust = parseTrustProxy('loopback, 10.0.0.0/8');
    expect(forwardedClient('6.6.6.6, 198.51.100.7, 10.1.2.3', '127.0.0.1', trust)).toBe('198.51.100.7');
    // A peer outside the list is the client: a direct connection cannot forward anything.
    expect(forwardedClient('6.6.6.6', '198.51.100.7', trust)).toBe('198.51.100.7');
    expect(forwardedClient('6.6.6.6', '::ffff:198.51.100.7', trust)).toBe('198.51.100.7');
    expect(forwardedClient('2001:db8::1', '::1', trust)).toBe('2001:db8::1');
  });

  it('without a known peer (a Web Request) takes the platform as the first trusted hop', () => {
    expect(forwardedClient('6.6.6.6, 198.51.100.7', null, 1)).toBe('198.51.100.7');
    expect(forwardedClient('6.6.6.6, 198.51.100.7, 10.0.0.1', null, ['10.0.0.0/8'])).toBe('198.51.100.7');
    expect(forwardedClient(null, null, 1)).toBeNull();
  });

  it('never returns a garbled hop: the walk ends at the last real address', () => {
    expect(forwardedClient('6.6.6.6, nonsense', '10.0.0.2', 1)).toBe('10.0.0.2');
    expect(forwardedClient('6.6.6.6,, 198.51.100.7', '10.0.0.2', 3)).toBe('198.51.100.7');
    expect(forwardedClient('1.2.3.4', 'not-an-ip', 1)).toBeNull();
  });

  it('normalises ports, brackets, zones and IPv4-mapped addresses in the hops', () => {
    expect(forwardedClient('198.51.100.7:5555', '10.0.0.2', 1)).toBe('198.51.100.7');
    expect(forwardedClient('[2001:DB8::1]:443', '10.0.0.2', 1)).toBe('2001:db8::1');
    expect(forwardedClient('fe80::1%eth0', '10.0.0.2', 1)).toBe('fe80::1');
  });
});

describe('parseTrustProxy', () => {
  it('reads booleans, counts and lists', () => {
    expect(parseTrustProxy(undefined)).toBe(0);
    expect(parseTrustProxy(false)).toBe(0);
    expect(parseTrustProxy(true)).toBe(1);
    expect(parseTrustProxy('0')).toBe(0);
    expect(parseTrustProxy('1')).toBe(1);
    expect(parseTrustProxy(' 2 ')).toBe(2);
    expect(parseTrustProxy('')).toBe(0);
    expect(parseTrustProxy('10.0.0.0/8, ::1')).toEqual(['10.0.0.0/8', '::1']);
    expect(parseTrustProxy(['uniquelocal'])).toEqual(['uniquelocal']);
    expect(trustsProxy(0)).toBe(false);
    expect(trustsProxy(2)).toBe(true);
    expect(trustsProxy([])).toBe(false);
    expect(trustsProxy(['::1'])).toBe(true);
  });

  it('refuses what it cannot read, naming it', () => {
    expect(() => parseTrustProxy(-1)).toThrow(RangeError);
    expect(() => parseTrustProxy(1.5)).toThrow(RangeError);
    expect(() => parseTrustProxy('10.0.0.0/33')).toThrow(/10\.0\.0\.0\/33/);
    expect(() => parseTrustProxy('proxy.internal')).toThrow(/proxy\.internal/);
    expect(() => parseTrustProxy('1.2.3.4/8/9')).toThrow(RangeError);
  });
});

describe('normaliseAddress', () => {
  it('writes addresses canonically', () => {
    expect(normaliseAddress('2001:0DB8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
    expect(normaliseAddress('::')).toBe('::');
    expect(normaliseAddress('1::')).toBe('1::');
    expect(normaliseAddress('1:0:0:2:0:0:0:3')).toBe('1:0:0:2::3');
    expect(normaliseAddress('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(normaliseAddress('64:ff9b::1.2.3.4')).toBe('64:ff9b::102:304');
    expect(normaliseAddress(' 1.2.3.4:80 ')).toBe('1.2.3.4');
  });

  it('agrees with node:net about what is an address', () => {
    const samples = [
      '1.2.3.4',
      '255.255.255.255',
      '256.1.1.1',
      '01.2.3.4',
      '1.2.3',
      '1.2.3.4.5',
      '::1',
      ':::1',
      '1::2::3',
      '1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7::',
      '::1.2.3.4',
      '1:2:3:4:5:6:1.2.3.4',
      '1:2:3:4:5:6:7:1.2.3.4',
      'g::1',
      '12345::1',
      '',
      'localhost',
    ];
    // And random strings over the address alphabet, seeded so a failure repeats.
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = '0123456789abcdef:.';
    for (let i = 0; i < 5_000; i++) {
      samples.push(Array.from({ length: 1 + rand(20) }, () => alphabet[rand(alphabet.length)]).join(''));
    }
    for (const s of samples) {
      const ours = normaliseAddress(s) !== null;
      const theirs = isIP(s) !== 0;
      expect([s, ours]).toEqual([s, theirs]);
    }
  });
});
