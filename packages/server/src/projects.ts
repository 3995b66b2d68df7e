import { createHash } from 'node:crypto';
import {
  type CreateProjectInput,
  newProjectId,
  newShareId,
  newShareToken,
  newWriteKey,
  type Project,
  type ProjectChanges,
  type ProjectShare,
} from '@sessiontrack/core';
import type { CleanupResult, ProjectStore } from '@sessiontrack/store';
import { type Clock, systemClock } from './clock.js';
import { ApiError } from './errors.js';

export const DEFAULT_PROJECT_ID = 'default';

/** How stale the cache may be: the store's version stamp is read at most this often. */
const FRESH_MS = 1000;
/** Unknown write keys and share tokens remembered (a key-guessing flood costs one lookup per new guess). */
const NEGATIVE_MAX = 10_000;
const NEGATIVE_TTL_MS = 60_000;

export const shareTokenHash = (token: string): string => createHash('sha256').update(token).digest('hex');

/**
 * Projects and their share links, cached in memory: every ingest request looks its write key up,
 * and a store query per request would cost more than the rest of the request. The store stays the
 * truth, and several instances may share it (docs/operations.md):
 * - the store's version stamp is read at most once a second (by the first request after that
 *   second, which waits for it); when it moved, everything is reloaded — so a change made on any
 *   instance (or by the CLI) is seen everywhere within about a second;
 * - an unknown write key or project id is looked up in the store at once (a project another
 *   instance just created works on its first request here); unknown keys and tokens are then
 *   remembered in a bounded negative cache, forgotten whenever the version moves.
 */
export class Projects {
  readonly #store: ProjectStore;
  readonly #now: Clock;
  #byKey = new Map<string, Project>();
  #byId = new Map<string, Project>();
  #shares = new Map<string, ProjectShare>();
  #version = Number.NaN;
  /** performance.now() of the start of the last completed version check (wall time, not the app's clock). */
  #checkedAt = Number.NEGATIVE_INFINITY;
  #inflight: { startedAt: number; done: Promise<void> } | null = null;
  readonly #unknown = new Map<string, number>();

  constructor(store: ProjectStore, now: Clock = systemClock) {
    this.#store = store;
    this.#now = now;
  }

  /** Reloads every project and share from the store. */
  async load(): Promise<void> {
    const startedAt = performance.now();
    // The stamp first: a change committed while the lists are read moves it again, and the next
    // check reloads.
    const version = await this.#store.projectsVersion();
    const [all, shares] = await Promise.all([this.#store.listProjects(), this.#store.listShares()]);
    this.#byId = new Map(all.map((p) => [p.id, p]));
    this.#byKey = new Map(all.map((p) => [p.writeKey, p]));
    for (const p of all) if (p.previousWriteKey) this.#byKey.set(p.previousWriteKey, p);
    this.#shares = new Map(shares.map((s) => [s.tokenHash, s]));
    if (version !== this.#version) this.#unknown.clear();
    this.#version = version;
    this.#checkedAt = Math.max(this.#checkedAt, startedAt);
  }

  /**
   * Makes the cache fresh: with `since` (a performance.now() time), by a version check that started
   * after it; without, only when the last check is older than a second. Concurrent callers share one
   * check.
   */
  async #fresh(since?: number): Promise<void> {
    for (;;) {
      const running = this.#inflight;
      if (running) {
        if (since === undefined || running.startedAt >= since) return running.done;
        await running.done.catch(() => {});
        continue;
      }
      if (since === undefined ? performance.now() - this.#checkedAt < FRESH_MS : this.#checkedAt >= since) return;
      const startedAt = performance.now();
      const done = (async () => {
        const version = await this.#store.projectsVersion();
        if (version !== this.#version) await this.load();
        this.#checkedAt = Math.max(this.#checkedAt, startedAt);
      })().finally(() => {
        this.#inflight = null;
      });
      this.#inflight = { startedAt, done };
      return done;
    }
  }

  #remembered(key: string): boolean {
    const until = this.#unknown.get(key);
    if (until === undefined) return false;
    if (until > performance.now()) return true;
    this.#unknown.delete(key);
    return false;
  }

  #remember(key: string): void {
    if (this.#unknown.size >= NEGATIVE_MAX) {
      // The oldest entry (a Map iterates in insertion order).
      const oldest = this.#unknown.keys().next().value;
      if (oldest !== undefined) this.#unknown.delete(oldest);
    }
    this.#unknown.set(key, performance.now() + NEGATIVE_TTL_MS);
  }

  #accepts(p: Project, key: string): boolean {
    return p.writeKey === key || (p.previousWriteKey === key && (p.previousKeyValidUntil ?? 0) > this.#now());
  }

  /** The project of a write key (or of its previous key within the grace period); undefined when unknown. */
  async byWriteKey(key: string): Promise<Project | undefined> {
    // The hot path of every ingest request: no await while the cache is fresh.
    if (this.#inflight || performance.now() - this.#checkedAt >= FRESH_MS) await this.#fresh();
    const hit = this.#byKey.get(key);
    if (hit && this.#accepts(hit, key)) return hit;
    if (this.#remembered(`k:${key}`)) return undefined;
    const found = await this.#store.projectByWriteKey(key, this.#now());
    if (!found) {
      this.#remember(`k:${key}`);
      return undefined;
    }
    // A project this cache does not know in this form: the cache is stale as a whole.
    await this.load();
    return found;
  }

  /** From the cache only (background jobs, which run on the cache's list). */
  byId(id: string): Project | undefined {
    return this.#byId.get(id);
  }

  /** The project of an id: fresh within a second, and looked up in the store when not cached. */
  async find(id: string): Promise<Project | undefined> {
    await this.#fresh();
    const hit = this.#byId.get(id);
    if (hit) return hit;
    if (this.#remembered(`p:${id}`)) return undefined;
    const found = await this.#store.getProject(id);
    if (!found) {
      this.#remember(`p:${id}`);
      return undefined;
    }
    await this.load();
    return found;
  }

  /** As `find`, a 404 when unknown. */
  async get(id: string): Promise<Project> {
    const p = await this.find(id);
    if (!p) throw new ApiError('not_found', `unknown project ${id}`);
    return p;
  }

  /** The share whose token this is; undefined when unknown or revoked (on any instance). */
  async byShareToken(token: string): Promise<ProjectShare | undefined> {
    const since = performance.now();
    await this.#fresh();
    const hash = shareTokenHash(token);
    const hit = this.#shares.get(hash);
    if (hit) return hit;
    if (this.#remembered(`s:${hash}`)) return undefined;
    // Created on another instance a moment ago? A version check that starts now sees it.
    await this.#fresh(since);
    const found = this.#shares.get(hash);
    if (!found) this.#remember(`s:${hash}`);
    return found;
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
    await this.load();
    return project;
  }

  async update(id: string, changes: ProjectChanges): Promise<Project> {
    const p = await this.#store.updateProject(id, changes);
    if (!p) throw new ApiError('not_found', `unknown project ${id}`);
    await this.load();
    return p;
  }

  /** A new write key; the current one keeps working for `graceMs` (a still-running earlier grace ends now). */
  async rotateKey(id: string, graceMs: number): Promise<{ project: Project; previousKeyValidUntil: number }> {
    const current = await this.get(id);
    const previousKeyValidUntil = this.#now() + graceMs;
    const p = await this.#store.updateProject(
      id,
      {},
      { writeKey: newWriteKey(), previousWriteKey: current.writeKey, previousValidUntil: previousKeyValidUntil },
    );
    if (!p) throw new ApiError('not_found', `unknown project ${id}`);
    await this.load();
    return { project: p, previousKeyValidUntil };
  }

  /** Deletes a project with all its data; the default project stays (409). */
  async delete(id: string): Promise<CleanupResult> {
    if (id === DEFAULT_PROJECT_ID) throw new ApiError('conflict', 'the default project cannot be deleted');
    const r = await this.#store.deleteProject(id);
    await this.load();
    if (!r) throw new ApiError('not_found', `unknown project ${id}`);
    return r;
  }

  /** A share link: the token is answered once, only its digest is stored. */
  async createShare(projectId: string, label: string | null): Promise<{ share: ProjectShare; token: string }> {
    await this.get(projectId);
    const token = newShareToken();
    const share = await this.#store.createShare({
      id: newShareId(),
      projectId,
      label,
      tokenHash: shareTokenHash(token),
      createdAt: this.#now(),
    });
    await this.load();
    return { share, token };
  }

  async listShares(projectId: string): Promise<ProjectShare[]> {
    await this.get(projectId);
    return this.#store.listShares(projectId);
  }

  async deleteShare(projectId: string, shareId: string): Promise<void> {
    await this.get(projectId);
    const gone = await this.#store.deleteShare(projectId, shareId);
    await this.load();
    if (!gone) throw new ApiError('not_found', `unknown share ${shareId}`);
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
