import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, sep } from 'node:path';
import { type Context, Hono } from 'hono';
import type { AppEnv } from '../app-deps.js';
import { errorBody } from '../errors.js';

// The dashboard (packages/dashboard, a Vite build) at `/`. Its files are read once and kept in
// memory (about 100 KB gzipped). Hashed assets under /assets/ are cached for a year; index.html
// is revalidated on every load (ETag), so a new version is picked up by the next page load.
// Any other GET that is not an API path answers index.html (the app routes in the URL).
// Without a build the server still runs; `/` says how to build it.

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';
// The app needs only itself: its scripts, its styles (uPlot and bars set inline style attributes)
// and the API on the same origin.
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

interface File {
  body: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
  cache: string;
}

/** The directory of the built dashboard, or null when it is not built (or not installed). */
export function dashboardDir(): string | null {
  try {
    return dirname(createRequire(import.meta.url).resolve('@sessiontrack/dashboard/app/index.html'));
  } catch {
    return null;
  }
}

export function loadDashboard(dir: string | null): Map<string, File> | null {
  if (!dir) return null;
  const files = new Map<string, File>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        walk(p);
        continue;
      }
      const path = `/${relative(dir, p).split(sep).join('/')}`;
      const body = new Uint8Array(readFileSync(p));
      files.set(path, {
        body,
        type: TYPES[extname(p)] ?? 'application/octet-stream',
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
        cache: path.startsWith('/assets/') ? IMMUTABLE : REVALIDATE,
      });
    }
  };
  try {
    walk(dir);
  } catch {
    return null;
  }
  return files.has('/index.html') ? files : null;
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>sessiontrack</title>
<h1>The dashboard is not built</h1>
<p>Run <code>npm run build</code> (or <code>npm run build -w @sessiontrack/dashboard</code>) in the sessiontrack
checkout and reload. The API under <code>/api/v1</code> works without it.</p>`;

export function dashboardRoutes(dir: string | null = dashboardDir()): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  let files = loadDashboard(dir);
  const send = (c: Context<AppEnv>, f: File) => {
    const headers: Record<string, string> = {
      'Content-Type': f.type,
      'Cache-Control': f.cache,
      ETag: f.etag,
      'X-Content-Type-Options': 'nosniff',
    };
    if (f.type.startsWith('text/html')) {
      headers['Content-Security-Policy'] = CSP;
      headers['Referrer-Policy'] = 'no-referrer';
    }
    if (c.req.header('if-none-match') === f.etag) return c.body(null, 304, headers);
    return c.body(f.body, 200, headers);
  };
  app.get('*', (c) => {
    const path = c.req.path;
    // The API and the server's own routes are never answered with the app.
    if (path.startsWith('/api/') || path === '/api')
      return c.json(errorBody('not_found', `no route for GET ${path}`), 404);
    // Built after the server started: look again.
    files ??= loadDashboard(dir ?? dashboardDir());
    if (!files) return c.html(NOT_BUILT, 404, { 'Cache-Control': 'no-store' });
    const file = files.get(path);
    if (file) return send(c, file);
    // A missing asset is a 404, not the app: a stale page must not parse HTML as a script.
    if (path.startsWith('/assets/') || extname(path) !== '') {
      return c.json(errorBody('not_found', `no file ${path}`), 404);
    }
    return send(c, files.get('/index.html') as File);
  });
  return app;
}
