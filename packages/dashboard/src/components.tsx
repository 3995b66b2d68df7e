import type { ReactNode } from 'react';
import type { BreakdownRow, PathRow } from './api.js';
import { ApiFailure } from './api.js';
import type { Change } from './format.js';
import { fmtInt, fmtPct } from './format.js';
import type { Loaded } from './hooks.js';

export function Section(props: {
  title: string;
  children: ReactNode;
  wide?: boolean;
  id?: string;
  actions?: ReactNode;
}) {
  const id = props.id ?? `s-${props.title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section className={`panel${props.wide ? ' wide' : ''}`} aria-labelledby={id} data-testid={id}>
      <header className="panel-head">
        <h2 id={id}>{props.title}</h2>
        {props.actions}
      </header>
      {props.children}
    </section>
  );
}

/** Loading, error and data states of one request, the same everywhere. */
export function Async<T>(props: { state: Loaded<T>; children: (data: T) => ReactNode; rows?: number }) {
  const { state } = props;
  if (state.error) return <ErrorNote error={state.error} retry={state.reload} />;
  if (state.data === null)
    return (
      <div className="loading" role="status" aria-live="polite">
        {Array.from({ length: props.rows ?? 3 }, (_, i) => (
          <div key={i} className="skeleton" />
        ))}
        <span className="sr-only">Loading…</span>
      </div>
    );
  return <>{props.children(state.data)}</>;
}

export function ErrorNote(props: { error: Error; retry?: () => void }) {
  const missing = props.error instanceof ApiFailure && props.error.status === 404 && props.error.code === 'not_found';
  return (
    <div className="error" role="alert">
      <p>
        {missing ? 'This server does not answer this yet: ' : 'Could not load this: '}
        {props.error.message}
      </p>
      {props.retry && (
        <button type="button" onClick={props.retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Card(props: { label: string; value: string; change?: Change | null; testId: string; hint?: string }) {
  const c = props.change;
  return (
    <div className="card" data-testid={props.testId}>
      <div className="card-label">{props.label}</div>
      <div className="card-value" data-testid={`${props.testId}-value`}>
        {props.value}
      </div>
      {c ? (
        <div
          className={`change ${c.good === null ? 'flat' : c.good ? 'good' : 'bad'}`}
          title={props.hint ?? 'against the previous period'}
        >
          <span aria-hidden="true">{c.trend === 'up' ? '▲' : c.trend === 'down' ? '▼' : '•'}</span> {c.text}
          <span className="sr-only"> against the previous period</span>
        </div>
      ) : (
        <div className="change flat">&nbsp;</div>
      )}
    </div>
  );
}

/** A ranked list with share bars (entry pages, browsers, …). */
export function TopList(props: {
  rows: BreakdownRow[];
  label?: (row: BreakdownRow) => ReactNode;
  empty?: string;
  extra?: (row: BreakdownRow) => ReactNode;
  testId?: string;
}) {
  if (props.rows.length === 0) return <p className="muted">{props.empty ?? 'Nothing in this period.'}</p>;
  return (
    <ol className="toplist" data-testid={props.testId}>
      {props.rows.map((r) => (
        <li key={`${r.country ?? ''}:${r.value ?? '(none)'}`}>
          <span className="bar" style={{ width: `${Math.max(1, Math.round(r.share * 100))}%` }} aria-hidden="true" />
          <span className="name">{props.label ? props.label(r) : (r.value ?? <em>(none)</em>)}</span>
          {props.extra?.(r)}
          <span className="num" title={`${fmtInt(r.sessions)} sessions`}>
            {fmtInt(r.sessions)}
          </span>
          <span className="share">{fmtPct(r.share)}</span>
        </li>
      ))}
    </ol>
  );
}

export function Facts(props: { items: [string, ReactNode][] }) {
  return (
    <dl className="facts">
      {props.items.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v ?? '—'}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The most common paths (/stats/paths): each a sequence of steps with its sessions and share. */
export function PathList(props: { rows: PathRow[]; empty: string; testId: string }) {
  if (props.rows.length === 0) return <p className="muted">{props.empty}</p>;
  return (
    <ol className="toplist paths" data-testid={props.testId}>
      {props.rows.map((r) => (
        <li key={r.steps.join('\t')}>
          <span className="bar" style={{ width: `${Math.max(1, Math.round(r.share * 100))}%` }} aria-hidden="true" />
          <span className="name" title={r.steps.join(' › ')}>
            {r.steps.map((step, i) => (
              // Steps repeat within a path (`/` › `/docs` › `/`): the position is part of the key.
              <span key={`${i}:${step}`} className="step">
                {i > 0 && <span className="sep">{' › '}</span>}
                {step}
              </span>
            ))}
          </span>
          <span className="num" title={`${fmtInt(r.sessions)} sessions`}>
            {fmtInt(r.sessions)}
          </span>
          <span className="share">{fmtPct(r.share)}</span>
        </li>
      ))}
    </ol>
  );
}
