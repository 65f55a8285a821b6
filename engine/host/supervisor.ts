// Runs the engine in a worker thread and restarts it when it dies (web mode, tests).
// Restarting is the host's half of crash recovery; the client's half (re-send the model
// load and the last run) lives in renderer/client. Clients learn about it through
// `engineStatus` messages (id null) mixed into the engine's stream.

import { Worker } from 'node:worker_threads';
import type { EngineStatusEvent } from '../protocol';

export interface SupervisorOptions {
  /** The built worker entry, dist/engine/host/worker.js. */
  workerUrl: URL;
  workerData?: unknown;
  /** Give up after this many crashes within `windowMs` (default 3 in 60 s). */
  maxRestarts?: number;
  windowMs?: number;
}

export class EngineSupervisor {
  private worker: Worker;
  private readonly crashes: number[] = [];
  private closed = false;
  private listener: (msg: unknown) => void = () => {};
  /** Worker generation: 0 for the first engine, +1 per restart. */
  generation = 0;

  constructor(private readonly options: SupervisorOptions) {
    this.worker = this.spawn();
  }

  onMessage(listener: (msg: unknown) => void): void {
    this.listener = listener;
  }

  postMessage(msg: unknown, transfer: ArrayBuffer[] = []): void {
    if (this.closed) return;
    this.worker.postMessage(msg, transfer);
  }

  /** Thread id of the current engine worker (tests). */
  get threadId(): number { return this.worker.threadId; }

  /** Kills the engine as a crash would (tests, and a hung engine). */
  async crash(): Promise<void> {
    await this.worker.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker.terminate();
  }

  private spawn(): Worker {
    const worker = new Worker(this.options.workerUrl, { workerData: this.options.workerData });
    worker.on('message', (msg: unknown) => { if (worker === this.worker) this.listener(msg); });
    worker.on('error', (err) => {
      // An uncaught exception in the engine: 'exit' follows and restarts it.
      console.error(`engine worker failed: ${err.stack ?? err.message}`);
    });
    worker.on('exit', (code) => { if (worker === this.worker) this.exited(code); });
    return worker;
  }

  private exited(code: number): void {
    if (this.closed) return;
    const t = Date.now();
    const windowMs = this.options.windowMs ?? 60_000;
    this.crashes.push(t);
    while (this.crashes.length && this.crashes[0]! < t - windowMs) this.crashes.shift();
    if (this.crashes.length > (this.options.maxRestarts ?? 3)) {
      this.status('failed', `The engine stopped (exit code ${code}) and kept crashing; it was not restarted. Reload the page to start it again.`);
      this.closed = true;
      return;
    }
    this.status('restarting', `The engine stopped (exit code ${code}); restarting it.`);
    this.generation += 1;
    this.worker = this.spawn();
    // Messages posted to a worker wait until it listens, so the client may re-send at once.
    this.status('ready', 'The engine was restarted after it stopped.');
  }

  private status(state: EngineStatusEvent['state'], message: string): void {
    const event: EngineStatusEvent = { type: 'engineStatus', id: null, state, message };
    this.listener(event);
  }
}
