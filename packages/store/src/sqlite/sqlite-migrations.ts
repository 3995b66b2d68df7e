import type { Migration } from '../migration.js';

// The columns migration 10 copies, as they were after migration 9.
const SESSIONS_V10 = `id, project_id, kind, user_id, anonymous_id, status, started_at, last_activity_at, ended_at, disconnected_at, expires_at, idle_timeout_ms, absolute_timeout_ms, device_type, browser, os, screen_size, entry_page, entry_source, entry_referrer, entry_campaign, exit_page, exit_reason, last_action, country, region, continent, transport, actions, errors, tool_calls, workflows, recovery_attempts, metadata, grace_ms, max_recovery_attempts, facets, engaged_ms`;
const EVENTS_V10 = 'seq, project_id, session_id, event_id, type, name, ts, received_at, page, resource_id, details';
const AGENT_STATE_V10 = 'project_id, session_id, agent_id, key, value, expires_at, updated_at';

// Versioned schema of the SQLite backend. A migration is never edited once released: add one.

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
      CREATE TABLE projects (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        write_key TEXT NOT NULL UNIQUE,
        allowed_origins TEXT NOT NULL DEFAULT '[]',
        time_zone TEXT NOT NULL DEFAULT 'UTC',
        idle_timeout_ms INTEGER,
        absolute_timeout_ms INTEGER,
        retention_days INTEGER NOT NULL DEFAULT 30,
        rate_limit_per_minute INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
      );

      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        user_id TEXT,
        anonymous_id TEXT,
        status TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        last_activity_at INTEGER NOT NULL,
        ended_at INTEGER,
        disconnected_at INTEGER,
        expires_at INTEGER NOT NULL,
        idle_timeout_ms INTEGER NOT NULL,
        absolute_timeout_ms INTEGER NOT NULL,
        device_type TEXT, browser TEXT, os TEXT, screen_size TEXT,
        entry_page TEXT, entry_source TEXT, entry_referrer TEXT, entry_campaign TEXT,
        exit_page TEXT, exit_reason TEXT, last_action TEXT,
        country TEXT, region TEXT, continent TEXT,
        transport TEXT,
        actions INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        tool_calls INTEGER NOT NULL DEFAULT 0,
        workflows INTEGER NOT NULL DEFAULT 0,
        recovery_attempts INTEGER NOT NULL DEFAULT 0,
        metadata TEXT
      ) WITHOUT ROWID;
      CREATE INDEX sessions_project_started ON sessions (project_id, started_at DESC, id DESC);
      CREATE INDEX sessions_project_user ON sessions (project_id, user_id, started_at DESC) WHERE user_id IS NOT NULL;
      -- Not-ended sessions, for the sweeper and /sessions/active (which then compare expires_at).
      -- expires_at itself is not indexed: it moves with every batch, and an index on it would be
      -- rewritten on each one; this index changes only when a session starts or ends.
      CREATE INDEX sessions_live ON sessions (project_id, started_at DESC) WHERE status <> 'ended';

      -- Session ids are globally unique, so (session_id, event_id) identifies an event within
      -- its project: a retried or double-sent event is stored once.
      CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        project_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        type TEXT NOT NULL,
        name TEXT,
        ts INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        page TEXT,
        resource_id TEXT,
        details TEXT,
        UNIQUE (session_id, event_id)
      );
    `,
  },
  // There is no version 2: analytics (#6) and MCP (#5) were built side by side and landed in this order.
  {
    version: 3,
    name: 'analytics rollups',
    sql: `
      -- Per-project bounce thresholds (NULL: 30 s and 1 action).
      ALTER TABLE projects ADD COLUMN bounce_seconds INTEGER;
      ALTER TABLE projects ADD COLUMN bounce_max_actions INTEGER;

      -- (project, UTC day of session start) pairs written since; marked_at is wall-clock ms.
      CREATE TABLE rollup_dirty (
        project_id TEXT NOT NULL,
        utc_day INTEGER NOT NULL,
        marked_at INTEGER NOT NULL,
        PRIMARY KEY (project_id, utc_day)
      ) WITHOUT ROWID;
      -- Data from before this migration has never been rolled up: mark all of it.
      INSERT INTO rollup_dirty (project_id, utc_day, marked_at)
        SELECT DISTINCT project_id, started_at / 86400000, CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM sessions;

      -- One row per project and local calendar day: the additive totals (core's DayTotals).
      CREATE TABLE rollup_days (
        project_id TEXT NOT NULL,
        day TEXT NOT NULL,
        computed_at INTEGER NOT NULL,
        sessions INTEGER NOT NULL,
        ended_sessions INTEGER NOT NULL,
        duration_ms_sum INTEGER NOT NULL,
        bounces INTEGER NOT NULL,
        error_sessions INTEGER NOT NULL,
        actions INTEGER NOT NULL,
        tool_calls INTEGER NOT NULL,
        unique_users INTEGER NOT NULL,
        PRIMARY KEY (project_id, day)
      ) WITHOUT ROWID;
      -- Counted dimensions per day (breakdowns, heatmap, workflows, pairs; core's COUNT_DIMS).
      CREATE TABLE rollup_counts (
        project_id TEXT NOT NULL,
        dim TEXT NOT NULL,
        day TEXT NOT NULL,
        value TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (project_id, dim, day, value)
      ) WITHOUT ROWID;
      -- Distinct user keys per day: unique users over a range are not a sum of days.
      CREATE TABLE rollup_users (
        project_id TEXT NOT NULL,
        day TEXT NOT NULL,
        user_key TEXT NOT NULL,
        PRIMARY KEY (project_id, day, user_key)
      ) WITHOUT ROWID;
      -- Is this user among these days' users? One index-only probe.
      CREATE INDEX rollup_users_key ON rollup_users (project_id, user_key, day);
    `,
  },
  {
    version: 4,
    name: 'agent_state',
    sql: `
      -- MCP agent state: small JSON values per (session, agent, key). Session ids are globally
      -- unique; project_id is kept so that state can be scoped and erased per project or user.
      CREATE TABLE agent_state (
        project_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        agent_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        expires_at INTEGER,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (session_id, agent_id, key)
      ) WITHOUT ROWID;
      CREATE INDEX agent_state_expires ON agent_state (expires_at) WHERE expires_at IS NOT NULL;
    `,
  },
  {
    version: 5,
    name: 'session recovery policy',
    sql: `
      -- Per-session recovery policy (NULL: the defaults, 10 min and 3 attempts).
      ALTER TABLE sessions ADD COLUMN grace_ms INTEGER;
      ALTER TABLE sessions ADD COLUMN max_recovery_attempts INTEGER;
    `,
  },
  {
    version: 6,
    name: 'maintained aggregates',
    sql: `
      -- What a session's events add to the aggregates (core's SessionFacets, JSON; NULL: none),
      -- so a batch never reads events. Sessions stored before this migration: 'unknown', read
      -- from their events the first time a writer needs them.
      ALTER TABLE sessions ADD COLUMN facets TEXT;
      UPDATE sessions SET facets = 'unknown';
      -- Sessions per user and day, so that identify() and erase can take one away exactly. The
      -- rows of before counted no sessions: 1 each (the days they belong to are rebuilt below).
      ALTER TABLE rollup_users ADD COLUMN n INTEGER NOT NULL DEFAULT 1;
      -- Users per day by their previous active day ('' for a first day): distinct users over any
      -- range in days × days (core's aggregates.ts).
      CREATE TABLE rollup_user_prev (
        project_id TEXT NOT NULL,
        day TEXT NOT NULL,
        prev_day TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (project_id, day, prev_day)
      ) WITHOUT ROWID;
      INSERT INTO rollup_user_prev (project_id, day, prev_day, n)
        SELECT project_id, day, prev_day, count(*) FROM (
          SELECT project_id, day,
            coalesce(lag(day) OVER (PARTITION BY project_id, user_key ORDER BY day), '') AS prev_day
          FROM rollup_users)
        GROUP BY project_id, day, prev_day;
      -- Every day that still has raw rows (today included, which had no rollup) is rebuilt from
      -- them by the rollup job; from then on the writers keep the aggregates.
      INSERT OR REPLACE INTO rollup_dirty (project_id, utc_day, marked_at)
        SELECT DISTINCT project_id, started_at / 86400000, CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM sessions;
    `,
  },
  {
    version: 7,
    name: 'engaged time',
    sql: `
      -- Milliseconds visible and active, as the tracker reports it (NULL: none reported).
      ALTER TABLE sessions ADD COLUMN engaged_ms INTEGER;
    `,
  },
  {
    version: 8,
    name: 'project settings and share links',
    sql: `
      -- Key rotation: the previous key keeps working until previous_key_valid_until (epoch ms).
      ALTER TABLE projects ADD COLUMN previous_write_key TEXT;
      ALTER TABLE projects ADD COLUMN previous_key_valid_until INTEGER;
      CREATE UNIQUE INDEX projects_previous_write_key ON projects (previous_write_key)
        WHERE previous_write_key IS NOT NULL;
      -- Read-only share links; the token is kept as its SHA-256 digest only.
      CREATE TABLE project_shares (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        label TEXT,
        token_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX project_shares_project ON project_shares (project_id, created_at);
      -- One stamp that moves with every change to projects or shares: each instance reads it
      -- (once a second at most) to know when its project cache is stale.
      CREATE TABLE projects_version (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL
      );
      INSERT INTO projects_version (id, version) VALUES (1, 0);
    `,
  },
  {
    version: 9,
    name: 'paths and tool latency',
    sql: `
      -- Facets now keep the page and tool paths and the tools' latency buckets (core's
      -- SessionFacets). Every stored session's facets lack them, NULL ones included (pageviews
      -- were not read before): 'unknown', read from the events the first time a writer needs
      -- them; every day with raw rows is rebuilt by the rollup job.
      UPDATE sessions SET facets = 'unknown';
      INSERT OR REPLACE INTO rollup_dirty (project_id, utc_day, marked_at)
        SELECT DISTINCT project_id, started_at / 86400000, CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM sessions;
    `,
  },
  {
    version: 10,
    name: 'sessions keyed by project',
    sql: `
      -- Session ids are unique per project, no longer globally (issue 14.10): a client-chosen id
      -- that another project uses starts a session like a never-used one, so that no project can
      -- tell which ids another one has. Sessions, events and agent state are keyed by
      -- (session id, project): the id first, so a lookup by id alone (the admin's read route, a
      -- batch's load) stays one probe of the key. SQLite changes a key only by rebuilding the
      -- table: each is copied whole, in this migration's transaction.
      CREATE TABLE sessions_v10 (
        id TEXT NOT NULL,
        project_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        user_id TEXT,
        anonymous_id TEXT,
        status TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        last_activity_at INTEGER NOT NULL,
        ended_at INTEGER,
        disconnected_at INTEGER,
        expires_at INTEGER NOT NULL,
        idle_timeout_ms INTEGER NOT NULL,
        absolute_timeout_ms INTEGER NOT NULL,
        device_type TEXT, browser TEXT, os TEXT, screen_size TEXT,
        entry_page TEXT, entry_source TEXT, entry_referrer TEXT, entry_campaign TEXT,
        exit_page TEXT, exit_reason TEXT, last_action TEXT,
        country TEXT, region TEXT, continent TEXT,
        transport TEXT,
        actions INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        tool_calls INTEGER NOT NULL DEFAULT 0,
        workflows INTEGER NOT NULL DEFAULT 0,
        recovery_attempts INTEGER NOT NULL DEFAULT 0,
        metadata TEXT,
        grace_ms INTEGER,
        max_recovery_attempts INTEGER,
        facets TEXT,
        engaged_ms INTEGER,
        PRIMARY KEY (id, project_id)
      ) WITHOUT ROWID;
      INSERT INTO sessions_v10 (${SESSIONS_V10})
        SELECT ${SESSIONS_V10} FROM sessions;
      DROP TABLE sessions;
      ALTER TABLE sessions_v10 RENAME TO sessions;
      CREATE INDEX sessions_project_started ON sessions (project_id, started_at DESC, id DESC);
      CREATE INDEX sessions_project_user ON sessions (project_id, user_id, started_at DESC) WHERE user_id IS NOT NULL;
      CREATE INDEX sessions_live ON sessions (project_id, started_at DESC) WHERE status <> 'ended';

      -- (session, project, client event id): a retried or double-sent event is stored once, and
      -- the same ids in another project's session of the same id are that session's own.
      CREATE TABLE events_v10 (
        seq INTEGER PRIMARY KEY,
        project_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        type TEXT NOT NULL,
        name TEXT,
        ts INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        page TEXT,
        resource_id TEXT,
        details TEXT,
        UNIQUE (session_id, project_id, event_id)
      );
      INSERT INTO events_v10 (${EVENTS_V10}) SELECT ${EVENTS_V10} FROM events;
      DROP TABLE events;
      ALTER TABLE events_v10 RENAME TO events;

      CREATE TABLE agent_state_v10 (
        project_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        agent_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        expires_at INTEGER,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (session_id, project_id, agent_id, key)
      ) WITHOUT ROWID;
      INSERT INTO agent_state_v10 (${AGENT_STATE_V10}) SELECT ${AGENT_STATE_V10} FROM agent_state;
      DROP TABLE agent_state;
      ALTER TABLE agent_state_v10 RENAME TO agent_state;
      CREATE INDEX agent_state_expires ON agent_state (expires_at) WHERE expires_at IS NOT NULL;
    `,
  },
  {
    version: 11,
    name: 'aggregates per kind, engaged time',
    sql: `
      -- rollup_days and rollup_counts keyed by session kind as well ('' for the rows of before:
      -- their kind is unknown until the rebuild below splits them; days past retention keep it and
      -- count only in answers over all kinds), and two totals for the average engaged time.
      -- SQLite cannot change a primary key in place: copy into the new shape.
      CREATE TABLE rollup_days_v11 (
        project_id TEXT NOT NULL,
        day TEXT NOT NULL,
        kind TEXT NOT NULL,
        computed_at INTEGER NOT NULL,
        sessions INTEGER NOT NULL,
        ended_sessions INTEGER NOT NULL,
        duration_ms_sum INTEGER NOT NULL,
        bounces INTEGER NOT NULL,
        error_sessions INTEGER NOT NULL,
        actions INTEGER NOT NULL,
        tool_calls INTEGER NOT NULL,
        engaged_sessions INTEGER NOT NULL DEFAULT 0,
        engaged_ms_sum INTEGER NOT NULL DEFAULT 0,
        unique_users INTEGER NOT NULL,
        PRIMARY KEY (project_id, day, kind)
      ) WITHOUT ROWID;
      INSERT INTO rollup_days_v11 (project_id, day, kind, computed_at, sessions, ended_sessions, duration_ms_sum,
          bounces, error_sessions, actions, tool_calls, unique_users)
        SELECT project_id, day, '', computed_at, sessions, ended_sessions, duration_ms_sum,
          bounces, error_sessions, actions, tool_calls, unique_users FROM rollup_days;
      DROP TABLE rollup_days;
      ALTER TABLE rollup_days_v11 RENAME TO rollup_days;
      CREATE TABLE rollup_counts_v11 (
        project_id TEXT NOT NULL,
        dim TEXT NOT NULL,
        day TEXT NOT NULL,
        value TEXT NOT NULL,
        kind TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (project_id, dim, day, value, kind)
      ) WITHOUT ROWID;
      INSERT INTO rollup_counts_v11 (project_id, dim, day, value, kind, n)
        SELECT project_id, dim, day, value, '', n FROM rollup_counts;
      DROP TABLE rollup_counts;
      ALTER TABLE rollup_counts_v11 RENAME TO rollup_counts;
      -- rollup_users and rollup_user_prev keep their meaning (all kinds); the same per kind:
      CREATE TABLE rollup_kind_users (
        project_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        day TEXT NOT NULL,
        user_key TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (project_id, kind, day, user_key)
      ) WITHOUT ROWID;
      CREATE INDEX rollup_kind_users_key ON rollup_kind_users (project_id, kind, user_key, day);
      CREATE TABLE rollup_kind_user_prev (
        project_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        day TEXT NOT NULL,
        prev_day TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (project_id, kind, day, prev_day)
      ) WITHOUT ROWID;
      -- Every day that still has raw rows is rebuilt from them by the rollup job (per kind, with
      -- engaged time), as after migration 6.
      INSERT OR REPLACE INTO rollup_dirty (project_id, utc_day, marked_at)
        SELECT DISTINCT project_id, started_at / 86400000, CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM sessions;
    `,
  },
];
