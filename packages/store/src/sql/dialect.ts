// What differs between the SQL dialects, and nothing else (after Kysely's adapters): how a
// parameter is written, how a list or a set of rows is bound as ONE parameter (so no statement
// grows with its data and no parameter limit is reached), a few functions, and capability flags.
// Shared code asks these questions; it never asks which database it is talking to.

/** A column type of bound rows: text, an integer (epoch ms, counts), or JSON text. */
export type SqlType = 'text' | 'bigint' | 'json';

/** Appends one parameter value and answers its placeholder. */
export type Bind = (value: unknown) => string;

export interface SqlDialect {
  /** The placeholder of the n-th parameter (1-based). */
  placeholder(n: number): string;
  /**
   * Capability: a placeholder names its parameter (`$2`), so a value used twice is bound once.
   * Without it placeholders are positional (`?`) and every use is its own parameter.
   */
  readonly reusesPlaceholders: boolean;
  /** `expr` is one of `values` (one parameter, any length). */
  inList(expr: string, values: readonly unknown[], type: SqlType, bind: Bind): string;
  /**
   * `rows` as a FROM item `alias(columns…)`: one statement for a whole batch. JSON columns take
   * JSON text (or null).
   */
  rows(
    alias: string,
    columns: readonly (readonly [name: string, type: SqlType])[],
    rows: readonly (readonly unknown[])[],
    bind: Bind,
  ): string;
  /** A JSON value bound for a JSON column. */
  json(value: unknown, bind: Bind): string;
  /** The larger of two values (a scalar, not the aggregate). */
  greatest(a: string, b: string): string;
  /** The aggregate joining the text values of `expr` with commas, in no particular order. */
  listAgg(expr: string): string;
  /** The tab character as an expression. */
  readonly tab: string;
  /** Capability: the driver hands JSON columns back decoded (jsonb), not as JSON text. */
  readonly decodesJson: boolean;
  /** Capability: SELECT … FOR UPDATE locks rows (SQLite has one writer and needs no row locks). */
  readonly rowLocks: boolean;
  /**
   * Capability: the day and count rows of the aggregates are kept per writer slot (a `slot`
   * column in their keys, migration 12 on PostgreSQL), so that concurrent writers of one day do not
   * queue on one row; readers sum the slots. SQLite has one writer and one row per key.
   */
  readonly writerSlots: boolean;
}
