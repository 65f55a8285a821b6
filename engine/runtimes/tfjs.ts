// Runtime `tfjs`: the attention graph interpreted with TensorFlow.js ops
// (tfjs/interpreter.ts) on the backend chain of engine/backend.ts (tensorflow via
// tfjs-node-gpu / tfjs-node where installed, wasm, cpu). It has gradients.

import * as tf from '@tensorflow/tfjs-core';
import { backendOnGpu, type BackendChoice, initBackend } from '../backend';
import { bypassInput, INPUT } from '../graph/names';
import type { OnnxTypes } from '../graph/onnx';
import { type Feed, GraphInterpreter } from './tfjs/interpreter';
import type { GraphRunner, OutputTensor, RunRequest } from './types';

export interface TfjsRunner extends GraphRunner {
  /** The interpreter, for gradients (tf.grad through `run` with intermediate feeds). */
  readonly interpreter: GraphInterpreter;
  /** Feeds for one request, as the interpreter takes them. */
  feeds(req: Omit<RunRequest, 'fetch'>): Map<string, Feed>;
}

export async function createTfjsRunner(model: OnnxTypes.IModelProto, bypassModules: string[], backend?: BackendChoice): Promise<TfjsRunner> {
  const chosen = await initBackend(backend);
  const interpreter = new GraphInterpreter(model);
  const name = tf.getBackend();
  const feeds = (req: Omit<RunRequest, 'fetch'>): Map<string, Feed> => {
    const m = new Map<string, Feed>([[INPUT, req.input]]);
    for (const mod of bypassModules) m.set(bypassInput(mod), { bool: req.bypass.has(mod) });
    return m;
  };
  return {
    info: {
      runtime: 'tfjs',
      device: backendOnGpu() ? 'gpu' : 'cpu',
      backend: name,
      threads: 1,
      detail: `TensorFlow.js ${tf.version_core}, ${chosen.detail}`,
    },
    interpreter,
    feeds,
    async run(req: RunRequest): Promise<Map<string, OutputTensor>> {
      const out = interpreter.run(feeds(req), req.fetch);
      const result = new Map<string, OutputTensor>();
      try {
        for (const [k, t] of out) result.set(k, { data: (await t.data()) as Float32Array, dims: [...t.shape] });
      } finally {
        for (const t of out.values()) t.dispose();
      }
      return result;
    },
    async dispose() {
      interpreter.dispose();
    },
  };
}
