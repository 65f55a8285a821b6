// Built-in models: assets/models/<name>/manifest.json beside a weights file.
//   { "name", "weights": "model.safetensors", "spec": NetSpec, "classes": [...],
//     "inputSize", "mean", "std", "defaultVisible": [...],
//     optional "description", "resize" }
// The manifest is read strictly: a broken built-in model should say what is wrong with it.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from './errors';
import type { NetSpec } from './nets/spec';
import type { ResizeMode } from './types';

export interface ModelManifest {
  name: string;
  weights: string;
  spec: NetSpec;
  classes: string[] | null;
  inputSize: number;
  mean: [number, number, number];
  std: [number, number, number];
  defaultVisible?: string[];
  description?: string;
  resize?: ResizeMode;
}

/** Names of the model directories that hold a manifest.json, sorted. */
export function listBuiltinModels(modelsDir: string): string[] {
  if (!existsSync(modelsDir)) return [];
  return readdirSync(modelsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(modelsDir, d.name, 'manifest.json')))
    .map((d) => d.name)
    .sort();
}

export function readManifest(dir: string): ModelManifest {
  const path = join(dir, 'manifest.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new EngineError(code === 'ENOENT' ? 'not-found' : 'bad-checkpoint',
      code === 'ENOENT' ? `No built-in model at ${dir} (no manifest.json).` : `${path} is not valid JSON: ${(err as Error).message}`);
  }
  const m = raw as Partial<ModelManifest> & Record<string, unknown>;
  const fail = (what: string): never => {
    throw new EngineError('bad-checkpoint', `${path}: ${what}.`);
  };
  if (typeof m !== 'object' || m === null) fail('not a JSON object');
  if (typeof m.name !== 'string') fail('"name" must be a string');
  if (typeof m.weights !== 'string' || m.weights.includes('..')) fail('"weights" must name a file in the model directory');
  if (typeof m.spec !== 'object' || m.spec === null || (m.spec as NetSpec).family !== 'resnet') fail('"spec" must be a NetSpec with family "resnet"');
  const strides = (m.spec as NetSpec).strides;
  if (strides !== undefined && !(Array.isArray(strides) && strides.length === 4 && strides.every((v) => v === 1 || v === 2))) {
    fail('"spec.strides" must be four strides of 1 or 2');
  }
  const triple = (v: unknown): v is [number, number, number] => Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && x > -10 && x < 10);
  if (m.mean !== undefined && !triple(m.mean)) fail('"mean" must be three numbers');
  if (m.std !== undefined && (!triple(m.std) || m.std.some((s) => s <= 0))) fail('"std" must be three positive numbers');
  if (m.inputSize !== undefined && (!Number.isInteger(m.inputSize) || (m.inputSize as number) < 8)) fail('"inputSize" must be an integer >= 8');
  if (m.classes != null && (!Array.isArray(m.classes) || m.classes.some((c) => typeof c !== 'string'))) fail('"classes" must be a list of strings');
  if (m.classes && m.classes.length !== (m.spec as NetSpec).numClasses) fail(`"classes" has ${m.classes.length} names but the spec has ${(m.spec as NetSpec).numClasses} classes`);
  if (!existsSync(join(dir, m.weights as string))) fail(`the weights file "${m.weights}" is missing`);
  return {
    name: m.name as string,
    weights: m.weights as string,
    spec: m.spec as NetSpec,
    classes: (m.classes as string[] | undefined) ?? null,
    inputSize: (m.inputSize as number | undefined) ?? ((m.spec as NetSpec).stem === 'cifar' ? 32 : 224),
    mean: (m.mean as [number, number, number] | undefined) ?? [0.485, 0.456, 0.406],
    std: (m.std as [number, number, number] | undefined) ?? [0.229, 0.224, 0.225],
    ...(Array.isArray(m.defaultVisible) ? { defaultVisible: m.defaultVisible as string[] } : {}),
    ...(typeof m.description === 'string' ? { description: m.description } : {}),
    ...(m.resize === 'stretch' || m.resize === 'pad' || m.resize === 'center-crop' ? { resize: m.resize } : {}),
  };
}
