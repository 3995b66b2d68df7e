import { useEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Daily } from './api.js';
import { type DateRange, datesOf } from './format.js';

// One uPlot chart of daily values. uPlot draws on a canvas, so the numbers are also given as a
// visually hidden table for screen readers (and for the tests).

export interface Series {
  label: string;
  values: number[];
  color: string;
  bars?: boolean;
}

export function DailyChart(props: {
  dates: string[];
  series: Series[];
  height?: number;
  label: string;
  testId?: string;
}) {
  const host = useRef<HTMLDivElement>(null);
  const { dates, series, height = 220 } = props;

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const xs = dates.map((d) => Date.parse(`${d}T12:00:00Z`) / 1000);
    const css = getComputedStyle(document.documentElement);
    const axis = css.getPropertyValue('--muted').trim() || '#888';
    const grid = css.getPropertyValue('--grid').trim() || 'rgba(128,128,128,.2)';
    const opts: uPlot.Options = {
      width: Math.max(300, el.clientWidth),
      height,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'UTC'),
      legend: { show: series.length > 1 },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 56 },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          fill: `${s.color}33`,
          points: { show: dates.length <= 31 },
          ...(s.bars ? { paths: uPlot.paths.bars?.({ size: [0.7, 40] }) } : {}),
        })),
      ],
    };
    const plot = new uPlot(opts, [xs, ...series.map((s) => s.values)], el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(300, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [dates, series, height]);

  return (
    <figure className="chart" data-testid={props.testId}>
      <div ref={host} role="img" aria-label={props.label} />
      <table className="sr-only">
        <caption>{props.label}</caption>
        <thead>
          <tr>
            <th>Date</th>
            {series.map((s) => (
              <th key={s.label}>{s.label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {dates.map((d, i) => (
            <tr key={d}>
              <td>{d}</td>
              {series.map((s) => (
                <td key={s.label}>{s.values[i] ?? 0}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

/** Daily stats as a chart over every date of the range (days without data drawn as 0). */
export function DaysChart(props: {
  days: Daily[];
  range: DateRange;
  series: { label: string; of: (d: Daily) => number; color: string; bars?: boolean }[];
  label: string;
  testId: string;
}) {
  const { days, range, series: wanted } = props;
  const { dates, series } = useMemo(() => {
    const byDate = new Map(days.map((d) => [d.date, d]));
    const dates = datesOf(range);
    return {
      dates,
      series: wanted.map(({ of, ...s }) => ({
        ...s,
        values: dates.map((date) => {
          const d = byDate.get(date);
          return d ? of(d) : 0;
        }),
      })),
    };
  }, [days, range, wanted]);
  return <DailyChart dates={dates} series={series} label={props.label} testId={props.testId} />;
}
