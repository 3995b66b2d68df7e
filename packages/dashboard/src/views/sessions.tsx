import { type FormEvent, useEffect, useState } from 'react';
import { get, type SessionDetail, type WireSession } from '../api.js';
import { Async, ErrorNote, Facts, Section } from '../components.js';
import { countryName, fmtDuration, fmtGap } from '../format.js';
import { useApi } from '../hooks.js';
import { useView } from '../view.js';

const PAGE = 100;

export function Sessions() {
  const { route } = useView();
  return route.session ? <Timeline id={route.session} /> : <SessionList />;
}

/** Filters: user, status and kind go to the server; country and device filter the loaded pages. */
function SessionList() {
  const { route, go, project, range } = useView();
  const [pages, setPages] = useState<{ key: string; sessions: WireSession[]; next: string | null } | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const params = {
    project: project.id,
    ...range,
    userId: route.userId,
    status: route.status,
    kind: route.kind,
    limit: PAGE,
  };
  const key = JSON.stringify(params);

  useEffect(() => {
    const ctl = new AbortController();
    setError(null);
    get<{ sessions: WireSession[]; nextCursor: string | null }>('/sessions', params, undefined, ctl.signal).then(
      (r) => setPages({ key, sessions: r.sessions, next: r.nextCursor }),
      (e: Error) => !ctl.signal.aborted && setError(e),
    );
    return () => ctl.abort();
  }, [key]);

  const more = async () => {
    if (!pages?.next) return;
    setBusy(true);
    try {
      const r = await get<{ sessions: WireSession[]; nextCursor: string | null }>('/sessions', {
        ...params,
        cursor: pages.next,
      });
      setPages({ key, sessions: [...pages.sessions, ...r.sessions], next: r.nextCursor });
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };

  const current = pages?.key === key ? pages : null;
  const shown = (current?.sessions ?? []).filter(
    (s) =>
      (!route.country || s.geo.country === route.country.toUpperCase()) &&
      (!route.device || (s.device.type ?? '').toLowerCase() === route.device.toLowerCase()),
  );
  return (
    <div className="view" data-testid="sessions">
      <h1>Sessions</h1>
      <Filters />
      {error && <ErrorNote error={error} />}
      {!current && !error && (
        <div className="loading" role="status">
          Loading sessions…
        </div>
      )}
      {current && (
        <>
          <p className="muted" aria-live="polite">
            {shown.length} session{shown.length === 1 ? '' : 's'} shown
            {route.country || route.device ? ` (of ${current.sessions.length} loaded)` : ''}, newest first.
          </p>
          <div className="table-wrap">
            <table className="table" data-testid="session-table">
              <thead>
                <tr>
                  <th scope="col">Started</th>
                  <th scope="col">User</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Status</th>
                  <th scope="col">Duration</th>
                  <th scope="col">Entry → exit</th>
                  <th scope="col">Where</th>
                  <th scope="col">Device</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((s) => (
                  <tr key={s.id}>
                    <td>
                      <a
                        href={`#/sessions?${new URLSearchParams({ project: project.id, session: s.id })}`}
                        onClick={(e) => {
                          e.preventDefault();
                          go({ session: s.id });
                        }}
                      >
                        {new Date(s.startedAt).toLocaleString()}
                      </a>
                    </td>
                    <td>{s.userId ?? <span className="muted">anonymous</span>}</td>
                    <td>{s.kind}</td>
                    <td>
                      <span className={`status ${s.status}`}>{s.status}</span>
                    </td>
                    <td>{fmtDuration(s.durationSeconds)}</td>
                    <td className="path">
                      {s.kind === 'mcp'
                        ? `${s.toolCalls} tool calls`
                        : `${s.entry.page ?? '—'} → ${s.exit.page ?? '—'}`}
                    </td>
                    <td>
                      {s.geo.country ?? '—'}
                      {s.geo.region ? `-${s.geo.region}` : ''}
                    </td>
                    <td>{s.device.type ?? (s.kind === 'mcp' ? String(s.metadata?.clientName ?? '—') : '—')}</td>
                    <td>
                      {s.actions}
                      {s.errors > 0 && <span className="badge bad"> {s.errors} err</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {current.next && (
            <button type="button" onClick={more} disabled={busy}>
              {busy ? 'Loading…' : 'Load more'}
            </button>
          )}
        </>
      )}
    </div>
  );
}

function Filters() {
  const { route, go } = useView();
  const [userId, setUserId] = useState(route.userId ?? '');
  const [country, setCountry] = useState(route.country ?? '');
  useEffect(() => setUserId(route.userId ?? ''), [route.userId]);
  useEffect(() => setCountry(route.country ?? ''), [route.country]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    go({ userId: userId.trim() || undefined, country: country.trim().toUpperCase() || undefined });
  };
  return (
    <form className="filters" onSubmit={submit} aria-label="Filter sessions">
      <label>
        <span>User id</span>
        <input value={userId} onChange={(e) => setUserId(e.target.value)} placeholder="any" />
      </label>
      <label>
        <span>Status</span>
        <select value={route.status ?? ''} onChange={(e) => go({ status: e.target.value || undefined })}>
          <option value="">any</option>
          <option value="live">live</option>
          <option value="active">active</option>
          <option value="disconnected">disconnected</option>
          <option value="ended">ended</option>
        </select>
      </label>
      <label>
        <span>Kind</span>
        <select value={route.kind ?? ''} onChange={(e) => go({ kind: e.target.value || undefined })}>
          <option value="">any</option>
          <option value="web">web</option>
          <option value="mcp">mcp</option>
          <option value="api">api</option>
        </select>
      </label>
      <label>
        <span>Country</span>
        <input
          value={country}
          onChange={(e) => setCountry(e.target.value)}
          placeholder="e.g. DE"
          size={6}
          maxLength={2}
        />
      </label>
      <label>
        <span>Device</span>
        <select value={route.device ?? ''} onChange={(e) => go({ device: e.target.value || undefined })}>
          <option value="">any</option>
          <option value="desktop">desktop</option>
          <option value="mobile">mobile</option>
          <option value="tablet">tablet</option>
        </select>
      </label>
      <button type="submit">Apply</button>
    </form>
  );
}

function Timeline(props: { id: string }) {
  const { go, project } = useView();
  const state = useApi<SessionDetail>(`/sessions/${encodeURIComponent(props.id)}`, { project: project.id });
  return (
    <div className="view" data-testid="timeline">
      <p>
        <button type="button" className="link" onClick={() => go({ session: undefined })}>
          ← All sessions
        </button>
      </p>
      <Async state={state} rows={8}>
        {(s) => <TimelineOf s={s} />}
      </Async>
    </div>
  );
}

function TimelineOf(props: { s: SessionDetail }) {
  const { s } = props;
  const { go } = useView();
  const client = s.metadata?.clientName
    ? `${String(s.metadata.clientName)} ${String(s.metadata.clientVersion ?? '')}`
    : null;
  return (
    <>
      <h1>
        Session <code>{s.id}</code> <span className={`status ${s.status}`}>{s.status}</span>
      </h1>
      <div className="grid">
        <Section title="Who and where">
          <Facts
            items={[
              [
                'User',
                s.userId ? (
                  <button
                    type="button"
                    className="link"
                    onClick={() => go({ view: 'users', user: s.userId ?? undefined, session: undefined })}
                  >
                    {s.userId}
                  </button>
                ) : (
                  `anonymous ${s.anonymousId ?? ''}`
                ),
              ],
              ['Kind', s.kind + (s.transport ? ` (${s.transport})` : '')],
              ...(client ? ([['Client', client]] as [string, string][]) : []),
              [
                'Device',
                [s.device.type, s.device.browser, s.device.os, s.device.screenSize].filter(Boolean).join(' · ') || '—',
              ],
              [
                'Geo',
                s.geo.country
                  ? `${countryName(s.geo.country)}${s.geo.region ? `, ${s.geo.region}` : ''} (${s.geo.continent ?? '?'})`
                  : '—',
              ],
            ]}
          />
        </Section>
        <Section title="Entry and exit">
          <Facts
            items={[
              ['Started', new Date(s.startedAt).toLocaleString()],
              ['Duration', fmtDuration(s.durationSeconds)],
              ['Entry page', s.entry.page],
              ['Source', [s.entry.source, s.entry.referrer].filter(Boolean).join(' · ') || '—'],
              ['Campaign', s.entry.campaign],
              ['Exit page', s.exit.page],
              ['Exit reason', s.exit.reason ?? (s.status === 'ended' ? '—' : 'still live')],
              ['Last action', s.exit.lastAction],
            ]}
          />
        </Section>
        <Section title="Workflows">
          {s.workflowOutcomes.length === 0 ? (
            <p className="muted">No workflows in this session.</p>
          ) : (
            <ul className="plain" data-testid="workflows">
              {s.workflowOutcomes.map((w) => {
                const outcome = w.completed
                  ? 'completed'
                  : w.failed
                    ? 'failed'
                    : w.abandoned
                      ? 'abandoned'
                      : 'in progress';
                return (
                  <li key={w.workflowId}>
                    <strong>{w.workflowId}</strong>{' '}
                    <span className={`badge ${w.completed ? 'good' : w.failed || w.abandoned ? 'bad' : ''}`}>
                      {outcome}
                    </span>
                  </li>
                );
              })}
            </ul>
          )}
        </Section>
      </div>
      <Section title={`Events (${s.events.length})`} wide id="s-events">
        {s.events.length === 0 ? (
          <p className="muted">No events were recorded (or they are past the retention period).</p>
        ) : (
          <ol className="events" data-testid="events">
            {s.events.map((e) => (
              <li key={e.id} className={`ev ${e.type}`}>
                <span className="gap" title={e.timestamp}>
                  {fmtGap(e.sinceLastMs)}
                </span>
                <span className={`type t-${e.type}`}>{e.type.replace('_', ' ')}</span>
                <span className="what">
                  {e.name && <strong>{e.name}</strong>} {e.page && <span className="path">{e.page}</span>}
                  {e.details && <Details d={e.details} />}
                </span>
                <time dateTime={e.timestamp}>{new Date(e.timestamp).toLocaleTimeString()}</time>
              </li>
            ))}
          </ol>
        )}
      </Section>
    </>
  );
}

function Details(props: { d: Record<string, unknown> }) {
  const { durationMs, isError, ...rest } = props.d;
  const text = Object.keys(rest).length ? JSON.stringify(rest) : '';
  return (
    <span className="details">
      {typeof durationMs === 'number' && (
        <span className="chip">
          {fmtDuration(durationMs / 1000) === '0s' ? `${durationMs} ms` : fmtDuration(durationMs / 1000)}
        </span>
      )}
      {isError === true && <span className="badge bad">error</span>}
      {text && <code>{text.length > 120 ? `${text.slice(0, 120)}…` : text}</code>}
    </span>
  );
}
