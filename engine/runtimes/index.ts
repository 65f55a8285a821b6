// Runtime choice (DESIGN.md "One graph, two runtimes"): `ort` by default, `tfjs` on request
// or for what needs gradients.

import type { BackendChoice } from '../backend';
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
    return createTfjsRunner(model, bypassModules, opts.backend);
  }
  return createOrtRunner(encodeModel(model), bypassModules, {
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
    ...(opts.device !== undefined ? { device: opts.device } : {}),
    ...(opts.externalDataDir ? { externalDataDir: opts.externalDataDir } : {}),
  });
}

export { isRuntimeName, RUNTIME_NAMES, type GraphRunner, type RuntimeInfo, type RuntimeName } from './types';

/** What a runtime would run on, without building a graph (hello, `--verbose`). */
export async function describeRuntime(runtime: RuntimeName, opts: Omit<RunnerOptions, 'runtime'> = {}): Promise<RuntimeInfo> {
  return runtime === 'tfjs' ? tfjsInfo(opts.backend) : ortInfo(opts.threads);
}
