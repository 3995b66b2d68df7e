import { useCallback, useEffect, useRef, useState } from 'react';
import { apiPath, get, type Params } from './api.js';

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
    if (path === null || key === null) return;
    if (skipFirst.current && tick === 0 && !pollMs) {
      skipFirst.current = false;
      return;
    }
    const ctl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = () => {
      get<T>(path, params, undefined, ctl.signal).then(
        (data) => {
          setState({ key, data, error: null });
          if (pollMs) timer = setTimeout(load, pollMs);
        },
        (error: Error) => {
          if (ctl.signal.aborted) return;
          setState((s) => ({ key, data: s.key === key ? s.data : null, error }));
          if (pollMs) timer = setTimeout(load, pollMs);
        },
      );
    };
    load();
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
