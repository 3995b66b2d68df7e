import { init as start, type TrackerOptions } from './tracker.js';

export type { EndReason, TrackerOptions, TrackerState, TrackOptions } from './tracker.js';
export { end, error, getState, identify, pageview, subscribe, track } from './tracker.js';

/**
 * Starts tracking (once per page; later calls do nothing). Outside a browser (server rendering) it
 * does nothing: checked here, so the script tag's build, which only ever runs in one, does without.
 */
export function init(o: TrackerOptions): void {
  if (typeof window !== 'undefined') start(o);
}
