import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../app.testkit.js';
import { trackerRoutes, trackerScriptPath } from './tracker.js';

// `npm test` builds the tracker before vitest runs; run `npm run build -w @sessiontrack/tracker` first
// when running this file alone.

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('GET /tracker.js', () => {
  it('serves the built dist/tracker.min.js of @sessiontrack/tracker, cacheable and to any origin', async () => {
    const path = trackerScriptPath();
    expect(path, 'run `npm run build -w @sessiontrack/tracker`').toMatch(/packages\/tracker\/dist\/tracker\.min\.js$/);
    const res = await t.app.request('/tracker.js', { headers: { origin: 'https://shop.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('etag')).toMatch(/^"[\w-]{27}"$/);
    const body = new Uint8Array(await res.arrayBuffer());
    expect(body).toEqual(new Uint8Array(readFileSync(path as string)));
    expect(new TextDecoder().decode(body)).toContain('sessiontrack');
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const etag = (await t.app.request('/tracker.js')).headers.get('etag') as string;
    const res = await t.app.request('/tracker.js', { headers: { 'if-none-match': etag } });
    expect(res.status).toBe(304);
    expect(res.headers.get('etag')).toBe(etag);
    expect(await res.text()).toBe('');
  });

  it('needs no admin token and no write key', async () => {
    const res = await t.app.request('/tracker.js', { method: 'GET' });
    expect(res.status).toBe(200);
  });

  it('answers 404 saying how to build it while the file is missing, and serves it once it is there', async () => {
    let path: string | null = '/nonexistent/tracker.min.js';
    const app = trackerRoutes(() => path);
    const missing = await app.request('/tracker.js');
    expect(missing.status).toBe(404);
    const body = (await missing.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('not_found');
    expect(body.error.message).toContain('npm run build -w @sessiontrack/tracker');
    path = trackerScriptPath();
    expect((await app.request('/tracker.js')).status).toBe(200);
  });
});
