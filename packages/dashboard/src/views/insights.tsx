import type { BreakdownRow, Exits, PathRow, WorkflowStats } from '../api.js';
import { Async, PathList, Section, TopList } from '../components.js';
import { fmtInt, fmtPct } from '../format.js';
import { type Loaded, useBatch } from '../hooks.js';
import { useView } from '../view.js';

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

interface Cell {
  weekday: number;
  hour: number;
  sessions: number;
}

export function Insights() {
  const { project, range } = useView();
  // One stats batch (docs/dashboard.md): the six panels share one computation of the range.
  const all = useBatch<{
    activity: { cells: Cell[] };
    durations: { endedSessions: number; buckets: { bucket: string; sessions: number; share: number }[] };
    exits: Exits;
    together: { a: string; b: string; sessions: number; lift: number }[];
    workflows: WorkflowStats[];
    paths: PathRow[];
  }>(project.id, {
    activity: { route: 'activity', ...range },
    durations: { route: 'durations', ...range },
    exits: { route: 'exits', ...range, limit: 8 },
    together: { route: 'together', ...range, limit: 10 },
    workflows: { route: 'workflows/abandoned', ...range },
    paths: { route: 'paths', kind: 'web', ...range, steps: 3, limit: 10 },
  });
  const activity = all.part('activity');
  const durations = all.part('durations');
  const exits = all.part('exits');
  const together = all.part('together');
  const workflows = all.part('workflows');
  const paths = all.part('paths');
  return (
    <div className="view" data-testid="insights">
      <h1>Insights</h1>
      <Section title="When users are active" wide id="s-activity">
        <Async state={activity} rows={7}>
          {(a) => <Heatmap cells={a.cells} timeZone={project.timeZone} />}
        </Async>
      </Section>
      <Section title="Paths from the entry page" wide id="s-paths">
        <Async state={paths} rows={5}>
          {(rows) => <PathList rows={rows} empty="No pageviews in this period." testId="list-paths" />}
        </Async>
      </Section>
      <div className="grid">
        <Section title="How long they stay" id="s-durations">
          <Async state={durations}>
            {(d) => (
              <TopList
                rows={d.buckets.map((b) => ({ value: b.bucket, sessions: b.sessions, share: b.share }))}
                testId="list-durations"
              />
            )}
          </Async>
        </Section>
        <Exit state={exits} pick={(e) => e.pages} id="exitPage" title="Where they leave" />
        <Exit state={exits} pick={(e) => e.reasons} id="exitReason" title="Why sessions end" />
        <Exit state={exits} pick={(e) => e.lastActions} id="exitAction" title="Last action before leaving" />
        <Section title="Features used together" id="s-together">
          <Async state={together}>
            {(rows) =>
              rows.length === 0 ? (
                <p className="muted">No sessions used two features in this period.</p>
              ) : (
                <table className="table compact" data-testid="together">
                  <thead>
                    <tr>
                      <th scope="col">Features</th>
                      <th scope="col">Sessions</th>
                      <th scope="col" title="how much more often than by chance">
                        Lift
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((r) => (
                      <tr key={`${r.a}+${r.b}`}>
                        <td>
                          {r.a} + {r.b}
                        </td>
                        <td>{fmtInt(r.sessions)}</td>
                        <td>{r.lift.toFixed(1)}×</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )
            }
          </Async>
        </Section>
        <Section title="Abandoned workflows" id="s-workflows">
          <Async state={workflows}>{(rows) => <Workflows rows={rows} />}</Async>
        </Section>
      </div>
    </div>
  );
}

/** One part of the exit analysis (one request answers all three). */
function Exit(props: { state: Loaded<Exits>; pick: (e: Exits) => BreakdownRow[]; id: string; title: string }) {
  return (
    <Section title={props.title} id={`s-${props.id}`}>
      <Async state={props.state}>{(e) => <TopList rows={props.pick(e)} testId={`list-${props.id}`} />}</Async>
    </Section>
  );
}

export function Workflows(props: { rows: WorkflowStats[] }) {
  if (props.rows.length === 0) return <p className="muted">No workflows were started in this period.</p>;
  return (
    <table className="table compact" data-testid="workflow-table">
      <thead>
        <tr>
          <th scope="col">Workflow</th>
          <th scope="col">Started</th>
          <th scope="col">Completed</th>
          <th scope="col">Failed</th>
          <th scope="col">Abandoned</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((w) => (
          <tr key={w.workflowId}>
            <td>{w.workflowId}</td>
            <td>{fmtInt(w.started)}</td>
            <td>{fmtInt(w.completed)}</td>
            <td>{fmtInt(w.failed)}</td>
            <td>
              {fmtInt(w.abandoned)}{' '}
              <span className={w.abandonRate > 0.3 ? 'badge bad' : 'muted'}>{fmtPct(w.abandonRate)}</span>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Weekday × hour as a table of shaded cells (a real table: readable without colour). */
function Heatmap(props: { cells: Cell[]; timeZone: string }) {
  const grid = WEEKDAYS.map(() => new Array<number>(24).fill(0));
  for (const c of props.cells) {
    const row = grid[c.weekday];
    if (row && c.hour >= 0 && c.hour < 24) row[c.hour] = c.sessions;
  }
  const max = Math.max(1, ...grid.flat());
  return (
    <div className="table-wrap">
      <table className="heatmap" data-testid="heatmap">
        <caption className="muted">Sessions started, by weekday and hour ({props.timeZone})</caption>
        <thead>
          <tr>
            <th scope="col">
              <span className="sr-only">Weekday</span>
            </th>
            {Array.from({ length: 24 }, (_, h) => (
              <th key={h} scope="col">
                {h % 3 === 0 ? h : ''}
                <span className="sr-only">{h % 3 === 0 ? '' : h}:00</span>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {grid.map((row, d) => (
            <tr key={WEEKDAYS[d]}>
              <th scope="row">{WEEKDAYS[d]}</th>
              {row.map((n, h) => (
                <td
                  key={h}
                  style={{ ['--v' as string]: String(n / max) }}
                  title={`${WEEKDAYS[d]} ${h}:00 — ${n} sessions`}
                >
                  <span className="sr-only">{n}</span>
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
