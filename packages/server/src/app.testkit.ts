import type { CreateProjectInput, Project } from '@sessiontrack/core';
import { SqliteStore, type Store } from '@sessiontrack/store';
import pino, { type Logger } from 'pino';
import { type Assembled, type AssembleOptions, assemble } from './node-server.js';

// In-process harness: the real app on a real (in-memory) SQLite store, requests through
// `app.request` — no port opened, nothing mocked.

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface TestApp extends Assembled {
  store: Store;
  writeKey: string;
  /** POST JSON to an ingest route with the default write key (or `key`). */
  ingest(
    path: string,
    body?: unknown,
    init?: { key?: string | null; headers?: Record<string, string> },
  ): Promise<Response>;
  /** GET a read route with the admin token. */
  read(path: string): Promise<Response>;
  /** POST to an admin route with the admin token. */
  admin(path: string, body: unknown): Promise<Response>;
  project(input: CreateProjectInput): Promise<Project>;
  /** Starts a session and returns its id. */
  start(body?: Record<string, unknown>, key?: string): Promise<string>;
  close(): Promise<void>;
}

/** `store`: another backend than the default in-memory SQLite (closed with the app); `logger`: silent. */
export async function createTestApp(
  opts: Partial<AssembleOptions> & { store?: Store; logger?: Logger } = {},
): Promise<TestApp> {
  const { store = new SqliteStore({ filename: ':memory:' }), logger = pino({ level: 'silent' }), ...rest } = opts;
  const assembled = await assemble(store, logger, {
    adminToken: ADMIN_TOKEN,
    ipRateLimitPerMinute: 0,
    ...rest,
  });
  const { app, defaultProject } = assembled;
  const t: TestApp = {
    ...assembled,
    store,
    writeKey: defaultProject.writeKey,
    async ingest(path, body, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      const key = init.key === undefined ? defaultProject.writeKey : init.key;
      if (key) headers['x-write-key'] = key;
      let payload: string | undefined;
      if (body !== undefined) {
        payload = typeof body === 'string' ? body : JSON.stringify(body);
        headers['content-type'] ??= 'application/json';
        // A Web Request does not set Content-Length by itself; Node's HTTP parser always has it.
        headers['content-length'] ??= String(Buffer.byteLength(payload));
      }
      return app.request(path, { method: 'POST', headers, body: payload });
    },
    async read(path) {
      return app.request(path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    },
    async admin(path, body) {
      const payload = JSON.stringify(body);
      return app.request(path, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(payload)),
        },
        body: payload,
      });
    },
    async project(input) {
      const res = await t.admin('/api/v1/projects', input);
      if (res.status !== 201) throw new Error(`project create: ${res.status} ${await res.text()}`);
      return (await res.json()) as Project;
    },
    async start(body = { anonymousId: 'a_test' }, key) {
      const res = await t.ingest('/api/v1/sessions/start', body, key ? { key } : {});
      if (res.status !== 201) throw new Error(`start: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { sessionId: string }).sessionId;
    },
    async close() {
      await assembled.buffer.drain();
      await store.close();
    },
  };
  return t;
}

/** Reads a JSON body with a loose type, for assertions. */
// biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary JSON
export const json = async (res: Response): Promise<any> => res.json();
