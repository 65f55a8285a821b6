// Where downloaded hub models live, and how a repo id becomes a folder there.
//   <cache>/hub/<owner>--<name>/config.json
//   <cache>/hub/<owner>--<name>/model.safetensors
//   <cache>/hub/<owner>--<name>/source.json      (repo, sha256, size, when)
// <cache>: ATTNSCOPE_CACHE, else the platform's cache folder: Linux and others
// $XDG_CACHE_HOME/attnscope or ~/.cache/attnscope, macOS ~/Library/Caches/AttnScope,
// Windows %LOCALAPPDATA%\AttnScope\Cache.
// Files appear only after their hash was checked (renamed into place), so a folder with
// both files is a complete model and reading it needs no network.

import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve, win32 } from 'node:path';
import { EngineError } from '../errors';
import { estimatedBytes, findHubModel, HUB_MODELS, type HubModelState } from './catalogue';
import type { Env } from './proxy';

export const HUB_FILES = ['config.json', 'model.safetensors'] as const;

/** The cache root for this platform and environment. */
export function defaultCacheDir(env: Env = process.env, platform: NodeJS.Platform = process.platform, home: string = homedir()): string {
  const override = env.ATTNSCOPE_CACHE?.trim();
  if (override) return resolve(override);
  if (platform === 'win32') {
    const local = env.LOCALAPPDATA?.trim();
    return win32.join(local && win32.isAbsolute(local) ? local : win32.join(home, 'AppData', 'Local'), 'AttnScope', 'Cache');
  }
  if (platform === 'darwin') return join(home, 'Library', 'Caches', 'AttnScope');
  const xdg = env.XDG_CACHE_HOME?.trim();
  // The XDG spec: a relative XDG_CACHE_HOME is invalid and ignored.
  return join(xdg && isAbsolute(xdg) ? xdg : join(home, '.cache'), 'attnscope');
}

// Hugging Face's rules for a repo name part, stricter where it matters here: starts with a
// letter or digit, no "..", no "--" (the folder name joins owner and name with "--").
const PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_-])?$/;

/**
 * The hub repo id for a catalogue name ('seresnet50', 'seresnet50.a1_in1k') or a repo id
 * ('timm/seresnet50.a1_in1k', 'owner/name'). Refuses anything that could name a folder
 * outside the cache (slashes, '..', backslashes, odd characters).
 */
export function repoIdOf(nameOrRepo: string): string {
  const known = findHubModel(nameOrRepo);
  if (known) return known.repo;
  const parts = nameOrRepo.trim().split('/');
  const ok = parts.length === 2 && parts.every((p) => PART.test(p) && !p.includes('..') && !p.includes('--'));
  if (!ok) {
    throw new EngineError('bad-request', `"${nameOrRepo.slice(0, 200)}" is neither a model of the catalogue nor a hub repo id like timm/seresnet50.a1_in1k.`,
      'See `attnscope models list` for the models AttnScope knows.');
  }
  return parts.join('/');
}

/** The folder of a repo in the cache: <cache>/hub/<owner>--<name>. */
export function repoDir(repo: string, cacheDir: string = defaultCacheDir()): string {
  const id = repoIdOf(repo);
  return join(cacheDir, 'hub', id.replace('/', '--'));
}

/** A file name the hub layout may use: one plain name, no folders. */
export function checkFileName(file: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/.test(file) || file.includes('..')) {
    throw new EngineError('bad-request', `"${file.slice(0, 200)}" is not a plain file name.`);
  }
  return file;
}

function isFile(path: string): boolean {
  try {
    const s = statSync(path);
    return s.isFile() && s.size > 0;
  } catch {
    return false;
  }
}

/**
 * The cached folder of a hub model (config.json + model.safetensors, both checked when
 * they were downloaded), or null when it has not been pulled. No network.
 */
export function resolveHubModel(name: string, options: { cacheDir?: string } = {}): string | null {
  const dir = repoDir(name, options.cacheDir ?? defaultCacheDir());
  return HUB_FILES.every((f) => isFile(join(dir, f))) ? dir : null;
}

/** The catalogue with each model's cache state. No network. */
export function listHubModels(cacheDir: string = defaultCacheDir()): HubModelState[] {
  return HUB_MODELS.map((m) => {
    const dir = resolveHubModel(m.repo, { cacheDir });
    if (dir) return { ...m, cached: true, bytes: statSync(join(dir, 'model.safetensors')).size, bytesEstimated: false };
    return { ...m, cached: false, bytes: estimatedBytes(m), bytesEstimated: m.sizeBytes === undefined };
  });
}
