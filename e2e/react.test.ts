import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventsOf, Harness, ROOT, type SiteOptions, sentEvents, skipReason } from './harness.js';

// The React example (e2e/react-app), built with Vite as a development build so that StrictMode
// really mounts twice, served from its own origin and run in Chromium against the real server.

if (skipReason) console.warn(skipReason);

const WAIT = { timeout: 15_000, interval: 100 };
const APP = join(ROOT, 'e2e/react-app');
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

/** Builds the example into a temp dir and returns its files by URL path. */
async function buildExample(outDir: string): Promise<Record<string, string>> {
  const { build } = await import('vite');
  const { default: react } = await import('@vitejs/plugin-react');
  await build({
    configFile: false,
    root: APP,
    logLevel: 'warn',
    mode: 'development',
    plugins: [react()],
    // React's development build: the one where StrictMode double-mounts.
    define: { 'process.env.NODE_ENV': JSON.stringify('development') },
    build: { outDir, emptyOutDir: true, minify: false, sourcemap: false },
  });
  const files: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else files[`/${relative(outDir, p).split('\\').join('/')}`] = readFileSync(p, 'utf8');
    }
  };
  walk(outDir);
  return files;
}

describe.skipIf(skipReason !== null)('React example in Chromium', () => {
  let h: Harness;
  let built: Record<string, string>;
  const outDir = mkdtempSync(join(tmpdir(), 'sessiontrack-react-example-'));
  beforeAll(async () => {
    [h, built] = await Promise.all([Harness.start(), buildExample(outDir)]);
  });
  afterAll(async () => {
    await h?.close();
    rmSync(outDir, { recursive: true, force: true });
  });

  it('makes exactly one session under StrictMode, and trackAction lands in it', async () => {
    const project = await h.project();
    const config = `<script>window.sessiontrackExample = ${JSON.stringify({ writeKey: project.writeKey, endpoint: h.endpoint })};</script>`;
    const index = built['/index.html'];
    expect(index, 'the Vite build wrote index.html').toBeDefined();
    const files: SiteOptions['files'] = {};
    for (const [path, body] of Object.entries(built)) {
      files[path] = { type: TYPES[extname(path)] ?? 'application/octet-stream', body };
    }
    files['/'] = { type: TYPES['.html']!, body: (index ?? '').replace('</head>', `${config}\n</head>`) };
    const site = await h.site({ files });

    const ctx = await h.context();
    const page = await h.page(ctx);
    await page.goto(site.url('/'));
    const session = page.getByTestId('session');
    await vi.waitFor(async () => expect(await session.textContent()).toBeTruthy(), WAIT);
    const sessionId = (await session.textContent()) as string;
    const anonymousId = (await page.getByTestId('anonymous').textContent()) as string;
    expect(await page.evaluate(() => (window as unknown as { shopMounts?: number }).shopMounts)).toBe(2);

    await page.getByRole('button', { name: 'Add to cart' }).click();
    const stored = await vi.waitFor(async () => {
      const s = await h.session(sessionId);
      expect(eventsOf(s, 'action')).toHaveLength(1);
      return s;
    }, WAIT);
    expect(eventsOf(stored, 'action')[0]).toMatchObject({
      name: 'add-to-cart',
      resourceId: 'sku-42',
      details: { qty: 2 },
      page: '/',
    });
    expect(stored.anonymousId).toBe(anonymousId);
    expect(
      eventsOf(stored, 'pageview').map((e) => e.page),
      'one page view, not one per mount',
    ).toEqual(['/']);

    // Give a second (StrictMode) instance every chance to show up before counting sessions.
    await page.waitForTimeout(1_000);
    expect((await h.sessions(project.id)).map((s) => s.id)).toEqual([sessionId]);
    const bodies = h.tracks(project.writeKey);
    // The tracker names its session itself: every body, the first included, carries the one id.
    expect(new Set(bodies.map((b) => b.sessionId)), 'session ids the page sent').toEqual(new Set([sessionId]));
    expect(new Set(bodies.map((b) => b.anonymousId))).toEqual(new Set([anonymousId]));
    const pageviews = sentEvents(bodies).filter((e) => e.type === 'pageview');
    expect(new Set(pageviews.map((e) => e.id)).size, 'distinct page views sent').toBe(1);
    expect(h.requestsFrom(site).filter((r) => r.method === 'OPTIONS')).toEqual([]);
    for (const r of h.trackRequests(project.writeKey)) expect(r.status, r.response).toBeLessThan(400);
    expect(h.logs.get(page)?.errors, 'uncaught errors in the page').toEqual([]);
  });
});
