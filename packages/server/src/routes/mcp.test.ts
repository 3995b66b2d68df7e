import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../app.testkit.js';

// The write-key routes the remote sink of @sessiontrack/mcp relies on: disconnect, the heartbeat
// answer that recovers a disconnected session, and agent state scoped to the project's sessions.

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

const mcpSession = (over: Record<string, unknown> = {}) =>
  t.start({
    kind: 'mcp',
    userId: 'principal-1',
    transport: 'streamable-http',
    metadata: { clientName: 'c', protocolVersion: '2025-06-18' },
    ...over,
  });

const state = (id: string, path: string, method: string, body?: unknown, key = t.writeKey) => {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return t.app.request(`/api/v1/sessions/${id}/state/${path}`, {
    method,
    headers: {
      'x-write-key': key,
      ...(payload ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
    },
    body: payload,
  });
};

describe('POST /api/v1/sessions/{id}/disconnect and recovery by heartbeat', () => {
  it('disconnects, and a heartbeat recovers it with the attempt counted and the metadata returned', async () => {
    const id = await mcpSession();
    const d = await t.ingest(`/api/v1/sessions/${id}/disconnect`);
    expect(d.status).toBe(200);
    const body = await json(d);
    expect(body).toMatchObject({ id, status: 'disconnected', recoveryAttempts: 0, previousStatus: 'active' });
    expect(Date.parse(body.disconnectedAt)).toBeGreaterThan(0);
    // repeated: no change
    expect(await json(await t.ingest(`/api/v1/sessions/${id}/disconnect`))).toMatchObject({
      status: 'disconnected',
      disconnectedAt: body.disconnectedAt,
      previousStatus: 'disconnected',
    });

    const hb = await json(await t.ingest(`/api/v1/sessions/${id}/heartbeat`));
    expect(hb).toMatchObject({
      sessionId: id,
      status: 'active',
      kind: 'mcp',
      userId: 'principal-1',
      recoveryAttempts: 1,
      metadata: { clientName: 'c', protocolVersion: '2025-06-18' },
    });
    // a heartbeat on an active session continues: no attempt counted
    expect((await json(await t.ingest(`/api/v1/sessions/${id}/heartbeat`))).recoveryAttempts).toBe(1);
  });

  it("leaves another principal's session untouched when the caller names the principal it expects", async () => {
    const id = await mcpSession(); // userId principal-1
    const asOther = await t.ingest(`/api/v1/sessions/${id}/disconnect`, { userId: 'principal-2' });
    expect(asOther.status).toBe(404);
    expect((await json(asOther)).error.code).toBe('not_found');
    const anonymous = await t.ingest(`/api/v1/sessions/${id}/disconnect`, { userId: null });
    expect(anonymous.status).toBe(404);
    // still active: a heartbeat continues it without counting a recovery
    expect(await json(await t.ingest(`/api/v1/sessions/${id}/heartbeat`))).toMatchObject({
      status: 'active',
      recoveryAttempts: 0,
    });
    const asOwner = await t.ingest(`/api/v1/sessions/${id}/disconnect`, { userId: 'principal-1' });
    expect((await json(asOwner)).status).toBe('disconnected');
    const bad = await t.ingest(`/api/v1/sessions/${id}/disconnect`, { userId: 42 });
    expect(bad.status).toBe(400);
  });

  it("follows the session's own graceMs and maxRecoveryAttempts from its start", async () => {
    const once = await mcpSession({ maxRecoveryAttempts: 1 });
    await t.ingest(`/api/v1/sessions/${once}/disconnect`);
    expect((await t.ingest(`/api/v1/sessions/${once}/heartbeat`)).status).toBe(200);
    await t.ingest(`/api/v1/sessions/${once}/disconnect`);
    const second = await t.ingest(`/api/v1/sessions/${once}/heartbeat`);
    expect(second.status).toBe(410);
    expect((await json(second)).error.code).toBe('session_ended');
    // no grace at all: a disconnect ends it
    const none = await mcpSession({ graceMs: 0 });
    await t.ingest(`/api/v1/sessions/${none}/disconnect`);
    expect((await t.ingest(`/api/v1/sessions/${none}/heartbeat`)).status).toBe(410);
    // out of bounds: refused at the boundary
    const bad = await t.ingest('/api/v1/sessions/start', { kind: 'mcp', anonymousId: 'x', graceMs: -1 });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.code).toBe('validation_failed');
  });

  it('answers 404 for an unknown session or another project, 401 without a key', async () => {
    expect((await t.ingest('/api/v1/sessions/nope-nope-nope-nope/disconnect')).status).toBe(404);
    const other = await t.project({ name: 'other' });
    const id = await mcpSession();
    expect((await t.ingest(`/api/v1/sessions/${id}/disconnect`, undefined, { key: other.writeKey })).status).toBe(404);
    const noKey = await t.ingest(`/api/v1/sessions/${id}/disconnect`, undefined, { key: null });
    expect(noKey.status).toBe(401);
    expect((await json(noKey)).error.code).toBe('unauthorized');
  });

  it('stops recovering after three attempts: the heartbeat then answers 410', async () => {
    const id = await mcpSession();
    for (let i = 1; i <= 3; i++) {
      await t.ingest(`/api/v1/sessions/${id}/disconnect`);
      expect((await json(await t.ingest(`/api/v1/sessions/${id}/heartbeat`))).recoveryAttempts).toBe(i);
    }
    await t.ingest(`/api/v1/sessions/${id}/disconnect`);
    const res = await t.ingest(`/api/v1/sessions/${id}/heartbeat`);
    expect(res.status).toBe(410);
    expect((await json(res)).error.code).toBe('session_ended');
  });
});

describe('agent state routes /api/v1/sessions/{id}/state/{agentId}/{key}', () => {
  it('sets, gets, replaces and deletes a JSON value', async () => {
    const id = await mcpSession();
    const put = await state(id, 'planner/cart%2Fitems', 'PUT', { value: { items: [1, 2] } });
    expect(put.status).toBe(200);
    expect(await json(put)).toEqual({ expiresAt: null });
    expect(await json(await state(id, 'planner/cart%2Fitems', 'GET'))).toEqual({
      value: { items: [1, 2] },
      expiresAt: null,
    });
    const ttl = await json(await state(id, 'planner/cart%2Fitems', 'PUT', { value: 'x', ttlMs: 60_000 }));
    expect(Date.parse(ttl.expiresAt)).toBeGreaterThan(Date.now());
    expect((await json(await state(id, 'planner/cart%2Fitems', 'GET'))).value).toBe('x');
    expect(await json(await state(id, 'planner/cart%2Fitems', 'DELETE'))).toEqual({ deleted: 1 });
    await state(id, 'planner/a', 'PUT', { value: 1 });
    await state(id, 'planner/b', 'PUT', { value: 2 });
    await state(id, 'critic/a', 'PUT', { value: 3 });
    expect(await json(await state(id, 'planner', 'DELETE'))).toEqual({ deleted: 2 });
    expect((await json(await state(id, 'critic/a', 'GET'))).value).toBe(3);
    const gone = await state(id, 'planner/cart%2Fitems', 'GET');
    expect(gone.status).toBe(404);
    expect((await json(gone)).error.code).toBe('not_found');
  });

  it('hides an expired value', async () => {
    const id = await mcpSession();
    await t.store.setAgentState({
      projectId: 'default',
      sessionId: id,
      agentId: 'a',
      key: 'old',
      value: 1,
      expiresAt: Date.now() - 1,
      updatedAt: Date.now() - 10,
    });
    expect((await state(id, 'a/old', 'GET')).status).toBe(404);
  });

  it('refuses another project, bad values and oversized values with the error shape', async () => {
    const id = await mcpSession();
    const other = await t.project({ name: 'other' });
    expect((await state(id, 'a/k', 'PUT', { value: 1 }, other.writeKey)).status).toBe(404);
    expect((await state(id, 'a/k', 'GET', undefined, 'wk_wrong')).status).toBe(401);
    const missing = await state(id, 'a/k', 'PUT', { ttlMs: 5 });
    expect(missing.status).toBe(400);
    expect((await json(missing)).error).toMatchObject({ code: 'validation_failed' });
    const badTtl = await state(id, 'a/k', 'PUT', { value: 1, ttlMs: -5 });
    expect((await json(badTtl)).error.message).toContain('ttlMs');
    const big = await state(id, 'a/k', 'PUT', { value: 'x'.repeat(9000) });
    expect(big.status).toBe(400);
    expect((await json(big)).error.message).toContain('value');
    expect((await state(id, 'a/k', 'GET')).status).toBe(404);
  });
});
