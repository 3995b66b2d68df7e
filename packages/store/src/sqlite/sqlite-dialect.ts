import type { SqlDialect } from '../sql/dialect.js';

// SQLite: positional `?`; lists and rows travel as one JSON text parameter read with json_each.
export const SQLITE_DIALECT: SqlDialect = {
  placeholder: () => '?',
  reusesPlaceholders: false,
  inList: (expr, values, _type, bind) => `${expr} IN (SELECT value FROM json_each(${bind(JSON.stringify(values))}))`,
  rows: (alias, columns, rows, bind) =>
    `(SELECT ${columns.map(([name], i) => `value ->> ${i} AS ${name}`).join(', ')} FROM json_each(${bind(
      JSON.stringify(rows),
    )})) AS ${alias}`,
  json: (value, bind) => bind(JSON.stringify(value)),
  greatest: (a, b) => `max(${a}, ${b})`,
  listAgg: (expr) => `group_concat(${expr}, ',')`,
  tab: 'char(9)',
  decodesJson: false,
  rowLocks: false,
  writerSlots: false,
};
