// Bench models: the built-in one if assets/models has it, else random-weight CBAM ResNets
// written once by bench/torch_forward.py into bench/results/weights/ (gitignored).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBuiltinModel, type ModelJob } from './models';
import { RESULTS_DIR, ROOT } from './lib';

const CBAM = { kind: 'cbam', layout: 'official', reduction: 16, attr: 'cbam' } as const;
export const BENCH_MODELS: Record<string, ModelJob> = {
  'cbam-resnet18': { name: 'cbam-resnet18', size: 224, seed: 18, spec: { family: 'resnet', depth: 18, block: 'basic', layers: [2, 2, 2, 2], baseWidth: 64, stem: 'imagenet', attention: CBAM, inserts: [], numClasses: 1000 } },
  // A non-local ResNet-50 (embedded Gaussian, sub-sampled keys, after layer3), plain blocks: the segmentation-style case of big inputs.
  'nl-resnet50': { name: 'nl-resnet50', size: 224, seed: 51, spec: { family: 'resnet', depth: 50, block: 'bottleneck', layers: [3, 4, 6, 3], baseWidth: 64, stem: 'imagenet', attention: { kind: 'none' }, inserts: [{ kind: 'nonlocal', name: 'nl3', after: 3, mode: 'embedded', subSample: true, bn: true }], numClasses: 1000 } },
  'cbam-resnet50': { name: 'cbam-resnet50', size: 224, seed: 50, spec: { family: 'resnet', depth: 50, block: 'bottleneck', layers: [3, 4, 6, 3], baseWidth: 64, stem: 'imagenet', attention: CBAM, inserts: [], numClasses: 1000 } },
};

/** Path of the model's weights (a built-in model's folder, or a cached safetensors file). */
export function benchWeights(name: string): { path: string; size: number; label: string } {
  if (name === 'builtin') {
    const b = findBuiltinModel();
    if (!b?.weights) throw new Error('no built-in model in assets/models');
    return { path: join(b.weights, '..'), size: b.size, label: b.name };
  }
  const job = BENCH_MODELS[name];
  if (!job) throw new Error(`unknown bench model ${name}`);
  const dir = join(RESULTS_DIR, 'weights');
  const path = join(dir, `${name}.safetensors`);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    const jobPath = join(dir, `${name}.job.json`);
    writeFileSync(jobPath, JSON.stringify({ threads: 1, warmup: 0, runs: 1, outDir: dir, models: [job] }));
    const py = spawnSync('/usr/bin/python3', [join(ROOT, 'bench', 'torch_forward.py'), jobPath], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (py.status !== 0 || !existsSync(path)) throw new Error(`could not make ${name} weights: ${py.stderr}`);
  }
  return { path, size: job.size, label: name };
}

/** The default model for the pipeline/soak/export benches: built-in if present. */
export function defaultBenchModel(): string {
  return findBuiltinModel() ? 'builtin' : 'cbam-resnet18';
}
