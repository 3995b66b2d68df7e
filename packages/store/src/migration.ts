// A versioned schema step. Each backend keeps its own list (sqlite/sqlite-migrations.ts,
// postgres/pg-migrations.ts) because DDL is where the dialects truly differ. A migration is never
// edited once released: add one.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}
