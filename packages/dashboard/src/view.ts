import { createContext, useContext } from 'react';
import type { Project } from './api.js';
import type { DateRange } from './format.js';
import type { Route } from './route.js';

// What every view reads: the route, the project and the date ranges. Its own module, so the views
// import it without importing app.tsx, which imports the views.

export interface Ctx {
  route: Route;
  go: (patch: Partial<Route>) => void;
  project: Project;
  range: DateRange;
  previous: DateRange;
  /** Read-only (a share link): no settings, no writes. */
  shared: boolean;
  /** After a change in Settings. */
  reloadProjects: () => void;
}

export const ViewContext = createContext<Ctx | null>(null);

export function useView(): Ctx {
  const c = useContext(ViewContext);
  if (!c) throw new Error('useView outside the app');
  return c;
}
