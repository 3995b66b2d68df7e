import { type Project, type SessionKind, type StatsBatchPart, statsBatchSchema } from '@sessiontrack/core';
import { loadRange, type RangeQuery } from '@sessiontrack/store';
import { Hono } from 'hono';
import type { AppEnv, RouteDeps } from '../app-deps.js';
import { readJsonBody } from '../body.js';
import { ApiError } from '../errors.js';
import { parse } from '../validate.js';
import { sessionRange, sessionsAnswer } from './read.js';
import { projectOf } from './scope.js';
import { rangeDates, STATS, type StatsPlan } from './stats.js';

// POST /api/v1/stats/batch (docs/api.md, "Several stats in one request"): the parts a dashboard
// view draws, in one request. Parts over the same date range share one `loadRange` with the union
// of what they need, so today's live day is computed once per range instead of once per part, and
// the ranges (and session lists) are read at the same time — in parallel on PostgreSQL's pool.

export function statsBatchRoutes(deps: RouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { store, now } = deps;
  const body = (req: Request) => readJsonBody(req, { limitBytes: deps.config.bodyLimitBytes, allowTextPlain: false });

  app.post('/stats/batch', async (c) => {
    const input = parse(statsBatchSchema, (await body(c.req.raw)) ?? {});
    const project = await projectOf(c, deps.projects);
    const t = now();
    // Every part's dates and range length are checked before any read: a bad part is a 400 for the
    // whole batch, naming the part.
    const parts = Object.entries(input.parts).map(([name, part]) => ({
      name,
      part,
      ...named(name, () => planOf(part, project, t)),
    }));
    // Parts share a load when they ask for the same dates and the same kind.
    const keyOf = (p: (typeof parts)[number]) => `${p.dates.fromDate}/${p.dates.toDate}/${p.plan?.wants.kind ?? ''}`;
    const ranges = new Map<
      string,
      { dates: { fromDate: string; toDate: string }; kind: SessionKind | undefined; wants: RangeWants[] }
    >();
    for (const p of parts) {
      if (!p.plan) continue;
      const key = keyOf(p);
      const entry = ranges.get(key) ?? { dates: p.dates, kind: p.plan.wants.kind, wants: [] };
      entry.wants.push(p.plan.wants);
      ranges.set(key, entry);
    }
    const loaded = new Map(
      await Promise.all(
        [...ranges].map(
          async ([key, { dates, kind, wants }]) =>
            [key, await loadRange(store, project, { ...dates, ...union(wants), kind }, t)] as const,
        ),
      ),
    );
    const answers = await Promise.all(
      parts.map(async (p) => {
        if (p.part.route === 'sessions') {
          const q = p.part;
          return [p.name, await named(p.name, () => sessionsAnswer(store, project, q, t))] as const;
        }
        const r = loaded.get(keyOf(p))!;
        return [p.name, p.plan!.answer(r, p.dates, project)] as const;
      }),
    );
    return c.json(Object.fromEntries(answers));
  });
  return app;
}

type RangeWants = Omit<RangeQuery, 'fromDate' | 'toDate'>;

function planOf(
  part: StatsBatchPart,
  project: Project,
  t: number,
): { plan: StatsPlan | null; dates: { fromDate: string; toDate: string } } {
  if (part.route === 'sessions') {
    sessionRange(part, project, t);
    return { plan: null, dates: { fromDate: '', toDate: '' } };
  }
  const plan = STATS[part.route]!.plan(part);
  return { plan, dates: rangeDates(plan.range, project, t) };
}

/** A validation error of one part says which: `parts.<name>: …`. */
function named<T>(name: string, fn: () => T): T {
  const prefix = (err: unknown) => {
    if (err instanceof ApiError && err.code === 'validation_failed') {
      return new ApiError(err.code, `parts.${name}: ${err.message}`, err.details);
    }
    return err;
  };
  try {
    const r = fn();
    return r instanceof Promise ? (r.catch((err) => Promise.reject(prefix(err))) as T) : r;
  } catch (err) {
    throw prefix(err);
  }
}

/** What several stats routes need from one range: every dimension any of them asks for. */
function union(wants: RangeWants[]): RangeWants {
  const dims = new Set(wants.flatMap((w) => w.dims ?? []));
  const dayDims = new Set(wants.flatMap((w) => w.dayDims ?? []));
  return { dims: [...dims], dayDims: [...dayDims], users: wants.some((w) => w.users) };
}
