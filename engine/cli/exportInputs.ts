// `attnscope export` inputs: files as given, folders recursed (sorted, hidden entries and
// the output folder skipped). Each image gets an output folder that keeps its path
// relative to the folder it was found in, with every segment sanitised, so nothing an
// input is called can steer a write outside --out.

import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join, relative, resolve, sep } from 'node:path';
import { sanitiseRelative, sanitiseSegment, stemOf } from '../exportJob';

/** Extensions picked up when recursing folders (files named on the command line are always tried). */
export const IMAGE_EXTENSIONS = new Set([
  '.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic', '.heif', '.jp2', '.jxl', '.bmp',
]);

export interface BatchItem {
  /** Absolute path of the image. */
  path: string;
  /** How to show it: relative to the folder it came from, or as given. */
  display: string;
  /** Output folder for its files under --out, '/'-separated, unique in the batch. */
  folder: string;
}

export interface CollectedInputs {
  items: BatchItem[];
  /** Inputs that could not be read at all (missing path), with the reason. */
  missing: Array<{ input: string; reason: string }>;
  /** Files in folders skipped for their extension. */
  ignored: number;
}

async function walk(dir: string, skip: string, out: string[], ignored: { n: number }): Promise<void> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) {
      if (full === skip) continue; // --out inside an input folder: never read our own outputs
      await walk(full, skip, out, ignored);
    } else if (e.isFile()) {
      if (IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(full);
      else ignored.n += 1;
    }
  }
}

/** Resolves the command line's inputs into images with unique output folders. */
export async function collectInputs(inputs: readonly string[], outDir: string): Promise<CollectedInputs> {
  const skip = resolve(outDir);
  const found: Array<{ path: string; display: string; relDir: string }> = [];
  const missing: CollectedInputs['missing'] = [];
  const ignored = { n: 0 };
  for (const input of inputs) {
    const abs = resolve(input);
    let s;
    try {
      s = await stat(abs);
    } catch (err) {
      missing.push({ input, reason: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : (err as Error).message });
      continue;
    }
    if (s.isDirectory()) {
      const files: string[] = [];
      await walk(abs, skip, files, ignored);
      for (const f of files) {
        const rel = relative(abs, f);
        const dir = rel.split(sep).slice(0, -1).join('/');
        found.push({ path: f, display: rel.split(sep).join('/'), relDir: dir ? sanitiseRelative(dir) : '' });
      }
    } else {
      // A file named on the command line lands at the top of --out whatever its path says.
      found.push({ path: abs, display: input, relDir: '' });
    }
  }
  // De-duplicate (the same file given twice) and give clashing names (a.jpg, a.png) distinct folders.
  const seen = new Set<string>();
  const used = new Set<string>();
  const items: BatchItem[] = [];
  for (const f of found) {
    if (seen.has(f.path)) continue;
    seen.add(f.path);
    const prefix = f.relDir ? `${f.relDir}/` : '';
    let folder = `${prefix}${stemOf(f.path)}`;
    if (used.has(folder.toLowerCase())) {
      const ext = extname(basename(f.path)).slice(1);
      folder = `${prefix}${stemOf(f.path)}_${sanitiseSegment(ext || 'file')}`;
      for (let k = 2; used.has(folder.toLowerCase()); k++) folder = `${prefix}${stemOf(f.path)}_${k}`;
    }
    used.add(folder.toLowerCase());
    items.push({ path: f.path, display: f.display, folder });
  }
  return { items, missing, ignored: ignored.n };
}
