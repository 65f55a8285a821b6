// `attnscope export <images or folders...>`: batch export of heatmaps, overlays, grids and
// raw maps with the same renderer and the same `export` request as the GUI.

import { CAM_METHODS, type CamMethod, isCamMethod } from '../cam';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { COLORMAP_NAMES, isColormapName } from '../colormaps';
import { EngineError } from '../errors';
import type { ExportedFile } from '../exportJob';
import { updateManifest, type ManifestFailure } from '../exportManifest';
import { appVersion } from '../host/paths';
import type { ExportKind, ExportSettings, Interpolation, ModelInfo, Normalisation, ResizeMode, TapName } from '../protocol';
import { defaultModelsDir } from '../session';
import { collectInputs } from './exportInputs';
import { defaultWorkerUrl, type ExportTask, inProcessFactory, runPool, workerFactory } from './exportPool';
import { Progress } from './exportProgress';
import { modelSource, tileOption } from './commonOptions';
import { mergeShards, parseShard, shardOf } from './exportShards';
import { parseRuntimeOptions, RUNTIME_OPTIONS, runtimeUsage } from './runtimeOptions';

export const EXPORT_USAGE = `attnscope export <images or folders...> [options]

Writes, per image, into --out/<folder of the image>/<image name>/:
  <module>.<tap>.heatmap.png   the map alone, colormapped, at the image's size (RGBA)
  <module>.<tap>.overlay.png   the map blended on the image
  grid.png                     the image and every module's map, labelled, with a colour bar
  <module>.<tap>.npy           raw map at the model's resolution (float32); with --raw-full
  <module>.<tap>.full.npy      also resampled to the image's size (NaN where cropped off)
  <module>.channel.npy / .csv  channel weights (raw kind)
and export.json at the top of --out, listing every file with its metadata. PNGs carry the
same metadata as text chunks. Folders are searched recursively for images.

Options:
  --out DIR              output folder (default: ./attnscope-export)
  --weights FILE         checkpoint (.pth, .pth.tar, .safetensors) or model folder; default: built-in
  --model NAME           a built-in model by name
  --modules GLOB[,GLOB]  modules to export, e.g. 'layer3.*' (default: all)
  --taps T[,T]           channel, spatial, attention, activation (default: all)
  --kinds K[,K]          heatmap, overlay, grid, raw, cam (default: heatmap,overlay); cam: class
                         evidence of the top class (overlay + .npy, and a grid cell)
  --cam-method M         the cam kind's method: cam, gradcam, gradcam++, scorecam, eigencam,
                         layercam, dcn (default gradcam)
  --cam-layer L          the cam kind's stage: layer1..layer4 (default layer4)
  --colormap NAME        ${COLORMAP_NAMES.join(' | ')} (default: viridis)
  --opacity X            heatmap weight in overlays, 0..1 (default: 0.5)
  --normalise MODE       raw | minmax | stage (default: minmax)
  --interpolation MODE   bilinear | nearest (default: bilinear)
  --resize MODE          stretch | pad | center-crop (default: the model's)
  --input-size N         square network input (default: the model's)
  --tile N               run each image in N x N px tiles at its own resolution and stitch
                         the maps (see attnscope maps --help); not with --input-size
  --overlap K            pixels shared by neighbouring tiles (default: about N/4)
  --bypass M[,M]         switch these modules off (ablation)
  --raw-full             with raw: also write maps resampled to the image size
  --jobs N               engines in parallel (default: number of cores)
  --batch N|auto         images per forward pass on one engine: for a GPU; N images are
                         decoded and rendered at once while the passes run (not with
                         --jobs). Default: auto with --device gpu|auto (as many as the
                         memory limit holds, at most 32, when the model runs on a GPU;
                         1 on the CPU), else 1
${runtimeUsage(23, 'cores / jobs')}
  --shard i/n            export only shard i of n (0-based): inputs i, i+n, i+2n... of the
                         sorted list; writes export.shard-i-of-n.json (docs/cluster.md)
  --merge                join shard manifests: the positional arguments are the shards'
                         output folders; writes --out/export.json (copying files from
                         folders other than --out) once every shard is there
  --force                replace files that exist (default: keep them, so a rerun resumes)
  --quiet                no progress, only the summary and failures

Exit status: 0 when every image exported, 1 when any failed, 2 for a usage error, 130 when
interrupted (Ctrl-C stops after the images in progress; run again to resume).`;

const KINDS: readonly ExportKind[] = ['heatmap', 'overlay', 'grid', 'raw', 'cam'];
const TAPS: readonly TapName[] = ['channel', 'spatial', 'attention', 'activation'];
const RESIZE: readonly ResizeMode[] = ['stretch', 'pad', 'center-crop'];

const usage = (msg: string): EngineError => new EngineError('bad-request', msg, 'See `attnscope export --help`.');

function list<T extends string>(flag: string, text: string | undefined, allowed: readonly T[], fallback: T[]): T[] {
  if (text === undefined) return fallback;
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = items.filter((x) => !allowed.includes(x as T));
  if (items.length === 0 || bad.length > 0) throw usage(`${flag} takes ${allowed.join(', ')}; got "${text}".`);
  return [...new Set(items)] as T[];
}

function oneOf<T extends string>(flag: string, text: string | undefined, allowed: readonly T[], fallback: T): T {
  if (text === undefined) return fallback;
  if (!allowed.includes(text as T)) throw usage(`${flag} must be one of ${allowed.join(', ')}, not "${text}".`);
  return text as T;
}

/** Module names matching comma-separated globs (`*` any run, `?` one character). */
export function matchModules(info: ModelInfo, globs: string): string[] {
  const patterns = globs.split(',').map((g) => g.trim()).filter(Boolean);
  const regexes = patterns.map((g) => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`));
  const names = info.modules.map((m) => m.name).filter((n) => regexes.some((r) => r.test(n)));
  if (names.length === 0) {
    throw usage(`--modules "${globs}" matches no module. The model has: ${info.modules.map((m) => m.name).join(', ')}.`);
  }
  return names;
}

export async function exportCommand(argv: string[], opts: { workerUrl?: URL | null; modelsDir?: string } = {}): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      out: { type: 'string', short: 'o' }, weights: { type: 'string', short: 'w' }, model: { type: 'string' },
      modules: { type: 'string' }, taps: { type: 'string' }, kinds: { type: 'string' }, colormap: { type: 'string' },
      opacity: { type: 'string' }, normalise: { type: 'string' }, normalize: { type: 'string' },
      interpolation: { type: 'string' }, resize: { type: 'string' }, 'input-size': { type: 'string' },
      tile: { type: 'string' }, overlap: { type: 'string' }, 'cam-method': { type: 'string' }, 'cam-layer': { type: 'string' },
      bypass: { type: 'string' }, 'raw-full': { type: 'boolean' }, jobs: { type: 'string', short: 'j' }, ...RUNTIME_OPTIONS,
      force: { type: 'boolean', short: 'f' }, quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' },
      shard: { type: 'string' }, merge: { type: 'boolean' }, batch: { type: 'string' },
    },
  });
  if (values.help) { console.log(EXPORT_USAGE); return 0; }
  if (values.merge) {
    if (positionals.length === 0) throw usage('--merge needs the shards\' output folders.');
    if (values.shard) throw usage('Give --shard or --merge, not both.');
    const outDir = resolve(values.out ?? 'attnscope-export');
    const r = await mergeShards(positionals, outDir);
    console.log(`Merged ${r.shards} shards: ${r.manifest.files.length} file(s), ${r.manifest.failed.length} failed input(s)${r.copied ? `, ${r.copied} file(s) copied` : ''} -> ${outDir}/export.json`);
    return r.manifest.failed.length > 0 ? 1 : 0;
  }
  const shard = values.shard === undefined ? null : parseShard(values.shard);
  if (positionals.length === 0) throw usage('Give at least one image or folder.');
  if (values.weights && values.model) throw usage('Give --weights or --model, not both.');
  const colormap = values.colormap ?? 'viridis';
  if (!isColormapName(colormap)) throw usage(`--colormap must be one of ${COLORMAP_NAMES.join(', ')}, not "${colormap}".`);
  const opacity = values.opacity === undefined ? 0.5 : Number(values.opacity);
  if (!(opacity >= 0 && opacity <= 1)) throw usage(`--opacity must be a number from 0 to 1, not "${values.opacity}".`);
  let inputSize: number | undefined;
  if (values['input-size'] !== undefined) {
    inputSize = Number(values['input-size']);
    if (!Number.isInteger(inputSize) || inputSize < 8 || inputSize > 4096) throw usage('--input-size must be an integer from 8 to 4096.');
  }
  const tile = tileOption(values, usage);
  const camMethod = values['cam-method'];
  if (camMethod !== undefined && !isCamMethod(camMethod)) throw usage(`--cam-method must be one of ${CAM_METHODS.join(', ')}, not "${camMethod}".`);
  const camLayer = values['cam-layer'];
  if (camLayer !== undefined && !/^layer[1-4]$/.test(camLayer)) throw usage(`--cam-layer must be layer1 to layer4, not "${camLayer}".`);
  const jobs = values.jobs === undefined ? availableParallelism() : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 256) throw usage(`--jobs must be a whole number from 1 to 256, not "${values.jobs}".`);
  const batchFlag = values.batch === undefined || values.batch === 'auto' ? values.batch : Number(values.batch);
  if (typeof batchFlag === 'number' && (!Number.isInteger(batchFlag) || batchFlag < 1 || batchFlag > 256)) throw usage(`--batch must be a whole number from 1 to 256 or auto, not "${values.batch}".`);
  if (batchFlag !== undefined && batchFlag !== 1 && values.jobs !== undefined && jobs > 1) throw usage('--batch runs one engine with N images per pass: give --batch or --jobs, not both.');
  const kinds = list('--kinds', values.kinds, KINDS, ['heatmap', 'overlay']);
  const taps = values.taps === undefined ? undefined : list('--taps', values.taps, TAPS, []);
  const resize = values.resize === undefined ? undefined : oneOf('--resize', values.resize, RESIZE, 'stretch');
  const settings: ExportSettings = {
    colormap, opacity,
    normalise: oneOf<Normalisation>('--normalise', values.normalise ?? values.normalize, ['raw', 'minmax', 'stage'], 'minmax'),
    interpolation: oneOf<Interpolation>('--interpolation', values.interpolation, ['bilinear', 'nearest'], 'bilinear'),
    ...(resize ? { resize } : {}),
    ...(inputSize ? { inputSize } : {}),
    ...(camMethod !== undefined || camLayer !== undefined
      ? { cam: { method: (camMethod ?? 'gradcam') as CamMethod, ...(camLayer ? { stage: Number(camLayer.slice(5)) } : {}) } } : {}),
    ...(tile ? { tile } : {}),
    bypass: values.bypass ? values.bypass.split(',').map((s) => s.trim()).filter(Boolean) : [],
    ...(values['raw-full'] ? { rawUpsampled: true } : {}),
    ...(taps ? { taps } : {}),
  };

  const modelsDir = opts.modelsDir ?? defaultModelsDir();
  const source = modelSource(values, modelsDir);

  const outDir = resolve(values.out ?? 'attnscope-export');
  const collected = await collectInputs(positionals, outDir);
  const { ignored } = collected;
  // A shard takes its slice of the whole list (output folders were given over the whole list);
  // inputs that do not exist are reported once, by shard 0.
  const items = shard ? shardOf(collected.items, shard) : collected.items;
  const missing = !shard || shard.index === 0 ? collected.missing : [];
  const progress = new Progress(process.stderr, items.length, values.quiet === true);
  const version = appVersion();
  const workerUrl = opts.workerUrl === undefined ? defaultWorkerUrl() : opts.workerUrl;
  const runtime = parseRuntimeOptions(values, 'export');
  // On a GPU (--device gpu|auto) the default is one engine batching by memory; elsewhere one image per pass.
  const batch: number | 'auto' = batchFlag ?? (runtime.device === 'gpu' || runtime.device === 'auto' ? 'auto' : 1);
  const parallel = workerUrl !== null && jobs > 1 && batch === 1;
  // ONNX Runtime threads per engine: the cores shared among the engines, unless --threads says.
  if (runtime.runtime === 'ort' && runtime.threads === undefined) {
    runtime.threads = Math.max(1, Math.floor(availableParallelism() / (parallel ? jobs : 1)));
  }
  const inProcess = parallel ? null : inProcessFactory(source, version, modelsDir, runtime, batch);
  const factory = inProcess ?? workerFactory(workerUrl as URL, source, runtime);
  progress.note(`Loading the model (${factory.kind === 'worker' ? `${jobs} engine workers` : 'one engine'})...`);
  const first = await factory.start();
  // A batch: that many images in flight on the one engine (known once the model has loaded).
  const lanes = factory.kind === 'worker' ? jobs : (inProcess as NonNullable<typeof inProcess>).batchSize();
  const info = first.info;
  const modules = values.modules ? matchModules(info, values.modules) : null;
  const unknown = (settings.bypass ?? []).filter((b) => !info.modules.some((m) => m.name === b));
  if (unknown.length > 0) {
    await first.close();
    throw usage(`--bypass: the model has no module ${unknown.join(', ')}. It has: ${info.modules.map((m) => m.name).join(', ')}.`);
  }

  const tasks: ExportTask[] = items.map((it) => ({
    path: it.path, folder: it.folder, modules, kinds, settings, outDir, keepExisting: values.force !== true,
  }));
  const display = new Map(items.map((it) => [it.path, it.display]));
  const files: ExportedFile[] = [];
  const failures: ManifestFailure[] = missing.map((m) => ({ input: m.input, reason: m.reason }));
  for (const m of missing) progress.failed(m.input, m.reason);
  let stopping = false;
  const onSigint = () => {
    if (stopping) process.exit(130);
    stopping = true;
    progress.note('Stopping after the images in progress (Ctrl-C again to quit now); rerun to resume.');
  };
  process.on('SIGINT', onSigint);
  let written = 0;
  let kept = 0;
  let exported = 0;
  const started = performance.now();
  try {
    progress.begin(info.name, factory.kind === 'worker' ? lanes : 1);
    await runPool(factory, first, lanes, tasks, {
      onDone(task, r) {
        const name = display.get(task.path) ?? task.path;
        if ('error' in r) {
          const reason = r.error instanceof EngineError ? r.error.message : `internal error: ${(r.error as Error).message ?? String(r.error)}`;
          failures.push({ input: name, reason });
          progress.failed(name, reason);
          return;
        }
        exported += 1;
        files.push(...r.entries);
        const w = r.entries.filter((e) => e.written).length;
        written += w;
        kept += r.entries.length - w;
        progress.done(name, w, r.entries.length - w);
      },
    }, () => stopping);
  } finally {
    process.off('SIGINT', onSigint);
    progress.end();
  }
  await updateManifest(outDir, files, failures, items.map((it) => display.get(it.path) ?? it.path),
    shard ? { ...shard, inputs: collected.items.length } : undefined);
  const seconds = (performance.now() - started) / 1000;
  const notDone = items.length - exported - (failures.length - missing.length);
  const parts = [
    `${shard ? `shard ${shard.index} of ${shard.count}: ` : ''}${exported} of ${items.length + missing.length} image(s) exported (${written} file(s) written, ${kept} kept)`,
    `${failures.length} failed`,
    ...(ignored ? [`${ignored} non-image file(s) ignored`] : []),
    ...(inProcess?.batcher() ? [`${inProcess.batcher()?.passes} forward pass(es) of up to ${lanes} images`] : []),
    ...(notDone > 0 ? [`${notDone} not started (interrupted)`] : []),
  ];
  console.log(`${parts.join(', ')} in ${seconds.toFixed(1)} s (${(exported / Math.max(seconds, 1e-9)).toFixed(2)} images/s) -> ${outDir}`);
  if (failures.length > 0) {
    console.log('Failed:');
    for (const f of failures) console.log(`  ${f.input}: ${f.reason}`);
  }
  if (stopping) return 130; // interrupted (SIGINT), like a shell reports it
  return failures.length > 0 || notDone > 0 ? 1 : 0;
}
