import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WireSession } from '@sessiontrack/core';
import { importBodySchema } from '@sessiontrack/core';
import { afterAll, describe, expect, it } from 'vitest';
import { batch } from './demo.js';
import { generateDemo } from './demo-data.js';
import { BIN, serve, stopAll } from './serve.testkit.js';

const DAY = 24 * 3600_000;
const NOW = Date.parse('2026-11-20T15:00:00.000Z');

describe('generateDemo', () => {
  const sessions = generateDemo({ days: 30, sessions: 3000, now: NOW, seed: 7, prefix: 'p' });

  it('is deterministic for a seed and valid for the import route', () => {
    expect(generateDemo({ days: 30, sessions: 3000, now: NOW, seed: 7, prefix: 'p' })).toEqual(sessions);
    expect(generateDemo({ days: 30, sessions: 3000, now: NOW, seed: 8, prefix: 'p' })).not.toEqual(sessions);
    for (const b of batch(sessions)) {
      const r = importBodySchema.safeParse(JSON.parse(b.body));
      expect(r.success, r.success ? '' : r.error.message).toBe(true);
      expect(b.body.length).toBeLessThan(4 * 1024 * 1024);
    }
  });

  it('spreads over the past days with the mix a product has', () => {
    const share = (f: (s: (typeof sessions)[number]) => boolean) => sessions.filter(f).length / sessions.length;
    expect(sessions.every((s) => s.startedAt < NOW && s.startedAt >= NOW - 31 * DAY)).toBe(true);
    expect(share((s) => s.kind === 'mcp')).toBeGreaterThan(0.1);
    expect(share((s) => s.kind === 'mcp')).toBeLessThan(0.3);
    // bounces: one pageview, no end after 30 s
    expect(share((s) => s.kind === 'web' && s.events.length === 1)).toBeGreaterThan(0.15);
    expect(share((s) => s.events.some((e) => e.type === 'error'))).toBeGreaterThan(0.02);
    expect(share((s) => s.entry?.page?.includes('utm_campaign') === true)).toBeGreaterThan(0.05);
    expect(share((s) => !s.end && s.startedAt > NOW - 30 * 60_000)).toBeGreaterThan(0);
    const wf = sessions.flatMap((s) => s.events).filter((e) => e.type.startsWith('workflow_'));
    const starts = wf.filter((e) => e.type === 'workflow_start').length;
    const closed = wf.length - starts;
    expect(starts - closed, 'some workflows are abandoned').toBeGreaterThan(starts * 0.1);
    const tools = sessions.flatMap((s) => s.events).filter((e) => e.type === 'tool_call');
    expect(tools.some((e) => e.details?.isError === true)).toBe(true);
    // weekdays carry more than weekends; working hours more than the night
    const hour = (h: number) => sessions.filter((s) => new Date(s.startedAt).getUTCHours() === h).length;
    expect(hour(10)).toBeGreaterThan(hour(3) * 3);
    // returning users: someone comes back often
    const perUser = new Map<string, number>();
    for (const s of sessions) if (s.userId) perUser.set(s.userId, (perUser.get(s.userId) ?? 0) + 1);
    expect(Math.max(...perUser.values())).toBeGreaterThan(15);
  });
});

describe('sessiontrack demo', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sessiontrack-demo-'));
  afterAll(async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  const demo = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number | null; out: string; err: string }>((ok) => {
      const p = spawn(process.execPath, [BIN, 'demo', ...args], { env: { ...process.env, ...env } });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => {
        out += d;
      });
      p.stderr.on('data', (d) => {
        err += d;
      });
      p.on('exit', (code) => ok({ code, out, err }));
    });

  it('fills the project through the import route, with progress, and a second run adds nothing', async () => {
    // No SESSIONTRACK_ADMIN_TOKEN: the server generates one into the data dir; demo reads it there.
    const server = await serve(['--data-dir', dir, '--log-level', 'warn'], { SESSIONTRACK_ADMIN_TOKEN: '' });
    const env = { SESSIONTRACK_ADMIN_TOKEN: '', SESSIONTRACK_DATA_DIR: dir };
    const first = await demo(['--url', server.url, '--sessions', '300', '--days', '7'], env);
    expect(first.err).toContain('100%');
    expect(first.code, first.err).toBe(0);
    expect(first.out).toMatch(/imported 300 sessions and \d+ events/);

    const token = readFileSync(join(dir, 'admin-token'), 'utf8').trim();
    const res = await fetch(`${server.url}/api/v1/sessions?limit=500&from=2000-01-01`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const { sessions } = (await res.json()) as { sessions: WireSession[] };
    expect(sessions).toHaveLength(300);
    expect(new Set(sessions.map((s) => s.kind))).toEqual(new Set(['web', 'mcp']));

    const again = await demo(['--url', server.url, '--sessions', '300', '--days', '7'], env);
    expect(again.out).toContain('imported 0 sessions');
  });

  it('says what is wrong: a wrong token, an unknown project, a bad option', async () => {
    const server = await serve(['--data-dir', join(dir, 'b'), '--log-level', 'warn'], {
      SESSIONTRACK_ADMIN_TOKEN: 'right-token-0123456789',
    });
    const wrong = await demo(['--url', server.url], { SESSIONTRACK_ADMIN_TOKEN: 'wrong-token-0123456789' });
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/401 .*SESSIONTRACK_ADMIN_TOKEN/);
    const project = await demo(['--url', server.url, '--project', 'nope'], {
      SESSIONTRACK_ADMIN_TOKEN: 'right-token-0123456789',
    });
    expect(project.err).toContain("no project 'nope'");
    const bad = await demo(['--days', 'x'], { SESSIONTRACK_ADMIN_TOKEN: 't' });
    expect(bad.code).toBe(2);
  });
});
