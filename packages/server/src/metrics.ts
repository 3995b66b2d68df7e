// A small Prometheus text-format registry: the handful of counters and histograms the server
// needs, without a client library's global state.

type Labels = Record<string, string>;

const labelKey = (labels: Labels): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');

export class Counter {
  readonly #values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.#values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.#values) lines.push(`${this.name}${k ? `{${k}}` : ''} ${v}`);
    return lines.join('\n');
  }
}

export class Histogram {
  readonly #counts: number[];
  #sum = 0;
  #count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {
    this.#counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.#sum += v;
    this.#count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= (this.buckets[i] as number)) this.#counts[i]!++;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [i, b] of this.buckets.entries()) lines.push(`${this.name}_bucket{le="${b}"} ${this.#counts[i]}`);
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.#count}`, `${this.name}_sum ${this.#sum}`);
    lines.push(`${this.name}_count ${this.#count}`);
    return lines.join('\n');
  }
}

export function gauge(name: string, help: string, value: number): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${value}`;
}

export class Metrics {
  readonly requests = new Counter('sessiontrack_http_requests_total', 'HTTP requests by route and status.');
  readonly events = new Counter('sessiontrack_ingest_events_total', 'Ingested events by result.');
  readonly bots = new Counter('sessiontrack_bot_requests_total', 'Ingest requests answered 202 and dropped as bots.');
  readonly rateLimited = new Counter('sessiontrack_rate_limited_total', 'Requests refused with 429, by limit.');
  readonly batchEvents = new Histogram(
    'sessiontrack_commit_batch_events',
    'Events per group-commit transaction.',
    [1, 5, 10, 50, 100, 250, 500, 1000, 2000],
  );
  readonly commitSeconds = new Histogram(
    'sessiontrack_storage_commit_seconds',
    'Duration of one group-commit transaction (storage latency).',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  );
  readonly storageErrors = new Counter('sessiontrack_storage_errors_total', 'Failed storage transactions.');

  render(extra: string[]): string {
    return `${[
      this.requests.render(),
      this.events.render(),
      this.bots.render(),
      this.rateLimited.render(),
      this.batchEvents.render(),
      this.commitSeconds.render(),
      this.storageErrors.render(),
      ...extra,
    ].join('\n')}\n`;
  }
}
