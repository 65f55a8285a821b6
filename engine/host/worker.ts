// worker_threads entry (tests, web mode, CLI batch workers): the engine on parentPort.
// workerData: { sources?: ('builtin'|'bytes'|'path')[]; paths?: 'all' | 'none'; preload?: ModelSource;
//   runtime?: { runtime, backend?, threads? } (the default runtime of loadModel requests) }.

import { parentPort, workerData } from 'node:worker_threads';
import { ALLOW_ALL_PATHS, NO_PATHS } from '../core';
import type { ModelSource } from '../protocol';
import { defaultProvider } from '../provider';
import type { RuntimeChoice } from '../cli/runtimeOptions';
import { startEngine } from './start';

interface WorkerOptions { sources?: Array<'builtin' | 'bytes' | 'path'>; paths?: 'all' | 'none'; preload?: ModelSource; runtime?: RuntimeChoice }

if (!parentPort) throw new Error('engine/host/worker.js must run in a worker thread');
const parent = parentPort;
const options = (workerData ?? {}) as WorkerOptions;
const core = startEngine(
  {
    postMessage: (msg, transfer) => parent.postMessage(msg, transfer),
    onMessage: (listener) => { parent.on('message', listener); },
  },
  {
    ...(options.sources ? { sources: options.sources } : {}),
    paths: options.paths === 'none' ? NO_PATHS : ALLOW_ALL_PATHS,
    ...(options.runtime ? { provider: defaultProvider(options.runtime) } : {}),
  },
);
if (options.preload) core.preload(options.preload);
