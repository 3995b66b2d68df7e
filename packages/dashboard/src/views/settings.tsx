import { type FormEvent, useState } from 'react';
import { ApiFailure, type Project, send } from '../api.js';
import { Async, Section } from '../components.js';
import { useApi } from '../hooks.js';
import { useView } from '../view.js';

// Settings of one project (admin only): its fields (PATCH), its write key (rotation with a grace
// period), its share links, and deleting it. Every change is seen by every server within a second.

interface Share {
  id: string;
  label: string | null;
  createdAt: string;
}

const num = (v: string): number | null => (v.trim() === '' ? null : Number(v));
const text = (v: number | null | undefined): string => (v === null || v === undefined ? '' : String(v));
const message = (err: unknown) => (err instanceof ApiFailure || err instanceof Error ? err.message : String(err));

export function Settings() {
  const { project, reloadProjects, go } = useView();
  return (
    <div className="view settings" data-testid="view-settings">
      <h1>Settings of “{project.name}”</h1>
      <div className="grid">
        <ProjectForm key={project.id} project={project} saved={reloadProjects} />
        <WriteKey project={project} rotated={reloadProjects} />
        <Shares project={project} />
        {project.id !== 'default' && (
          <DeleteProject
            project={project}
            deleted={() => {
              reloadProjects();
              go({ project: 'default', view: 'overview' });
            }}
          />
        )}
      </div>
    </div>
  );
}

function ProjectForm(props: { project: Project; saved: () => void }) {
  const p = props.project;
  const [f, setF] = useState({
    name: p.name,
    allowedOrigins: p.allowedOrigins.join('\n'),
    timeZone: p.timeZone,
    idleTimeoutMs: text(p.idleTimeoutMs),
    absoluteTimeoutMs: text(p.absoluteTimeoutMs),
    retentionDays: text(p.retentionDays),
    rateLimitPerMinute: text(p.rateLimitPerMinute),
    bounceSeconds: text(p.bounceSeconds),
    bounceMaxActions: text(p.bounceMaxActions),
  });
  const [state, setState] = useState<{ busy: boolean; note: string | null; error: string | null }>({
    busy: false,
    note: null,
    error: null,
  });
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setState({ busy: true, note: null, error: null });
    try {
      await send('PATCH', `/projects/${encodeURIComponent(p.id)}`, {
        name: f.name,
        allowedOrigins: f.allowedOrigins
          .split(/[\s,]+/)
          .map((o) => o.trim())
          .filter(Boolean),
        timeZone: f.timeZone,
        idleTimeoutMs: num(f.idleTimeoutMs),
        absoluteTimeoutMs: num(f.absoluteTimeoutMs),
        retentionDays: num(f.retentionDays) ?? 30,
        rateLimitPerMinute: num(f.rateLimitPerMinute) ?? 0,
        bounceSeconds: num(f.bounceSeconds),
        bounceMaxActions: num(f.bounceMaxActions),
      });
      setState({ busy: false, note: 'Saved.', error: null });
      props.saved();
    } catch (err) {
      setState({ busy: false, note: null, error: message(err) });
    }
  };
  const field = (k: keyof typeof f, label: string, hint: string, type = 'number') => (
    <label className="field">
      <span>{label}</span>
      <input name={k} type={type} value={f[k]} onChange={set(k)} placeholder={hint} />
    </label>
  );
  return (
    <Section title="Project" wide>
      <form className="form" onSubmit={submit} data-testid="settings-form">
        {field('name', 'Name', '', 'text')}
        <label className="field">
          <span>Allowed origins (one per line; empty: any)</span>
          <textarea
            name="allowedOrigins"
            rows={3}
            value={f.allowedOrigins}
            onChange={set('allowedOrigins')}
            placeholder="https://app.example.com"
          />
        </label>
        {field('timeZone', 'Time zone', 'UTC', 'text')}
        {field('idleTimeoutMs', 'Idle timeout (ms)', 'default: web 30 min, MCP 1 h')}
        {field('absoluteTimeoutMs', 'Absolute timeout (ms)', 'default: web 24 h, MCP 30 days')}
        {field('retentionDays', 'Retention (days)', '30')}
        {field('rateLimitPerMinute', 'Rate limit (requests/min, 0 = off)', '0')}
        {field('bounceSeconds', 'Bounce: shorter than (s)', '30')}
        {field('bounceMaxActions', 'Bounce: at most actions', '1')}
        <div className="form-actions">
          <button type="submit" disabled={state.busy}>
            {state.busy ? 'Saving…' : 'Save'}
          </button>
          {state.note && (
            <span className="muted" role="status" data-testid="settings-saved">
              {state.note}
            </span>
          )}
        </div>
        {state.error && (
          <p className="error" role="alert" data-testid="settings-error">
            {state.error}
          </p>
        )}
      </form>
    </Section>
  );
}

function WriteKey(props: { project: Project; rotated: () => void }) {
  const p = props.project;
  const [error, setError] = useState<string | null>(null);
  const rotate = async () => {
    setError(null);
    try {
      await send('POST', `/projects/${encodeURIComponent(p.id)}/rotate-key`, {});
      props.rotated();
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <Section title="Write key">
      <p>
        <code data-testid="settings-write-key">{p.writeKey}</code>
      </p>
      {p.previousKeyValidUntil && (
        <p className="muted" data-testid="settings-previous-key">
          The previous key works until {new Date(p.previousKeyValidUntil).toLocaleString()}.
        </p>
      )}
      <button type="button" onClick={rotate}>
        Rotate key
      </button>
      <p className="muted small">The current key keeps working for a day, so trackers can be updated.</p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </Section>
  );
}

function Shares(props: { project: Project }) {
  const path = `/projects/${encodeURIComponent(props.project.id)}/share`;
  const shares = useApi<{ shares: Share[] }>(path);
  const [label, setLabel] = useState('');
  const [made, setMade] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const r = await send<{ url: string }>('POST', path, label.trim() ? { label: label.trim() } : {});
      setMade(r?.url ?? null);
      setLabel('');
      shares.reload();
    } catch (err) {
      setError(message(err));
    }
  };
  const revoke = async (id: string) => {
    setError(null);
    try {
      await send('DELETE', `${path}/${encodeURIComponent(id)}`);
      shares.reload();
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <Section title="Share links">
      <p className="muted small">A link opens this project’s dashboard read-only, without the admin token.</p>
      <form className="form inline" onSubmit={create}>
        <label className="field">
          <span>Label</span>
          <input name="label" value={label} onChange={(e) => setLabel(e.target.value)} placeholder="wall screen" />
        </label>
        <button type="submit">Create link</button>
      </form>
      {made && (
        <label className="field">
          <span>New link (shown once)</span>
          <input readOnly value={made} data-testid="share-url" onFocus={(e) => e.target.select()} />
        </label>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <Async state={shares} rows={2}>
        {(d) =>
          d.shares.length === 0 ? (
            <p className="muted">No share links.</p>
          ) : (
            <ul className="shares" data-testid="share-list">
              {d.shares.map((s) => (
                <li key={s.id}>
                  <span>{s.label ?? <em>(no label)</em>}</span>
                  <span className="muted small">{new Date(s.createdAt).toLocaleDateString()}</span>
                  <button type="button" className="link" onClick={() => revoke(s.id)}>
                    Revoke
                  </button>
                </li>
              ))}
            </ul>
          )
        }
      </Async>
    </Section>
  );
}

function DeleteProject(props: { project: Project; deleted: () => void }) {
  const [armed, setArmed] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const remove = async () => {
    try {
      await send('DELETE', `/projects/${encodeURIComponent(props.project.id)}`);
      props.deleted();
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <Section title="Delete project">
      <p className="muted small">Deletes the project with all its sessions, events, share links and rollups.</p>
      {armed ? (
        <button type="button" className="danger" onClick={remove}>
          Delete “{props.project.name}” and all its data
        </button>
      ) : (
        <button type="button" onClick={() => setArmed(true)}>
          Delete project…
        </button>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </Section>
  );
}
