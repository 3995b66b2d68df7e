import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, repairJsonInput, wellFormed } from './json-input.js';

const nested = (depth: number): unknown => JSON.parse(`${'['.repeat(depth - 1)}{}${']'.repeat(depth - 1)}`);

describe('repairJsonInput', () => {
  it('accepts what the routes take, unchanged', () => {
    const body = { events: [{ type: 'action', details: { plan: 'pro', n: 1, ok: true, none: null, emoji: '😀' } }] };
    const copy = structuredClone(body);
    expect(repairJsonInput(body)).toBeNull();
    expect(body).toEqual(copy);
  });

  it('bounds the depth, without recursing itself (100,000 levels)', () => {
    expect(repairJsonInput(nested(MAX_JSON_DEPTH))).toBeNull();
    expect(repairJsonInput(nested(MAX_JSON_DEPTH + 1))).toEqual({
      path: '[0][0][0][0][0][0][0][0]…',
      message: `nested deeper than ${MAX_JSON_DEPTH} levels`,
    });
    expect(repairJsonInput({ metadata: { a: { b: 1 } } }, 3)).toBeNull();
    expect(repairJsonInput({ metadata: { a: { b: {} } } }, 3)).toEqual({
      path: 'metadata.a.b',
      message: 'nested deeper than 3 levels',
    });
    expect(repairJsonInput(nested(100_000))?.message).toMatch(/nested deeper/);
  });

  it('refuses U+0000 in a value or a key, naming the field', () => {
    expect(repairJsonInput({ userId: 'a\u0000b' })).toEqual({ path: 'userId', message: 'contains U+0000 (NUL)' });
    expect(repairJsonInput({ events: [{ details: { tags: ['x', '\u0000'] } }] })).toEqual({
      path: 'events[0].details.tags[1]',
      message: 'contains U+0000 (NUL)',
    });
    expect(repairJsonInput({ metadata: { 'k\u0000': 1 } })).toEqual({
      path: 'metadata.k\\u0000',
      message: 'the key contains U+0000 (NUL)',
    });
  });

  it('replaces lone surrogates with U+FFFD in values and keys, and keeps pairs', () => {
    const body = { page: '/a\ud800', list: ['\udc00x', '😀'], metadata: { 'k\udbff': 'v', ok: 'a😀' } };
    expect(repairJsonInput(body)).toBeNull();
    expect(body).toEqual({ page: '/a\ufffd', list: ['\ufffdx', '😀'], metadata: { 'k\ufffd': 'v', ok: 'a😀' } });
  });

  it('cuts long keys short in the path', () => {
    const key = 'k'.repeat(1000);
    expect(repairJsonInput({ [key]: '\u0000' })?.path).toBe(`${'k'.repeat(40)}…`);
  });

  it('leaves a __proto__ key an own property', () => {
    const body = JSON.parse('{"__proto__": {"polluted": "\\ud800"}}');
    expect(repairJsonInput(body)).toBeNull();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(body)).toBe(Object.prototype);
  });
});

describe('wellFormed', () => {
  it('is String.prototype.toWellFormed (ES2024, in Node 20)', () => {
    const toWellFormed = (s: string) => (s as unknown as { toWellFormed(): string }).toWellFormed();
    for (const s of ['', 'abc', '\ud800', '\udc00', '\ud800\udc00', '\udc00\ud800', 'a\ud83dx', '😀\ud83d'])
      expect(wellFormed(s)).toBe(toWellFormed(s));
  });
});
