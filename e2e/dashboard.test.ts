import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fmtDuration, fmtInt, fmtMs, fmtPct } from '../packages/dashboard/src/format.js';
import { BIN } from '../packages/server/src/serve.testkit.js';
import { ADMIN_TOKEN, Harness, ROOT, skipReason } from './harness.js';

// The dashboard in Chromium against the real server (CLI process, SQLite) filled by the real
// `sessiontrack demo`: what it shows must be what the API answers. Screenshots of every view go to
// e2e/artifacts/ (git-ignored); SESSIONTRACK_UPDATE_DOCS_SCREENSHOT=1 also refreshes those in docs/.
// Every view is taken at 1280 px, and a table wider than its card fails the run.

const BUILT = join(ROOT, 'packages/dashboard/dist/app/index.html');
const ARTIFACTS = join(ROOT, 'e2e/artifacts');
const DOCS = process.env.SESSIONTRACK_UPDATE_DOCS_SCREENSHOT === '1';
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

/** Tables wider than the content box of their card, as `view: table (px) > card (px)`. */
async function overflowing(page: Page, view: string): Promise<string[]> {
  const found = await page.evaluate(() =>
    [...document.querySelectorAll('.panel table')].flatMap((t) => {
      const panel = t.closest('.panel') as HTMLElement;
      const style = getComputedStyle(panel);
      const inner = panel.clientWidth - Number.parseFloat(style.paddingLeft) - Number.parseFloat(style.paddingRight);
      const width = Math.max(t.getBoundingClientRect().width, t.scrollWidth);
      const name = t.getAttribute('data-testid') ?? panel.getAttribute('data-testid') ?? 'table';
      return width > inner + 0.5 ? [`${name}: ${Math.round(width)} > ${Math.round(inner)}`] : [];
    }),
  );
  return found.map((f) => `${view}: ${f}`);
}

async function settled(page: Page): Promise<void> {
  await page.waitForFunction(() => document.querySelectorAll('main .loading, main .skeleton').length === 0, null, {
    timeout: 30_000,
  });
}

async function api<T>(h: Harness, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${h.serverUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
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

  it('the users overview: pattern distribution, the list and retention cohorts as the API answers them', async () => {
    const page = await signedIn('#/users');
    await page.getByTestId('user-list').waitFor();
    await page.getByTestId('retention').waitFor();
    await settled(page);
    const api = await h.api<{
      users: { userId: string }[];
      patterns: Record<string, number>;
      nextCursor: string | null;
    }>('/api/v1/users?limit=25');
    const distribution = page.getByTestId('pattern-distribution');
    for (const [label, n] of Object.entries(api.patterns)) {
      if (label === 'new_user' && n === 0) continue;
      expect(await distribution.locator(`li[data-pattern="${label}"] .num`).textContent()).toBe(fmtInt(n));
    }
    const rows = page.getByTestId('user-list').locator('tbody tr');
    expect(await rows.locator('td:first-child').allTextContents()).toEqual(api.users.map((u) => u.userId));
    // Retention: the demo's users came back in later weeks.
    const cohorts = page.getByTestId('retention').locator('tbody tr');
    expect(await cohorts.count()).toBeGreaterThanOrEqual(8);
    // Next page, then back.
    if (api.nextCursor) {
      await page.getByRole('button', { name: 'Next' }).click();
      await expect.poll(async () => (await rows.first().textContent()) !== api.users[0]?.userId).toBe(true);
      await page.getByRole('button', { name: 'Previous' }).click();
      await expect.poll(() => rows.locator('td:first-child').first().textContent()).toBe(api.users[0]?.userId);
    }
    await shot(page, 'users-overview');
    if (DOCS) await page.screenshot({ path: join(ROOT, 'docs/dashboard-users.png'), fullPage: true });
    expect(h.logs.get(page)?.errors).toEqual([]);
    expect(h.logs.get(page)?.console).toEqual([]);
  });

  it("a user's history and pattern with its indicators", async () => {
    const page = await signedIn('#/users');
    await page.getByTestId('user-list').locator('tbody button').first().click();
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
    // paths from the entry page, as the API counts them (web sessions)
    await page.getByTestId('list-paths').waitFor();
    const paths = await h.api<{ steps: string[]; sessions: number }[]>('/api/v1/stats/paths?kind=web&steps=3&limit=10');
    expect(paths.length).toBeGreaterThan(0);
    const firstPath = page.getByTestId('list-paths').locator('li').first();
    expect(await firstPath.locator('.name').getAttribute('title')).toBe(paths[0]?.steps.join(' › '));
    expect(await firstPath.locator('.num').textContent()).toBe(fmtInt(paths[0]?.sessions ?? 0));
    await shot(page, 'insights');
    if (DOCS) await page.screenshot({ path: join(ROOT, 'docs/dashboard-insights.png'), fullPage: true });
    await page.getByRole('link', { name: 'MCP' }).click();
    await page.locator('[data-testid="chart-tools"] canvas').waitFor();
    await page.getByTestId('list-tool').waitFor();
    // top tools with their latency and error rates, as the API counts them (demo tools fail now and then)
    const tools =
      await h.api<
        { tool: string; calls: number; errors: number; errorRate: number; p50Ms: number | null; p95Ms: number | null }[]
      >('/api/v1/stats/tools?limit=12');
    expect(tools.reduce((n, t) => n + t.errors, 0)).toBeGreaterThan(0);
    expect(tools[0]?.p50Ms).toBeGreaterThan(0);
    const first = page.getByTestId('list-tool').locator('tbody tr').first();
    expect(await first.locator('td').first().textContent()).toBe(tools[0]?.tool);
    expect(await first.locator('td').nth(1).textContent()).toBe(fmtInt(tools[0]?.calls ?? 0));
    expect(await first.locator('td').nth(2).textContent()).toBe(
      `${fmtMs(tools[0]?.p50Ms ?? null)} / ${fmtMs(tools[0]?.p95Ms ?? null)}`,
    );
    expect(await first.locator('td').nth(4).textContent()).toBe(
      `${fmtPct(tools[0]?.errorRate ?? 0)} (${fmtInt(tools[0]?.errors ?? 0)})`,
    );
    // tool sequences of MCP sessions
    await page.getByTestId('list-sequences').waitFor();
    const sequences = await h.api<{ steps: string[] }[]>('/api/v1/stats/paths?kind=mcp&steps=3&limit=10');
    expect(await page.getByTestId('list-sequences').locator('li .name').first().getAttribute('title')).toBe(
      sequences[0]?.steps.join(' › '),
    );
    await page.getByTestId('list-clients').waitFor();
    await page.getByTestId('list-transport').waitFor();
    await shot(page, 'mcp');
    if (DOCS) await page.screenshot({ path: join(ROOT, 'docs/dashboard-mcp.png'), fullPage: true });
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

  it('every view at 1280 px: no table is wider than its card', async () => {
    const page = await signedIn('#/overview');
    const wide: string[] = [];
    for (const view of ['Overview', 'Sessions', 'Users', 'Insights', 'MCP', 'Settings']) {
      await page.getByRole('link', { name: view, exact: true }).click();
      await settled(page);
      expect(page.viewportSize()?.width).toBe(1280);
      wide.push(...(await overflowing(page, view)));
      await page.screenshot({ path: join(ARTIFACTS, `layout-${view.toLowerCase()}.png`), fullPage: true });
    }
    expect(wide).toEqual([]);
    expect(h.logs.get(page)?.errors).toEqual([]);
    expect(h.logs.get(page)?.console).toEqual([]);
  });

  it('Settings: saves fields, refuses a file: origin, rotates the key, makes and revokes a share link', async () => {
    const project = await h.project();
    const page = await signedIn(`#/settings?project=${project.id}`);
    const form = page.getByTestId('settings-form');
    await form.waitFor();
    await form.locator('input[name="name"]').fill('Renamed in Settings');
    await form.locator('textarea[name="allowedOrigins"]').fill('https://shop.example');
    await form.locator('input[name="retentionDays"]').fill('14');
    await form.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('settings-saved').waitFor();
    const saved = (
      await api<{ projects: { id: string; name: string; allowedOrigins: string[]; retentionDays: number }[] }>(
        h,
        'GET',
        '/api/v1/projects',
      )
    ).projects.find((p) => p.id === project.id);
    expect(saved).toMatchObject({
      name: 'Renamed in Settings',
      allowedOrigins: ['https://shop.example'],
      retentionDays: 14,
    });
    await expect.poll(() => page.locator('h1').first().textContent()).toContain('Renamed in Settings');

    await form.locator('textarea[name="allowedOrigins"]').fill('file:///etc/passwd');
    await form.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.getByTestId('settings-error').textContent()).toContain('http(s)');

    await page.getByRole('button', { name: 'Rotate key' }).click();
    await expect.poll(() => page.getByTestId('settings-write-key').textContent()).not.toBe(project.writeKey);
    await page.getByTestId('settings-previous-key').waitFor();

    await page.getByLabel('Label').fill('wall screen');
    await page.getByRole('button', { name: 'Create link' }).click();
    const url = await page.getByTestId('share-url').inputValue();
    expect(url).toContain(`project=${project.id}&share=sts_`);
    await expect.poll(() => page.getByTestId('share-list').textContent()).toContain('wall screen');
    await page.screenshot({ path: join(ARTIFACTS, 'settings.png'), fullPage: true });
    if (DOCS) await page.screenshot({ path: join(ROOT, 'docs/dashboard-settings.png'), fullPage: true });
    await page.getByRole('button', { name: 'Revoke' }).click();
    await expect.poll(() => page.getByText('No share links.').count()).toBe(1);
    expect(h.logs.get(page)?.errors).toEqual([]);
    // The one console line is Chromium's note on the 400 the file: origin got, on purpose.
    expect(h.logs.get(page)?.console).toEqual([
      'error: Failed to load resource: the server responded with a status of 400 (Bad Request)',
    ]);
  });

  it('a share link opens the dashboard read-only for its project, and stops when revoked', async () => {
    const share = await api<{ id: string; token: string; url: string }>(h, 'POST', '/api/v1/projects/default/share', {
      label: 'e2e',
    });
    const page = await h.page(await h.context());
    await page.goto(share.url);
    await page.getByTestId('shared-badge').waitFor();
    await page.getByTestId('overview').waitFor();
    await settled(page);
    // The token left the address bar; no Settings, no project list, no sign-out but leaving.
    expect(page.url()).not.toContain('share=');
    expect(await page.getByRole('link', { name: 'Settings' }).count()).toBe(0);
    expect(await page.getByRole('combobox', { name: 'Project' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Insights', exact: true }).click();
    await page.getByTestId('heatmap').waitFor();
    await settled(page);
    await page.getByRole('link', { name: 'Sessions', exact: true }).click();
    await settled(page);
    if (DOCS) {
      await page.getByRole('link', { name: 'Overview', exact: true }).click();
      await settled(page);
      await page.screenshot({ path: join(ROOT, 'docs/dashboard-shared.png'), fullPage: true });
    }
    expect(h.logs.get(page)?.errors).toEqual([]);
    expect(h.logs.get(page)?.console).toEqual([]);
    // Revoked: the next load goes back to sign-in with a note.
    const res = await fetch(`${h.serverUrl}/api/v1/projects/default/share/${share.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(204);
    await page.reload();
    await page.getByLabel('Admin token').waitFor();
    expect(await page.getByRole('alert').first().textContent()).toContain('share link');
  });
});
