// The ImageNet-1k class names shipped with the app (assets/imagenet/classes.json, made
// by tools/make_imagenet_classes.mjs; provenance and license in assets/imagenet/LICENSE.md):
// the labels of every 1000-class hub model and of imported ImageNet classifiers.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineError } from '../errors';

let cache: string[] | null = null;

/** Finds assets/imagenet/classes.json above this file: the source tree, dist/engine, or a packaged app's resources. */
export function imagenetClassesPath(): string | null {
  if (process.env.ATTNSCOPE_IMAGENET_CLASSES) return process.env.ATTNSCOPE_IMAGENET_CLASSES;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 7; i++) {
    const candidate = join(dir, 'assets', 'imagenet', 'classes.json');
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  const cwd = join(process.cwd(), 'assets', 'imagenet', 'classes.json');
  return existsSync(cwd) ? cwd : null;
}

/** The 1000 ImageNet-1k class names in class-index order ("tench", "goldfish", ...). */
export function imagenetClasses(): string[] {
  if (cache) return cache.slice();
  const path = imagenetClassesPath();
  if (!path) {
    throw new EngineError('not-found', 'The ImageNet class names (assets/imagenet/classes.json) are missing from this installation.',
      'Reinstall AttnScope; from source, run node tools/make_imagenet_classes.mjs.');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new EngineError('io', `Cannot read the ImageNet class names ${path}: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed) || parsed.length !== 1000 || !parsed.every((c) => typeof c === 'string' && c.length > 0)) {
    throw new EngineError('io', `${path} is not a list of 1000 class names.`);
  }
  cache = parsed as string[];
  return cache.slice();
}
