// Model descriptions shared by the benches (no side effects: safe to import anywhere).

import { join } from 'node:path';
import { listBuiltinModels, readManifest } from '../engine/models';
import type { NetSpec } from '../engine/nets/spec';
import { ROOT } from './lib';

export interface ModelJob {
  name: string;
  spec: Partial<NetSpec> & { layers: number[] };
  size: number;
  seed: number;
  /** Existing weights (built-in model); otherwise torch_forward.py writes random ones. */
  weights?: string;
}

/** The first built-in model (assets/models/<name>), read with the engine's own manifest reader. */
export function findBuiltinModel(): ModelJob | null {
  const dir = join(ROOT, 'assets', 'models');
  const name = listBuiltinModels(dir)[0];
  if (!name) return null;
  const m = readManifest(join(dir, name));
  return { name: `builtin:${name}`, spec: m.spec, size: m.inputSize, seed: 1, weights: join(dir, name, m.weights) };
}

