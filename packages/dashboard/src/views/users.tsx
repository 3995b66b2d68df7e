import { type FormEvent, useEffect, useState } from 'react';
import type { Pattern, WireSession } from '../api.js';
import { Async, Facts, Section } from '../components.js';
import { fmtDuration, fmtPct } from '../format.js';
import { useApi } from '../hooks.js';
import { useView } from '../view.js';

const PATTERN_TEXT: Record<string, string> = {
  new_user: 'New user: no sessions yet',
  struggling_user: 'Struggling: errors in the latest session',
  power_user: 'Power user: long sessions, many actions',
  quick_checker: 'Quick checker: short visits',
  regular_user: 'Regular user',
};

export function Users() {
  const { route, go, project } = useView();
  const [value, setValue] = useState(route.user ?? '');
  useEffect(() => setValue(route.user ?? ''), [route.user]);
  // Suggestions: the users of the latest sessions.
  const recent = useApi<{ sessions: WireSession[] }>('/sessions', { project: project.id, limit: 200 });
  const suggestions = [
    ...new Set((recent.data?.sessions ?? []).map((s) => s.userId).filter((u): u is string => !!u)),
  ].slice(0, 50);
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
          <input value={value} onChange={(e) => setValue(e.target.value)} list="user-suggestions" placeholder="u_42" />
        </label>
        <datalist id="user-suggestions">
          {suggestions.map((u) => (
            <option key={u} value={u} />
          ))}
        </datalist>
        <button type="submit">Show</button>
      </form>
      {!route.user && (
        <Section title="Recently active users">
          {suggestions.length === 0 ? (
            <p className="muted">No identified users yet (sessions need a userId).</p>
          ) : (
            <ul className="chips" data-testid="recent-users">
              {suggestions.slice(0, 24).map((u) => (
                <li key={u}>
                  <button type="button" className="chip" onClick={() => go({ user: u })}>
                    {u}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </Section>
      )}
      {route.user && <UserDetail userId={route.user} />}
    </div>
  );
}

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
                <p className="muted">{PATTERN_TEXT[p.pattern] ?? ''}</p>
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
