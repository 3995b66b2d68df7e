import { agentStateSetSchema, MAX_METADATA_BYTES } from '@sessiontrack/core';
import { type Context, Hono } from 'hono';
import type { AppEnv, RouteDeps } from '../app-deps.js';
import { ApiError } from '../errors.js';
import { parse } from '../validate.js';
import { admission } from './admission.js';

// MCP agent state over the write key (mounted at /api/v1), for the remote sink of
// @sessiontrack/mcp: only the project's own sessions, values of at most MAX_METADATA_BYTES of JSON.

type C = Context<AppEnv>;

const AGENT_STATE_PATH = '/sessions/:id/state/:agentId/:key';

export function agentStateRoutes(deps: RouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { store, now } = deps;
  const { admit } = admission(deps);
  const target = async (c: C) => {
    const { project, body, at } = await admit(c);
    const sessionId = c.req.param('id') as string;
    const agentId = c.req.param('agentId') as string;
    const key = c.req.param('key') ?? '';
    if (agentId.length > 256 || key.length > 256)
      throw new ApiError('validation_failed', 'agentId, key: at most 256 characters');
    if (!(await store.getSession(project.id, sessionId))) throw new ApiError('not_found', 'unknown session');
    return { project, body, at, sessionId, agentId, key };
  };
  app.get(AGENT_STATE_PATH, async (c) => {
    const t = await target(c);
    const e = await store.getAgentState(t.project.id, t.sessionId, t.agentId, t.key, now());
    if (!e) throw new ApiError('not_found', 'no such key (or it expired)');
    return c.json({ value: e.value, expiresAt: e.expiresAt === null ? null : new Date(e.expiresAt).toISOString() });
  });
  app.put(AGENT_STATE_PATH, async (c) => {
    const t = await target(c);
    const input = parse(agentStateSetSchema, t.body ?? {});
    const json = JSON.stringify(input.value);
    if (Buffer.byteLength(json) > MAX_METADATA_BYTES) {
      throw new ApiError('validation_failed', `value: at most ${MAX_METADATA_BYTES} bytes of JSON`);
    }
    const expiresAt = input.ttlMs ? t.at + input.ttlMs : null;
    await store.setAgentState({
      projectId: t.project.id,
      sessionId: t.sessionId,
      agentId: t.agentId,
      key: t.key,
      value: input.value,
      expiresAt,
      updatedAt: t.at,
    });
    return c.json({ expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString() });
  });
  app.delete(AGENT_STATE_PATH, async (c) => {
    const t = await target(c);
    return c.json({ deleted: await store.deleteAgentState(t.project.id, t.sessionId, t.agentId, t.key) });
  });
  // Every key of one agent in the session.
  app.delete('/sessions/:id/state/:agentId', async (c) => {
    const t = await target(c);
    return c.json({ deleted: await store.deleteAgentState(t.project.id, t.sessionId, t.agentId) });
  });
  return app;
}
