import type { Migration } from '../migration.js';

// Versioned schema of the PostgreSQL backend. Times are epoch milliseconds (bigint), as in SQLite,
// so both backends share one row mapping. A migration is never edited once released: add one.

export const PG_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
      CREATE TABLE projects (
        id text PRIMARY KEY,
        name text NOT NULL,
        write_key text NOT NULL UNIQUE,
        allowed_origins text NOT NULL DEFAULT '[]',
        time_zone text NOT NULL DEFAULT 'UTC',
        idle_timeout_ms bigint,
        absolute_timeout_ms bigint,
        retention_days integer NOT NULL DEFAULT 30,
        rate_limit_per_minute integer NOT NULL DEFAULT 0,
        created_at bigint NOT NULL
      );

      CREATE TABLE sessions (
        id text PRIMARY KEY,
        project_id text NOT NULL,
        kind text NOT NULL,
        user_id text,
        anonymous_id text,
        status text NOT NULL,
        started_at bigint NOT NULL,
        last_activity_at bigint NOT NULL,
        ended_at bigint,
        disconnected_at bigint,
        expires_at bigint NOT NULL,
        idle_timeout_ms bigint NOT NULL,
        absolute_timeout_ms bigint NOT NULL,
        device_type text, browser text, os text, screen_size text,
        entry_page text, entry_source text, entry_referrer text, entry_campaign text,
        exit_page text, exit_reason text, last_action text,
        country text, region text, continent text,
        transport text,
        actions integer NOT NULL DEFAULT 0,
        errors integer NOT NULL DEFAULT 0,
        tool_calls integer NOT NULL DEFAULT 0,
        workflows integer NOT NULL DEFAULT 0,
        recovery_attempts integer NOT NULL DEFAULT 0,
        metadata jsonb
      );
      CREATE INDEX sessions_project_started ON sessions (project_id, started_at DESC, id DESC);
      CREATE INDEX sessions_project_user ON sessions (project_id, user_id, started_at DESC) WHERE user_id IS NOT NULL;
      -- Not-ended sessions (sweeper, /sessions/active); expires_at is compared, not indexed,
      -- because it moves with every batch.
      CREATE INDEX sessions_live ON sessions (project_id, started_at DESC) WHERE status <> 'ended';

      -- (session_id, event_id) identifies an event: session ids are globally unique, so this is the
      -- (project, session, client event id) key. received_at is indexed for bulk retention deletes.
      CREATE TABLE events (
        project_id text NOT NULL,
        session_id text NOT NULL,
        event_id text NOT NULL,
        type text NOT NULL,
        name text,
        ts bigint NOT NULL,
        received_at bigint NOT NULL,
        page text,
        resource_id text,
        details jsonb,
        seq bigserial,
        PRIMARY KEY (session_id, event_id)
      );
      CREATE INDEX events_received ON events (received_at);
    `,
  },
  // There is no version 2: analytics (#6) and MCP (#5) were built side by side and landed in this order.
  {
    version: 3,
    name: 'analytics rollups',
    sql: `
      -- Per-project bounce thresholds (NULL: 30 s and 1 action).
      ALTER TABLE projects ADD COLUMN bounce_seconds integer, ADD COLUMN bounce_max_actions integer;

      -- (project, UTC day of session start) pairs written since; marked_at is wall-clock ms.
      CREATE TABLE rollup_dirty (
        project_id text NOT NULL,
        utc_day bigint NOT NULL,
        marked_at bigint NOT NULL,
        PRIMARY KEY (project_id, utc_day)
      );
      -- Data from before this migration has never been rolled up: mark all of it.
      INSERT INTO rollup_dirty (project_id, utc_day, marked_at)
        SELECT DISTINCT project_id, started_at / 86400000, (extract(epoch from clock_timestamp()) * 1000)::bigint FROM sessions;

      -- One row per project and local calendar day: the additive totals (core's DayTotals).
      CREATE TABLE rollup_days (
        project_id text NOT NULL,
        day text NOT NULL,
        computed_at bigint NOT NULL,
        sessions bigint NOT NULL,
        ended_sessions bigint NOT NULL,
        duration_ms_sum bigint NOT NULL,
        bounces bigint NOT NULL,
        error_sessions bigint NOT NULL,
        actions bigint NOT NULL,
        tool_calls bigint NOT NULL,
        unique_users bigint NOT NULL,
        PRIMARY KEY (project_id, day)
      );
      -- Counted dimensions per day (breakdowns, heatmap, workflows, pairs; core's COUNT_DIMS).
      CREATE TABLE rollup_counts (
        project_id text NOT NULL,
        dim text NOT NULL,
        day text NOT NULL,
        value text NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (project_id, dim, day, value)
      );
      -- Distinct user keys per day: unique users over a range are not a sum of days.
      CREATE TABLE rollup_users (
        project_id text NOT NULL,
        day text NOT NULL,
        user_key text NOT NULL,
        PRIMARY KEY (project_id, day, user_key)
      );
      -- Is this user among these days' users? One index-only probe.
      CREATE INDEX rollup_users_key ON rollup_users (project_id, user_key, day);
    `,
  },
  {
    version: 4,
    name: 'agent_state',
    sql: `
      -- MCP agent state (see the SQLite migration of the same version).
      CREATE TABLE agent_state (
        project_id text NOT NULL,
        session_id text NOT NULL,
        agent_id text NOT NULL,
        key text NOT NULL,
        value jsonb NOT NULL,
        expires_at bigint,
        updated_at bigint NOT NULL,
        PRIMARY KEY (session_id, agent_id, key)
      );
      CREATE INDEX agent_state_expires ON agent_state (expires_at) WHERE expires_at IS NOT NULL;
    `,
  },
  {
    version: 5,
    name: 'session recovery policy',
    sql: `
      -- Per-session recovery policy (NULL: the defaults, 10 min and 3 attempts).
      ALTER TABLE sessions ADD COLUMN grace_ms integer, ADD COLUMN max_recovery_attempts integer;
    `,
  },
  {
    version: 6,
    name: 'maintained aggregates',
    sql: `
      -- See the SQLite migration of the same version. The default marks the rows of before as
      -- 'unknown' without rewriting the table (PostgreSQL 11+ keeps it in the catalog); dropped at
      -- once, so new sessions get NULL (no facets).
      ALTER TABLE sessions ADD COLUMN facets text DEFAULT 'unknown';
      ALTER TABLE sessions ALTER COLUMN facets DROP DEFAULT;
      ALTER TABLE rollup_users ADD COLUMN n bigint NOT NULL DEFAULT 1;
      CREATE TABLE rollup_user_prev (
        project_id text NOT NULL,
        day text NOT NULL,
        prev_day text NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (project_id, day, prev_day)
      );
      INSERT INTO rollup_user_prev (project_id, day, prev_day, n)
        SELECT project_id, day, prev_day, count(*) FROM (
          SELECT project_id, day,
            coalesce(lag(day) OVER (PARTITION BY project_id, user_key ORDER BY day), '') AS prev_day
          FROM rollup_users) u
        GROUP BY project_id, day, prev_day;
      INSERT INTO rollup_dirty (project_id, utc_day, marked_at)
        SELECT DISTINCT project_id, started_at / 86400000, (extract(epoch from clock_timestamp()) * 1000)::bigint FROM sessions
        ON CONFLICT (project_id, utc_day) DO UPDATE SET marked_at = excluded.marked_at;
    `,
  },
  {
    version: 7,
    name: 'engaged time',
    sql: `
      -- Milliseconds visible and active, as the tracker reports it (NULL: none reported).
      ALTER TABLE sessions ADD COLUMN engaged_ms bigint;
    `,
  },
  {
    version: 8,
    name: 'project settings and share links',
    sql: `
      -- See the SQLite migration of the same version.
      ALTER TABLE projects ADD COLUMN previous_write_key text, ADD COLUMN previous_key_valid_until bigint;
      CREATE UNIQUE INDEX projects_previous_write_key ON projects (previous_write_key)
        WHERE previous_write_key IS NOT NULL;
      CREATE TABLE project_shares (
        id text PRIMARY KEY,
        project_id text NOT NULL,
        label text,
        token_hash text NOT NULL UNIQUE,
        created_at bigint NOT NULL
      );
      CREATE INDEX project_shares_project ON project_shares (project_id, created_at);
      CREATE TABLE projects_version (
        id integer PRIMARY KEY CHECK (id = 1),
        version bigint NOT NULL
      );
      INSERT INTO projects_version (id, version) VALUES (1, 0);
    `,
  },
  {
    version: 9,
    name: 'paths and tool latency',
    sql: `
      -- See the SQLite migration of the same version.
      UPDATE sessions SET facets = 'unknown';
      INSERT INTO rollup_dirty (project_id, utc_day, marked_at)
        SELECT DISTINCT project_id, started_at / 86400000, (extract(epoch from clock_timestamp()) * 1000)::bigint FROM sessions
        ON CONFLICT (project_id, utc_day) DO UPDATE SET marked_at = excluded.marked_at;
    `,
  },
  {
    version: 10,
    name: 'sessions keyed by project',
    sql: `
      -- See the SQLite migration of the same version (10). Here the keys change in place: each new
      -- primary key index is built over the whole table (events: the largest), under a lock that
      -- holds writers back until the migration commits.
      ALTER TABLE sessions DROP CONSTRAINT sessions_pkey, ADD PRIMARY KEY (id, project_id);
      ALTER TABLE events DROP CONSTRAINT events_pkey, ADD PRIMARY KEY (session_id, project_id, event_id);
      ALTER TABLE agent_state DROP CONSTRAINT agent_state_pkey, ADD PRIMARY KEY (session_id, project_id, agent_id, key);
    `,
  },
  {
    version: 11,
    name: 'aggregates per kind, engaged time',
    sql: `
      -- See the SQLite migration of the same version. The default gives the rows of before the
      -- unknown kind without rewriting them; dropped at once, so every writer names its kind.
      ALTER TABLE rollup_days ADD COLUMN kind text NOT NULL DEFAULT '',
        ADD COLUMN engaged_sessions bigint NOT NULL DEFAULT 0,
        ADD COLUMN engaged_ms_sum bigint NOT NULL DEFAULT 0;
      ALTER TABLE rollup_days ALTER COLUMN kind DROP DEFAULT;
      ALTER TABLE rollup_days DROP CONSTRAINT rollup_days_pkey, ADD PRIMARY KEY (project_id, day, kind);
      ALTER TABLE rollup_counts ADD COLUMN kind text NOT NULL DEFAULT '';
      ALTER TABLE rollup_counts ALTER COLUMN kind DROP DEFAULT;
      ALTER TABLE rollup_counts DROP CONSTRAINT rollup_counts_pkey,
        ADD PRIMARY KEY (project_id, dim, day, value, kind);
      CREATE TABLE rollup_kind_users (
        project_id text NOT NULL,
        kind text NOT NULL,
        day text NOT NULL,
        user_key text NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (project_id, kind, day, user_key)
      );
      CREATE INDEX rollup_kind_users_key ON rollup_kind_users (project_id, kind, user_key, day);
      CREATE TABLE rollup_kind_user_prev (
        project_id text NOT NULL,
        kind text NOT NULL,
        day text NOT NULL,
        prev_day text NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (project_id, kind, day, prev_day)
      );
      INSERT INTO rollup_dirty (project_id, utc_day, marked_at)
        SELECT DISTINCT project_id, started_at / 86400000, (extract(epoch from clock_timestamp()) * 1000)::bigint FROM sessions
        ON CONFLICT (project_id, utc_day) DO UPDATE SET marked_at = excluded.marked_at;
    `,
  },
  {
    version: 12,
    name: 'aggregate rows per writer slot',
    sql: `
      -- Every batch of a day adds to that day's row (and its busiest count rows), and holds the
      -- row lock until it commits: concurrent commits of one process queued on it. Each commit now
      -- adds to its own slot's row (sql/aggregates-sql.ts, WRITER_SLOTS); readers sum the slots.
      -- Existing rows are slot 0. PostgreSQL only: SQLite has one writer (dialect writerSlots).
      ALTER TABLE rollup_days ADD COLUMN slot smallint NOT NULL DEFAULT 0;
      ALTER TABLE rollup_days DROP CONSTRAINT rollup_days_pkey, ADD PRIMARY KEY (project_id, day, kind, slot);
      ALTER TABLE rollup_counts ADD COLUMN slot smallint NOT NULL DEFAULT 0;
      ALTER TABLE rollup_counts DROP CONSTRAINT rollup_counts_pkey,
        ADD PRIMARY KEY (project_id, dim, day, value, kind, slot);
    `,
  },
];
