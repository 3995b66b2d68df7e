import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, serve as serveCli, stopAll } from './serve.testkit.js';

// The CLI as a user runs it: a real process on a real port, SQLite in a temp data dir.
// Runs the built CLI (npm test builds first), as `npx sessiontrack` would.

const TOKEN = 'cli-test-admin-token-0123456789';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'sessiontrack-cli-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  await stopAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The CLI server with this file's admin token (pass `{}` to let it generate one). */
const serve = (args: string[], env: Record<string, string> = { SESSIONTRACK_ADMIN_TOKEN: TOKEN }) =>
  serveCli(['--log-level', 'warn', ...args], env);

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const post = (url: string, key: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'x-write-key': key, 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
const get = (url: string) => fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });

describe('sessiontrack serve', () => {
  it('first start prints the URL, write key and a generated token once; data survives a restart', async () => {
    const dir = tempDir();
    const first = await serve(['--data-dir', dir], {});
    const token = /admin token: (st_\S+)/.exec(first.out())?.[1];
    expect(token).toBeDefined();
    expect(readFileSync(join(dir, 'admin-token'), 'utf8').trim()).toBe(token);

    const start = await post(`${first.url}/api/v1/sessions/start`, first.writeKey, { userId: 'u1' });
    expect(start.status).toBe(201);
    const { sessionId } = (await start.json()) as { sessionId: string };
    const ev = await post(`${first.url}/api/v1/sessions/${sessionId}/events`, first.writeKey, {
      events: [
        { id: 'a', type: 'action', name: 'x' },
        { id: 'b', type: 'pageview', page: '/p' },
      ],
    });
    expect(await ev.json()).toEqual({ accepted: 2, duplicates: 0 });
    expect(await first.stop()).toBe(0);

    const second = await serve(['--data-dir', dir], {});
    expect(second.out()).not.toContain(token);
    expect(second.out()).toContain(`write key: ${first.writeKey}`);
    const res = await fetch(`${second.url}/api/v1/sessions/${sessionId}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    const s = (await res.json()) as { events: { id: string }[]; actions: number };
    expect(s.events.map((e) => e.id)).toEqual(['a', 'b']);
    expect(s.actions).toBe(1);
    expect(await second.stop('SIGINT')).toBe(0);
  });

  it('SIGTERM during load loses no acknowledged event', async () => {
    const dir = tempDir();
    const server = await serve(['--data-dir', dir]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await post(`${server.url}/api/v1/sessions/start`, server.writeKey, {
        anonymousId: `a${i}`,
        kind: 'api',
      });
      ids.push(((await r.json()) as { sessionId: string }).sessionId);
    }
    const acknowledged = new Map<string, string[]>();
    let refused = 0;
    let stopping = false;
    const worker = async (w: number) => {
      for (let n = 0; ; n++) {
        const sessionId = ids[(w + n) % ids.length] as string;
        const events = Array.from({ length: 10 }, (_, i) => ({ id: `w${w}-${n}-${i}`, type: 'action', name: 'load' }));
        try {
          const res = await post(`${server.url}/api/v1/sessions/${sessionId}/events`, server.writeKey, { events });
          if (res.status === 202) {
            const list = acknowledged.get(sessionId) ?? [];
            list.push(...events.map((e) => e.id));
            acknowledged.set(sessionId, list);
          } else refused++;
        } catch {
          // connection refused or reset once the server has stopped accepting
          if (stopping) return;
          refused++;
        }
        if (stopping && n % 5 === 0) await new Promise((r) => setTimeout(r, 1));
        if (stopping && refused > 1000) return;
      }
    };
    const workers = Array.from({ length: 16 }, (_, w) => worker(w));
    await new Promise((r) => setTimeout(r, 700));
    stopping = true;
    const code = await server.stop('SIGTERM');
    await Promise.all(workers);
    expect(code).toBe(0);

    const total = [...acknowledged.values()].reduce((n, l) => n + l.length, 0);
    expect(total).toBeGreaterThan(500);
    const again = await serve(['--data-dir', dir]);
    try {
      for (const [sessionId, expected] of acknowledged) {
        const s = (await (await get(`${again.url}/api/v1/sessions/${sessionId}`)).json()) as {
          events: { id: string }[];
          actions: number;
        };
        const stored = new Set(s.events.map((e) => e.id));
        const missing = expected.filter((id) => !stored.has(id));
        expect(missing).toEqual([]);
        // counters agree with what is stored
        expect(s.actions).toBe(s.events.length);
      }
    } finally {
      await again.stop();
    }
  });

  it('stores no IP address: X-Forwarded-For appears nowhere in the data dir or the logs', async () => {
    const dir = tempDir();
    const ip = '81.2.69.142';
    const server = await serve(['--data-dir', dir, '--trust-proxy', '2', '--log-level', 'debug']);
    const headers = {
      'x-forwarded-for': `${ip}, 10.0.0.1`,
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0',
    };
    const start = await post(`${server.url}/api/v1/sessions/start`, server.writeKey, { anonymousId: 'a' }, headers);
    const { sessionId } = (await start.json()) as { sessionId: string };
    await post(
      `${server.url}/api/v1/sessions/${sessionId}/events`,
      server.writeKey,
      { events: [{ type: 'action' }] },
      headers,
    );
    const s = (await (await get(`${server.url}/api/v1/sessions/${sessionId}`)).json()) as { geo: { country: string } };
    expect(s.geo.country).toBe('GB'); // the address was used for the lookup…
    expect(await server.stop()).toBe(0);
    // …and kept nowhere: not in the database, its WAL, or anything else in the data dir, nor in the logs.
    for (const f of readdirSync(dir)) {
      expect(readFileSync(join(dir, f)).includes(ip), f).toBe(false);
    }
    expect(server.out()).not.toContain(ip);
    expect(server.err()).not.toContain(ip);
    expect(server.out()).toContain('"status":201'); // debug access logs were written
  });

  it('closes a connection whose headers are too slow (408), and refuses connections over the cap', async () => {
    const server = await serve(['--data-dir', tempDir(), '--headers-timeout', '1000', '--max-connections', '2']);
    const { hostname, port } = new URL(server.url);
    /** A raw connection: what it was sent back, and when it was closed (ms after opening). */
    const open = () => {
      const socket = connect(Number(port), hostname);
      const opened = Date.now();
      let received = '';
      socket.on('data', (d) => {
        received += d;
      });
      const closed = new Promise<{ ms: number; received: string }>((ok) =>
        socket.on('close', () => ok({ ms: Date.now() - opened, received })),
      );
      socket.on('error', () => {});
      return { socket, closed };
    };
    // slowloris: headers begun, never finished
    const slow = open();
    slow.socket.write('POST /api/v1/track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n');
    const other = open();
    await new Promise((r) => other.socket.once('connect', r));
    const third = open();
    const refused = await third.closed;
    expect(refused.received).toBe('');
    expect(refused.ms).toBeLessThan(1000);
    const cut = await slow.closed;
    expect(cut.received).toMatch(/^HTTP\/1\.1 408 /);
    expect(cut.ms).toBeGreaterThanOrEqual(900);
    expect(cut.ms).toBeLessThan(5000);
    other.socket.destroy();
    expect(await server.stop()).toBe(0);
  });

  it('exits non-zero with one clear line for a taken port or an unopenable database', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const taken = spawnSync(process.execPath, [BIN, 'serve', '--port', String(port), '--data-dir', tempDir()], {
        encoding: 'utf8',
        env: { ...process.env, SESSIONTRACK_ADMIN_TOKEN: TOKEN },
      });
      expect(taken.status).toBe(1);
      expect(taken.stderr.trim().split('\n')).toEqual([`sessiontrack: port ${port} on 127.0.0.1 is already in use`]);
    } finally {
      blocker.close();
    }
    const file = join(tempDir(), 'not-a-dir');
    writeFileSync(file, 'x');
    const bad = cli(['serve', '--port', '0', '--data-dir', join(file, 'sub')], { SESSIONTRACK_ADMIN_TOKEN: TOKEN });
    expect(bad.code).toBe(1);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
    expect(bad.err).toMatch(/^sessiontrack: cannot open the database .*sessiontrack\.db/);
    expect(bad.err).not.toMatch(/\n\s+at /);
  });
});

describe('sessiontrack commands', () => {
  it('--help on every command', () => {
    for (const args of [
      ['--help'],
      ['serve', '--help'],
      ['migrate', '--help'],
      ['project', '--help'],
      ['cleanup', '--help'],
      ['rollup', '--help'],
    ]) {
      const r = cli(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.out).toMatch(/Usage: sessiontrack/);
    }
    const unknown = cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("unknown command 'frobnicate'");
    const badFlag = cli(['serve', '--bogus']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.err.trim().split('\n')).toHaveLength(1);
  });

  it("README's CLI table lists every command of --help", () => {
    const commands = (cli(['--help']).out.split('Commands:\n')[1] ?? '')
      .split('\n\n')[0]
      ?.split('\n')
      .map((l) => l.trim().split(/\s{2,}/)[0] as string);
    expect(commands).toContain('rollup');
    const readme = readFileSync(join(import.meta.dirname, '../../../README.md'), 'utf8');
    const section = readme.split('\n## CLI\n')[1]?.split('\n## ')[0] ?? '';
    const listed = section
      .split('\n')
      .filter((l) => l.startsWith('| `'))
      .map((l) => (l.split('|')[1] as string).trim().replaceAll('`', ''));
    for (const c of commands ?? [])
      expect(
        listed.some((l) => l === c || l.startsWith(`${c} `)),
        c,
      ).toBe(true);
  });

  it('migrate, project create/list and cleanup work on the data dir', async () => {
    const dir = tempDir();
    expect(cli(['migrate', '--data-dir', dir]).out).toContain('migrations applied (sqlite)');
    const created = cli(['project', 'create', 'Shop', '--data-dir', dir, '--time-zone', 'Europe/Berlin']);
    expect(created.code).toBe(0);
    const key = /write key: (\S+)/.exec(created.out)?.[1];
    expect(key).toMatch(/^wk_/);
    const list = cli(['project', 'list', '--data-dir', dir]);
    expect(list.out).toContain('default\tDefault');
    expect(list.out).toContain(`Shop\twrite key: ${key}\ttime zone: Europe/Berlin`);
    const bad = cli(['project', 'create', 'X', '--data-dir', dir, '--time-zone', 'Nowhere/City']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('timeZone');

    // a session of the new project, ended, then cleaned up
    const server = await serve(['--data-dir', dir]);
    const start = await post(`${server.url}/api/v1/sessions/start`, key as string, { anonymousId: 'a' });
    const { sessionId } = (await start.json()) as { sessionId: string };
    await post(`${server.url}/api/v1/sessions/${sessionId}/events`, key as string, { events: [{ type: 'action' }] });
    await post(`${server.url}/api/v1/sessions/${sessionId}/end`, key as string);
    await server.stop();
    // nothing is marked for the job; --rebuild recomputes every day within retention, with progress
    expect(cli(['rollup', '--data-dir', dir]).out).toContain('default\tnothing to rebuild');
    const today = new Date().toISOString().slice(0, 10);
    const rebuilt = cli(['rollup', '--rebuild', '--project', 'default', '--from', today, '--data-dir', dir]);
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.out).toMatch(/^default\t1 day\(s\)\t\(\d+ ms\)$/m);
    expect(rebuilt.err).toContain(`default\t${today}\t`);
    expect(cli(['rollup', '--rebuild', '--from', '2025-02-30', '--data-dir', dir]).code).toBe(2);
    expect(cli(['rollup', '--from', today, '--data-dir', dir]).code).toBe(2);
    expect(JSON.parse(cli(['cleanup', '--days-inactive', '30', '--data-dir', dir]).out)).toEqual({
      deletedSessions: 0,
      deletedEvents: 0,
    });
    expect(JSON.parse(cli(['cleanup', '--days-inactive', '0', '--data-dir', dir]).out)).toEqual({
      deletedSessions: 1,
      deletedEvents: 1,
    });
    // an unknown project is a usage error
    expect(cli(['rollup', '--project', 'nope', '--data-dir', dir]).code).toBe(2);
    expect(cli(['serve', '--retention-at', '25:00', '--data-dir', dir]).code).toBe(2);
  }, 90_000); // a dozen CLI processes, each a Node start
  it('project update, rotate-key and delete work on the data dir', async () => {
    const dir = tempDir();
    const created = cli(['project', 'create', 'Shop', '--data-dir', dir]);
    const id = /created project (\S+)/.exec(created.out)?.[1] as string;
    const key = /write key: (\S+)/.exec(created.out)?.[1];
    const updated = cli([
      'project',
      'update',
      id,
      '--name',
      'Shop 2',
      '--allowed-origin',
      'https://shop.example',
      '--retention-days',
      '7',
      '--data-dir',
      dir,
    ]);
    expect(updated.code).toBe(0);
    expect(JSON.parse(updated.out)).toMatchObject({
      id,
      name: 'Shop 2',
      allowedOrigins: ['https://shop.example'],
      retentionDays: 7,
    });
    expect(cli(['project', 'update', id, '--allowed-origin', 'file:///x', '--data-dir', dir]).code).toBe(2);
    expect(cli(['project', 'update', 'p_nope', '--name', 'x', '--data-dir', dir]).code).toBe(2);
    const rotated = cli(['project', 'rotate-key', id, '--grace-seconds', '3600', '--data-dir', dir]);
    expect(rotated.code).toBe(0);
    const newKey = /write key: (\S+)/.exec(rotated.out)?.[1];
    expect(newKey).toMatch(/^wk_/);
    expect(newKey).not.toBe(key);
    expect(rotated.out).toMatch(/previous key works until \d{4}-/);
    expect(cli(['project', 'delete', 'default', '--data-dir', dir]).code).toBe(2);
    const doomed = /created project (\S+)/.exec(
      cli(['project', 'create', 'Doomed', '--data-dir', dir]).out,
    )?.[1] as string;
    const deleted = cli(['project', 'delete', doomed, '--data-dir', dir]);
    expect(JSON.parse(deleted.out)).toEqual({ deletedSessions: 0, deletedEvents: 0 });
    expect(cli(['project', 'list', '--data-dir', dir]).out).not.toContain('Doomed');
  }, 120_000);
});
