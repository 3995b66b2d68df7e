import { describe, expect, it } from 'vitest';
import { conformance, markClosed, store } from './store.testkit.js';

// Store conformance, the store handle: ping and close (every backend: store.testkit.ts).

conformance('handle', () => {
  describe('ping and close', () => {
    it('answers ping while open and refuses work once closed', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
      expect(typeof store.backend).toBe('string');
      expect(store.backend.length).toBeGreaterThan(0);
      await store.close();
      markClosed();
      await expect(store.ping()).rejects.toThrow();
      await expect(store.listProjects()).rejects.toThrow();
    });
  });
});
