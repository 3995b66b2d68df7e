// The browser tracker. Ranked goals (README.md): 1 small, 2 nothing lost, 3 nothing counted twice.
// Module state instead of classes, and short helpers: every byte here ships with every page view.
// The stored queue is the source of truth for what is unsent; the tabs of a site share it.

export interface TrackerOptions {
  /** The project's write key (public). */
  writeKey: string;
  /** Origin of the sessiontrack server; default: this page's origin. */
  endpoint?: string | undefined;
  /** Milliseconds between heartbeats while the page is visible (default 5 min). */
  heartbeatInterval?: number | undefined;
  /** localStorage key of the anonymous id (default `anonymousUserId`); `_s` and `_q` suffixes hold the rest. */
  storageKey?: string | undefined;
  /** Milliseconds without activity after which the next activity starts a new session (default 30 min). */
  idleTimeout?: number | undefined;
  /** Buffered events that are sent at once, without waiting for the 2 s tick (default 5). */
  batchSize?: number | undefined;
  /** Do nothing when the browser sends Do-Not-Track or Global Privacy Control (default false). */
  respectDnt?: boolean | undefined;
}

export interface TrackOptions {
  resourceId?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export interface TrackerState {
  anonymousId: string | null;
  /** The live session, or null before the first activity and after it ended or timed out. */
  sessionId: string | null;
}

export type EndReason = 'logout' | 'timeout' | 'error' | 'navigation';

/** An event as queued and sent (`POST /api/v1/track` `events[]`). */
interface QueuedEvent {
  /** Client id: the server stores (session, id) once, so a resend never counts twice. */
  id: string;
  type: string;
  timestamp: number;
  page: string;
  name?: string | undefined;
  resourceId?: string | undefined;
  details?: unknown;
}

const now = Date.now;
const json = JSON.stringify;

/**
 * 128 bits from the browser's CSPRNG as 16 to 48 decimal digits (so a session id always has the
 * server's 16 characters at least): Math.random is predictable, and a session id is what the server
 * continues a session by. crypto.getRandomValues exists in every context, randomUUID only in secure ones.
 */
const randomId = () => crypto.getRandomValues(new Uint8Array(16)).join('');
/**
 * A new session's id, chosen here (the server takes a never-seen id as the new session's): so every
 * tab and a beacon agree on it before the first answer, and no second session can start meanwhile.
 */
let first: string | 0 = 0;

/** The track URL; unset until `init` ran, so also the "is running" flag. */
let url: string | undefined;
let writeKey: string;
let anonymousId: string;
let userId: string | undefined;
let sessionKey: string;
let queueKey: string;
let idle: number;
let batchSize: number;
/** 1 while a request is out, 2 while waiting to retry: one request at a time. */
let busy: number | undefined;
let tries = 0;
let ending: { reason?: EndReason | undefined } | undefined;
let lastPage: string;
let errorCount = 0;
/** Set by `subscribe` (the React hook), so the script tag carries no listener machinery. */
let changed: (() => void) | undefined;

/** localStorage (items read and written as properties), or memory where it is blocked or full. */
let storage: Record<string, string>;
const store = (k: string, v: string) => {
  try {
    storage[k] = v;
  } catch {
    storage = { ...storage, [k]: v };
  }
};
const read = (k: string) => JSON.parse(storage[k] || '[]');
const queue = (): QueuedEvent[] => read(queueKey);
const save = (q: QueuedEvent[]) => store(queueKey, json(q));

/** Stores the session id (0 or null: none) and the time of the last activity. */
const remember = (id: string | 0 | null, at = now()) => {
  store(sessionKey, json([id, at]));
  changed?.();
};

/**
 * Engaged time (docs/metrics.md): visible, and within 30 s of the last key, pointer move or scroll.
 * Each report sends what this tab counted since its last one and the server adds them up (the
 * tabs and pages of a session each report their own). `active` is the last activity (0 while
 * hidden); `span` is what the time since then counts; `engaged` is the rest not yet reported, less
 * what the current span had counted at the last report (so it may be negative).
 */
let engaged = 0;
let active = 0;
const span = () => active && Math.min(now() - active, 3e4);
/** Any activity, and a visibility change: hidden pauses the count and hands the buffer to a beacon. */
const activity = () => {
  engaged += span();
  if (document.hidden) {
    active = 0;
    send(2);
  } else active = now();
};

/**
 * The live session id, or null once `idleTimeout` has passed without activity. `touch` records
 * activity, starting a new session (a new id) when the old one is over.
 */
function session(touch?: unknown): string | null {
  let [id, at]: [string | null, number] = read(sessionKey);
  // biome-ignore lint/suspicious/noAssignInExpressions: the shortest form; every byte ships.
  if (!(now() - at < idle)) id = touch ? (first = randomId()) : null;
  if (touch) remember(id);
  return id;
}

/**
 * Sends the oldest events. `mode`: 0 when the buffer is due (and every 2 s); 1 for a heartbeat (sent
 * without events too); 2 when the page is hidden or leaving: by beacon, delivered after unload.
 * Bodies are text/plain JSON: no preflight. A batch leaves the stored queue while it is out and is
 * put back unless the server took it; a beacon's fate is unknown, so it counts as delivered.
 */
async function send(mode?: unknown) {
  const beacon = mode === 2;
  if (busy && !beacon) return;
  const engagedMs = engaged + span();
  // A heartbeat is activity.
  const id = session(mode === 1);
  const q = queue();
  // 20 events of the server's largest (8 KiB details) stay under its 256 KiB body limit.
  const batch = q.splice(0, 20);
  const end = (!beacon && ending) || undefined;
  if (
    beacon
      ? // The events stay stored for the next page instead when a beacon would likely be lost
        // (offline, or backing off after a failure).
        // A beacon also reports the live session's engaged time.
        !(batch.length || (engagedMs && id)) || !navigator.onLine || busy! > 1
      : !batch.length && !mode && !end
  ) {
    return;
  }
  save(q);
  engaged = -span();
  const back = () => save([...batch, ...queue()]);
  const data = json({
    writeKey,
    anonymousId,
    userId,
    sessionId: id,
    // Only used when this call starts a session; the server reads utm_campaign from the page URL.
    device: { screenSize: `${screen.width}x${screen.height}` },
    entry: { page: location.href.slice(0, 2048), referrer: document.referrer },
    engagedMs,
    events: batch,
    end,
  });
  // keepalive (the request outlives the page) allows 64 KiB: 20k UTF-16 units are at most 60 KB of
  // UTF-8 (`!data[2e4]`: at most 20k, the shortest test).
  const post = () => fetch(url as string, { method: 'POST', body: data, keepalive: !data[2e4] });
  if (beacon) {
    if (!navigator.sendBeacon(url as string, data)) post().catch(back);
    return;
  }
  busy = 1;
  try {
    const r = await post();
    const answer = await r.json();
    // Retry from 429 (rate limited) up, so on server trouble; any other answer settles the batch.
    if (r.status > 428) throw 0;
    if (end) {
      userId = ending = undefined;
      remember(0, 0);
    } else if (answer.sessionId) remember(answer.sessionId);
    // What came meanwhile goes with the next 2 s tick.
    busy = tries = first = 0;
  } catch {
    back();
    busy = 2;
    // 1 s, doubling, at most 5 min.
    setTimeout(retry, Math.min(1e3 * 2 ** tries++, 3e5));
  }
}

/** Retries now, if still backing off: the `online` event may have come first. */
const retry = () => {
  if (busy! > 1) {
    busy = 0;
    send();
  }
};

function add(type: string, fields?: Partial<QueuedEvent>) {
  if (url) {
    session(1);
    const q = queue();
    q.push({ id: randomId(), type, timestamp: now(), page: location.pathname, ...fields });
    save(q);
    // The first call of a session goes out at once: the server creates the session promptly.
    if (first || q.length >= batchSize) send();
  }
}

// Any change of the URL but the first is a page view: path, query or hash (hash routers).
const navigated = () => {
  if (location.href !== lastPage) pageview();
};

/**
 * Starts tracking (once per page; later calls do nothing). In a browser only: the module entry
 * (index.ts) checks for one, the script tag need not. Numbers may also be given as strings,
 * as the script tag's data-* attributes give them.
 */
export function init(o: TrackerOptions): void {
  if (
    url ||
    (o.respectDnt &&
      // biome-ignore lint/suspicious/noDoubleEquals: "1" == 1, and shorter; every byte ships.
      ((navigator.doNotTrack as unknown) == 1 ||
        (navigator as { globalPrivacyControl?: boolean }).globalPrivacyControl))
  ) {
    return;
  }
  writeKey = o.writeKey;
  // endpoint is an origin (a path in it is dropped, a trailing slash is harmless).
  // (A Location is read as its href, as the browser does: the cast costs no byte.)
  url = new URL('/api/v1/track', o.endpoint || (location as unknown as string)).href;
  const k = o.storageKey || 'anonymousUserId';
  sessionKey = `${k}_s`;
  queueKey = `${k}_q`;
  // Strings from data-* attributes work as they are: comparisons and timers convert them.
  idle = o.idleTimeout || 18e5;
  batchSize = o.batchSize || 5;
  try {
    storage = localStorage as unknown as Record<string, string>;
  } catch {
    storage = {};
  }
  anonymousId = storage[k] || randomId();
  store(k, anonymousId);
  const on = addEventListener;
  for (const m of ['pushState', 'replaceState'] as const) {
    const f = history[m];
    history[m] = (...a: Parameters<History['pushState']>) => {
      f.apply(history, a);
      navigated();
    };
  }
  // popstate also fires for a hash (fragment) navigation, so hashchange needs no listener of its own.
  on('popstate', navigated);
  on('error', (e) => error(e.error || e.message));
  on('unhandledrejection', (e) => error(e.reason));
  on('online', retry);
  on('pagehide', () => send(2));
  // Capture: scroll does not bubble from the elements that scroll; visibilitychange bubbles from the
  // document to the window. pointermove is the pointer's sign of life (a mouse moves before it
  // clicks; a touch that reads scrolls).
  for (const t of ['keydown', 'pointermove', 'scroll', 'visibilitychange']) on(t, activity, true);
  activity();
  setInterval(() => {
    // The error limit counts per heartbeat interval: one timer fewer.
    errorCount = 0;
    if (!document.hidden && session()) send(1);
  }, o.heartbeatInterval || 3e5);
  setInterval(send, 2e3);
  pageview();
}

/** Records a page view of the current URL. Navigation does this by itself. */
export function pageview(): void {
  lastPage = location.href;
  add('pageview');
}

/** Records an action, e.g. `track('export', { resourceId: 'report-7', metadata: { format: 'csv' } })`. */
export function track(action: string, o?: TrackOptions): void {
  add('action', { name: action, resourceId: o?.resourceId, details: o?.metadata });
}

/** Records an error: an Error, a message or any thrown value. At most 10 per heartbeat interval. */
export function error(err: unknown): void {
  const stack = (err as Error | undefined)?.stack;
  if (errorCount++ < 10) {
    add('error', {
      name: String(err).slice(0, 256),
      details: stack && { stack: String(stack).slice(0, 2e3) },
    });
  }
}

/** Sends `userId` with every later call (a session takes it when it starts). */
export function identify(id: string): void {
  userId = id;
}

/** Ends the session (after sending what is buffered) and forgets the user id; the next activity starts a new one. */
export function end(reason?: EndReason): void {
  if (url && session()) {
    // The server's default reason is logout.
    ending = { reason };
    send();
  }
}

export function getState(): TrackerState {
  return { anonymousId: anonymousId || null, sessionId: (url && session()) || null };
}

const listeners = new Set<() => void>();

/** Calls `f` when the stored session may have changed; returns the unsubscribe function. */
export function subscribe(f: () => void): () => void {
  listeners.add(f);
  changed = () => {
    for (const g of listeners) g();
  };
  return () => listeners.delete(f);
}
