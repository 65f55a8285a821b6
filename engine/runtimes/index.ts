// Runtime choice (DESIGN.md "One graph, two runtimes"): `ort` by default, `tfjs` on request
// or for what needs gradients.

import type { BackendChoice } from '../backend';
import { encodeModel } from '../graph/builder';
import type { OnnxTypes } from '../graph/onnx';
import { createOrtRunner, ortInfo } from './ort';
import { createTfjsRunner, tfjsInfo } from './tfjs';
import type { GraphRunner, RuntimeInfo, RuntimeName } from './types';

export const DEFAULT_RUNTIME: RuntimeName = 'ort';

export interface RunnerOptions {
  runtime?: RuntimeName;
  /** tfjs only: the backend to force. */
  backend?: BackendChoice;
  /** ort only: intra-op threads (default: one per core). */
  threads?: number;
}

/** A runner for one graph; `bypassModules` are the modules with a `<module>.bypass` input. */
export async function createRunner(model: OnnxTypes.IModelProto, bypassModules: string[], opts: RunnerOptions = {}): Promise<GraphRunner> {
  const runtime = opts.runtime ?? DEFAULT_RUNTIME;
  if (runtime === 'tfjs') return createTfjsRunner(model, bypassModules, opts.backend);
  return createOrtRunner(encodeModel(model), bypassModules, opts.threads !== undefined ? { threads: opts.threads } : {});
}

export { isRuntimeName, RUNTIME_NAMES, type GraphRunner, type RuntimeInfo, type RuntimeName } from './types';

/** What a runtime would run on, without building a graph (hello, `--verbose`). */
export async function describeRuntime(runtime: RuntimeName, opts: Omit<RunnerOptions, 'runtime'> = {}): Promise<RuntimeInfo> {
  return runtime === 'tfjs' ? tfjsInfo(opts.backend) : ortInfo(opts.threads);
}
