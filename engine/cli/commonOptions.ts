// Options several commands share: which model (--weights / --model / the first built-in
// one) and tiled runs (--tile / --overlap), each parsed and checked in one place.

import { resolve } from 'node:path';
import { EngineError } from '../errors';
import { findHubModel } from '../hub/catalogue';
import { listBuiltinModels } from '../models';
import type { ModelSource } from '../protocol';

/**
 * --weights FILE, else --model NAME (a built-in model, or one of the hub catalogue's once
 * `attnscope models pull NAME` has downloaded it), else the first built-in model in modelsDir.
 */
export function modelSource(values: { weights?: string; model?: string }, modelsDir: string): ModelSource {
  if (values.weights) return { kind: 'path', path: resolve(values.weights) };
  if (values.model) {
    const hub = !listBuiltinModels(modelsDir).includes(values.model) ? findHubModel(values.model) : undefined;
    return hub ? { kind: 'hub', name: hub.name } : { kind: 'builtin', name: values.model };
  }
  const first = listBuiltinModels(modelsDir)[0];
  if (!first) {
    throw new EngineError('no-model', `No --weights given and no built-in model found in ${modelsDir}.`,
      'Pass --weights FILE (a .pth, .pth.tar or .safetensors checkpoint).');
  }
  return { kind: 'builtin', name: first };
}

/**
 * --tile N [--overlap K] as RunOptions.tile (undefined without --tile). Tiles run the image at
 * its own resolution, so they do not go with --input-size or --resize.
 */
export function tileOption(
  values: { tile?: string; overlap?: string; 'input-size'?: string; resize?: string },
  usage: (msg: string) => EngineError,
): { size: number; overlap?: number } | undefined {
  const whole = (flag: string, text: string | undefined, min: number): number | undefined => {
    if (text === undefined) return undefined;
    const v = Number(text);
    if (!Number.isInteger(v) || v < min || v > 4096) throw usage(`${flag} must be a whole number from ${min} to 4096, not "${text}".`);
    return v;
  };
  const size = whole('--tile', values.tile, 8);
  const overlap = whole('--overlap', values.overlap, 0);
  if (overlap !== undefined && size === undefined) throw usage('--overlap goes with --tile.');
  if (size === undefined) return undefined;
  if (values['input-size'] !== undefined || values.resize !== undefined) {
    throw usage('--tile runs the image at its own resolution: give --tile or --input-size / --resize, not both.');
  }
  return { size, ...(overlap !== undefined ? { overlap } : {}) };
}
