import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { WireEvent, WireSession } from '@sessiontrack/core';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { type RunningServer, serve } from '../packages/server/src/serve.testkit.js';

// The end-to-end harness: the real server as a child process (SQLite in a temp dir), a recording
// proxy in front of it, test sites on their own ports (other origins, as a real site is) and
// Debian's Chromium driven by playwright-core.
//
// The proxy is how the tests see what a page sent: Playwright's request events miss the
// sendBeacon requests a page makes while it unloads (navigation away, page close), and those are
// the ones that matter most here. Pages load the tracker from the proxy and post to it, so every
// request of the page to sessiontrack is recorded, beacons included, before it is passed on.

export const ROOT = resolve(import.meta.dirname, '..');
export const CHROMIUM_PATH = process.env.SESSIONTRACK_E2E_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser suites cannot run here, or null when they can. */
export const skipReason: string | null = existsSync(CHROMIUM_PATH)
  ? null
  : `e2e: skipped, no Chromium at ${CHROMIUM_PATH} (install Debian's: apt-get install -y chromium, as .ci/run does)`;

/** A desktop Chrome: the server drops HeadlessChrome's user agent as a bot. */
export const DESKTOP_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

export const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef';

/** One request the proxy passed to the server, with the server's answer. */
export interface Recorded {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  status?: number;
  response?: string;
}

/** The body the tracker posts to /api/v1/track. */
export interface TrackBody {
  writeKey: string;
  anonymousId: string;
  userId?: string;
  sessionId?: string | null;
  events: TrackEvent[];
  entry?: Record<string, unknown>;
  device?: Record<string, unknown>;
  end?: { reason?: string };
}

export interface TrackEvent {
  id: string;
  type: string;
  name?: string | null;
  page?: string | null;
  resourceId?: string | null;
  details?: Record<string, unknown> | null;
  timestamp?: string | number;
}

export type StoredSession = WireSession & { events: WireEvent[] };

/** The tracker's global, as the test pages call it through page.evaluate. */
export interface TrackerApi {
  track(action: string, options?: { resourceId?: string; metadata?: Record<string, unknown> }): void;
  pageview(): void;
  identify(userId: string): void;
  end(reason?: string): void;
  error(err: unknown): void;
  getState(): { anonymousId: string | null; sessionId: string | null };
}
export type TrackerWindow = Window & { sessiontrack: TrackerApi };

export interface Project {
  id: string;
  writeKey: string;
  idleTimeoutMs: number | null;
}

export interface SiteOptions {
  /** The project whose write key the page's script tag carries; none: a page without the tracker. */
  writeKey?: string;
  /** More data-* attributes on the script tag, e.g. { 'data-heartbeat-interval': '3600000' }. */
  attrs?: Record<string, string>;
  body?: string;
  /** Whole files by path (served as they are), e.g. a built app. */
  files?: Record<string, { type: string; body: string | Buffer }>;
}

export interface Site {
  origin: string;
  url(path?: string): string;
}

export interface PageLog {
  /** Uncaught exceptions in the page. */
  errors: string[];
  /** console.error and console.warn lines. */
  console: string[];
}

export class Harness {
  readonly requests: Recorded[] = [];
  /** Milliseconds the proxy holds every POST /api/v1/track before passing it on (a slow network). */
  trackLatencyMs = 0;
  readonly logs = new WeakMap<Page, PageLog>();
  #servers: Server[] = [];
  #endpoint = '';
  #contexts = new Set<BrowserContext>();

  private constructor(
    private readonly server: RunningServer,
    private readonly dataDir: string,
    /** The sessiontrack server itself (read API). */
    readonly serverUrl: string,
    readonly browser: Browser,
    readonly serverOutput: () => string,
  ) {}

  static async start(): Promise<Harness> {
    const dataDir = mkdtempSync(join(tmpdir(), 'sessiontrack-e2e-'));
    // The server as a user runs it (the CLI test kit of packages/server).
    const server = await serve(['--data-dir', dataDir, '--log-level', 'warn'], {
      SESSIONTRACK_ADMIN_TOKEN: ADMIN_TOKEN,
    });
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM_PATH,
        headless: true,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          // The context's userAgent covers the pages' own requests, but a beacon sent while a page
          // unloads goes out with the browser's default (HeadlessChrome: a bot to the server).
          `--user-agent=${DESKTOP_UA}`,
        ],
        timeout: 30_000,
      });
    } catch (err) {
      await server.stop('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
    const h = new Harness(server, dataDir, server.url, browser, () => server.out() + server.err());
    h.#endpoint = await h.#listen(h.#proxyHandler(new URL(server.url)));
    const script = await fetch(`${h.endpoint}/tracker.js`);
    if (!script.ok) {
      await h.close();
      throw new Error(`the server does not serve the tracker: GET /tracker.js answered ${script.status}`);
    }
    return h;
  }

  /** The recording proxy in front of the server: what pages load the tracker from and post to. */
  get endpoint(): string {
    return this.#endpoint;
  }

  /** A new project, so a test sees only its own sessions. */
  async project(options: { idleTimeoutMs?: number } = {}): Promise<Project> {
    const res = await fetch(`${this.serverUrl}/api/v1/projects`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `e2e ${this.#servers.length}`, ...options }),
    });
    if (res.status !== 201) throw new Error(`POST /api/v1/projects: ${res.status} ${await res.text()}`);
    return (await res.json()) as Project;
  }

  /** GET on the read API with the admin token. */
  async api<T>(path: string): Promise<T> {
    const res = await fetch(`${this.serverUrl}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  async sessions(projectId: string): Promise<WireSession[]> {
    const r = await this.api<{ sessions: WireSession[] }>(`/api/v1/sessions?project=${projectId}&limit=500`);
    return r.sessions;
  }

  session(id: string): Promise<StoredSession> {
    return this.api<StoredSession>(`/api/v1/sessions/${encodeURIComponent(id)}`);
  }

  /** What pages posted to /api/v1/track with this write key, in the order the proxy got it. */
  tracks(writeKey: string): TrackBody[] {
    return this.trackRequests(writeKey).map((r) => JSON.parse(r.body) as TrackBody);
  }

  trackRequests(writeKey: string): Recorded[] {
    return this.requests.filter((r) => {
      if (r.method !== 'POST' || !r.path.startsWith('/api/v1/track')) return false;
      try {
        return (JSON.parse(r.body) as { writeKey?: unknown }).writeKey === writeKey;
      } catch {
        return false;
      }
    });
  }

  /** Every request a site's pages made to sessiontrack (by their Origin header). */
  requestsFrom(site: Site): Recorded[] {
    return this.requests.filter((r) => r.headers.origin === site.origin);
  }

  /** A test site on its own port: every path answers the same page, with the tracker's script tag. */
  async site(options: SiteOptions = {}): Promise<Site> {
    const attrs = Object.entries(options.attrs ?? {})
      .map(([k, v]) => ` ${k}="${escapeHtml(v)}"`)
      .join('');
    const tag = options.writeKey
      ? `<script defer src="${this.endpoint}/tracker.js" data-write-key="${escapeHtml(options.writeKey)}" data-endpoint="${this.endpoint}"${attrs}></script>`
      : '';
    const page = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>sessiontrack e2e</title>
    ${tag}
  </head>
  <body>
    <h1>sessiontrack e2e</h1>
    ${options.body ?? ''}
  </body>
</html>
`;
    const files = options.files ?? {};
    const origin = await this.#listen((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const file = files[path];
      if (file) {
        res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' });
        res.end(file.body);
      } else if (path === '/favicon.ico') {
        res.writeHead(204).end();
      } else {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(page);
      }
    });
    return { origin, url: (path = '/') => `${origin}${path}` };
  }

  /** A fresh browser profile (own localStorage) with a desktop Chrome user agent. */
  async context(): Promise<BrowserContext> {
    const ctx = await this.browser.newContext({
      userAgent: DESKTOP_UA,
      viewport: { width: 1280, height: 720 },
      screen: { width: 1920, height: 1080 },
      locale: 'en-US',
    });
    ctx.setDefaultTimeout(15_000);
    this.#contexts.add(ctx);
    ctx.on('close', () => this.#contexts.delete(ctx));
    return ctx;
  }

  /** A page whose uncaught errors and console warnings are kept (see `logs`). */
  async page(ctx: BrowserContext): Promise<Page> {
    const page = await ctx.newPage();
    const log: PageLog = { errors: [], console: [] };
    this.logs.set(page, log);
    page.on('pageerror', (err) => log.errors.push(String(err)));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') log.console.push(`${m.type()}: ${m.text()}`);
    });
    return page;
  }

  async closeContexts(): Promise<void> {
    await Promise.all([...this.#contexts].map((c) => c.close().catch(() => {})));
  }

  async close(): Promise<void> {
    await this.closeContexts();
    await this.browser.close().catch(() => {});
    for (const s of this.#servers) s.closeAllConnections();
    await Promise.all(this.#servers.map((s) => new Promise((r) => s.close(r))));
    await this.server.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  #listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
    const server = createServer(handler);
    this.#servers.push(server);
    return new Promise((ok, fail) => {
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => ok(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
    });
  }

  #proxyHandler(upstream: URL): Parameters<typeof createServer>[1] {
    return (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const rec: Recorded = {
          method: req.method ?? 'GET',
          path: req.url ?? '/',
          headers: req.headers,
          body: body.toString('utf8'),
          at: Date.now(),
        };
        this.requests.push(rec);
        const latency = rec.method === 'POST' && rec.path.startsWith('/api/v1/track') ? this.trackLatencyMs : 0;
        setTimeout(() => this.#forward(upstream, rec, body, res), latency);
      });
    };
  }

  /** Passes a recorded request on to the server and its answer back, keeping the answer of API calls. */
  #forward(upstream: URL, rec: Recorded, body: Buffer, res: ServerResponse): void {
    const headers = { ...rec.headers, host: upstream.host };
    const up = request({ host: upstream.hostname, port: upstream.port, method: rec.method, path: rec.path, headers });
    up.on('response', (answer) => {
      rec.status = answer.statusCode;
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      const isApi = rec.path.startsWith('/api/');
      let text = '';
      answer.on('data', (c: Buffer) => {
        if (isApi) text += c.toString('utf8');
        res.write(c);
      });
      answer.on('end', () => {
        if (isApi) rec.response = text;
        res.end();
      });
    });
    up.on('error', (err) => {
      rec.status = 502;
      rec.response = String(err);
      res.destroy();
    });
    up.end(body);
  }
}

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Events of the given type from a stored session. */
export const eventsOf = (s: StoredSession, type: string) => s.events.filter((e) => e.type === type);

/** Every event the page sent, over all of its /track bodies. */
export const sentEvents = (bodies: TrackBody[]) => bodies.flatMap((b) => b.events ?? []);
