// Where the built app lives, from source (tests) or from the bundle (dist/engine/*.js).

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

let cached: string | null = null;

/** The package root: the nearest folder above this file with AttnScope's package.json. */
export function appRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'attnscope') return (cached = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the attnscope package root');
    dir = up;
  }
}

export function appVersion(): string {
  return (JSON.parse(readFileSync(join(appRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export const workerEntryUrl = (): URL => pathToFileURL(join(appRoot(), 'dist/engine/host/worker.js'));
export const rendererDir = (): string => join(appRoot(), 'dist/renderer');
