import { sessionWorkflows } from './analytics.js';
import { effectiveSession } from './lifecycle.js';
import type { Session, StoredEvent } from './types.js';

// User patterns (docs/metrics.md, "User patterns"): a label from the seed rules and a behavioural
// type with the indicators that fired. Pure: the caller passes the user's sessions (newest first,
// at most PATTERN_SESSIONS) with their events, and `now`.

export const PATTERN_SESSIONS = 20;
const MIN = 60_000;

export type PatternLabel = 'new_user' | 'struggling_user' | 'power_user' | 'quick_checker' | 'regular_user';
export type BehaviourType = 'power_user' | 'explorer' | 'task_focused' | 'confused';

export interface PatternStats {
  sessions: number;
  avgDurationSeconds: number;
  avgActions: number;
  avgErrors: number;
  latestSessionErrors: number;
  avgDistinctPages: number;
  /** Distinct action names / actions, over all sessions (1 = nothing repeated). */
  actionVariety: number;
  workflowsStarted: number;
  workflowsCompleted: number;
  workflowsAbandoned: number;
  /** A → B → A page sequences. */
  backAndForth: number;
  /** The same action three or more times in a row. */
  repeatedActionRuns: number;
}

export interface UserPattern {
  pattern: PatternLabel;
  type: BehaviourType;
  confidence: number;
  indicators: string[];
  stats: PatternStats;
}

export interface SessionWithEvents {
  session: Session;
  events: readonly Pick<StoredEvent, 'type' | 'name' | 'page' | 'details'>[];
}

/** The indicators of each behavioural type; a type's score is the share of its indicators that fired. */
export const TYPE_INDICATORS: Record<BehaviourType, readonly string[]> = {
  power_user: ['long_sessions', 'many_actions'],
  explorer: ['many_distinct_pages', 'varied_actions'],
  task_focused: ['short_sessions', 'completes_workflows'],
  confused: ['errors', 'repeated_actions', 'back_and_forth', 'abandoned_workflows'],
};

export const TYPE_PRIORITY: readonly BehaviourType[] = ['confused', 'power_user', 'task_focused', 'explorer'];

/**
 * What the pattern label reads of a user's latest PATTERN_SESSIONS sessions (effective at `now`):
 * nothing from their events, so the users overview (GET /users) computes it for every user of a
 * range from session rows alone, in one query.
 */
export interface PatternLabelInput {
  sessions: number;
  /** Errors of the latest session. */
  latestSessionErrors: number;
  /** Sum over the sessions of (end, or last activity while live) − start, each at least 0. */
  durationMs: number;
  /** Sum of the sessions' actions. */
  actions: number;
}

/** The seed's label rule: the first that holds of new, struggling, power, quick checker, regular. */
export function patternLabel(x: PatternLabelInput): PatternLabel {
  if (x.sessions === 0) return 'new_user';
  if (x.latestSessionErrors > 5) return 'struggling_user';
  const avgMs = x.durationMs / x.sessions;
  if (avgMs > 30 * MIN && x.actions / x.sessions > 50) return 'power_user';
  if (avgMs < 5 * MIN) return 'quick_checker';
  return 'regular_user';
}

/** Every label, in the order the rule tries them (the users overview counts each). */
export const PATTERN_LABELS: readonly PatternLabel[] = [
  'new_user',
  'struggling_user',
  'power_user',
  'quick_checker',
  'regular_user',
];

export function userPattern(list: readonly SessionWithEvents[], now: number): UserPattern {
  const items = list.slice(0, PATTERN_SESSIONS).map((x) => ({ ...x, session: effectiveSession(x.session, now) }));
  const n = items.length;
  let durationMs = 0;
  let actions = 0;
  let errors = 0;
  let pages = 0;
  const actionNames = new Set<string>();
  let actionEvents = 0;
  let started = 0;
  let completed = 0;
  let abandoned = 0;
  let backAndForth = 0;
  let repeatedRuns = 0;
  for (const { session: s, events } of items) {
    // Live sessions count up to their last activity: time without activity is not time spent.
    durationMs += Math.max(0, (s.endedAt ?? s.lastActivityAt) - s.startedAt);
    actions += s.actions;
    errors += s.errors;
    const seq: string[] = [];
    let run = 0;
    let last: string | null = null;
    for (const e of events) {
      if (e.page !== null && seq[seq.length - 1] !== e.page) seq.push(e.page);
      if (e.type === 'action' && e.name !== null) {
        actionEvents++;
        actionNames.add(e.name);
        run = e.name === last ? run + 1 : 1;
        if (run === 3) repeatedRuns++;
        last = e.name;
      }
    }
    pages += new Set(seq).size;
    for (let i = 2; i < seq.length; i++) if (seq[i] === seq[i - 2] && seq[i] !== seq[i - 1]) backAndForth++;
    for (const w of sessionWorkflows(events, s.status === 'ended')) {
      if (w.started) started++;
      if (w.completed) completed++;
      if (w.abandoned) abandoned++;
    }
  }
  const avg = (x: number) => (n === 0 ? 0 : x / n);
  const latest = items[0]?.session;
  const stats: PatternStats = {
    sessions: n,
    avgDurationSeconds: Math.round(avg(durationMs) / 100) / 10,
    avgActions: Math.round(avg(actions) * 10) / 10,
    avgErrors: Math.round(avg(errors) * 10) / 10,
    latestSessionErrors: latest?.errors ?? 0,
    avgDistinctPages: Math.round(avg(pages) * 10) / 10,
    actionVariety: actionEvents === 0 ? 0 : Math.round((actionNames.size / actionEvents) * 1000) / 1000,
    workflowsStarted: started,
    workflowsCompleted: completed,
    workflowsAbandoned: abandoned,
    backAndForth,
    repeatedActionRuns: repeatedRuns,
  };

  const avgMs = avg(durationMs);
  const pattern = patternLabel({ sessions: n, latestSessionErrors: latest?.errors ?? 0, durationMs, actions });

  const fired = new Set<string>();
  if (n > 0) {
    if (avgMs > 30 * MIN) fired.add('long_sessions');
    if (avg(actions) > 50) fired.add('many_actions');
    if (avg(pages) >= 5) fired.add('many_distinct_pages');
    if (actionEvents >= 5 && actionNames.size / actionEvents >= 0.6) fired.add('varied_actions');
    if (avgMs < 10 * MIN) fired.add('short_sessions');
    if (started > 0 && completed / started >= 0.8) fired.add('completes_workflows');
    if (avg(errors) >= 1) fired.add('errors');
    if (repeatedRuns > 0) fired.add('repeated_actions');
    if (backAndForth >= 2) fired.add('back_and_forth');
    if (abandoned > 0) fired.add('abandoned_workflows');
  }
  // The type with the most indicators fired; ties go to the earlier of TYPE_PRIORITY (trouble first:
  // a confused user is the one to look at). Confidence: the share of its indicators that fired.
  let type: BehaviourType = 'task_focused';
  let best = 0;
  for (const t of TYPE_PRIORITY) {
    const count = TYPE_INDICATORS[t].filter((i) => fired.has(i)).length;
    if (count > best) {
      type = t;
      best = count;
    }
  }
  const confidence = best / TYPE_INDICATORS[type].length;
  return { pattern, type, confidence, indicators: TYPE_INDICATORS[type].filter((i) => fired.has(i)), stats };
}
