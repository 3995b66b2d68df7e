import { useMemo } from 'react';
import type { BreakdownRow, Daily, PathRow, ToolRow, WireSession } from '../api.js';
import { DaysChart } from '../chart.js';
import { Async, PathList, Section, TopList } from '../components.js';
import { countryName, fmtDuration, fmtInt, fmtMs, fmtPct } from '../format.js';
import { useApi, useBatch } from '../hooks.js';
import { useView } from '../view.js';

const SAMPLE = 500;

export function Mcp() {
  const { project, range } = useView();
  // One stats batch (docs/dashboard.md); the live list is polled on its own. Client names and
  // countries of MCP sessions are counted over the latest MCP sessions of the range (`sample`).
  const all = useBatch<{
    daily: Daily[];
    tools: ToolRow[];
    sequences: PathRow[];
    transports: BreakdownRow[];
    sample: { sessions: WireSession[] };
  }>(project.id, {
    daily: { route: 'daily', ...range },
    tools: { route: 'tools', ...range, limit: 12 },
    sequences: { route: 'paths', kind: 'mcp', ...range, steps: 3, limit: 10 },
    transports: { route: 'breakdown', by: 'transport', ...range, limit: 8 },
    sample: { route: 'sessions', kind: 'mcp', ...range, limit: SAMPLE },
  });
  const daily = all.part('daily');
  const tools = all.part('tools');
  const sequences = all.part('sequences');
  const transports = all.part('transports');
  const sample = all.part('sample');
  const live = useApi<{ sessions: WireSession[] }>(
    '/sessions',
    { project: project.id, kind: 'mcp', status: 'live', limit: 50 },
    15_000,
  );

  return (
    <div className="view" data-testid="mcp">
      <h1>MCP</h1>
      <Section title="Tool calls per day" wide id="s-tool-calls">
        <Async state={daily} rows={6}>
          {(days) => (
            <DaysChart days={days} range={range} series={TOOL_SERIES} label="Tool calls per day" testId="chart-tools" />
          )}
        </Async>
      </Section>
      <div className="grid">
        <Section title="Top tools" wide id="s-tools">
          <Async state={tools}>{(rows) => <ToolTable rows={rows} />}</Async>
        </Section>
        <Section title="Tool sequences" id="s-sequences">
          <Async state={sequences}>
            {(rows) => <PathList rows={rows} empty="No tool calls in this period." testId="list-sequences" />}
          </Async>
        </Section>
        <Section title="Transports" id="s-transport">
          <Async state={transports}>{(rows) => <TopList rows={ofMcp(rows)} testId="list-transport" />}</Async>
        </Section>
        <Section title="Clients" id="s-clients">
          <Async state={sample}>
            {(s) => <SampleList sessions={s.sessions} of={clientOf} testId="list-clients" />}
          </Async>
        </Section>
        <Section title="Countries" id="s-mcp-countries">
          <Async state={sample}>
            {(s) => (
              <SampleList
                sessions={s.sessions}
                of={(x) => x.geo.country}
                label={(v) => countryName(v)}
                testId="list-mcp-countries"
              />
            )}
          </Async>
        </Section>
        <Section title="Live MCP sessions" id="s-live-mcp">
          <Async state={live}>
            {(l) =>
              l.sessions.length === 0 ? (
                <p className="muted">No MCP session is live right now.</p>
              ) : (
                <ul className="plain" data-testid="live-mcp">
                  {l.sessions.map((s) => (
                    <li key={s.id}>
                      <a href={`#/sessions?${new URLSearchParams({ project: project.id, session: s.id })}`}>
                        {clientOf(s) ?? s.id}
                      </a>{' '}
                      <span className="muted">
                        {s.userId ?? 'anonymous'} · {s.toolCalls} calls · {fmtDuration(s.durationSeconds)} ·{' '}
                        {s.transport ?? '—'}
                      </span>
                    </li>
                  ))}
                </ul>
              )
            }
          </Async>
        </Section>
      </div>
    </div>
  );
}

const clientOf = (s: WireSession): string | null => {
  const name = s.metadata?.clientName;
  return typeof name === 'string' ? name : null;
};

function SampleList(props: {
  sessions: WireSession[];
  of: (s: WireSession) => string | null;
  label?: (v: string | null) => string;
  testId: string;
}) {
  const rows = useMemo(() => {
    const counts = new Map<string | null, number>();
    for (const s of props.sessions) counts.set(props.of(s), (counts.get(props.of(s)) ?? 0) + 1);
    const total = props.sessions.length || 1;
    return [...counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([value, n]) => ({ value, sessions: n, share: n / total }));
  }, [props.sessions, props.of]);
  return (
    <>
      <TopList
        rows={rows}
        testId={props.testId}
        label={props.label ? (r) => props.label?.(r.value) : undefined}
        empty="No MCP sessions in this period."
      />
      {props.sessions.length >= SAMPLE && (
        <p className="muted small">Counted over the latest {SAMPLE} MCP sessions of the period.</p>
      )}
    </>
  );
}

const TOOL_SERIES = [{ label: 'Tool calls', of: (d: Daily) => d.toolCalls, color: '#a463f2', bars: true }];

/** Transports are set by MCP sessions only: drop the web sessions' null and share among the rest. */
function ofMcp(rows: BreakdownRow[]): BreakdownRow[] {
  const known = rows.filter((r) => r.value !== null);
  const total = known.reduce((n, r) => n + r.sessions, 0) || 1;
  return known.map((r) => ({ ...r, share: r.sessions / total }));
}

function ToolTable(props: { rows: ToolRow[] }) {
  if (props.rows.length === 0) return <p className="muted">No tool calls in this period.</p>;
  return (
    <table className="table compact" data-testid="list-tool">
      <thead>
        <tr>
          <th scope="col">Tool</th>
          <th scope="col">Calls</th>
          <th scope="col" title="median and 95th percentile of the call durations (within 4.3 %)">
            p50 / p95
          </th>
          <th scope="col">Sessions</th>
          <th scope="col">Errors</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((r) => (
          <tr key={r.tool}>
            <td>{r.tool}</td>
            <td>{fmtInt(r.calls)}</td>
            <td data-testid="latency">
              {r.p50Ms === null ? (
                '—'
              ) : (
                <>
                  {fmtMs(r.p50Ms)} <span className="muted">/ {fmtMs(r.p95Ms)}</span>
                </>
              )}
            </td>
            <td>{fmtInt(r.sessions)}</td>
            <td>
              <span className={r.errorRate >= 0.05 ? 'badge bad' : 'muted'}>
                {fmtPct(r.errorRate)} ({fmtInt(r.errors)})
              </span>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
