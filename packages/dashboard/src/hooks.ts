import { useCallback, useEffect, useRef, useState } from 'react';
import { apiPath, type BatchPart, batch, get, type Params } from './api.js';

export interface Loaded<T> {
  data: T | null;
  error: Error | null;
  loading: boolean;
  reload: () => void;
}

/**
 * GET a read route; refetches when the path or parameters change, and every `pollMs` when given
 * (Active now: plain polling, no sockets). A stale answer never overwrites a newer request's.
 */
export function useApi<T>(path: string | null, params: Params = {}, pollMs?: number, initial?: T): Loaded<T> {
  const key = path === null ? null : apiPath(path, params);
  return useLoad(key, (signal) => get<T>(path as string, params, undefined, signal), pollMs, initial);
}

/**
 * POST a stats batch: what a view draws, in one request. `part(name)` is one part's answer in the
 * shape `useApi` returns, for the panels; the batch succeeds or fails as a whole.
 */
export function useBatch<T extends Record<string, unknown>>(
  project: string,
  parts: Record<keyof T & string, BatchPart>,
): Loaded<T> & { part: <K extends keyof T>(name: K) => Loaded<T[K]> } {
  const key = `${project} ${JSON.stringify(parts)}`;
  const all = useLoad(key, (signal) => batch<T>(project, parts, signal));
  const part = <K extends keyof T>(name: K): Loaded<T[K]> => ({
    data: all.data ? all.data[name] : null,
    error: all.error,
    loading: all.loading,
    reload: all.reload,
  });
  return { ...all, part };
}

/** The loading state of `load` for `key`: refetched when the key changes, and every `pollMs`. */
function useLoad<T>(
  key: string | null,
  load: (signal: AbortSignal) => Promise<T>,
  pollMs?: number,
  initial?: T,
): Loaded<T> {
  // `initial`: an answer the caller already has (the sign-in's project list), used instead of a
  // first request.
  const [state, setState] = useState<{ key: string | null; data: T | null; error: Error | null }>(() => ({
    key: initial === undefined ? null : key,
    data: initial ?? null,
    error: null,
  }));
  const skipFirst = useRef(initial !== undefined);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    if (key === null) return;
    if (skipFirst.current && tick === 0 && !pollMs) {
      skipFirst.current = false;
      return;
    }
    const ctl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const next = () => {
      load(ctl.signal).then(
        (data) => {
          setState({ key, data, error: null });
          if (pollMs) timer = setTimeout(next, pollMs);
        },
        (error: Error) => {
          if (ctl.signal.aborted) return;
          setState((s) => ({ key, data: s.key === key ? s.data : null, error }));
          if (pollMs) timer = setTimeout(next, pollMs);
        },
      );
    };
    next();
    return () => {
      ctl.abort();
      clearTimeout(timer);
    };
  }, [key, tick, pollMs]);

  const current = state.key === key;
  return {
    data: current ? state.data : null,
    error: current ? state.error : null,
    loading: key !== null && (!current || (state.data === null && state.error === null)),
    reload,
  };
}
