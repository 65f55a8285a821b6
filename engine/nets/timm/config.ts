// The hub's `config.json` beside a timm checkpoint (huggingface.co/timm/<model>): the
// architecture name, class count and the pretrained config (input size, mean/std,
// interpolation, crop), and class names where the file has them. Read as untrusted JSON:
// every field is checked, anything odd is ignored with a warning, nothing is executed.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface TimmConfig {
  architecture: string;
  numClasses: number | null;
  inputSize: number | null;
  mean: [number, number, number] | null;
  std: [number, number, number] | null;
  interpolation: string | null;
  cropPct: number | null;
  labels: string[] | null;
  warnings: string[];
}

const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

function triple(v: unknown): [number, number, number] | null {
  return Array.isArray(v) && v.length === 3 && v.every((n) => typeof n === 'number' && Number.isFinite(n)) ? v as [number, number, number] : null;
}

/** Parses a config.json's text; null when it is not a timm model config (no `architecture`). */
export function parseTimmConfig(text: string, file: string): TimmConfig | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const c = raw as Record<string, unknown>;
  if (typeof c.architecture !== 'string' || !/^[\w.-]{1,100}$/.test(c.architecture)) return null;
  const warnings: string[] = [];
  const pre = (typeof c.pretrained_cfg === 'object' && c.pretrained_cfg !== null ? c.pretrained_cfg : {}) as Record<string, unknown>;
  const size = Array.isArray(pre.input_size) && pre.input_size.length === 3 ? pre.input_size[2] : null;
  const inputSize = typeof size === 'number' && Number.isInteger(size) && size >= 8 && size <= 4096 ? size : null;
  const num = c.num_classes ?? pre.num_classes;
  const numClasses = typeof num === 'number' && Number.isInteger(num) && num > 0 ? num : null;
  const rawLabels = c.label_names ?? pre.label_names;
  let labels: string[] | null = null;
  if (Array.isArray(rawLabels)) {
    if (rawLabels.every((l) => typeof l === 'string') && (numClasses === null || rawLabels.length === numClasses)) labels = rawLabels as string[];
    else warnings.push(`${file}: label_names is not one name per class; showing class indices.`);
  }
  return {
    architecture: c.architecture,
    numClasses,
    inputSize,
    mean: triple(pre.mean),
    std: triple(pre.std),
    interpolation: typeof pre.interpolation === 'string' ? pre.interpolation : null,
    cropPct: typeof pre.crop_pct === 'number' ? pre.crop_pct : null,
    labels,
    warnings,
  };
}

/** The timm config.json in `dir` (a hub download's folder, or a checkpoint's), or null. */
export function readTimmConfig(dir: string): TimmConfig | null {
  const file = join(dir, 'config.json');
  if (!existsSync(file) || statSync(file).size > MAX_CONFIG_BYTES) return null;
  return parseTimmConfig(readFileSync(file, 'utf8'), file);
}

/** The weights file of a hub-layout folder (config.json + model.safetensors or pytorch_model.bin). */
export function hubWeights(dir: string): string | null {
  if (!existsSync(join(dir, 'config.json'))) return null;
  for (const f of ['model.safetensors', 'pytorch_model.bin']) if (existsSync(join(dir, f))) return join(dir, f);
  return null;
}

export function configBeside(weightsPath: string): TimmConfig | null {
  return readTimmConfig(dirname(weightsPath));
}
