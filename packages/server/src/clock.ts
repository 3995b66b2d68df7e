// The one clock of a running server: `assemble` hands the same function to the routes, the
// projects cache, the write buffer and the background jobs, so a test that sets the time sets it
// for all of them.

export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
