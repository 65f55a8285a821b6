// A minimal protocol client over the bench engine worker (dist/bench/soakWorker.js): send a
// request, collect its events, resolve on its final message.

import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';

export interface Final {
  type: string;
  id: number;
  [k: string]: unknown;
}
const STREAM = new Set(['loadProgress', 'runStarted', 'tap', 'prediction', 'exportProgress']);

export class BenchEngine {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { events: Array<{ msg: Record<string, unknown>; at: number }>; done: (f: { final: Final; events: Array<{ msg: Record<string, unknown>; at: number }> }) => void }>();
  private statsWaiter: ((s: Record<string, number>) => void) | null = null;

  constructor() {
    const here = dirname(fileURLToPath(import.meta.url));
    this.worker = new Worker(join(here, 'soakWorker.js'));
    this.worker.on('message', (msg: Record<string, unknown>) => {
      const at = performance.timeOrigin + performance.now();
      if (msg.type === '__benchStats') {
        this.statsWaiter?.(msg as Record<string, number>);
        this.statsWaiter = null;
        return;
      }
      const p = this.pending.get(msg.id as number);
      if (!p) return;
      if (STREAM.has(msg.type as string)) p.events.push({ msg, at });
      else {
        this.pending.delete(msg.id as number);
        p.done({ final: msg as Final, events: p.events });
      }
    });
  }

  request(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<{ final: Final; events: Array<{ msg: Record<string, unknown>; at: number }> }> {
    const id = this.nextId++;
    return new Promise((done) => {
      this.pending.set(id, { events: [], done });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }

  /** Requests that must succeed: an error reply throws with its message. */
  async ok(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<{ final: Final; events: Array<{ msg: Record<string, unknown>; at: number }> }> {
    const r = await this.request(msg, transfer);
    if (r.final.type === 'error') throw new Error(`${msg.type as string}: ${r.final.message as string}`);
    return r;
  }

  stats(): Promise<Record<string, number>> {
    return new Promise((ok) => {
      this.statsWaiter = ok;
      this.worker.postMessage({ type: '__benchStats' });
    });
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}
