import type { Bind, SqlDialect, SqlType } from './dialect.js';

// SQL written once for every dialect: a tagged template whose interpolations become parameters,
// unless they are fragments themselves (nested `sql`, `raw`, or a dialect's rendering of a list,
// a set of rows or a JSON value). `compile` turns a fragment into a dialect's text and parameters.
//
//   sql`SELECT * FROM sessions WHERE ${inList('id', ids)} AND started_at >= ${from}`

export class Sql {
  constructor(readonly render: (d: SqlDialect, bind: Bind) => string) {}
}

export interface Compiled {
  text: string;
  params: unknown[];
}

export function sql(strings: TemplateStringsArray, ...values: unknown[]): Sql {
  return new Sql((d, bind) => {
    let out = strings[0] ?? '';
    values.forEach((v, i) => {
      out += (v instanceof Sql ? v.render(d, bind) : bind(v)) + (strings[i + 1] ?? '');
    });
    return out;
  });
}

/** Text taken as it is: identifiers and constants, never a value from outside. */
export const raw = (text: string): Sql => new Sql(() => text);

export const join = (parts: readonly Sql[], separator: string): Sql =>
  new Sql((d, bind) => parts.map((p) => p.render(d, bind)).join(separator));

/** Each value a parameter, comma-separated (a VALUES list). */
export const values = (list: readonly unknown[]): Sql =>
  join(
    list.map((v) => sql`${v}`),
    ', ',
  );

export const inList = (expr: string, values: readonly unknown[], type: SqlType = 'text'): Sql =>
  new Sql((d, bind) => d.inList(expr, values, type, bind));

/**
 * The pair (a, b) is one of `pairs` (one parameter, any length): a session by (project, id). A
 * row-value IN over a bound set of rows, in both dialects.
 */
export const inPairs = (a: string, b: string, pairs: readonly (readonly [string, string])[]): Sql =>
  sql`(${raw(a)}, ${raw(b)}) IN (SELECT x, y FROM ${rows(
    'k',
    [
      ['x', 'text'],
      ['y', 'text'],
    ],
    pairs,
  )})`;

export const rows = (
  alias: string,
  columns: readonly (readonly [string, SqlType])[],
  list: readonly (readonly unknown[])[],
): Sql => new Sql((d, bind) => d.rows(alias, columns, list, bind));

export const json = (value: unknown): Sql => new Sql((d, bind) => d.json(value, bind));

export const greatest = (a: string, b: string): Sql => new Sql((d) => d.greatest(a, b));
export const listAgg = (expr: string): Sql => new Sql((d) => d.listAgg(expr));

export function compile(q: Sql, d: SqlDialect): Compiled {
  const params: unknown[] = [];
  const text = q.render(d, (v) => {
    params.push(v);
    return d.placeholder(params.length);
  });
  return { text, params };
}

/**
 * `@name` parameters (live-sql.ts writes its long aggregates that way) in a dialect's
 * placeholders: bound once per name where placeholders can be reused, else once per use.
 */
export function named(text: string, values: Record<string, unknown>, d: SqlDialect): Compiled {
  const index = new Map<string, string>();
  const params: unknown[] = [];
  const out = text.replace(/@(\w+)/g, (_, k: string) => {
    const seen = d.reusesPlaceholders ? index.get(k) : undefined;
    if (seen) return seen;
    params.push(values[k]);
    const p = d.placeholder(params.length);
    index.set(k, p);
    return p;
  });
  return { text: out, params };
}
