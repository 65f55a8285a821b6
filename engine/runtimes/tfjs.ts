// Runtime `tfjs`: the attention graph interpreted with TensorFlow.js ops
// (tfjs/interpreter.ts) on the backend chain of engine/backend.ts (tensorflow via
// tfjs-node-gpu / tfjs-node where installed, wasm, cpu). It has gradients.

import * as tf from '@tensorflow/tfjs-core';
import { backendOnGpu, type BackendChoice, initBackend } from '../backend';
import { EngineError } from '../errors';
import { bypassInput, INPUT, QUERY_ROWS_SUFFIX, queryRowsInput } from '../graph/names';
import type { OnnxTypes } from '../graph/onnx';
import { type Feed, GraphInterpreter } from './tfjs/interpreter';
import type { GraphRunner, OutputTensor, RunRequest, RuntimeInfo } from './types';

export interface TfjsRunner extends GraphRunner {
  /** The interpreter, for gradients (tf.grad through `run` with intermediate feeds). */
  readonly interpreter: GraphInterpreter;
  /** Feeds for one request, as the interpreter takes them. */
  feeds(req: Omit<RunRequest, 'fetch'>): Map<string, Feed>;
}

/** TensorFlow.js's wasm heap: 32-bit addresses, and tfjs grows it to 2 GiB at most. */
const WASM_HEAP_BYTES = 2 * 2 ** 30;

/** Ops the interpreter computes on int32 tensors (sorting, hashing): not on WebGPU. */
const WEBGPU_REFUSED: ReadonlySet<string> = new Set(['ArgMax', 'ArgMin', 'TopK', 'GatherElements', 'Mod']);

/** What the tfjs runtime runs on (initialises the backend chain on first call). */
export async function tfjsInfo(backend?: BackendChoice): Promise<RuntimeInfo> {
  const chosen = await initBackend(backend);
  return {
    runtime: 'tfjs',
    device: backendOnGpu() ? 'gpu' : 'cpu',
    backend: tf.getBackend(),
    threads: 1,
    detail: `TensorFlow.js ${tf.version_core}, ${chosen.detail}`,
  };
}

export async function createTfjsRunner(model: OnnxTypes.IModelProto, bypassModules: string[], backend?: BackendChoice, opts: { differentiable?: boolean } = {}): Promise<TfjsRunner> {
  const info = await tfjsInfo(backend);
  const interpreter = new GraphInterpreter(model, opts);
  // Integer index ops have no working WebGPU kernels in tfjs (WGSL type errors that leave the
  // device unusable for the next model): refused before anything runs on the GPU.
  const indexOp = info.backend === 'webgpu' ? interpreter.findOp(WEBGPU_REFUSED) : null;
  if (indexOp) {
    interpreter.dispose();
    throw new EngineError('unsupported-op', `The tfjs runtime's WebGPU backend cannot run "${indexOp.op}" (node "${indexOp.name}"): its integer kernels are broken there.`,
      'Run this model with the ort runtime (--runtime ort), or tfjs on the CPU (--device cpu).');
  }
  const rowModules = (model.graph?.input ?? []).map((v) => v.name ?? '').filter((n) => n.endsWith(QUERY_ROWS_SUFFIX)).map((n) => n.slice(0, -QUERY_ROWS_SUFFIX.length));
  const feeds = (req: Omit<RunRequest, 'fetch'>): Map<string, Feed> => {
    const m = new Map<string, Feed>([[INPUT, req.input]]);
    for (const mod of bypassModules) m.set(bypassInput(mod), { bool: req.bypass.has(mod) });
    for (const mod of rowModules) m.set(queryRowsInput(mod), { ints: req.queryRows?.get(mod) ?? [0] });
    return m;
  };
  return {
    info,
    ...(info.backend === 'wasm' ? { memoryCap: WASM_HEAP_BYTES } : {}),
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
