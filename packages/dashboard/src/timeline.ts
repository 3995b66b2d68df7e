// What a session's timeline shows beyond the raw events: which workflows it started and how each
// one ended. A workflow is identified by `details.workflowId`, else by the event name.

export interface TimelineEvent {
  type: string;
  name: string | null;
  timestamp: string;
  details: Record<string, unknown> | null;
}

export type WorkflowOutcome = 'completed' | 'failed' | 'abandoned' | 'in progress';

export interface WorkflowRun {
  workflowId: string;
  startedAt: string;
  outcome: WorkflowOutcome;
}

export function workflowIdOf(e: Pick<TimelineEvent, 'name' | 'details'>): string | null {
  const id = e.details?.workflowId;
  if (typeof id === 'string' && id) return id;
  return e.name;
}

/**
 * Each workflow_start paired with the next complete/fail of the same id. One with neither is
 * abandoned once the session has ended, and still in progress while it is live.
 */
export function workflowRuns(events: readonly TimelineEvent[], sessionEnded: boolean): WorkflowRun[] {
  const runs: WorkflowRun[] = [];
  const open = new Map<string, WorkflowRun[]>();
  for (const e of events) {
    const id = workflowIdOf(e);
    if (!id) continue;
    if (e.type === 'workflow_start') {
      const run: WorkflowRun = {
        workflowId: id,
        startedAt: e.timestamp,
        outcome: sessionEnded ? 'abandoned' : 'in progress',
      };
      runs.push(run);
      open.set(id, [...(open.get(id) ?? []), run]);
    } else if (e.type === 'workflow_complete' || e.type === 'workflow_fail') {
      const run = open.get(id)?.shift();
      if (run) run.outcome = e.type === 'workflow_complete' ? 'completed' : 'failed';
    }
  }
  return runs;
}
