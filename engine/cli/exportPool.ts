// Runs `attnscope export` images on N engines at once. With a built engine worker
// (dist/engine/host/worker.js) each engine is a worker thread speaking the protocol: the
// CLI sends the same `export` request the GUI sends. Without one (running from source),
// or for --jobs 1, one engine runs in this thread and calls exportImage() directly.

import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { EngineError } from '../errors';
import { exportImage } from '../exportJob';
import type {
  EngineMessage, ExportFileEntry, ExportKind, ExportRequest, ExportSettings, ModelInfo, ModelSource,
} from '../protocol';
import { estimateRun } from '../memory';
import { autoBatch, RunBatcher } from '../runBatcher';
import { Session } from '../session';
import type { RuntimeChoice } from './runtimeOptions';

export interface ExportTask {
  path: string;
  folder: string;
  modules: string[] | null;
  kinds: ExportKind[];
  settings: ExportSettings;
  outDir: string;
  keepExisting: boolean;
}

export interface Engine {
  readonly info: ModelInfo;
  /** False once a worker has died; the pool then starts another. */
  readonly alive: boolean;
  exportOne(task: ExportTask): Promise<ExportFileEntry[]>;
  close(): Promise<void>;
}

export interface EngineFactory {
  readonly kind: 'worker' | 'in-process';
  start(): Promise<Engine>;
}

/** The engine worker bundled beside the CLI (dist/engine/host/worker.js), if there is one. */
export function defaultWorkerUrl(): URL | null {
  const url = new URL('./host/worker.js', import.meta.url);
  return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? url : null;
}

/**
 * One engine in this thread. With `batch` > 1 every start() shares that one engine (the pool
 * runs `batch` images on it at once) and its runs go through a RunBatcher: one forward pass
 * per `batch` images.
 */
export function inProcessFactory(source: ModelSource, version: string, modelsDir?: string, runtime: RuntimeChoice = { runtime: 'ort' }, batch: number | 'auto' = 1): EngineFactory & { batcher(): RunBatcher | null; batchSize(): number } {
  let shared: Promise<Engine> | null = null;
  let users = 0;
  let batcher: RunBatcher | null = null;
  // 'auto' is decided when the model has loaded and says where it runs.
  let size = batch === 'auto' ? 0 : batch;
  const make = async (): Promise<Engine> => {
    const session = await Session.load(source, { ...runtime, ...(modelsDir ? { modelsDir } : {}) });
    if (batch === 'auto') size = autoBatch(session.runtime.device, session.memoryLimit(), session.spec ? estimateRun(session.spec, session.info.inputSize).total : null);
    const runs = size > 1 ? (batcher = new RunBatcher(session, size)).asSession() : session;
    return {
      info: session.info,
      alive: true,
      async exportOne(t) {
        const bytes = await readFileOrFail(t.path);
        return exportImage({
          session: runs, appVersion: version, imageName: t.path, bytes, outDir: t.outDir, folder: t.folder,
          modules: t.modules, kinds: t.kinds, settings: t.settings, keepExisting: t.keepExisting,
        });
      },
      async close() {
        if (batch !== 1 && --users > 0) return;
        session.dispose();
      },
    };
  };
  return {
    kind: 'in-process',
    batcher: () => batcher,
    batchSize: () => size || 1,
    async start() {
      if (batch === 1) return make();
      users++;
      shared ??= make();
      return shared;
    },
  };
}

async function readFileOrFail(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new EngineError('io', `cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** Engines in worker threads; each loads the model itself. */
export function workerFactory(workerUrl: URL, source: ModelSource, runtime: RuntimeChoice = { runtime: 'ort' }): EngineFactory {
  return {
    kind: 'worker',
    async start() {
      const worker = new Worker(workerUrl, { workerData: { sources: ['builtin', 'bytes', 'path'], paths: 'all', runtime } });
      let nextId = 1;
      const waiting = new Map<number, { resolve(m: EngineMessage): void; reject(e: Error): void }>();
      let dead: Error | null = null;
      const failAll = (err: Error) => {
        dead = err;
        for (const w of waiting.values()) w.reject(err);
        waiting.clear();
      };
      worker.on('message', (m: EngineMessage) => {
        if (m.id === null || m.type.endsWith('Progress')) return;
        const w = waiting.get(m.id);
        if (!w) return;
        waiting.delete(m.id);
        if (m.type === 'error') w.reject(new EngineError(m.code, m.message, m.hint));
        else w.resolve(m);
      });
      worker.on('error', (err) => failAll(new EngineError('internal', `the engine worker failed: ${err.message}`)));
      worker.on('exit', (code) => failAll(new EngineError('internal', `the engine worker exited (code ${code})`)));
      const request = (msg: { type: string; [k: string]: unknown }): Promise<EngineMessage> => {
        if (dead) return Promise.reject(dead);
        const id = nextId++;
        return new Promise((resolve, reject) => {
          waiting.set(id, { resolve, reject });
          worker.postMessage({ ...msg, id });
        });
      };
      let info: ModelInfo;
      try {
        const reply = await request({ type: 'loadModel', source });
        if (reply.type !== 'modelInfo') throw new EngineError('internal', `unexpected reply ${reply.type} to loadModel`);
        info = reply.info;
      } catch (err) {
        await worker.terminate();
        throw err;
      }
      return {
        info,
        get alive() { return dead === null; },
        async exportOne(t) {
          const msg: Omit<ExportRequest, 'id'> = {
            type: 'export', image: { kind: 'path', path: t.path }, kinds: t.kinds, settings: t.settings,
            destination: { kind: 'dir', path: t.outDir }, keepExisting: t.keepExisting, folder: t.folder, manifest: false,
            ...(t.modules ? { modules: t.modules } : {}),
          };
          const reply = await request(msg);
          if (reply.type !== 'exportDone') throw new EngineError('internal', `unexpected reply ${reply.type} to export`);
          return reply.entries;
        },
        async close() { await worker.terminate(); },
      };
    },
  };
}

export interface PoolEvents {
  onStart?(item: ExportTask): void;
  onDone(item: ExportTask, result: { entries: ExportFileEntry[] } | { error: unknown }): void;
}

/**
 * Runs every task on `jobs` engines (started in parallel). A task that throws is reported
 * and the batch goes on; an engine that dies is replaced once per task. `stop()` ends the
 * batch after the tasks in flight.
 */
export async function runPool(
  factory: EngineFactory, first: Engine, jobs: number, tasks: readonly ExportTask[], events: PoolEvents, shouldStop: () => boolean,
): Promise<void> {
  let next = 0;
  const lane = async (engine: Engine | null): Promise<void> => {
    let current = engine;
    try {
      while (next < tasks.length && !shouldStop()) {
        if (!current) {
          try {
            current = await factory.start();
          } catch {
            return; // this lane cannot get an engine; the others carry on
          }
          if (shouldStop() || next >= tasks.length) return;
        }
        const task = tasks[next++]!;
        events.onStart?.(task);
        try {
          events.onDone(task, { entries: await current.exportOne(task) });
        } catch (error) {
          events.onDone(task, { error });
        }
        if (!current.alive) {
          await current.close().catch(() => {});
          current = null;
        }
      }
    } finally {
      await current?.close();
    }
  };
  const lanes = [lane(first)];
  for (let i = 1; i < Math.min(jobs, tasks.length); i++) lanes.push(lane(null));
  await Promise.all(lanes);
}
