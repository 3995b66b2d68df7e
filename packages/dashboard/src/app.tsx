import { type FormEvent, useCallback, useEffect, useMemo, useState } from 'react';
import {
  get,
  type Project,
  setUnauthorizedHandler,
  sharedProject,
  storedToken,
  storeToken,
  Unauthorized,
} from './api.js';
import { ErrorNote } from './components.js';
import { previousRange, rangeDates, todayIn } from './format.js';
import { useApi } from './hooks.js';
import { formatHash, parseHash, type Route, type View, withRoute } from './route.js';
import { type Ctx, ViewContext } from './view.js';
import { Insights } from './views/insights.js';
import { Mcp } from './views/mcp.js';
import { Overview } from './views/overview.js';
import { Sessions } from './views/sessions.js';
import { Settings } from './views/settings.js';
import { Users } from './views/users.js';

const NAV: [View, string][] = [
  ['overview', 'Overview'],
  ['sessions', 'Sessions'],
  ['users', 'Users'],
  ['insights', 'Insights'],
  ['mcp', 'MCP'],
  ['settings', 'Settings'],
];

function useRoute(): [Route, (patch: Partial<Route>) => void] {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  const go = useCallback((patch: Partial<Route>) => {
    const next = withRoute(parseHash(location.hash), patch);
    const hash = formatHash(next);
    if (hash !== location.hash) location.hash = hash;
    setRoute(next);
  }, []);
  return [route, go];
}

export function App() {
  const [token, setToken] = useState(storedToken);
  // The project list the sign-in check fetched: the shell starts with it instead of asking again.
  const [projects, setProjects] = useState<{ projects: Project[] } | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => {
    setUnauthorizedHandler(() => {
      const wasShared = sharedProject() !== null;
      storeToken(null);
      setToken(null);
      setNotice(
        wasShared
          ? 'This share link no longer works. Sign in with the admin token.'
          : 'The admin token was refused. Sign in again.',
      );
    });
  }, []);
  if (!token) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(t, list) => {
          storeToken(t);
          setNotice(null);
          setProjects(list);
          setToken(t);
        }}
      />
    );
  }
  return (
    <Shell
      initialProjects={projects}
      onSignOut={() => {
        storeToken(null);
        setToken(null);
      }}
    />
  );
}

function SignIn(props: {
  notice: string | null;
  onSignedIn: (token: string, projects: { projects: Project[] }) => void;
}) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const t = value.trim();
    if (!t) return setError('Enter the admin token.');
    setBusy(true);
    setError(null);
    try {
      props.onSignedIn(t, await get<{ projects: Project[] }>('/projects', {}, t));
    } catch (err) {
      setError(err instanceof Unauthorized ? 'That token was refused.' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">sessiontrack</h1>
        <p className="muted">Sign in with the server’s admin token.</p>
        {props.notice && (
          <p className="error" role="alert">
            {props.notice}
          </p>
        )}
        <label htmlFor="token">Admin token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="current-password"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          required
        />
        {error && (
          <p className="error" role="alert" data-testid="signin-error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p className="muted small">
          It is printed when the server first starts, kept in <code>data/admin-token</code>, or set with{' '}
          <code>SESSIONTRACK_ADMIN_TOKEN</code>. It stays in this tab only.
        </p>
      </form>
    </main>
  );
}

function Shell(props: { onSignOut: () => void; initialProjects: { projects: Project[] } | undefined }) {
  const [route, go] = useRoute();
  // A share link reads one project and not the project list: that project, its time zone from the
  // activity route (which a share token may read).
  const shared = sharedProject();
  const projects = useApi<{ projects: Project[] }>(
    shared ? null : '/projects',
    {},
    undefined,
    shared ? undefined : props.initialProjects,
  );
  const zone = useApi<{ timeZone: string }>(shared ? '/stats/activity' : null, { project: shared });
  const list = shared ? (zone.data ? [sharedStub(shared, zone.data.timeZone)] : []) : (projects.data?.projects ?? []);
  const project = list.find((p) => p.id === (shared ?? route.project)) ?? null;
  const today = todayIn(project?.timeZone ?? 'UTC');
  const range = useMemo(
    () => rangeDates(route.range, today, { from: route.from, to: route.to }),
    [route.range, route.from, route.to, today],
  );
  const ctx = useMemo<Ctx | null>(
    () =>
      project
        ? {
            route: shared ? { ...route, project: shared } : route,
            go,
            project,
            range,
            previous: previousRange(range),
            shared: shared !== null,
            reloadProjects: projects.reload,
          }
        : null,
    [route, go, project, range, shared, projects.reload],
  );
  const loaded = shared ? zone : projects;

  return (
    <div className="shell">
      {/* Not a #main link: the hash holds the view (route.ts), so focus the content instead. */}
      <button type="button" className="skip" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header className="top">
        <div className="brand">sessiontrack</div>
        <nav aria-label="Views">
          <ul>
            {NAV.filter(([view]) => !(shared && view === 'settings')).map(([view, label]) => (
              <li key={view}>
                <a
                  href={formatHash(withRoute(route, { view, session: undefined }))}
                  aria-current={route.view === view ? 'page' : undefined}
                >
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="controls">
          {shared ? (
            <span className="shared" data-testid="shared-badge" title="Opened from a share link">
              Read-only · {shared}
            </span>
          ) : (
            <label>
              <span>Project</span>
              <select
                value={route.project}
                onChange={(e) => go({ project: e.target.value, session: undefined, user: undefined })}
                disabled={list.length === 0}
              >
                {list.length === 0 && <option value={route.project}>{route.project}</option>}
                {list.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.name}
                  </option>
                ))}
              </select>
            </label>
          )}
          <label>
            <span>Period</span>
            <select
              value={route.range}
              onChange={(e) => {
                const v = e.target.value as Route['range'];
                go(
                  v === 'custom'
                    ? { range: v, from: range.from, to: range.to }
                    : { range: v, from: undefined, to: undefined },
                );
              }}
            >
              <option value="today">Today</option>
              <option value="7d">Last 7 days</option>
              <option value="30d">Last 30 days</option>
              <option value="custom">Custom…</option>
            </select>
          </label>
          {route.range === 'custom' && (
            <>
              <label>
                <span>From</span>
                <input type="date" value={range.from} max={range.to} onChange={(e) => go({ from: e.target.value })} />
              </label>
              <label>
                <span>To</span>
                <input type="date" value={range.to} min={range.from} onChange={(e) => go({ to: e.target.value })} />
              </label>
            </>
          )}
          <button type="button" className="link" onClick={props.onSignOut}>
            {shared ? 'Leave' : 'Sign out'}
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {loaded.error ? (
          <ErrorNote error={loaded.error} retry={loaded.reload} />
        ) : !loaded.data ? (
          <div className="loading" role="status">
            Loading…
          </div>
        ) : !ctx ? (
          <div className="error" role="alert">
            <p>There is no project “{route.project}”.</p>
            <button type="button" onClick={() => go({ project: 'default' })}>
              Open the default project
            </button>
          </div>
        ) : (
          <ViewContext.Provider value={ctx}>
            {route.view === 'overview' && <Overview />}
            {route.view === 'sessions' && <Sessions />}
            {route.view === 'users' && <Users />}
            {route.view === 'insights' && <Insights />}
            {route.view === 'mcp' && <Mcp />}
            {route.view === 'settings' && (shared ? <Overview /> : <Settings />)}
          </ViewContext.Provider>
        )}
      </main>
    </div>
  );
}

/** The project a share link reads, as far as it can know it. */
function sharedStub(id: string, timeZone: string): Project {
  return {
    id,
    name: id,
    writeKey: '',
    timeZone,
    allowedOrigins: [],
    idleTimeoutMs: null,
    absoluteTimeoutMs: null,
    retentionDays: 30,
    rateLimitPerMinute: 0,
  };
}
