import { type CreateProjectInput, newProjectId, newWriteKey, type Project } from '@sessiontrack/core';
import type { ProjectStore } from '@sessiontrack/store';
import type { Context } from 'hono';
import { type Clock, systemClock } from './clock.js';
import { ApiError } from './errors.js';

export const DEFAULT_PROJECT_ID = 'default';

/**
 * Projects, cached in memory: every ingest request looks its write key up, and a store query
 * per request would cost more than the rest of the request. The store stays the truth: the
 * cache reloads when a key is unknown (another instance may have created it), at most once a second.
 */
export class Projects {
  readonly #store: ProjectStore;
  readonly #now: Clock;
  #byKey = new Map<string, Project>();
  #byId = new Map<string, Project>();
  #lastReload = 0;

  constructor(store: ProjectStore, now: Clock = systemClock) {
    this.#store = store;
    this.#now = now;
  }

  async load(): Promise<void> {
    const all = await this.#store.listProjects();
    this.#byKey = new Map(all.map((p) => [p.writeKey, p]));
    this.#byId = new Map(all.map((p) => [p.id, p]));
    this.#lastReload = this.#now();
  }

  byWriteKey(key: string): Project | undefined {
    return this.#byKey.get(key);
  }

  /** For an unknown key: reload (rate-limited) and look again. */
  async byWriteKeyFresh(key: string): Promise<Project | undefined> {
    const hit = this.#byKey.get(key);
    if (hit || this.#now() - this.#lastReload < 1000) return hit;
    await this.load();
    return this.#byKey.get(key);
  }

  byId(id: string): Project | undefined {
    return this.#byId.get(id);
  }

  /** The project an admin route's `?project=` names (the default project when absent); 404 when unknown. */
  fromQuery(c: Context): Project {
    const id = c.req.query('project') ?? DEFAULT_PROJECT_ID;
    const p = this.#byId.get(id);
    if (!p) throw new ApiError('not_found', `unknown project ${id}`);
    return p;
  }

  list(): Project[] {
    return [...this.#byId.values()];
  }

  async create(input: CreateProjectInput, id = newProjectId()): Promise<Project> {
    const project: Project = {
      id,
      name: input.name,
      writeKey: newWriteKey(),
      allowedOrigins: (input.allowedOrigins ?? []).map((o) => new URL(o).origin),
      timeZone: input.timeZone ?? 'UTC',
      idleTimeoutMs: input.idleTimeoutMs ?? null,
      absoluteTimeoutMs: input.absoluteTimeoutMs ?? null,
      retentionDays: input.retentionDays ?? 30,
      rateLimitPerMinute: input.rateLimitPerMinute ?? 0,
      createdAt: this.#now(),
      ...(input.bounceSeconds === undefined ? {} : { bounceSeconds: input.bounceSeconds }),
      ...(input.bounceMaxActions === undefined ? {} : { bounceMaxActions: input.bounceMaxActions }),
    };
    await this.#store.createProject(project);
    this.#byKey.set(project.writeKey, project);
    this.#byId.set(project.id, project);
    return project;
  }

  /** The default project exists after first start; returns it and whether it was just made. */
  async ensureDefault(): Promise<{ project: Project; created: boolean }> {
    await this.load();
    const existing = this.#byId.get(DEFAULT_PROJECT_ID);
    if (existing) return { project: existing, created: false };
    try {
      return { project: await this.create({ name: 'Default' }, DEFAULT_PROJECT_ID), created: true };
    } catch (err) {
      // Two instances starting together on one PostgreSQL: the other one created it first.
      await this.load();
      const made = this.#byId.get(DEFAULT_PROJECT_ID);
      if (made) return { project: made, created: false };
      throw err;
    }
  }
}
