import { useMemo } from 'react';
import type { BreakdownRow, Countries as CountriesData, Daily, Summary } from '../api.js';
import { useView } from '../app.js';
import { DailyChart } from '../chart.js';
import { Async, Card, Section, TopList } from '../components.js';
import { change, countryName, datesOf, fmtDuration, fmtInt, fmtPct } from '../format.js';
import { useApi } from '../hooks.js';
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

export function Overview() {
  const { project, range, previous } = useView();
  const p = { project: project.id };
  const active = useApi<{ count: number }>('/sessions/active', { ...p, limit: 1 }, ACTIVE_POLL_MS);
  const summary = useApi<Summary>('/stats/summary', { ...p, ...range });
  const before = useApi<Summary>('/stats/summary', { ...p, ...previous });
  const daily = useApi<Daily[]>('/stats/daily', { ...p, ...range });

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
          {(days) => <SessionsChart days={days} />}
        </Async>
      </Section>
      <div className="grid">
        {LISTS.map(([by, title]) => (
          <Breakdown key={by} by={by} title={title} />
        ))}
        <Countries />
      </div>
    </div>
  );
}

function SummaryCards(props: { current: Summary | null; previous: Summary | null }) {
  const c = props.current;
  const p = props.previous;
  const ch = (f: (s: Summary) => number, kind: 'count' | 'rate', up = true) =>
    c && p ? change(f(c), f(p), kind, up) : null;
  const v = (f: (s: Summary) => string) => (c ? f(c) : '…');
  return (
    <>
      <Card
        testId="card-sessions"
        label="Sessions"
        value={v((s) => fmtInt(s.sessions))}
        change={ch((s) => s.sessions, 'count')}
      />
      <Card
        testId="card-users"
        label="Unique users"
        value={v((s) => fmtInt(s.uniqueUsers))}
        change={ch((s) => s.uniqueUsers, 'count')}
      />
      <Card
        testId="card-duration"
        label="Average duration"
        value={v((s) => fmtDuration(s.avgDurationSeconds))}
        change={ch((s) => s.avgDurationSeconds, 'count')}
      />
      <Card
        testId="card-bounce"
        label="Bounce rate"
        value={v((s) => fmtPct(s.bounceRate))}
        change={ch((s) => s.bounceRate, 'rate', false)}
      />
      <Card
        testId="card-errors"
        label="Error rate"
        value={v((s) => fmtPct(s.errorRate))}
        change={ch((s) => s.errorRate, 'rate', false)}
      />
      <Card
        testId="card-tools"
        label="Tool calls"
        value={v((s) => fmtInt(s.toolCalls))}
        change={ch((s) => s.toolCalls, 'count')}
      />
    </>
  );
}

function SessionsChart(props: { days: Daily[] }) {
  const { range } = useView();
  const { dates, series } = useMemo(() => {
    const byDate = new Map(props.days.map((d) => [d.date, d]));
    const dates = datesOf(range);
    return {
      dates,
      series: [
        { label: 'Sessions', values: dates.map((d) => byDate.get(d)?.sessions ?? 0), color: '#4f7cff' },
        { label: 'Unique users', values: dates.map((d) => byDate.get(d)?.uniqueUsers ?? 0), color: '#19a974' },
      ],
    };
  }, [props.days, range]);
  return <DailyChart dates={dates} series={series} label="Sessions and unique users per day" testId="chart-sessions" />;
}

function Breakdown(props: { by: string; title: string }) {
  const { project, range } = useView();
  const rows = useApi<BreakdownRow[]>('/stats/breakdown', { project: project.id, by: props.by, ...range, limit: 8 });
  return (
    <Section title={props.title} id={`s-${props.by}`}>
      <Async state={rows}>{(r) => <TopList rows={r} testId={`list-${props.by}`} />}</Async>
    </Section>
  );
}

/** Countries with their top regions underneath. */
export function Countries(props: { title?: string }) {
  const { project, range } = useView();
  const countries = useApi<CountriesData>('/stats/countries', { project: project.id, ...range, limit: 10 });
  return (
    <Section title={props.title ?? 'Countries and regions'} id="s-country">
      <Async state={countries}>
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
