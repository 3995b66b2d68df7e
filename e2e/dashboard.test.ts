import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fmtDuration, fmtInt, fmtPct } from '../packages/dashboard/src/format.js';
import { BIN } from '../packages/server/src/serve.testkit.js';
import { ADMIN_TOKEN, Harness, ROOT, skipReason } from './harness.js';

// The dashboard in Chromium against the real server (CLI process, SQLite) filled by the real
// `sessiontrack demo`: what it shows must be what the API answers. Screenshots of every view go to
// e2e/artifacts/ (git-ignored); SESSIONTRACK_UPDATE_DOCS_SCREENSHOT=1 also refreshes the one in docs/.

const BUILT = join(ROOT, 'packages/dashboard/dist/app/index.html');
const ARTIFACTS = join(ROOT, 'e2e/artifacts');
const reason =
  skipReason ??
  (existsSync(BUILT)
    ? null
    : 'e2e: dashboard skipped, not built (npm test builds it: npm run build -w @sessiontrack/dashboard)');
if (reason) console.warn(reason);

interface Summary {
  sessions: number;
  uniqueUsers: number;
  avgDurationSeconds: number;
  bounceRate: number;
  errorRate: number;
  toolCalls: number;
}

function runDemo(url: string, args: string[]): Promise<string> {
  return new Promise((ok, fail) => {
    const p = spawn(process.execPath, [BIN, 'demo', '--url', url, ...args], {
      env: { ...process.env, SESSIONTRACK_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      out += d;
    });
    p.on('exit', (code) => (code === 0 ? ok(out) : fail(new Error(`demo exited ${code}: ${out}`))));
  });
}

describe.skipIf(reason !== null)('dashboard in Chromium', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
    await runDemo(h.serverUrl, ['--sessions', '800', '--days', '30']);
    mkdirSync(ARTIFACTS, { recursive: true });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  async function signedIn(hash = '#/overview'): Promise<Page> {
    const page = await h.page(await h.context());
    await page.goto(`${h.serverUrl}/${hash}`);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Views' }).waitFor();
    return page;
  }

  it('refuses a wrong token at sign-in, then signs in', async () => {
    const page = await h.page(await h.context());
    await page.goto(`${h.serverUrl}/`);
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByTestId('signin-error').textContent()).toContain('refused');
    await shot(page, 'sign-in');
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('overview').waitFor();
  });

  it('the overview shows the numbers the API returns', async () => {
    const page = await signedIn();
    const api = await h.api<Summary>('/api/v1/stats/summary');
    expect(api.sessions).toBeGreaterThan(700);
    const card = (id: string) => page.getByTestId(`${id}-value`);
    await expect.poll(() => card('card-sessions').textContent()).toBe(fmtInt(api.sessions));
    expect(await card('card-users').textContent()).toBe(fmtInt(api.uniqueUsers));
    expect(await card('card-bounce').textContent()).toBe(fmtPct(api.bounceRate));
    expect(await card('card-duration').textContent()).toBe(fmtDuration(api.avgDurationSeconds));
    expect(await card('card-errors').textContent()).toBe(fmtPct(api.errorRate));
    expect(await card('card-tools').textContent()).toBe(fmtInt(api.toolCalls));
    const active = await h.api<{ count: number }>('/api/v1/sessions/active');
    await expect.poll(() => card('active-now').textContent()).toBe(fmtInt(active.count));
    // the chart is drawn, and its data table holds the API's daily numbers
    await page.locator('[data-testid="chart-sessions"] canvas').waitFor();
    const daily = await h.api<{ date: string; sessions: number }[]>('/api/v1/stats/daily');
    const total = daily.reduce((n, d) => n + d.sessions, 0);
    const cells = await page
      .locator('[data-testid="chart-sessions"] table.sr-only tbody td:nth-child(2)')
      .allTextContents();
    expect(cells.reduce((n, c) => n + Number(c), 0)).toBe(total);
    // top lists, countries with regions
    await page.getByTestId('list-entryPage').waitFor();
    const entry = await h.api<{ value: string }[]>('/api/v1/stats/breakdown?by=entryPage&limit=8');
    expect(await page.getByTestId('list-entryPage').locator('li .name').first().textContent()).toBe(entry[0]?.value);
    await expect.poll(() => page.getByTestId('list-country').locator('.chip').count()).toBeGreaterThan(0);
    await shot(page, 'overview');
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(15, 18, 22)');
    await shot(page, 'overview-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    if (process.env.SESSIONTRACK_UPDATE_DOCS_SCREENSHOT === '1') {
      await page.setViewportSize({ width: 1400, height: 900 });
      await page.screenshot({ path: join(ROOT, 'docs/dashboard-overview.png'), fullPage: true });
    }
    // What the overview asks for when it loads: one stats batch, and Active now (polled on its own).
    const asked: string[] = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname.startsWith('/api/v1/') && u.pathname !== '/api/v1/projects')
        asked.push(`${r.method()} ${u.pathname}`);
    });
    await page.reload();
    await expect.poll(() => card('card-sessions').textContent()).toBe(fmtInt(api.sessions));
    await page.getByTestId('list-entryPage').waitFor();
    expect(asked.sort()).toEqual(['GET /api/v1/sessions/active', 'POST /api/v1/stats/batch']);
  });

  it('opens a session timeline from the filtered list; the URL carries the view', async () => {
    const page = await signedIn('#/sessions?kind=web&status=ended');
    await page.getByTestId('session-table').waitFor();
    const { sessions } = await h.api<{ sessions: { id: string; kind: string }[] }>(
      '/api/v1/sessions?kind=web&status=ended&limit=5',
    );
    expect(sessions.every((s) => s.kind === 'web')).toBe(true);
    await shot(page, 'sessions');
    await page.getByTestId('session-table').locator('tbody tr a').first().click();
    await page.getByTestId('events').waitFor();
    expect(page.url()).toContain(`session=${sessions[0]?.id}`);
    const detail = await h.session(sessions[0]?.id as string);
    expect(await page.getByTestId('events').locator('li').count()).toBe(detail.events.length);
    await shot(page, 'timeline');
    // a shared link opens the same view in a fresh tab
    const again = await signedIn(`#/sessions?session=${sessions[0]?.id}`);
    await again.getByTestId('events').waitFor();
  });

  it("a session's timeline shows its workflows, abandoned ones included", async () => {
    const { sessions } = await h.api<{ sessions: { id: string; workflows: number }[] }>(
      '/api/v1/sessions?status=ended&limit=500',
    );
    let abandoned: { id: string; outcomes: number } | null = null;
    for (const s of sessions.filter((x) => x.workflows > 0)) {
      const detail = await h.api<{ abandonedWorkflows: string[]; workflowOutcomes: unknown[] }>(
        `/api/v1/sessions/${s.id}`,
      );
      if (detail.abandonedWorkflows.length > 0) {
        abandoned = { id: s.id, outcomes: detail.workflowOutcomes.length };
        break;
      }
    }
    expect(abandoned, 'the demo has sessions with abandoned workflows').not.toBeNull();
    const page = await signedIn(`#/sessions?session=${abandoned?.id}`);
    const list = page.getByTestId('workflows');
    await list.waitFor();
    expect(await list.locator('li').count()).toBe(abandoned?.outcomes);
    expect(await list.textContent()).toContain('abandoned');
  });

  it("a user's history and pattern with its indicators", async () => {
    const page = await signedIn('#/users');
    await page.getByTestId('recent-users').locator('button').first().click();
    await page.getByTestId('pattern').waitFor();
    const user = new URL(page.url()).hash.match(/user=([^&]+)/)?.[1] as string;
    const pattern = await h.api<{ pattern: string; indicators: string[] }>(`/api/v1/sessions/patterns/${user}`);
    expect(await page.getByTestId('pattern-name').textContent()).toBe(pattern.pattern.replace(/_/g, ' '));
    if (pattern.indicators.length > 0) {
      expect(await page.getByTestId('indicators').locator('li').count()).toBe(pattern.indicators.length);
    }
    await page.getByTestId('history').waitFor();
    await shot(page, 'users');
  });

  it('insights and MCP render without console errors', async () => {
    const page = await signedIn('#/insights');
    await page.getByTestId('heatmap').waitFor();
    await page.getByTestId('list-durations').waitFor();
    await page.getByTestId('together').waitFor();
    await page.getByTestId('workflow-table').waitFor();
    await page.getByTestId('list-exitReason').waitFor();
    await shot(page, 'insights');
    await page.getByRole('link', { name: 'MCP' }).click();
    await page.locator('[data-testid="chart-tools"] canvas').waitFor();
    await page.getByTestId('list-tool').waitFor();
    // top tools with their error rates, as the API counts them (demo tools fail now and then)
    const tools = await h.api<{ value: string; calls: number; errors: number; errorRate: number }[]>(
      '/api/v1/stats/breakdown?by=tool&limit=12',
    );
    expect(tools.reduce((n, t) => n + t.errors, 0)).toBeGreaterThan(0);
    const first = page.getByTestId('list-tool').locator('tbody tr').first();
    expect(await first.locator('td').first().textContent()).toBe(tools[0]?.value);
    expect(await first.locator('td').nth(3).textContent()).toBe(
      `${fmtPct(tools[0]?.errorRate ?? 0)} (${fmtInt(tools[0]?.errors ?? 0)})`,
    );
    await page.getByTestId('list-clients').waitFor();
    await page.getByTestId('list-transport').waitFor();
    await shot(page, 'mcp');
    const log = h.logs.get(page);
    expect(log?.errors).toEqual([]);
    expect(log?.console).toEqual([]);
  });

  it('an empty project shows the snippets with its real write key', async () => {
    const project = await h.project();
    const page = await signedIn(`#/overview?project=${project.id}`);
    await page.getByTestId('empty').waitFor();
    expect(await page.getByTestId('snippet-tracker').textContent()).toContain(project.writeKey);
    expect(await page.getByTestId('snippet-mcp').textContent()).toContain(project.writeKey);
    await shot(page, 'empty');
  });

  it('works from the keyboard alone: sign in, then move between views', async () => {
    const page = await h.page(await h.context());
    await page.goto(`${h.serverUrl}/`);
    await page.getByLabel('Admin token').waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('token');
    await page.keyboard.type(ADMIN_TOKEN);
    await page.keyboard.press('Enter');
    await page.getByTestId('overview').waitFor();
    await page.getByRole('link', { name: 'Insights' }).waitFor();
    // Tab through the header until the Insights link has focus, then follow it.
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      if ((await page.evaluate(() => document.activeElement?.textContent)) === 'Insights') break;
    }
    await page.keyboard.press('Enter');
    await page.getByTestId('heatmap').waitFor();
    expect(page.url()).toContain('#/insights');
  });

  it('a token the server refuses later goes back to sign-in', async () => {
    const page = await signedIn();
    await page.getByTestId('overview').waitFor();
    await page.evaluate(() => sessionStorage.setItem('sessiontrack.adminToken', 'revoked-token'));
    await page.reload();
    await page.getByLabel('Admin token').waitFor();
    expect(await page.getByRole('alert').first().textContent()).toContain('refused');
    expect(await page.evaluate(() => sessionStorage.getItem('sessiontrack.adminToken'))).toBeNull();
  });
});
