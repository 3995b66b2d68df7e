import type { Session } from '@sessiontrack/core';
import { describe, expect, it } from 'vitest';
import { conformance, DAY, HOUR, MIN, newProject, started, store, T0, uid } from './store.testkit.js';

// Store conformance, MCP agent state (every backend: store.testkit.ts).

conformance('agent-state', () => {
  describe('agent state (MCP)', () => {
    const entry = (s: Session, agentId: string, key: string, value: unknown, expiresAt: number | null = null) => ({
      projectId: s.projectId,
      sessionId: s.id,
      agentId,
      key,
      value,
      expiresAt,
      updatedAt: T0,
    });

    it('stores JSON values per (session, agent, key), replaces them and hides expired ones', async () => {
      const p = await newProject();
      const s = await started(p, T0, { kind: 'mcp' });
      const other = await started(p, T0, { kind: 'mcp' });
      const value = { cart: ['a', 'b'], n: 2, nested: { ok: true }, text: 'ünï' };
      await store.setAgentState(entry(s, 'planner', 'k', value));
      await store.setAgentState(entry(s, 'planner', 'short', 'soon gone', T0 + MIN));
      await store.setAgentState(entry(s, 'critic', 'k', 42));
      await store.setAgentState(entry(other, 'planner', 'k', [1, 2]));

      expect(await store.getAgentState(s.projectId, s.id, 'planner', 'k', T0)).toEqual(entry(s, 'planner', 'k', value));
      expect((await store.getAgentState(s.projectId, s.id, 'critic', 'k', T0))?.value).toBe(42);
      expect((await store.getAgentState(other.projectId, other.id, 'planner', 'k', T0))?.value).toEqual([1, 2]);
      expect(await store.getAgentState(s.projectId, s.id, 'planner', 'missing', T0)).toBeNull();
      // visible until its expiry, invisible from then on (before any purge)
      expect((await store.getAgentState(s.projectId, s.id, 'planner', 'short', T0 + MIN - 1))?.value).toBe('soon gone');
      expect(await store.getAgentState(s.projectId, s.id, 'planner', 'short', T0 + MIN)).toBeNull();

      // a set replaces value and expiry (an expired entry comes back with a new set)
      await store.setAgentState({ ...entry(s, 'planner', 'short', null, null), updatedAt: T0 + 2 * MIN });
      expect(await store.getAgentState(s.projectId, s.id, 'planner', 'short', T0 + DAY)).toMatchObject({
        value: null,
        expiresAt: null,
        updatedAt: T0 + 2 * MIN,
      });
    });

    it('deletes a key or an agent, and purges expired and orphaned entries', async () => {
      const p = await newProject();
      const a = await started(p, T0, { kind: 'mcp' });
      const c = await started(p, T0, { kind: 'mcp' });
      await store.setAgentState(entry(a, 'x', 'k1', 1));
      await store.setAgentState(entry(a, 'x', 'k2', 2));
      await store.setAgentState(entry(a, 'y', 'k1', 3));
      expect(await store.deleteAgentState(a.projectId, a.id, 'x', 'k1')).toBe(1);
      expect(await store.deleteAgentState(a.projectId, a.id, 'x', 'k1')).toBe(0);
      expect((await store.getAgentState(a.projectId, a.id, 'x', 'k2', T0))?.value).toBe(2);
      expect(await store.deleteAgentState(a.projectId, a.id, 'x')).toBe(1);
      expect((await store.getAgentState(a.projectId, a.id, 'y', 'k1', T0))?.value).toBe(3);

      await store.setAgentState(entry(c, 'x', 'k', 'c'));

      // purge: expired entries go, live ones stay, entries of a session that no longer exists go
      await store.setAgentState(entry(c, 'x', 'old', 'o', T0 + MIN));
      await store.setAgentState(entry(c, 'x', 'later', 'l', T0 + HOUR));
      const ghost = { ...entry(c, 'x', 'k', 'g'), sessionId: uid('s_gone') };
      await store.setAgentState(ghost);
      expect(await store.purgeAgentState(T0 + 2 * MIN)).toBeGreaterThanOrEqual(2);
      expect(await store.getAgentState(c.projectId, c.id, 'x', 'old', T0)).toBeNull();
      expect(await store.getAgentState(ghost.projectId, ghost.sessionId, 'x', 'k', T0)).toBeNull();
      expect((await store.getAgentState(c.projectId, c.id, 'x', 'later', T0 + 2 * MIN))?.value).toBe('l');
      expect((await store.getAgentState(c.projectId, c.id, 'x', 'k', T0 + 2 * MIN))?.value).toBe('c');
    });
  });
});
