// The real engine behind the core: sessions from engine/session.ts, the backend from
// engine/backend.ts, and what hello reports.

import { type BackendChoice, initBackend } from './backend';
import { READERS } from './checkpoints';
import { COLORMAP_NAMES, colormapLut } from './colormaps';
import type { SessionProvider } from './core';
import { appVersion } from './host/paths';
import { imageFormats } from './image';
import { listBuiltinModels } from './models';
import { defaultModelsDir, Session } from './session';
import type { ModuleKind } from './types';

const MODULE_KINDS: ModuleKind[] = ['cbam', 'se', 'bam', 'nonlocal', 'gc'];

export interface ProviderOptions {
  backend?: BackendChoice;
  modelsDir?: string;
}

export function defaultProvider(options: ProviderOptions = {}): SessionProvider {
  const modelsDir = options.modelsDir ?? defaultModelsDir();
  let colormaps: { name: string; lut: number[] }[] | null = null;
  return {
    version: appVersion(),
    open: (request, onProgress, signal) => Session.load(request.source, {
      onProgress, signal, modelsDir, ...(options.backend ? { backend: options.backend } : {}),
    }),
    backend: () => initBackend(options.backend),
    async capabilities() {
      colormaps ??= COLORMAP_NAMES.map((name) => ({ name, lut: Array.from(colormapLut(name)) }));
      return {
        formats: READERS.map((r) => r.format),
        modules: [...MODULE_KINDS],
        builtinModels: listBuiltinModels(modelsDir),
        imageFormats: imageFormats(),
        colormaps,
      };
    },
  };
}
