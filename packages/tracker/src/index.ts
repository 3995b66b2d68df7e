export type { EndReason, TrackerOptions, TrackerState, TrackOptions } from './tracker.js';
export { end, error, getState, identify, init, pageview, subscribe, track } from './tracker.js';
