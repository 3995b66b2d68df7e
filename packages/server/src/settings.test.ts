import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  envText,
  flagText,
  readSettings,
  SERVE_SETTINGS,
  type ServeSettings,
  shownDefault,
  UsageError,
  withBareFlags,
} from './settings.js';

// The settings table is the one place a setting of `serve` is declared: these tests hold the
// README's configuration table and the CLI's parsing to it.

const ALL = Object.keys(SERVE_SETTINGS) as (keyof ServeSettings)[];

describe('README configuration table', () => {
  it('lists every setting of serve, in the table order, with its flag, environment variable and default', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const section = readme.split('\n## Configuration\n')[1]?.split('\n## ')[0] ?? '';
    const rows = section
      .split('\n')
      .filter((l) => l.startsWith('|'))
      .slice(2) // header and separator
      .map((l) =>
        l
          .split('|')
          .slice(1, 4)
          .map((cell) => cell.trim()),
      );
    const code = (v: string | null) => (v === null ? '—' : `\`${v}\``);
    const expected = Object.values(SERVE_SETTINGS).map((s) => {
      const shown = shownDefault(s);
      // values in backticks; words ("off", "generated on first start") as they are
      const dflt = shown === null ? '—' : s.shown || s.default === false ? shown : code(shown);
      return [code(flagText(s)), code(envText(s)), dflt];
    });
    expect(rows).toEqual(expected);
  });
});

describe('readSettings', () => {
  it('takes the flag over the environment variable over the default; an empty variable is unset', () => {
    const r = readSettings(
      ALL,
      { port: '8080', 'trust-proxy': '2' },
      { PORT: '9090', HOST: '', SESSIONTRACK_IP_RATE_LIMIT: '5', SESSIONTRACK_ADMIN_TOKEN: 'tok' },
    );
    expect(r.port).toBe(8080);
    expect(r.host).toBe('127.0.0.1');
    expect(r.trustProxy).toEqual({ hops: 2 });
    expect(r.ipRateLimitPerMinute).toBe(5);
    expect(r.adminToken).toBe('tok');
    expect(r.rollupIntervalMs).toBe(600_000);
    expect(r.retentionAt).toBe('02:30');
    expect(r.databaseUrl).toBeUndefined();
    expect(readSettings(['trustProxy'], {}, { SESSIONTRACK_TRUST_PROXY: '1' }).trustProxy).toEqual({ hops: 1 });
    expect(readSettings(['trustProxy'], {}, {}).trustProxy).toBe(false);
  });

  it('raises the sweep interval to 100 ms and refuses what it cannot use, naming the flag', () => {
    expect(readSettings(['sweepIntervalMs'], { 'sweep-interval': '5' }, {}).sweepIntervalMs).toBe(100);
    const refused = (values: Record<string, string>, env: Record<string, string> = {}) => {
      try {
        readSettings(ALL, values, env);
      } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(refused({ port: '70000' })).toBe('--port must be at most 65535, got 70000');
    expect(refused({}, { PORT: '-1' })).toBe("--port must be a non-negative integer, got '-1'");
    expect(refused({ sync: 'sometimes' })).toBe("--sync must be normal or full, got 'sometimes'");
    expect(refused({ 'retention-at': '24:00' })).toBe("--retention-at: expected HH:MM (UTC), got '24:00'");
    expect(refused({}, { SESSIONTRACK_TRUST_PROXY: 'yes' })).toMatch(/^--trust-proxy: expected a number of hops/);
    expect(refused({ 'rollup-interval': '1.5' })).toBe("--rollup-interval must be a non-negative integer, got '1.5'");
  });
});

describe('withBareFlags', () => {
  it('gives a flag standing alone its bare value, and leaves a flag with a value as it is', () => {
    expect(withBareFlags(['--trust-proxy'], ALL)).toEqual(['--trust-proxy=1']);
    expect(withBareFlags(['--trust-proxy', '--port', '80'], ALL)).toEqual(['--trust-proxy=1', '--port', '80']);
    expect(withBareFlags(['--trust-proxy', '10.0.0.0/8'], ALL)).toEqual(['--trust-proxy', '10.0.0.0/8']);
    expect(withBareFlags(['--trust-proxy=2', '--host', '::'], ALL)).toEqual(['--trust-proxy=2', '--host', '::']);
    expect(withBareFlags(['--host'], ALL)).toEqual(['--host']);
  });
});
