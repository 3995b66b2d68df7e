import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Hono } from 'hono';
import type { AppEnv } from '../app-deps.js';
import { errorBody } from '../errors.js';

// GET /tracker.js: the browser tracker's script-tag build (dist/tracker.min.js of
// @sessiontrack/tracker), for `<script defer src="…/tracker.js" data-write-key="…">` on any site.

interface Script {
  body: Uint8Array<ArrayBuffer>;
  etag: string;
}

/** Where the built script is, or null when the tracker package cannot be resolved. */
export function trackerScriptPath(): string | null {
  try {
    return createRequire(import.meta.url).resolve('@sessiontrack/tracker/tracker.min.js');
  } catch {
    return null;
  }
}

function readScript(path: string | null): Script | null {
  if (!path) return null;
  try {
    const body = new Uint8Array(readFileSync(path));
    return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
  } catch {
    return null;
  }
}

/**
 * Serves the file read once and kept; while it is missing (not built yet) every request looks again
 * and answers 404 saying how to build it.
 */
export function trackerRoutes(locate: () => string | null = trackerScriptPath): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  let script: Script | null = readScript(locate());
  app.get('/tracker.js', (c) => {
    script ??= readScript(locate());
    if (!script) {
      return c.json(
        errorBody(
          'not_found',
          'the browser tracker is not built: run `npm run build -w @sessiontrack/tracker` (or `npm run build`)',
        ),
        404,
      );
    }
    const headers = {
      'Content-Type': 'application/javascript; charset=utf-8',
      // An hour: a new version reaches every page within one; the ETag makes the revalidation cheap.
      'Cache-Control': 'public, max-age=3600',
      'Access-Control-Allow-Origin': '*',
      ETag: script.etag,
    };
    if (c.req.header('if-none-match') === script.etag) return c.body(null, 304, headers);
    return c.body(script.body, 200, headers);
  });
  return app;
}
