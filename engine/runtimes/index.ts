// Runtime choice (DESIGN.md "One graph, two runtimes"): `ort` by default, `tfjs` on request
// or for what needs gradients.

import { type BackendChoice, initBackend } from '../backend';
import { EngineError } from '../errors';
import { encodeModel } from '../graph/builder';
import type { OnnxTypes } from '../graph/onnx';
import { createOrtRunner, type DeviceChoice, ortInfo } from './ort';
export { DEVICE_CHOICES, type DeviceChoice, isDeviceChoice, probeShapes } from './ort';
import { createTfjsRunner, tfjsInfo } from './tfjs';
import type { GraphRunner, RuntimeInfo, RuntimeName } from './types';

export const DEFAULT_RUNTIME: RuntimeName = 'ort';

export interface RunnerOptions {
  runtime?: RuntimeName;
  /** tfjs only: the backend to force. */
  backend?: BackendChoice;
  /** ort only: intra-op threads (default: one per core). */
  threads?: number;
  /** ort only: cpu (default), gpu (WebGPU execution provider) or auto (the GPU when one loads). */
  device?: DeviceChoice;
  /** ort only: where an imported model's external data lives. */
  externalDataDir?: string | null;
}

/** A runner for one graph; `bypassModules` are the modules with a `<module>.bypass` input. */
export async function createRunner(model: OnnxTypes.IModelProto, bypassModules: string[], opts: RunnerOptions = {}): Promise<GraphRunner> {
  const runtime = opts.runtime ?? DEFAULT_RUNTIME;
  if (runtime === 'tfjs') {
    if (opts.externalDataDir) throw new EngineError('bad-request', 'This model keeps its weights in external data files, which only the ort runtime reads.', 'Use --runtime ort.');
    return createTfjsRunner(model, bypassModules, await tfjsBackendFor(opts));
  }
  const bytes = encodeModel(model);
  const ortOptions = {
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
    ...(opts.externalDataDir ? { externalDataDir: opts.externalDataDir } : {}),
  };
  const runner = await createOrtRunner(bytes, bypassModules, { ...ortOptions, ...(opts.device !== undefined ? { device: opts.device } : {}) });
  if (runner.info.device !== 'gpu') return runner;
  return withCpuFallback(runner, () => createOrtRunner(bytes, bypassModules, { ...ortOptions, device: 'cpu' }));
}

/**
 * The tfjs backend a load asks for: --backend as given; else --device gpu is WebGPU (Dawn),
 * auto is WebGPU when it loads (else the default chain, the reason kept for the detail), cpu
 * the default chain.
 */
async function tfjsBackendFor(opts: RunnerOptions): Promise<BackendChoice | undefined> {
  if (opts.backend) return opts.backend;
  if (opts.device === 'gpu') return 'webgpu';
  if (opts.device === 'auto') {
    try {
      await initBackend('webgpu');
      return 'webgpu';
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * A GPU runner that survives its GPU: when a run fails on it (the device lost or reset, the
 * driver gone), the graph is built on the CPU, the same run repeated there, and every later
 * run stays on the CPU; takeNotice() says so once. A run that fails on the CPU too was not
 * the GPU's fault: that error is thrown.
 */
export function withCpuFallback(gpu: GraphRunner, makeCpu: () => Promise<GraphRunner>): GraphRunner {
  let active = gpu;
  let cpu: Promise<GraphRunner> | null = null;
  let notice: string | null = null;
  return {
    get info() { return active.info; },
    get memoryCap() { return active.memoryCap; },
    async run(request) {
      if (active !== gpu) return active.run(request);
      try {
        return await gpu.run(request);
      } catch (err) {
        const why = (err instanceof Error ? err.message : String(err)).split('\n')[0] as string;
        cpu ??= makeCpu();
        const fallback = await cpu;
        const out = await fallback.run(request);
        active = fallback;
        notice = `The GPU failed during a run (${why.slice(0, 200)}); AttnScope switched to the CPU and ran it again. Later runs stay on the CPU; reload the model to try the GPU again.`;
        void gpu.dispose().catch(() => {});
        return out;
      }
    },
    takeNotice() {
      const n = notice;
      notice = null;
      return n;
    },
    async dispose() {
      await Promise.all([active.dispose(), ...(active !== gpu ? [] : cpu ? [cpu.then((c) => c.dispose())] : [])]);
    },
  };
}

export { isRuntimeName, RUNTIME_NAMES, type GraphRunner, type RuntimeInfo, type RuntimeName } from './types';

/** What a runtime would run on, without building a graph (hello, `--verbose`). */
export async function describeRuntime(runtime: RuntimeName, opts: Omit<RunnerOptions, 'runtime'> = {}): Promise<RuntimeInfo> {
  return runtime === 'tfjs' ? tfjsInfo(opts.backend) : ortInfo(opts.threads);
}
