// The engine worker (engine/host/worker.ts) plus one bench-only message, answered before
// the protocol sees it: {type: '__benchStats'} -> tfjs memory and this process's memory.
// Only the bench builds this entry; the app's worker has no such message.

import * as tf from '@tensorflow/tfjs-core';
import { parentPort } from 'node:worker_threads';
import { ALLOW_ALL_PATHS } from '../engine/core';
import { startEngine } from '../engine/host/start';

if (!parentPort) throw new Error('bench/soakWorker must run in a worker thread');
const parent = parentPort;
startEngine(
  {
    postMessage: (msg, transfer) => parent.postMessage(msg, transfer),
    onMessage: (listener) => {
      parent.on('message', (msg: unknown) => {
        if (typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === '__benchStats') {
          // With the ort runtime tfjs never initialises a backend: it holds no tensors.
          const mem = tf.getBackend() ? tf.memory() : { numTensors: 0, numBytes: 0 };
          const usage = process.memoryUsage();
          parent.postMessage({ type: '__benchStats', numTensors: mem.numTensors, numBytes: mem.numBytes, rss: usage.rss, heapUsed: usage.heapUsed, external: usage.external, arrayBuffers: usage.arrayBuffers });
          return;
        }
        listener(msg);
      });
    },
  },
  { paths: ALLOW_ALL_PATHS },
);
