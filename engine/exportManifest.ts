// export.json: one per export folder, listing every file an export wrote or kept, with
// the same fields as the PNG text chunks, plus the inputs that failed and why. A later
// export into the same folder (resume, another image from the GUI) merges into it.

import { readFile } from 'node:fs/promises';
import type { ExportedFile, ExportMetadata } from './exportJob';
import { insideDir, writeFileAtomic } from './exportJob';

export const MANIFEST_NAME = 'export.json';

export interface ManifestFile extends ExportMetadata { path: string }
export interface ManifestFailure { input: string; reason: string }

export interface Manifest {
  app: 'AttnScope';
  format: 1;
  /** A shard's manifest (`export --shard i/n`): which slice of how many inputs it covers. */
  shard?: ShardInfo;
  files: ManifestFile[];
  failed: ManifestFailure[];
}

/** Shard `index` (0-based) of `count`, over `inputs` images in all. */
export interface ShardInfo { index: number; count: number; inputs: number }

/** A shard writes its own manifest, so shards sharing one folder never write the same file. */
export const shardManifestName = (s: Pick<ShardInfo, 'index' | 'count'>): string => `export.shard-${s.index}-of-${s.count}.json`;

export async function readManifest(dir: string, name = MANIFEST_NAME): Promise<Manifest | null> {
  try {
    const m = JSON.parse(await readFile(insideDir(dir, name), 'utf8')) as Manifest;
    return Array.isArray(m.files) ? { ...m, failed: Array.isArray(m.failed) ? m.failed : [] } : null;
  } catch {
    return null;
  }
}

/**
 * Merges this export's files into `dir`/export.json. A kept file (resume) keeps its old
 * entry when there is one, since that entry knows the value range it was drawn with.
 * `failed` replaces the old list for the inputs this export tried.
 */
export async function updateManifest(
  dir: string, files: readonly ExportedFile[], failed: readonly ManifestFailure[], tried: readonly string[] = [], shard?: ShardInfo,
): Promise<Manifest> {
  const name = shard ? shardManifestName(shard) : MANIFEST_NAME;
  const old = await readManifest(dir, name);
  const byPath = new Map<string, ManifestFile>((old?.files ?? []).map((f) => [f.path, f]));
  for (const f of files) {
    const prev = byPath.get(f.path);
    if (f.written || !prev) byPath.set(f.path, { path: f.path, ...f.meta });
  }
  const triedSet = new Set([...tried, ...failed.map((f) => f.input)]);
  const failures = [...(old?.failed ?? []).filter((f) => !triedSet.has(f.input)), ...failed];
  const manifest = sortedManifest([...byPath.values()], failures, shard);
  await writeFileAtomic(insideDir(dir, name), Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));
  return manifest;
}

/** A manifest with its files sorted by path and its failures by input (one order, whatever wrote it). */
export function sortedManifest(files: ManifestFile[], failed: ManifestFailure[], shard?: ShardInfo): Manifest {
  return {
    app: 'AttnScope',
    format: 1,
    ...(shard ? { shard } : {}),
    files: [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    failed: [...failed].sort((a, b) => (a.input < b.input ? -1 : a.input > b.input ? 1 : 0)),
  };
}
