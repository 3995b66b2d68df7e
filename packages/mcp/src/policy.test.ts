import { describe, expect, it } from 'vitest';
import { geoFromRequest, initializeParams } from './context.js';
import { backoffMs, readMetadata, recoveryDecision } from './policy.js';

const T = 1_750_000_000_000;
const policy = { principal: 'alice', graceMs: 60_000, maxRecoveryAttempts: 3 };
const session = (over: Partial<Parameters<typeof recoveryDecision>[0]> = {}) => ({
  kind: 'mcp',
  status: 'disconnected' as const,
  userId: 'alice',
  lastActivityAt: T - 120_000,
  disconnectedAt: T - 30_000,
  recoveryAttempts: 0,
  idleOrCapExpiresAt: T + 3_600_000,
  ...over,
});

describe('recoveryDecision', () => {
  it('recovers a disconnected session inside its grace with attempts left', () => {
    expect(recoveryDecision(session(), policy, T)).toBeNull();
    expect(recoveryDecision(session({ recoveryAttempts: 2 }), policy, T)).toBeNull();
  });

  it('counts the grace of a disconnected session from its disconnect, of an active one from its last activity', () => {
    expect(recoveryDecision(session({ disconnectedAt: T - 60_000 }), policy, T)).toBeNull();
    expect(recoveryDecision(session({ disconnectedAt: T - 60_001 }), policy, T)).toBe('grace_expired');
    // a process that died: still `active` in the store
    const died = session({ status: 'active', disconnectedAt: null, lastActivityAt: T - 59_000 });
    expect(recoveryDecision(died, policy, T)).toBeNull();
    expect(recoveryDecision({ ...died, lastActivityAt: T - 61_000 }, policy, T)).toBe('grace_expired');
  });

  it('refuses another principal (also none for a bound session, and the reverse), ended, expired, exhausted, non-MCP', () => {
    expect(recoveryDecision(session(), { ...policy, principal: 'bob' }, T)).toBe('principal_mismatch');
    expect(recoveryDecision(session(), { ...policy, principal: null }, T)).toBe('principal_mismatch');
    expect(recoveryDecision(session({ userId: null }), policy, T)).toBe('principal_mismatch');
    expect(recoveryDecision(session({ userId: null }), { ...policy, principal: null }, T)).toBeNull();
    expect(recoveryDecision(session({ status: 'ended' }), policy, T)).toBe('ended');
    expect(recoveryDecision(session({ idleOrCapExpiresAt: T }), policy, T)).toBe('ended');
    expect(recoveryDecision(session({ recoveryAttempts: 3 }), policy, T)).toBe('attempts_exhausted');
    expect(recoveryDecision(session({ kind: 'web' }), policy, T)).toBe('not_found');
  });
});

describe('readMetadata', () => {
  it('reads what the package wrote and tolerates anything else', () => {
    expect(
      readMetadata({
        clientName: 'c',
        clientVersion: '1',
        protocolVersion: 'p',
        clientCapabilities: { a: 1 },
        custom: { x: 1 },
      }),
    ).toEqual({
      clientName: 'c',
      clientVersion: '1',
      protocolVersion: 'p',
      clientCapabilities: { a: 1 },
      custom: { x: 1 },
    });
    expect(readMetadata(null)).toEqual({
      clientName: null,
      clientVersion: null,
      protocolVersion: null,
      clientCapabilities: null,
      custom: null,
    });
    expect(readMetadata({ clientName: 5, clientCapabilities: [1] }).clientCapabilities).toBeNull();
  });
});

describe('backoffMs', () => {
  it('grows exponentially with full jitter and a cap', () => {
    expect(backoffMs(0, 200, 10_000, () => 1)).toBe(200);
    expect(backoffMs(3, 200, 10_000, () => 1)).toBe(1600);
    expect(backoffMs(50, 200, 10_000, () => 1)).toBe(10_000);
    expect(backoffMs(3, 200, 10_000, () => 0)).toBe(0);
  });
});

describe('geoFromRequest', () => {
  const req = (headers: Record<string, string>, cf?: Record<string, string>) =>
    Object.assign(new Request('http://x/mcp', { headers }), cf ? { cf } : {});
  it('believes request.cf always, proxy headers only with trustProxy', () => {
    expect(geoFromRequest(req({}, { country: 'de', regionCode: 'BE' }), false)).toEqual({
      country: 'DE',
      region: 'DE-BE',
      continent: 'EU',
    });
    expect(geoFromRequest(req({}, { country: 'DE', region: 'Berlin' }), false).region).toBe('Berlin');
    const h = { 'cf-ipcountry': 'FR', 'cf-region-code': 'IDF' };
    expect(geoFromRequest(req(h), false)).toEqual({ country: null, region: null, continent: null });
    expect(geoFromRequest(req(h), true)).toEqual({ country: 'FR', region: 'FR-IDF', continent: 'EU' });
    // a region code of another country is not believed
    expect(geoFromRequest(req({ 'cf-ipcountry': 'FR', 'cf-region-code': 'DE-BE' }), true).region).toBeNull();
    expect(geoFromRequest(req({ 'x-vercel-ip-country': 'US', 'x-vercel-ip-country-region': 'CA' }), true)).toEqual({
      country: 'US',
      region: 'US-CA',
      continent: 'NA',
    });
  });
  it('treats XX, T1 and garbage as no country', () => {
    for (const c of ['XX', 'T1', 'Germany', 'ZZ', '']) {
      expect(geoFromRequest(req({ 'cf-ipcountry': c, 'cf-region-code': 'BE' }), true).country).toBeNull();
    }
  });
});

describe('initializeParams', () => {
  const init = {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: { roots: {} }, clientInfo: { name: 'n', version: 'v' } },
  };
  it('finds the initialize request alone or in a batch', () => {
    const expected = {
      protocolVersion: '2025-06-18',
      capabilities: { roots: {} },
      clientName: 'n',
      clientVersion: 'v',
    };
    expect(initializeParams(init)).toEqual(expected);
    expect(initializeParams([init])).toEqual(expected);
  });
  it('says null for anything else', () => {
    expect(initializeParams({ jsonrpc: '2.0', id: 1, method: 'tools/list' })).toBeNull();
    expect(initializeParams({ jsonrpc: '2.0', method: 'initialize' })).toBeNull(); // a notification
    expect(initializeParams(null)).toBeNull();
    expect(initializeParams('initialize')).toBeNull();
  });
});
