import { type CSSProperties, type FormEvent, useEffect, useState } from 'react';
import type { Pattern, PatternLabel, Retention, UsersPage, WireSession } from '../api.js';
import { Async, Facts, Section } from '../components.js';
import { fmtDuration, fmtInt, fmtPct, retentionWindow } from '../format.js';
import { useApi } from '../hooks.js';
import { useView } from '../view.js';

const PATTERN_TEXT: Record<PatternLabel, string> = {
  new_user: 'New user: no sessions yet',
  struggling_user: 'Struggling: errors in the latest session',
  power_user: 'Power user: long sessions, many actions',
  quick_checker: 'Quick checker: short visits',
  regular_user: 'Regular user',
};

/** The labels in the order the distribution lists them (most telling first). */
const PATTERN_ORDER: PatternLabel[] = ['power_user', 'regular_user', 'quick_checker', 'struggling_user', 'new_user'];
const PAGE = 25;

export function Users() {
  const { route, go } = useView();
  const [value, setValue] = useState(route.user ?? '');
  useEffect(() => setValue(route.user ?? ''), [route.user]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    go({ user: value.trim() || undefined });
  };
  return (
    <div className="view" data-testid="users">
      <h1>Users</h1>
      <form className="filters" onSubmit={submit} aria-label="Find a user">
        <label>
          <span>User id</span>
          <input value={value} onChange={(e) => setValue(e.target.value)} placeholder="u_42" />
        </label>
        <button type="submit">Show</button>
        {route.user && (
          <button type="button" className="link" onClick={() => go({ user: undefined })}>
            All users
          </button>
        )}
      </form>
      {route.user ? <UserDetail userId={route.user} /> : <Overview />}
    </div>
  );
}

/** The range's users: how many carry each pattern, the list (a page at a time), retention cohorts. */
function Overview() {
  const { project, range, go } = useView();
  // Cursors of the pages before this one (Previous pops one); reset when the range changes.
  const [cursors, setCursors] = useState<string[]>([]);
  const rangeKey = `${project.id} ${range.from} ${range.to}`;
  const [seenKey, setSeenKey] = useState(rangeKey);
  if (seenKey !== rangeKey) {
    setSeenKey(rangeKey);
    setCursors([]);
  }
  const cursor = cursors.at(-1);
  const page = useApi<UsersPage>('/users', {
    project: project.id,
    ...range,
    limit: PAGE,
    ...(cursor ? { cursor } : {}),
  });
  const weeks = retentionWindow(range);
  const retention = useApi<Retention>('/stats/retention', { project: project.id, ...weeks, period: 'week' });
  return (
    <div className="grid">
      <Section title="Patterns" id="s-patterns">
        <Async state={page}>
          {(p) => {
            const total = PATTERN_ORDER.reduce((n, k) => n + (p.patterns[k] ?? 0), 0);
            return total === 0 ? (
              <p className="muted">No identified users in this period (sessions need a userId).</p>
            ) : (
              <ol className="toplist" data-testid="pattern-distribution">
                {PATTERN_ORDER.filter((k) => k !== 'new_user' || p.patterns[k] > 0).map((k) => {
                  const n = p.patterns[k] ?? 0;
                  return (
                    <li key={k} data-pattern={k} title={PATTERN_TEXT[k]}>
                      <span
                        className="bar"
                        style={{ width: `${Math.max(1, Math.round((n / total) * 100))}%` }}
                        aria-hidden="true"
                      />
                      <span className="name">{PATTERN_NAME[k]}</span>
                      <span className="num">{fmtInt(n)}</span>
                      <span className="share">{fmtPct(n / total)}</span>
                    </li>
                  );
                })}
              </ol>
            );
          }}
        </Async>
      </Section>
      <Section title="Users" id="s-user-list" wide>
        <Async state={page} rows={6}>
          {(p) =>
            p.users.length === 0 ? (
              <p className="muted">No identified users in this period.</p>
            ) : (
              <>
                <table className="table compact" data-testid="user-list">
                  <thead>
                    <tr>
                      <th scope="col">User</th>
                      <th scope="col">Sessions</th>
                      <th scope="col">Last seen</th>
                      <th scope="col">Pattern</th>
                    </tr>
                  </thead>
                  <tbody>
                    {p.users.map((u) => (
                      <tr key={u.userId}>
                        <td>
                          <button type="button" className="link" onClick={() => go({ user: u.userId })}>
                            {u.userId}
                          </button>
                        </td>
                        <td>{fmtInt(u.sessions)}</td>
                        <td>{new Date(u.lastSeenAt).toLocaleString()}</td>
                        <td>
                          <span className={`badge p-${u.pattern}`}>{PATTERN_NAME[u.pattern]}</span>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                <div className="pager">
                  <button
                    type="button"
                    disabled={cursors.length === 0}
                    onClick={() => setCursors((c) => c.slice(0, -1))}
                  >
                    Previous
                  </button>
                  <button
                    type="button"
                    disabled={!p.nextCursor}
                    onClick={() => p.nextCursor && setCursors((c) => [...c, p.nextCursor as string])}
                  >
                    Next
                  </button>
                </div>
              </>
            )
          }
        </Async>
      </Section>
      <Section title="Weekly retention" id="s-retention" wide>
        <Async state={retention} rows={4}>
          {(r) => <RetentionTable retention={r} />}
        </Async>
      </Section>
    </div>
  );
}

/** Cohorts by first week, one row each; cell k = the share of the cohort active k weeks later. */
function RetentionTable(props: { retention: Retention }) {
  const { cohorts } = props.retention;
  if (cohorts.every((c) => c.users === 0)) {
    return <p className="muted">No identified user had a first session in these weeks.</p>;
  }
  const weeks = cohorts[0]?.retained.length ?? 0;
  return (
    <>
      <p className="muted">
        Users by the week of their first session ever; each cell is the share of them with a session that many weeks
        later.
      </p>
      <table className="table compact retention" data-testid="retention">
        <thead>
          <tr>
            <th scope="col">Week of</th>
            <th scope="col">Users</th>
            {Array.from({ length: weeks }, (_, k) => (
              <th scope="col" key={k}>
                {k === 0 ? 'W0' : `+${k}`}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {cohorts.map((c) => (
            <tr key={c.cohort}>
              <td>{c.cohort}</td>
              <td>{fmtInt(c.users)}</td>
              {Array.from({ length: weeks }, (_, k) => {
                const n = c.retained[k];
                if (n === undefined) return <td key={k} className="empty" />;
                const share = c.users === 0 ? 0 : n / c.users;
                return (
                  <td
                    key={k}
                    className="cell"
                    style={{ '--v': share } as CSSProperties}
                    title={`${fmtInt(n)} of ${fmtInt(c.users)}`}
                  >
                    {c.users === 0 ? '—' : `${Math.round(share * 100)}%`}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

const PATTERN_NAME: Record<PatternLabel, string> = {
  power_user: 'Power users',
  regular_user: 'Regulars',
  quick_checker: 'Quick checkers',
  struggling_user: 'Struggling',
  new_user: 'New',
};

function UserDetail(props: { userId: string }) {
  const { project, go } = useView();
  const id = encodeURIComponent(props.userId);
  const pattern = useApi<Pattern>(`/sessions/patterns/${id}`, { project: project.id });
  const history = useApi<{ sessions: WireSession[] }>(`/sessions/user/${id}/history`, {
    project: project.id,
    limit: 50,
  });
  return (
    <>
      <h2 className="subtitle">
        User <code>{props.userId}</code>
      </h2>
      <div className="grid">
        <Section title="Pattern" id="s-pattern">
          <Async state={pattern}>
            {(p) => (
              <div data-testid="pattern">
                <p className="pattern">
                  <span className={`badge big p-${p.pattern}`} data-testid="pattern-name">
                    {p.pattern.replace(/_/g, ' ')}
                  </span>{' '}
                  <span className="badge">{p.type.replace(/_/g, ' ')}</span>{' '}
                  <span className="muted">confidence {fmtPct(p.confidence)}</span>
                </p>
                <p className="muted">{PATTERN_TEXT[p.pattern]}</p>
                <h3>Indicators</h3>
                {p.indicators.length === 0 ? (
                  <p className="muted">None fired.</p>
                ) : (
                  <ul className="plain" data-testid="indicators">
                    {p.indicators.map((i, n) => (
                      <li key={n}>{indicatorText(i)}</li>
                    ))}
                  </ul>
                )}
                <Facts items={Object.entries(p.stats).map(([k, v]) => [humanize(k), statText(k, v)])} />
              </div>
            )}
          </Async>
        </Section>
        <Section title="Session history" id="s-history">
          <Async state={history}>
            {(h) =>
              h.sessions.length === 0 ? (
                <p className="muted">No sessions for this user.</p>
              ) : (
                <ol className="plain history" data-testid="history">
                  {h.sessions.map((s) => (
                    <li key={s.id}>
                      <button type="button" className="link" onClick={() => go({ view: 'sessions', session: s.id })}>
                        {new Date(s.startedAt).toLocaleString()}
                      </button>{' '}
                      <span className="muted">
                        {s.kind} · {fmtDuration(s.durationSeconds)} · {s.actions} actions
                        {s.toolCalls ? ` · ${s.toolCalls} tool calls` : ''}
                      </span>
                      {s.errors > 0 && <span className="badge bad"> {s.errors} errors</span>}
                      {s.status !== 'ended' && <span className="status active">live</span>}
                    </li>
                  ))}
                </ol>
              )
            }
          </Async>
        </Section>
      </div>
    </>
  );
}

const humanize = (k: string) => k.replace(/([A-Z])/g, ' $1').replace(/^./, (c) => c.toUpperCase());

function statText(k: string, v: unknown): string {
  if (typeof v !== 'number') return v === null || v === undefined ? '—' : String(v);
  if (/seconds/i.test(k)) return fmtDuration(v);
  if (/rate|share/i.test(k)) return fmtPct(v);
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/** Indicators are strings or small objects ({ name, value, … }); show either readably. */
export function indicatorText(i: unknown): string {
  if (typeof i === 'string') return i.replace(/_/g, ' ');
  if (i && typeof i === 'object') {
    const o = i as Record<string, unknown>;
    const name = o.name ?? o.indicator ?? o.id ?? o.code;
    const rest = Object.entries(o)
      .filter(([k]) => !['name', 'indicator', 'id', 'code'].includes(k))
      .map(([k, v]) => `${k}: ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(2) : String(v)}`);
    return `${String(name ?? '').replace(/_/g, ' ')}${rest.length ? ` (${rest.join(', ')})` : ''}`;
  }
  return String(i);
}
