// `attnscope export --shard i/n` and `--merge DIR...`: a million images spread over a
// cluster by its own scheduler (a Slurm job array, a Kubernetes indexed Job; docs/cluster.md).
// Shard i of n takes inputs i, i + n, i + 2n ... of the sorted input list, the same list on
// every machine that sees the same files, and writes its own manifest
// (export.shard-<i>-of-<n>.json) so shards can share one output folder. --merge checks that
// every shard of one export is there and joins their manifests into export.json.

import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { EngineError } from '../errors';
import { insideDir, writeFileAtomic } from '../exportJob';
import { type Manifest, type ManifestFailure, type ManifestFile, MANIFEST_NAME, readManifest, shardManifestName, type ShardInfo, sortedManifest } from '../exportManifest';

/** `i/n`, 0-based like SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX. */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || count > 100_000 || index >= count) {
    throw new EngineError('bad-request', `--shard takes i/n with 0 <= i < n (0-based, like $SLURM_ARRAY_TASK_ID), not "${text}".`, 'See `attnscope export --help`.');
  }
  return { index, count };
}

/** The shard's slice of the (sorted, de-duplicated) inputs: every n-th from the i-th. */
export function shardOf<T>(items: readonly T[], shard: { index: number; count: number }): T[] {
  return items.filter((_, k) => k % shard.count === shard.index);
}

const SHARD_FILE = /^export\.shard-(\d+)-of-(\d+)\.json$/;

export interface MergeResult {
  manifest: Manifest;
  shards: number;
  /** Files copied into the output folder from shard folders elsewhere. */
  copied: number;
}

/**
 * Joins the shard manifests found in `dirs` into `outDir`/export.json: all shards of one
 * export (the same n, every index once, the same input count) or an error naming what is
 * missing. Files of shards written elsewhere are copied into `outDir`. The shard manifests
 * in `outDir` are removed once export.json holds them.
 */
export async function mergeShards(dirs: readonly string[], outDir: string): Promise<MergeResult> {
  const out = resolve(outDir);
  const found: Array<{ dir: string; name: string; manifest: Manifest; shard: ShardInfo }> = [];
  for (const d of dirs.map((x) => resolve(x))) {
    let names: string[];
    try {
      names = await readdir(d);
    } catch (err) {
      throw new EngineError('not-found', `--merge: cannot read ${d}: ${(err as Error).message}`);
    }
    for (const name of names.filter((n) => SHARD_FILE.test(n)).sort()) {
      const manifest = await readManifest(d, name);
      if (!manifest?.shard) throw new EngineError('bad-request', `--merge: ${d}/${name} is not a shard manifest AttnScope wrote.`);
      found.push({ dir: d, name, manifest, shard: manifest.shard });
    }
  }
  if (found.length === 0) throw new EngineError('not-found', `--merge: no shard manifests (export.shard-<i>-of-<n>.json) in ${dirs.join(', ')}.`, 'Run `attnscope export --shard i/n` first.');
  const { count, inputs } = (found[0] as (typeof found)[number]).shard;
  const odd = found.find((f) => f.shard.count !== count || f.shard.inputs !== inputs);
  if (odd) throw new EngineError('bad-request', `--merge: ${odd.dir}/${odd.name} belongs to another export (${odd.shard.count} shards of ${odd.shard.inputs} inputs, not ${count} of ${inputs}).`);
  const seen = new Map<number, (typeof found)[number]>();
  for (const f of found) {
    const twin = seen.get(f.shard.index);
    if (twin) throw new EngineError('bad-request', `--merge: shard ${f.shard.index} of ${count} is in both ${twin.dir} and ${f.dir}.`);
    seen.set(f.shard.index, f);
  }
  const absent = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (absent.length) {
    throw new EngineError('not-found', `--merge: ${absent.length} of ${count} shards missing: ${absent.slice(0, 20).join(', ')}${absent.length > 20 ? ', ...' : ''}.`, 'Run those shards (or rerun them: finished images are kept), then merge again.');
  }
  const files = new Map<string, ManifestFile>();
  const failed: ManifestFailure[] = [];
  let copied = 0;
  for (const f of found) {
    for (const file of f.manifest.files) {
      if (f.dir !== out) {
        const to = insideDir(out, file.path);
        await mkdir(dirname(to), { recursive: true });
        await copyFile(insideDir(f.dir, file.path), to);
        copied++;
      }
      files.set(file.path, file);
    }
    failed.push(...f.manifest.failed);
  }
  const manifest = sortedManifest([...files.values()], failed);
  await writeFileAtomic(insideDir(out, MANIFEST_NAME), Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));
  for (const f of found) if (f.dir === out) await rm(insideDir(out, shardManifestName(f.shard)), { force: true });
  return { manifest, shards: count, copied };
}
