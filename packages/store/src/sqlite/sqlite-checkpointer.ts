import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

// WAL checkpoints off the commit path. With SQLite's automatic checkpoint, every ~1000 pages one
// unlucky commit also copies the WAL into the database file and fsyncs it — measured at about two
// thirds of the commit time under ingest load. A worker thread with its own connection runs a
// PASSIVE checkpoint on a timer instead: it never blocks the writer, and it uses the other core.

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.filename);
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (err) { parentPort.postMessage({ error: String(err) }); }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'stop') { clearInterval(timer); db.close(); parentPort.close(); }
});
`;

export class Checkpointer {
  readonly #worker: Worker;
  #stopped = false;

  /** `onFailure` is told when the worker cannot run, so the caller can checkpoint itself. */
  constructor(filename: string, intervalMs: number, onFailure: (err: unknown) => void) {
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { filename, intervalMs, driver: require.resolve('better-sqlite3') },
    });
    this.#worker.unref();
    this.#worker.on('error', (err) => {
      if (!this.#stopped) onFailure(err);
    });
    this.#worker.on('exit', (code) => {
      if (!this.#stopped) onFailure(new Error(`checkpoint worker exited with code ${code}`));
    });
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    // Referenced again while stopping, so the process waits for the worker's last checkpoint.
    this.#worker.ref();
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.postMessage('stop');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
    await this.#worker.terminate();
  }
}
