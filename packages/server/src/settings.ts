import { parseTrustProxy, type TrustProxy } from '@sessiontrack/core';
import { MINUTE_MS } from './clock.js';
import { msUntilUtc } from './jobs/runner.js';

// The settings of `sessiontrack serve`, declared once: the CLI parses its flags and environment
// variables from this table, `--help` and the defaults of node-server.ts and app-deps.ts come from
// it, and settings.test.ts checks the README's configuration table against it.

/** Bad input from the command line or the environment: one line on stderr, exit code 2. */
export class UsageError extends Error {}

export interface Setting<T> {
  /** The flag without its dashes; null: set by the environment only. */
  flag: string | null;
  /** The flag's value as --help shows it (`<n>`); absent: a switch that takes no value. */
  arg?: string;
  /** The value of the flag given alone (`--trust-proxy` is `--trust-proxy 1`); see withBareFlags. */
  bare?: string;
  /** The environment variable; for a switch, `=1` turns it on. */
  env: string | null;
  default: T;
  /** The default as --help and the README say it, where the value alone would not. */
  shown?: string;
  /** From the flag's or variable's text; throws UsageError naming the flag. */
  parse: (raw: string, name: string) => T;
  help: string;
}

export interface ServeSettings {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  trustProxy: TrustProxy;
  ipRateLimitPerMinute: number;
  sweepIntervalMs: number;
  rollupIntervalMs: number;
  retentionAt: string;
  geoCityDb: string | undefined;
  sqliteSynchronous: 'normal' | 'full';
  logLevel: string;
  adminToken: string | undefined;
  metricsToken: string | undefined;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

const text = (raw: string) => raw;

/** A non-negative integer, at most `max`; below `min` it is raised to `min`. */
const integer =
  ({ min = 0, max = Number.MAX_SAFE_INTEGER } = {}) =>
  (raw: string, name: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name} must be a non-negative integer, got '${raw}'`);
    if (n > max) throw new UsageError(`${name} must be at most ${max}, got ${n}`);
    return Math.max(min, n);
  };

const oneOf =
  <T extends string>(...values: T[]) =>
  (raw: string, name: string): T => {
    if (!(values as string[]).includes(raw))
      throw new UsageError(`${name} must be ${values.join(' or ')}, got '${raw}'`);
    return raw as T;
  };

const utcTime = (raw: string, name: string): string => {
  try {
    msUntilUtc(raw, 0);
  } catch (err) {
    throw new UsageError(`${name}: ${(err as Error).message}`);
  }
  return raw;
};

export const SERVE_SETTINGS: { readonly [K in keyof ServeSettings]: Setting<ServeSettings[K]> } = {
  port: {
    flag: 'port',
    arg: '<n>',
    env: 'PORT',
    default: 3000,
    parse: integer({ max: 65535 }),
    help: 'port to listen on',
  },
  host: { flag: 'host', arg: '<addr>', env: 'HOST', default: '127.0.0.1', parse: text, help: 'address to bind' },
  dataDir: {
    flag: 'data-dir',
    arg: '<dir>',
    env: 'SESSIONTRACK_DATA_DIR',
    default: './data',
    parse: text,
    help: 'SQLite file and admin token live here',
  },
  databaseUrl: {
    flag: 'database-url',
    arg: '<url>',
    env: 'DATABASE_URL',
    default: undefined,
    parse: text,
    help: 'PostgreSQL instead of SQLite; several servers may share one',
  },
  trustProxy: {
    flag: 'trust-proxy',
    arg: '<proxies>',
    bare: '1',
    env: 'SESSIONTRACK_TRUST_PROXY',
    default: false,
    parse: (raw, name) => {
      try {
        return parseTrustProxy(raw);
      } catch (err) {
        throw new UsageError(`${name}: ${(err as Error).message}`);
      }
    },
    help:
      'the proxies in front, whose X-Forwarded-For, CF-IPCountry and CF-Region are believed: how many ' +
      '(the flag alone: 1) or which (addresses, CIDR ranges, loopback, linklocal, uniquelocal, comma-separated); ' +
      'the client is the right-most address that is not one of them',
  },
  ipRateLimitPerMinute: {
    flag: 'ip-rate-limit',
    arg: '<n>',
    env: 'SESSIONTRACK_IP_RATE_LIMIT',
    default: 12_000,
    parse: integer(),
    help: 'requests per minute per client address, 0 = off',
  },
  sweepIntervalMs: {
    flag: 'sweep-interval',
    arg: '<ms>',
    env: 'SESSIONTRACK_SWEEP_INTERVAL_MS',
    default: 30_000,
    parse: integer({ min: 100 }),
    help: 'how often expired sessions are written as ended (at least 100)',
  },
  rollupIntervalMs: {
    flag: 'rollup-interval',
    arg: '<ms>',
    env: 'SESSIONTRACK_ROLLUP_INTERVAL_MS',
    default: 10 * MINUTE_MS,
    parse: integer(),
    help: 'how often days marked for a rebuild (after an upgrade) are rebuilt, 0 = never',
  },
  retentionAt: {
    flag: 'retention-at',
    arg: '<HH:MM>',
    env: 'SESSIONTRACK_RETENTION_AT',
    default: '02:30',
    parse: utcTime,
    help: "daily retention run, UTC: raw sessions and events older than each project's retentionDays are deleted; aggregates stay",
  },
  geoCityDb: {
    flag: 'geo-city-db',
    arg: '<file>',
    env: 'SESSIONTRACK_GEO_CITY_DB',
    default: undefined,
    parse: text,
    help: 'a GeoLite2-City .mmdb for regions',
  },
  sqliteSynchronous: {
    flag: 'sync',
    arg: '<mode>',
    env: null,
    default: 'normal',
    parse: oneOf('normal', 'full'),
    help: 'SQLite durability: normal (survives a crash of the process) or full (fsync every commit)',
  },
  logLevel: {
    flag: 'log-level',
    arg: '<level>',
    env: 'LOG_LEVEL',
    default: 'info',
    parse: text,
    help: 'trace, debug, info, warn, error',
  },
  adminToken: {
    flag: null,
    env: 'SESSIONTRACK_ADMIN_TOKEN',
    default: undefined,
    shown: 'generated on first start',
    parse: text,
    help: 'the admin token; without it one is generated on first start, kept in <data-dir>/admin-token and printed once',
  },
  metricsToken: {
    flag: null,
    env: 'SESSIONTRACK_METRICS_TOKEN',
    default: undefined,
    shown: 'none: /metrics is open',
    parse: text,
    help: 'when set, GET /metrics needs Authorization: Bearer <this token> (or the admin token)',
  },
  // An ingest server answers small bodies: a client that takes longer than this to send its
  // headers or its request is slow on purpose (slowloris) or lost, and holds a connection.
  headersTimeoutMs: {
    flag: 'headers-timeout',
    arg: '<ms>',
    env: 'SESSIONTRACK_HEADERS_TIMEOUT_MS',
    default: 10_000,
    parse: integer({ min: 1000 }),
    help: 'a request whose headers take longer is answered 408 and its connection closed (at least 1000)',
  },
  requestTimeoutMs: {
    flag: 'request-timeout',
    arg: '<ms>',
    env: 'SESSIONTRACK_REQUEST_TIMEOUT_MS',
    default: 30_000,
    parse: integer({ min: 1000 }),
    help: 'the same for the whole request, body included (at least 1000)',
  },
  keepAliveTimeoutMs: {
    flag: 'keep-alive-timeout',
    arg: '<ms>',
    env: 'SESSIONTRACK_KEEP_ALIVE_TIMEOUT_MS',
    default: 65_000,
    parse: integer({ min: 1000 }),
    help: "an idle keep-alive connection is closed after this; keep it above a load balancer's idle timeout (60 s on most)",
  },
  maxConnections: {
    flag: 'max-connections',
    arg: '<n>',
    env: 'SESSIONTRACK_MAX_CONNECTIONS',
    default: 10_000,
    parse: integer({ min: 1 }),
    help: 'open connections at most; more are refused at once (the open-files limit must allow it)',
  },
};

type Key = keyof ServeSettings;
type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

const setting = <K extends Key>(key: K) => SERVE_SETTINGS[key] as Setting<ServeSettings[K]>;

/** The `node:util` parseArgs options of these settings' flags. */
export function flagOptions(keys: readonly Key[]): Record<string, { type: 'string' | 'boolean' }> {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const key of keys) {
    const s = setting(key);
    if (s.flag) options[s.flag] = { type: s.arg ? 'string' : 'boolean' };
  }
  return options;
}

/**
 * The arguments with a flag that has a `bare` value and stands alone (last, or before another
 * option) given that value, for parseArgs, which knows no optional values: `--trust-proxy --port 80`
 * is `--trust-proxy=1 --port 80`, as it was when --trust-proxy was a switch.
 */
export function withBareFlags(argv: readonly string[], keys: readonly Key[]): string[] {
  const bare = new Map<string, string>();
  for (const key of keys) {
    const s = setting(key);
    if (s.flag && s.bare) bare.set(`--${s.flag}`, s.bare);
  }
  return argv.map((arg, i) => {
    const value = bare.get(arg);
    const next = argv[i + 1];
    return value !== undefined && (next === undefined || next.startsWith('-')) ? `${arg}=${value}` : arg;
  });
}

/** Each setting from its flag, else its environment variable (empty counts as unset), else its default. */
export function readSettings<K extends Key>(
  keys: readonly K[],
  values: Values,
  env: Record<string, string | undefined>,
): Pick<ServeSettings, K> {
  const out = {} as Pick<ServeSettings, K>;
  for (const key of keys) {
    const s = setting(key);
    const flag = s.flag ? values[s.flag] : undefined;
    if (flag === true) {
      out[key] = true as ServeSettings[K];
      continue;
    }
    const raw = typeof flag === 'string' ? flag : s.env ? env[s.env] : undefined;
    out[key] = raw === undefined || raw === '' ? s.default : s.parse(raw, `--${s.flag ?? s.env}`);
  }
  return out;
}

/** The defaults of every setting, for a caller that leaves some out (`startServer`). */
export function withDefaults<T extends Partial<ServeSettings>>(opts: T): T & ServeSettings {
  const out: Record<string, unknown> = { ...opts };
  for (const key of Object.keys(SERVE_SETTINGS) as Key[]) out[key] ??= SERVE_SETTINGS[key].default;
  return out as unknown as T & ServeSettings;
}

/** The default as the README and --help say it. */
export function shownDefault(s: Setting<unknown>): string | null {
  if (s.shown) return s.shown;
  if (s.default === undefined) return null;
  if (s.default === false) return 'off';
  return String(s.default);
}

/** `--port <n>`, or null for a setting of the environment only. */
export const flagText = (s: Setting<unknown>): string | null =>
  s.flag ? `--${s.flag}${s.arg ? ` ${s.arg}` : ''}` : null;

/** `PORT`; a switch's variable with the `=1` that turns it on. */
export const envText = (s: Setting<unknown>): string | null =>
  s.env ? `${s.env}${s.flag && !s.arg ? '=1' : ''}` : null;

/** The `Options:` lines of --help (`more`: flags that are not settings, such as --help). */
export function flagHelp(keys: readonly Key[], more: [string, string][] = []): string[] {
  const rows: string[][] = keys
    .map((key) => setting(key))
    .filter((s) => s.flag)
    .map((s) => {
      const shown = shownDefault(s);
      const env = envText(s);
      const notes = [env && `env ${env}`, shown && s.default !== false ? `default ${shown}` : null].filter(Boolean);
      return [flagText(s) as string, `${s.help}${notes.length ? ` (${notes.join(', ')})` : ''}`];
    });
  rows.push(...more);
  const width = Math.max(...rows.map(([flag]) => (flag as string).length)) + 2;
  return rows.map(([flag, help]) => `  ${(flag as string).padEnd(width)}${help}`);
}

/** The `Environment:` lines of --help: settings without a flag. */
export function envHelp(keys: readonly Key[]): string[] {
  return keys
    .map((key) => setting(key))
    .filter((s) => !s.flag && s.env)
    .map((s) => `  ${s.env}  ${s.help}`);
}
