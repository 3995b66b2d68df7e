import type { BatchPart, BreakdownRow, Countries as CountriesData, Daily, Summary } from '../api.js';
import { DaysChart } from '../chart.js';
import { Async, Card, Section, TopList } from '../components.js';
import { change, countryName, fmtDuration, fmtInt, fmtPct } from '../format.js';
import { type Loaded, useApi, useBatch } from '../hooks.js';
import { useView } from '../view.js';
import { EmptyProject } from './empty.js';

const ACTIVE_POLL_MS = 15_000;

const LISTS: [string, string][] = [
  ['entryPage', 'Entry pages'],
  ['exitPage', 'Exit pages'],
  ['source', 'Sources'],
  ['referrer', 'Referrers'],
  ['campaign', 'Campaigns'],
  ['deviceType', 'Devices'],
  ['browser', 'Browsers'],
  ['os', 'Operating systems'],
];

/** What the overview draws, in one stats batch (docs/dashboard.md); Active now is polled on its own. */
type OverviewData = {
  summary: Summary;
  before: Summary;
  daily: Daily[];
  countries: CountriesData;
} & Record<string, BreakdownRow[]>;

export function Overview() {
  const { project, range, previous } = useView();
  const active = useApi<{ count: number }>('/sessions/active', { project: project.id, limit: 1 }, ACTIVE_POLL_MS);
  const parts: Record<string, BatchPart> = {
    summary: { route: 'summary', ...range },
    before: { route: 'summary', ...previous },
    daily: { route: 'daily', ...range },
    countries: { route: 'countries', ...range, limit: 10 },
  };
  for (const [by] of LISTS) parts[by] = { route: 'breakdown', by, ...range, limit: 8 };
  const all = useBatch<OverviewData>(project.id, parts);
  const summary = all.part('summary');
  const before = all.part('before');
  const daily = all.part('daily');

  if (summary.data && summary.data.sessions === 0 && before.data?.sessions === 0 && active.data?.count === 0) {
    return <EmptyProject />;
  }
  return (
    <div className="view" data-testid="overview">
      <h1 className="sr-only">Overview</h1>
      <div className="cards">
        <div className="card live" data-testid="active-now">
          <div className="card-label">
            <span className="pulse" aria-hidden="true" /> Active now
          </div>
          <div className="card-value" data-testid="active-now-value" aria-live="polite">
            {active.data ? fmtInt(active.data.count) : '…'}
          </div>
          <div className="change flat">updated every 15 s</div>
        </div>
        <SummaryCards current={summary.data} previous={before.data} />
      </div>
      {summary.error && <Async state={summary}>{() => null}</Async>}
      <Section title="Sessions per day" wide id="s-sessions-per-day">
        <Async state={daily} rows={6}>
          {(days) => (
            <DaysChart
              days={days}
              range={range}
              series={SESSION_SERIES}
              label="Sessions and unique users per day"
              testId="chart-sessions"
            />
          )}
        </Async>
      </Section>
      <div className="grid">
        {LISTS.map(([by, title]) => (
          <Breakdown key={by} by={by} title={title} rows={all.part(by) as Loaded<BreakdownRow[]>} />
        ))}
        <Countries countries={all.part('countries')} />
      </div>
    </div>
  );
}

/** The summary cards: test id, label, shown value, the number compared with the previous period, and whether a rise is good. */
const CARDS: [
  testId: string,
  label: string,
  show: (s: Summary) => string,
  /** null: nothing to compare (no session reported engaged time). */
  of: (s: Summary) => number | null,
  kind: 'count' | 'rate',
  up: boolean,
][] = [
  ['card-sessions', 'Sessions', (s) => fmtInt(s.sessions), (s) => s.sessions, 'count', true],
  ['card-users', 'Unique users', (s) => fmtInt(s.uniqueUsers), (s) => s.uniqueUsers, 'count', true],
  [
    'card-duration',
    'Average duration',
    (s) => fmtDuration(s.avgDurationSeconds),
    (s) => s.avgDurationSeconds,
    'count',
    true,
  ],
  [
    'card-engaged',
    'Average engaged time',
    (s) => (s.avgEngagedSeconds === null ? '—' : fmtDuration(s.avgEngagedSeconds)),
    (s) => s.avgEngagedSeconds,
    'count',
    true,
  ],
  ['card-bounce', 'Bounce rate', (s) => fmtPct(s.bounceRate), (s) => s.bounceRate, 'rate', false],
  ['card-errors', 'Error rate', (s) => fmtPct(s.errorRate), (s) => s.errorRate, 'rate', false],
  ['card-tools', 'Tool calls', (s) => fmtInt(s.toolCalls), (s) => s.toolCalls, 'count', true],
];

function SummaryCards(props: { current: Summary | null; previous: Summary | null }) {
  const { current: c, previous: p } = props;
  return (
    <>
      {CARDS.map(([testId, label, show, of, kind, up]) => {
        const now = c ? of(c) : null;
        const before = p ? of(p) : null;
        return (
          <Card
            key={testId}
            testId={testId}
            label={label}
            value={c ? show(c) : '…'}
            change={now !== null && before !== null ? change(now, before, kind, up) : null}
          />
        );
      })}
    </>
  );
}

const SESSION_SERIES = [
  { label: 'Sessions', of: (d: Daily) => d.sessions, color: '#4f7cff' },
  { label: 'Unique users', of: (d: Daily) => d.uniqueUsers, color: '#19a974' },
];

function Breakdown(props: { by: string; title: string; rows: Loaded<BreakdownRow[]> }) {
  return (
    <Section title={props.title} id={`s-${props.by}`}>
      <Async state={props.rows}>{(r) => <TopList rows={r} testId={`list-${props.by}`} />}</Async>
    </Section>
  );
}

/** Countries with their top regions underneath. */
function Countries(props: { countries: Loaded<CountriesData> }) {
  return (
    <Section title="Countries and regions" id="s-country">
      <Async state={props.countries}>
        {(c) => (
          <TopList
            rows={c.top.map((r) => ({ value: r.country, sessions: r.sessions, share: r.share }))}
            testId="list-country"
            label={(r) => {
              const regions = c.top.find((x) => x.country === r.value)?.regions.filter((x) => x.region) ?? [];
              return (
                <>
                  {countryName(r.value)} <span className="muted small">{r.value}</span>
                  {regions.length > 0 && (
                    <span className="regions">
                      {regions.slice(0, 4).map((x) => (
                        <span key={x.region} className="chip" title={`${fmtInt(x.sessions)} sessions`}>
                          {x.region} {fmtPct(x.share)}
                        </span>
                      ))}
                    </span>
                  )}
                </>
              );
            }}
          />
        )}
      </Async>
    </Section>
  );
}
