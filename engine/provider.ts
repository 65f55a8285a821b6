// The real engine behind the core: sessions from engine/session.ts on the chosen runtime
// (engine/runtimes), and what hello reports.

import type { BackendChoice } from './backend';
import { READERS } from './checkpoints';
import { COLORMAP_NAMES, colormapLut } from './colormaps';
import type { SessionProvider } from './core';
import { appVersion } from './host/paths';
import { imageFormats } from './image';
import { listBuiltinModels } from './models';
import { DEFAULT_RUNTIME, describeRuntime, RUNTIME_NAMES, type RuntimeName, type DeviceChoice } from './runtimes';
import { defaultModelsDir, Session } from './session';
import type { ModuleKind } from './types';

const MODULE_KINDS: ModuleKind[] = ['cbam', 'se', 'bam', 'nonlocal', 'gc'];

export interface ProviderOptions {
  /** The runtime a loadModel request that names none gets (default `ort`). */
  runtime?: RuntimeName;
  /** tfjs runtime: the backend to force. */
  backend?: BackendChoice;
  /** ort runtime: intra-op threads. */
  threads?: number;
  /** ort runtime: cpu, gpu or auto (runtimes/ort.ts). */
  device?: DeviceChoice;
  /** Bytes a run may use (engine/memory.ts); default: 90% of available memory. */
  maxMemory?: number;
  modelsDir?: string;
}

export function defaultProvider(options: ProviderOptions = {}): SessionProvider {
  const modelsDir = options.modelsDir ?? defaultModelsDir();
  const runtime = options.runtime ?? DEFAULT_RUNTIME;
  let colormaps: { name: string; lut: number[] }[] | null = null;
  return {
    version: appVersion(),
    open: (request, onProgress, signal) => Session.load(request.source, {
      onProgress, signal, modelsDir,
      runtime: request.runtime ?? runtime,
      ...(options.backend ? { backend: options.backend } : {}),
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      ...(request.device ?? options.device ? { device: request.device ?? options.device } : {}),
      ...(request.arch ? { arch: request.arch } : {}),
      ...(request.inputSize ? { inputSize: request.inputSize } : {}),
      ...(options.maxMemory !== undefined ? { maxMemory: options.maxMemory } : {}),
    }),
    runtime: () => describeRuntime(runtime, options),
    async capabilities() {
      colormaps ??= COLORMAP_NAMES.map((name) => ({ name, lut: Array.from(colormapLut(name)) }));
      return {
        formats: READERS.map((r) => r.format),
        modules: [...MODULE_KINDS],
        builtinModels: listBuiltinModels(modelsDir),
        imageFormats: imageFormats(),
        colormaps,
        runtimes: [...RUNTIME_NAMES],
      };
    },
  };
}
