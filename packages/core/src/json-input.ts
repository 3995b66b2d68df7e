// Hostile JSON at the boundary (docs/operations.md "Security"), checked once on the parsed body
// before any schema or store sees it, the same for every backend:
// - depth: JSON.parse takes any nesting, but JSON.stringify, zod and the drivers recurse, and ~4,500
//   levels overflow the stack (a 500). Deeper than MAX_JSON_DEPTH is a 400.
// - U+0000: PostgreSQL refuses it in text and jsonb, SQLite keeps it; it is never in the text a
//   client means to send, so it is a 400 naming the field (not a 503 the client would retry forever).
// - lone surrogates (what truncating a string can make of an emoji): PostgreSQL refuses them, SQLite's
//   driver stores U+FFFD, so they become U+FFFD here for both, as every UTF-8 encoder does.

/** The deepest nesting of a request body: `{ "sessions": [ { "events": [ { "details": … } ] } ] }` is 5. */
export const MAX_JSON_DEPTH = 64;

export interface JsonProblem {
  /** As formatIssues names fields: `events[3].details.a`. */
  path: string;
  message: string;
}

const NUL = '\u0000';
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/** A string with every lone surrogate replaced by U+FFFD (String.prototype.toWellFormed). */
export function wellFormed(s: string): string {
  return LONE_SURROGATE.test(s) ? s.replace(LONE_SURROGATES, '\ufffd') : s;
}

/**
 * Makes a parsed JSON value safe to store, in place and without recursion: lone surrogates in
 * strings and keys become U+FFFD. Answers the first problem that cannot be repaired (too deep, a
 * NUL), or null. Runs on every ingest body: a value's path is made only for a problem (from its
 * frame's parents), never for every value on the way.
 */
export function repairJsonInput(root: unknown, maxDepth = MAX_JSON_DEPTH): JsonProblem | null {
  type Frame = { value: object; parent: Frame | null; key: string | number; depth: number };
  const pathOf = (parent: Frame, key: string | number): (string | number)[] => {
    const out: (string | number)[] = [key];
    for (let f = parent; f?.parent; f = f.parent) out.push(f.key);
    return out.reverse();
  };
  const stack: Frame[] = [];
  const visit = (value: unknown, parent: Frame, key: string | number): JsonProblem | null => {
    if (typeof value === 'string') {
      return value.includes(NUL) ? problem(pathOf(parent, key), 'contains U+0000 (NUL)') : null;
    }
    if (value === null || typeof value !== 'object') return null;
    if (parent.depth + 1 > maxDepth) return problem(pathOf(parent, key), `nested deeper than ${maxDepth} levels`);
    stack.push({ value, parent, key, depth: parent.depth + 1 });
    return null;
  };
  if (typeof root === 'string') return root.includes(NUL) ? problem([], 'contains U+0000 (NUL)') : null;
  if (root === null || typeof root !== 'object') return null;
  if (maxDepth < 1) return problem([], `nested deeper than ${maxDepth} levels`);
  stack.push({ value: root, parent: null, key: '', depth: 1 });
  while (stack.length > 0) {
    const frame = stack.pop() as Frame;
    const value = frame.value;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        if (typeof value[i] === 'string') value[i] = wellFormed(value[i]);
        const p = visit(value[i], frame, i);
        if (p) return p;
      }
      continue;
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (key.includes(NUL)) return problem(pathOf(frame, key), 'the key contains U+0000 (NUL)');
      let k = key;
      if (LONE_SURROGATE.test(key)) {
        k = wellFormed(key);
        record[k] = record[key];
        delete record[key];
      }
      const v = record[k];
      // Written only when it changes: a `__proto__` key of JSON.parse is an own property, left alone.
      if (typeof v === 'string' && wellFormed(v) !== v) record[k] = wellFormed(v);
      const p = visit(record[k], frame, k);
      if (p) return p;
    }
  }
  return null;
}

/** Keys are client text: the path in an error is cut short, never the whole of a hostile body. */
function problem(path: readonly (string | number)[], message: string): JsonProblem {
  let out = '';
  for (const [i, p] of path.entries()) {
    if (i === 8) {
      out += '…';
      break;
    }
    if (typeof p === 'number') out += `[${p}]`;
    else {
      const key = p.length > 40 ? `${p.slice(0, 40)}…` : p;
      out += out ? `.${key}` : key;
    }
  }
  return { path: out.replaceAll(NUL, '\\u0000'), message };
}
