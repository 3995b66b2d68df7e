import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestApp, json } from '../app.testkit.js';

// The dashboard's static files: a fake build in a temp dir, served by the real app in-process.

const dir = mkdtempSync(join(tmpdir(), 'sessiontrack-dashboard-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'assets'));
writeFileSync(
  join(dir, 'index.html'),
  '<!doctype html><title>app</title><script type="module" src="/assets/index-abc123.js"></script>',
);
writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log("app")');

describe('dashboard at /', () => {
  it('serves index.html revalidated, hashed assets immutable, and the app for other paths', async () => {
    const t = await createTestApp({ dashboardDir: dir });
    try {
      const index = await t.app.request('/');
      expect(index.status).toBe(200);
      expect(index.headers.get('content-type')).toContain('text/html');
      expect(index.headers.get('cache-control')).toBe('no-cache');
      expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(await index.text()).toContain('/assets/index-abc123.js');
      const etag = index.headers.get('etag') as string;
      expect((await t.app.request('/', { headers: { 'if-none-match': etag } })).status).toBe(304);

      const asset = await t.app.request('/assets/index-abc123.js');
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(asset.headers.get('content-type')).toContain('text/javascript');

      // The single-page fallback: any non-API page path is the app.
      const deep = await t.app.request('/sessions/whatever');
      expect(deep.status).toBe(200);
      expect(await deep.text()).toContain('<title>app</title>');
      // …but never for a missing asset or an API path.
      expect((await t.app.request('/assets/index-old.js')).status).toBe(404);
      const api = await t.read('/api/v1/nope');
      expect(api.status).toBe(404);
      expect((await json(api)).error.code).toBe('not_found');
      expect((await t.app.request('/api/v1/nope')).status).toBe(401);
      // the server's own routes are untouched
      expect(await json(await t.app.request('/healthz'))).toEqual({ status: 'ok' });
    } finally {
      await t.close();
    }
  });

  it('without a build the server still answers, and / says how to build it', async () => {
    const t = await createTestApp({ dashboardDir: join(dir, 'missing') });
    try {
      const res = await t.app.request('/');
      expect(res.status).toBe(404);
      expect(await res.text()).toContain('npm run build');
      expect(await json(await t.app.request('/healthz'))).toEqual({ status: 'ok' });
    } finally {
      await t.close();
    }
  });
});
