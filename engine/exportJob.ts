// One image's export: plan the files, run the model once, render each file with
// engine/render.ts and write it atomically. The GUI's `export` request
// (engine/exportHandler.ts) and `attnscope export` (engine/cli/export.ts) both call
// exportImage(), which is what makes their files byte-identical.
//
// Layout under the destination folder, per image:
//   <relDir>/<stem>/<module>.<tap>.heatmap.png   colormapped map, RGBA, image size
//   <relDir>/<stem>/<module>.<tap>.overlay.png   blended on the image, RGB
//   <relDir>/<stem>/<module>.<tap>.npy           raw map [h, w] float32 (raw kind)
//   <relDir>/<stem>/<module>.<tap>.full.npy      raw map resampled to the image, NaN where none
//   <relDir>/<stem>/<module>.channel.npy|.csv    channel weights (raw kind)
//   <relDir>/<stem>/grid.png                     contact sheet
// Everything that identifies an output (model, weights hash, settings) is in its PNG text
// chunks and in export.json; nothing time- or path-dependent is, so bytes repeat.

import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { type ColormapName, COLORMAP_NAMES, isColormapName } from './colormaps';
import type { SessionLike } from './core';
import { CAM_LABELS, type CamMethod } from './cam';
import { EngineError } from './errors';
import { decodeImage } from './image';
import { encodeNpy } from './npy';
import type { ExportFileEntry, ExportFileMeta, ExportKind, ExportSettings } from './protocol';
import {
  blendIndices, channelCsv, colourIndices, encodePng, finiteRange, type RenderSettings, tapIndices, resampleMap, spatialShape, tapKey, tapRanges, type ValueRange,
} from './render';
import { gridTaps, renderGrid } from './renderGrid';
import { type ImageTransform, type ModelInfo, NON_IMAGE_TAPS, type Tap, type TapName } from './types';

/** What export.json and the PNG text chunks say about one file. */
export type ExportMetadata = ExportFileMeta;
/** One file of an export; `written` false when it existed and was kept (resume). */
export type ExportedFile = ExportFileEntry;

export interface PlannedFile {
  /** Relative to the destination folder, '/'-separated. */
  path: string;
  kind: ExportKind;
  module: string | null;
  tap: TapName | null;
  format: 'heatmap' | 'overlay' | 'grid' | 'npy' | 'full.npy' | 'csv';
}

export interface ExportImageOptions {
  /** The session, or what stands for it in a batched export (runBatcher.ts). */
  session: Pick<SessionLike, 'info' | 'run' | 'cam'>;
  appVersion: string;
  /** Display name of the image (its file name); only the last path segment is used. */
  imageName: string;
  bytes: Uint8Array;
  /** Absolute destination folder. */
  outDir: string;
  /** Folder for this image's files under outDir, '/'-separated; default: the stem of imageName. Sanitised here. */
  folder?: string;
  modules: string[] | null;
  kinds: ExportKind[];
  settings: ExportSettings;
  /** Keep files that exist (resume) instead of replacing them. */
  keepExisting: boolean;
  signal?: AbortSignal;
  /** May refuse a path (GUI: only inside the folder the user chose). */
  canWrite?: (absPath: string) => boolean;
  onFile?: (file: ExportedFile, done: number, total: number) => void;
}

// ---------------------------------------------------------------- names

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/** One path segment safe on every OS: no separators, no leading dots, no control or reserved characters. */
export function sanitiseSegment(name: string): string {
  let s = name.normalize('NFC').replace(/[\\/:*?"<>|\u0000-\u001f\u007f]/g, '_');
  s = s.replace(/^[.\s]+/, '').replace(/[.\s]+$/, '');
  if (WINDOWS_RESERVED.test(s)) s = `_${s}`;
  if (s.length > 120) s = s.slice(0, 120);
  return s || '_';
}

/** The last segment of a file name or path, without its extension, sanitised. */
export function stemOf(name: string): string {
  const base = name.split(/[\\/]/).filter((p) => p !== '').pop() ?? '';
  const dot = base.lastIndexOf('.');
  return sanitiseSegment(dot > 0 ? base.slice(0, dot) : base);
}

/** Every segment of a relative path sanitised ('..' becomes '_'); '/'-separated. */
export function sanitiseRelative(path: string): string {
  return path.split(/[\\/]/).filter((p) => p !== '' && p !== '.').map(sanitiseSegment).join('/') || '_';
}

/** Joins a '/'-separated relative path under root; throws if it would leave root. */
export function insideDir(root: string, rel: string): string {
  const base = resolve(root);
  const full = resolve(base, ...rel.split('/'));
  if (full !== base && !full.startsWith(base.endsWith(sep) ? base : base + sep)) {
    throw new EngineError('forbidden', `Refusing to write outside the export folder: ${rel}`);
  }
  return full;
}

// ---------------------------------------------------------------- settings

export function renderSettings(s: ExportSettings): RenderSettings {
  if (!isColormapName(s.colormap)) {
    throw new EngineError('bad-request', `Unknown colormap "${s.colormap}".`, `Use one of ${COLORMAP_NAMES.join(', ')}.`);
  }
  return { colormap: s.colormap as ColormapName, opacity: s.opacity, normalise: s.normalise, interpolation: s.interpolation };
}

/** The files an image gets, from the model's module list alone (so resume can check before running). */
export function planFiles(info: ModelInfo, modules: string[] | null, kinds: ExportKind[], settings: ExportSettings, folder: string): PlannedFile[] {
  const prefix = folder ? `${folder}/` : '';
  const wanted = modules && modules.length > 0 ? new Set(modules) : null;
  if (wanted) {
    const unknown = [...wanted].filter((m) => !info.modules.some((x) => x.name === m));
    if (unknown.length > 0) {
      throw new EngineError('not-found', `The model has no module ${unknown.map((u) => `"${u}"`).join(', ')}.`,
        `Its modules: ${info.modules.map((m) => m.name).join(', ')}.`);
    }
  }
  const files: PlannedFile[] = [];
  for (const m of info.modules) {
    if (wanted && !wanted.has(m.name)) continue;
    const name = sanitiseSegment(m.name);
    for (const tap of m.taps) {
      if (settings.taps && !settings.taps.includes(tap)) continue;
      const base = `${prefix}${name}.${tap}`;
      if (tap === 'channel') {
        if (kinds.includes('raw')) {
          files.push({ path: `${base}.npy`, kind: 'raw', module: m.name, tap, format: 'npy' });
          files.push({ path: `${base}.csv`, kind: 'raw', module: m.name, tap, format: 'csv' });
        }
        continue;
      }
      if (NON_IMAGE_TAPS.includes(tap)) {
        // Not one map over the image ([C, C], [K, H, W], theta, a grid): the array as it is.
        if (kinds.includes('raw')) files.push({ path: `${base}.npy`, kind: 'raw', module: m.name, tap, format: 'npy' });
        continue;
      }
      if (kinds.includes('heatmap')) files.push({ path: `${base}.heatmap.png`, kind: 'heatmap', module: m.name, tap, format: 'heatmap' });
      if (kinds.includes('overlay')) files.push({ path: `${base}.overlay.png`, kind: 'overlay', module: m.name, tap, format: 'overlay' });
      if (kinds.includes('raw')) {
        files.push({ path: `${base}.npy`, kind: 'raw', module: m.name, tap, format: 'npy' });
        if (settings.rawUpsampled) files.push({ path: `${base}.full.npy`, kind: 'raw', module: m.name, tap, format: 'full.npy' });
      }
    }
  }
  if (kinds.includes('cam')) {
    const { method, stage } = camChoice(settings);
    const base = `${prefix}cam.${method}.layer${stage}`;
    files.push({ path: `${base}.overlay.png`, kind: 'cam', module: null, tap: null, format: 'overlay' });
    files.push({ path: `${base}.npy`, kind: 'cam', module: null, tap: null, format: 'npy' });
  }
  if (kinds.includes('grid')) files.push({ path: `${prefix}grid.png`, kind: 'grid', module: null, tap: null, format: 'grid' });
  return files;
}

/** The `cam` kind's method and stage: settings.cam, default Grad-CAM at layer4 (CAM: layer4 only). */
function camChoice(settings: ExportSettings): { method: CamMethod; stage: number } {
  const method = settings.cam?.method ?? 'gradcam';
  return { method, stage: method === 'cam' ? 4 : settings.cam?.stage ?? 4 };
}

export function metadataFor(
  file: PlannedFile, info: ModelInfo, appVersion: string, source: string, settings: ExportSettings,
  run: { transform: ImageTransform; range: ValueRange | null } | null,
): ExportMetadata {
  const t = run?.transform;
  const size = settings.inputSize ?? info.inputSize;
  return {
    app: 'AttnScope',
    version: appVersion,
    model: info.name,
    weightsSha256: info.weightsSha256,
    source,
    kind: file.kind,
    module: file.module,
    tap: file.tap,
    colormap: settings.colormap,
    normalise: settings.normalise,
    range: run?.range ? [run.range.lo, run.range.hi] : null,
    interpolation: settings.interpolation,
    opacity: settings.opacity,
    inputSize: t ? `${t.inputWidth}x${t.inputHeight}` : `${size}x${size}`,
    resize: t?.resize ?? settings.resize ?? 'stretch',
    ...(t?.tiles ? { tiles: { size: t.tiles.size, overlap: t.tiles.overlap } } : {}),
    ...(settings.mean ? { mean: settings.mean } : {}),
    ...(settings.std ? { std: settings.std } : {}),
    bypass: [...(settings.bypass ?? [])].sort(),
  };
}

/** PNG text chunks: `Software`, then one `AttnScope:<field>` per metadata field. */
export function pngText(meta: ExportMetadata): Array<[string, string]> {
  const entries: Array<[string, string]> = [['Software', `${meta.app} ${meta.version}`]];
  const add = (k: string, v: string | null) => { if (v !== null) entries.push([`AttnScope:${k}`, v]); };
  add('version', meta.version);
  add('model', meta.model);
  add('weights-sha256', meta.weightsSha256);
  add('source', meta.source);
  add('kind', meta.kind);
  add('module', meta.module);
  add('tap', meta.tap);
  add('colormap', meta.colormap);
  add('normalise', meta.normalise);
  add('range', meta.range ? meta.range.map((v) => String(v)).join(' ') : null);
  add('interpolation', meta.interpolation);
  if (meta.kind !== 'heatmap') add('opacity', String(meta.opacity));
  add('input-size', meta.inputSize);
  add('resize', meta.resize);
  if (meta.tiles) add('tiles', `${meta.tiles.size} overlap ${meta.tiles.overlap}`);
  if (meta.mean) add('mean', meta.mean.join(' '));
  if (meta.std) add('std', meta.std.join(' '));
  add('bypass', meta.bypass.length > 0 ? meta.bypass.join(',') : 'none');
  return entries;
}

// ---------------------------------------------------------------- writing

/** Files of one image rendered or encoding at once. */
const MAX_FILES_IN_FLIGHT = 3;

const PARTIAL = /^\.[0-9a-f]{12}\.partial$/;

/** Removes temp files a killed export left in `dir` (they are never outputs). */
async function removeStalePartials(dir: string): Promise<void> {
  let names: string[];
  try { names = await readdir(dir); } catch { return; }
  await Promise.all(names.filter((n) => PARTIAL.test(n)).map((n) => rm(join(dir, n), { force: true })));
}

/** Writes to a hidden temp name beside the target, then renames: readers never see half a file. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.partial`);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new EngineError('io', `Cannot write ${path}: ${(err as Error).message}`);
  }
}

async function exists(path: string): Promise<boolean> {
  try { return (await stat(path)).isFile(); } catch { return false; }
}

// ---------------------------------------------------------------- the job

/**
 * Exports one image. Runs the model only if some planned file is missing (or all when
 * keepExisting is false). Bad images throw EngineError('bad-image') before anything is written.
 */
export async function exportImage(o: ExportImageOptions): Promise<ExportedFile[]> {
  const info = o.session.info;
  const render = renderSettings(o.settings);
  const source = o.imageName.split(/[\\/]/).pop() || o.imageName;
  const folder = o.folder !== undefined ? sanitiseRelative(o.folder) : stemOf(o.imageName);
  const plan = planFiles(info, o.modules, o.kinds, o.settings, folder);
  const targets = plan.map((f) => {
    const abs = insideDir(o.outDir, f.path);
    if (o.canWrite && !o.canWrite(abs)) throw new EngineError('forbidden', `The engine may not write ${abs}.`, 'Choose the export folder in the dialog.');
    return abs;
  });
  const present = await Promise.all(targets.map((t) => (o.keepExisting ? exists(t) : Promise.resolve(false))));
  let finished = 0;
  const done = (file: ExportedFile) => { finished += 1; o.onFile?.(file, finished, plan.length); };

  if (present.every(Boolean)) {
    return plan.map((f) => {
      const file = { path: f.path, written: false, meta: metadataFor(f, info, o.appVersion, source, o.settings, null) };
      done(file);
      return file;
    });
  }

  await removeStalePartials(insideDir(o.outDir, folder));
  const image = await decodeImage(o.bytes, source);
  const result = await o.session.run(
    {
      image: { kind: 'decoded', image },
      options: {
        ...(o.settings.resize ? { resize: o.settings.resize } : {}),
        ...(o.settings.inputSize ? { inputSize: o.settings.inputSize } : {}),
        ...(o.settings.mean ? { mean: o.settings.mean } : {}),
        ...(o.settings.std ? { std: o.settings.std } : {}),
        ...(o.settings.tile ? { tile: o.settings.tile } : {}),
        bypass: o.settings.bypass ?? [],
      },
    },
    o.signal ? { signal: o.signal } : {},
  );
  o.signal?.throwIfAborted();
  const t = result.transform;
  if (t.origWidth !== image.width || t.origHeight !== image.height) {
    throw new EngineError('internal', `The run saw ${t.origWidth}x${t.origHeight} but the image decodes to ${image.width}x${image.height}.`);
  }
  const taps = new Map(result.taps.map((x) => [tapKey(x), x]));
  // Class evidence of the top class, as a tap of its own (its grid cell is labelled by its module).
  let camTap: Tap | null = null;
  if (o.kinds.includes('cam')) {
    const { method, stage } = camChoice(o.settings);
    let top = 0;
    for (let i = 1; i < result.logits.length; i++) if ((result.logits[i] as number) > (result.logits[top] as number)) top = i;
    const c = await o.session.cam(result.runId, { method, stage, classIndex: top });
    camTap = { module: `${CAM_LABELS[method]} ${c.layer} · ${info.classes?.[top] ?? `class ${top}`}`, tap: 'spatial', shape: c.shape, data: c.data };
  }
  // heatmap and overlay of a tap share one resampled map (as colour indices).
  let cached: { key: string; indices: Int16Array } | null = null;
  const indicesOf = (tap: Tap, range: ValueRange | null): Int16Array => {
    if (cached?.key !== tapKey(tap)) cached = { key: tapKey(tap), indices: tapIndices(tap, t, range ?? { lo: 0, hi: 1 }, render) };
    return cached.indices;
  };
  const ranges = tapRanges(result.taps, info.modules, render.normalise);

  // Rendering is JS on this thread and encoding is libvips on its own threads: keep a few
  // files in flight so the two overlap. Bytes do not depend on the order.
  const results: ExportedFile[] = new Array(plan.length);
  const inFlight = new Set<Promise<void>>();
  let failure: unknown = null;
  for (let i = 0; i < plan.length && failure === null; i++) {
    o.signal?.throwIfAborted();
    const f = plan[i]!;
    const range = f.kind === 'cam' && camTap ? camRange(camTap)
      : f.module && f.tap && f.tap !== 'channel' && f.kind !== 'raw' ? ranges.get(`${f.module}/${f.tap}`) ?? null : null;
    const meta = metadataFor(f, info, o.appVersion, source, o.settings, { transform: t, range });
    if (present[i]) { results[i] = { path: f.path, written: false, meta }; done(results[i]!); continue; }
    let pending: Promise<Uint8Array>;
    if (f.format === 'grid') {
      const chosen = result.taps.filter((x) => (!o.modules?.length || o.modules.includes(x.module))
        && (!o.settings.taps || o.settings.taps.includes(x.tap)));
      const cells = gridTaps(chosen).map((tap) => ({ tap, range: ranges.get(tapKey(tap)) ?? { lo: 0, hi: 1 } }));
      if (camTap) cells.push({ tap: camTap, range: camRange(camTap) });
      const header = `${info.name} · ${render.colormap}, ${render.normalise}, ${render.interpolation}, opacity ${render.opacity}`
        + ` · ${meta.inputSize} ${meta.resize}${meta.bypass.length ? ` · bypass ${meta.bypass.join(',')}` : ''}`;
      pending = renderGrid({ image, imageName: source, transform: t, cells, settings: render, header }, pngText(meta));
    } else if (f.kind === 'cam' && camTap) {
      const tap = camTap;
      pending = renderFile(f, tap, t, render, image, meta, () => tapIndices(tap, t, range ?? { lo: 0, hi: 1 }, render));
    } else {
      const tap = taps.get(`${f.module}/${f.tap}`);
      if (!tap) throw new EngineError('internal', `The run produced no ${f.tap} tap for ${f.module}.`);
      pending = renderFile(f, tap, t, render, image, meta, () => indicesOf(tap, range));
    }
    const job: Promise<void> = pending
      .then((bytesOut) => writeFileAtomic(targets[i]!, bytesOut))
      .then(() => { results[i] = { path: f.path, written: true, meta }; done(results[i]!); }, (err) => { failure ??= err; })
      .finally(() => { inFlight.delete(job); });
    inFlight.add(job);
    if (inFlight.size >= MAX_FILES_IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure !== null) throw failure;
  return results;
}

/** Class evidence is shown min-max whatever the normalisation (its scale is the method's own). */
function camRange(tap: Tap): ValueRange {
  return finiteRange(tap.data);
}

async function renderFile(
  f: PlannedFile, tap: Tap, t: ImageTransform, render: RenderSettings,
  image: { rgb: Uint8Array; width: number; height: number }, meta: ExportMetadata, indices: () => Int16Array,
): Promise<Uint8Array> {
  switch (f.format) {
    case 'npy': return encodeNpy(tap.data, tap.shape);
    case 'csv': return channelCsv(tap.data);
    case 'full.npy': {
      const [h, w] = spatialShape(tap);
      return encodeNpy(resampleMap(tap.data, h, w, t, t.origWidth, t.origHeight, render.interpolation), [t.origHeight, t.origWidth]);
    }
    case 'heatmap':
      return encodePng(colourIndices(indices(), render.colormap), t.origWidth, t.origHeight, 4, pngText(meta), 'flat');
    case 'overlay':
      return encodePng(blendIndices(image.rgb, indices(), render.colormap, render.opacity), image.width, image.height, 3, pngText(meta), 'photo');
    case 'grid': throw new Error('grid is rendered by exportImage');
  }
}
