import { vi } from 'vitest';

// A small fake of the browser globals the tracker touches, enough to drive it in Node under fake
// timers and to see what it sent. The real behaviour is proven in Chromium by the e2e suite; this
// pins down the logic (batching, retries, sessions) cheaply and deterministically.

export interface SentRequest {
  url: string;
  via: 'fetch' | 'beacon';
  keepalive: boolean;
  /** The parsed text/plain body. */
  body: TrackBody;
}

export interface TrackBody {
  writeKey: string;
  anonymousId: string;
  userId?: string;
  sessionId: string | null;
  device: { screenSize: string };
  entry: { page: string; referrer: string };
  events: {
    id: string;
    type: string;
    timestamp: number;
    page: string;
    name?: string;
    resourceId?: string;
    details?: unknown;
  }[];
  end?: { reason?: string };
}

type Responder = (body: TrackBody) => Response | Promise<Response>;

export interface FakeBrowser {
  sent: SentRequest[];
  storage: Record<string, string>;
  /** Answers the next fetches (default: 200 continuing or creating `sess_…` ids). */
  respond: Responder;
  setHidden(hidden: boolean): void;
  setOnline(online: boolean): void;
  fire(type: string, init?: Record<string, unknown>): void;
  /** Number of fetch calls whose answer has not settled yet. */
  inFlight(): number;
  /** Loads the tracker module afresh, as a page load does (storage is kept). */
  load(): Promise<typeof import('./tracker.js')>;
}

export const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** A server that continues a sent session id or names a new one. */
export function fakeServer(): Responder {
  let n = 0;
  return (body) => {
    const sessionId = body.sessionId ?? `sess_${String(++n).padStart(12, '0')}`;
    return json({ sessionId, rotated: false, accepted: body.events.length, duplicates: 0 });
  };
}

export function installBrowser(
  opts: { href?: string; storage?: Record<string, string> | 'blocked' } = {},
): FakeBrowser {
  const target = new EventTarget();
  const url = new URL(opts.href ?? 'https://app.example/start?utm_campaign=spring');
  const doc = Object.assign(new EventTarget(), { hidden: false, referrer: 'https://news.example/' });
  // Events fired at the document bubble to the window, as visibilitychange does.
  doc.dispatchEvent = (e: Event) => target.dispatchEvent(e);
  let pending = 0;
  const storage = opts.storage === 'blocked' ? {} : (opts.storage ?? {});
  const b: FakeBrowser = {
    sent: [],
    storage,
    respond: fakeServer(),
    setHidden(hidden) {
      doc.hidden = hidden;
      b.fire('visibilitychange');
    },
    setOnline(online) {
      nav.onLine = online;
      b.fire(online ? 'online' : 'offline');
    },
    fire(type, init = {}) {
      target.dispatchEvent(Object.assign(new Event(type), init));
    },
    inFlight: () => pending,
    async load() {
      vi.resetModules();
      return import('./tracker.js');
    },
  };
  const nav = {
    onLine: true,
    doNotTrack: null as string | null,
    sendBeacon(to: string, data: string) {
      b.sent.push({ url: to, via: 'beacon', keepalive: true, body: JSON.parse(data) });
      return true;
    },
  };
  const location = {
    get href() {
      return url.href;
    },
    // As a real Location: its text is its href (new URL(path, location) relies on it).
    toString() {
      return url.href;
    },
    get pathname() {
      return url.pathname;
    },
    get hash() {
      return url.hash;
    },
  };
  const go = (_state: unknown, _title: string, to?: string | URL | null) => {
    if (to) url.href = new URL(to, url).href;
  };
  vi.stubGlobal('window', globalThis);
  vi.stubGlobal('document', doc);
  vi.stubGlobal('location', location);
  vi.stubGlobal('history', { pushState: go, replaceState: go });
  vi.stubGlobal('screen', { width: 1920, height: 1080 });
  vi.stubGlobal('navigator', nav);
  if (opts.storage === 'blocked') {
    Object.defineProperty(globalThis, 'localStorage', {
      configurable: true,
      get() {
        throw new DOMException('blocked', 'SecurityError');
      },
    });
  } else {
    vi.stubGlobal('localStorage', storage);
  }
  vi.stubGlobal('addEventListener', target.addEventListener.bind(target));
  vi.stubGlobal('removeEventListener', target.removeEventListener.bind(target));
  vi.stubGlobal('fetch', async (to: string, init: RequestInit) => {
    if (!nav.onLine) throw new TypeError('Failed to fetch');
    const body = JSON.parse(init.body as string) as TrackBody;
    b.sent.push({ url: to, via: 'fetch', keepalive: init.keepalive === true, body });
    // The tracker must never set headers: a text/plain body needs no CORS preflight.
    if (init.headers) throw new Error('unexpected headers');
    pending++;
    try {
      return await b.respond(body);
    } finally {
      pending--;
    }
  });
  return b;
}

export function uninstallBrowser(): void {
  vi.unstubAllGlobals();
  delete (globalThis as { localStorage?: unknown }).localStorage;
}
