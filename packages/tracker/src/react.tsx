'use client';
import { useEffect, useSyncExternalStore } from 'react';
import { end, getState, identify, init, subscribe, type TrackerOptions, track } from './index.js';

// React bindings over the one tracker of the page: the core keeps module-level state, so StrictMode's
// second mount (and a second <SessionTracker />) calls an `init` that has already run and does nothing.

export type SessionTrackerProps = TrackerOptions;

/** Starts tracking on mount; renders nothing. Options are read once. */
export function SessionTracker(props: SessionTrackerProps): null {
  // biome-ignore lint/correctness/useExhaustiveDependencies: the tracker starts once per page.
  useEffect(() => init(props), []);
  return null;
}

export interface SessionTrackerApi {
  anonymousId: string | null;
  sessionId: string | null;
  trackAction: typeof track;
  identify: typeof identify;
  end: typeof end;
}

const sessionId = () => getState().sessionId;
const anonymousId = () => getState().anonymousId;
const none = () => null;

/** The ids of the running tracker (null before it starts and during server rendering) and its calls. */
export function useSessionTracker(): SessionTrackerApi {
  return {
    anonymousId: useSyncExternalStore(subscribe, anonymousId, none),
    sessionId: useSyncExternalStore(subscribe, sessionId, none),
    trackAction: track,
    identify,
    end,
  };
}
