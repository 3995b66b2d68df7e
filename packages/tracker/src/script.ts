import { end, error, getState, identify, init, pageview, type TrackerOptions, track } from './tracker.js';

// The script-tag build (dist/tracker.min.js): starts at once, configured by the data-* attributes of
// its own tag (their camelCase names are the option names), and leaves the API on window.sessiontrack.

declare global {
  interface Window {
    sessiontrack: typeof api;
  }
}

const api = { init, track, pageview, identify, end, error, getState };
window.sessiontrack = api;

const tag = document.currentScript as HTMLScriptElement | null;
if (tag) {
  const d = tag.dataset;
  init({
    ...(d as unknown as TrackerOptions),
    // The script's own URL will do: init keeps only the origin of an endpoint.
    endpoint: d.endpoint || tag.src,
    respectDnt: d.respectDnt != null,
  });
}
