// worker_threads entry (tests, web mode, CLI batch workers): the engine on parentPort.
// workerData: { sources?: ('builtin'|'bytes'|'path')[]; paths?: 'all' | 'none'; preload?: ModelSource }.

import { parentPort, workerData } from 'node:worker_threads';
import { ALLOW_ALL_PATHS, NO_PATHS } from '../core';
import type { ModelSource } from '../protocol';
import { startEngine } from './start';

interface WorkerOptions { sources?: Array<'builtin' | 'bytes' | 'path'>; paths?: 'all' | 'none'; preload?: ModelSource }

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
  },
);
if (options.preload) core.preload(options.preload);
