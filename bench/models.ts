// Model descriptions shared by the benches (no side effects: safe to import anywhere).

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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

/** The first assets/models/<name>/manifest.json with a spec and a safetensors file. */
export function findBuiltinModel(): ModelJob | null {
  const dir = join(ROOT, 'assets', 'models');
  if (!existsSync(dir)) return null;
  for (const name of readdirSync(dir).sort()) {
    const manifestPath = join(dir, name, 'manifest.json');
    if (!existsSync(manifestPath)) continue;
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
    const spec = (m.spec ?? m.arch) as ModelJob['spec'] | undefined;
    const weightsName = [m.weights, m.file, 'model.safetensors', 'weights.safetensors']
      .find((w): w is string => typeof w === 'string' && existsSync(join(dir, name, w)));
    const size = Number(m.inputSize ?? 224);
    if (spec && typeof spec === 'object' && weightsName) {
      return { name: `builtin:${name}`, spec, size, seed: 1, weights: join(dir, name, weightsName) };
    }
  }
  return null;
}

