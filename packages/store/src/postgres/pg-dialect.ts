import type { SqlDialect, SqlType } from '../sql/dialect.js';

// PostgreSQL: numbered `$n`; lists and rows travel as typed arrays (rows: one array per column,
// zipped by unnest), which node-postgres sends as one parameter each.
const ARRAY: Record<SqlType, string> = { text: 'text[]', bigint: 'bigint[]', json: 'jsonb[]' };

export const PG_DIALECT: SqlDialect = {
  placeholder: (n) => `$${n}`,
  reusesPlaceholders: true,
  inList: (expr, values, type, bind) => `${expr} = ANY(${bind(values)}::${ARRAY[type]})`,
  rows: (alias, columns, rows, bind) =>
    `unnest(${columns.map(([, type], i) => `${bind(rows.map((r) => r[i]))}::${ARRAY[type]}`).join(', ')}) AS ${alias}(${columns
      .map(([name]) => name)
      .join(', ')})`,
  json: (value, bind) => `${bind(JSON.stringify(value))}::jsonb`,
  greatest: (a, b) => `GREATEST(${a}, ${b})`,
  listAgg: (expr) => `string_agg(${expr}, ',')`,
  tab: 'chr(9)',
  decodesJson: true,
  rowLocks: true,
  writerSlots: true,
};
