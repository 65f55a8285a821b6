// A loaded model: checkpoint -> architecture -> network, then runs on images with taps
// streamed in forward order, and non-local attention rows answered for the last few runs.
// One Session per loaded model; everything it allocates goes away with dispose().

import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { BackendChoice } from './backend';
import { BufferSource, FileSource, openCheckpoint } from './checkpoints';
import { checkStateDict, describeSpec, detectArchitecture } from './checkpoints/detect';
import type { ByteSource, CheckpointContents } from './checkpoints/types';
import { type ChannelMapResult, type FetchedInput, readChannel } from './channelMap';
import { EngineError } from './errors';
import { minMax, resizeBilinear } from '../common/agreement';
import { CAM_METHODS, type CamMap, type CamMethod, DCN_REGIONS, eigenCam, gradCam, gradCamPlusPlus, gradientNorm, isCamMethod, layerCam, scoreWeights, topRegions, weightedSum } from './cam';
import { affinityOutput, affinityRowsOutput, affinityStepOutput, LOGITS, moduleInputOutput, stageOutput, tapOutput } from './graph/names';
import { type DecodedImage, decodeImage, decodeToInput, IMAGENET_MEAN, IMAGENET_STD, pointToCell, type Preprocessed, preprocess, type PreprocessOptions } from './image';
import { checkMemory, defaultMemoryLimit, formatBytes } from './memory';
import { KEEP_AFFINITY_BYTES } from './modules/nonLocal';
import { readManifest, type ModelManifest } from './models';
import { cbamVariantParts, specFromArchName } from './nets/presets';
import { type AttentionGraph, describeModules, emitResNet } from './nets/resnet';
import { emitTimm, FAMILY_LOGITS, familyOfArch, type FamilyGraph, isTimmCheckpoint } from './nets/timm';
import { configBeside, hubWeights, type TimmConfig } from './nets/timm/config';
import { resolveHubModel } from './hub/cache';
import { findHubModel } from './hub/catalogue';
import { imagenetClasses } from './hub/imagenet';
import { customStrides, type NetSpec } from './nets/spec';
import type { ImageSource, ModelSource } from './protocol';
import { createRunner, type DeviceChoice, type GraphRunner, probeShapes, type RunnerOptions, type RuntimeName } from './runtimes';
import { DENSE_LAYOUT_BYTES, type ImportedMap, type ImportedModel, importGraph, importOnnx, looksLikeOnnx, mapShape, ROLLOUT } from './import';
import { attentionRollout } from './import/rollout';
import { createTfjsRunner, type TfjsRunner } from './runtimes/tfjs';
import type { OutputTensor } from './runtimes/types';
import { defaultOverlap, planTiles, tileAlignment, tileInput, TileStitcher } from './tiles';
import type { ImageTransform, ImportedPartKind, ModelInfo, RunOptions, RunResult, Tap, TapName } from './types';

/** Runs whose non-local affinities (and decoded images) are kept for query(). */
export const KEPT_RUNS = 4;
/** ...and at most this many bytes of affinities and network inputs (for channelMap) across them. */
export const KEPT_AFFINITY_BYTES = 256 * 1024 * 1024;
/**
 * A non-local affinity up to this size is computed whole and read back with the run; a larger
 * one is computed in blocks of query rows, never whole, and query() recomputes the clicked row.
 */
export const AFFINITY_READBACK_BYTES = KEEP_AFFINITY_BYTES;

export interface LoadOptions {
  /** Architecture name (nets/presets.ts) or a NetSpec; default: the manifest's, else detected from the keys. */
  arch?: string | NetSpec;
  /** Directory of built-in models (assets/models). */
  modelsDir?: string;
  /** Which runtime runs the graph (default `ort`). */
  runtime?: RuntimeName;
  /** tfjs runtime: the TensorFlow.js backend to force. */
  backend?: BackendChoice;
  /** ort runtime: intra-op threads (default: one per core). */
  threads?: number;
  /** ort runtime: cpu (default), gpu or auto. */
  device?: DeviceChoice;
  /** Bytes a run may use; a larger input size is refused before it starts (default: 90% of available memory). */
  maxMemory?: number;
  /** Non-local affinities above this many bytes are computed in row blocks, and recomputed per query instead of kept (default AFFINITY_READBACK_BYTES). */
  affinityReadbackBytes?: number;
  /** Imported (.onnx) models: the input size to run at when the model's is dynamic. */
  inputSize?: number;
  /** Class names, one per output (a labels file), over the model's own. */
  labels?: string[];
  onProgress?: (bytesRead: number, totalBytes: number) => void;
  signal?: AbortSignal;
}

/** A full map of an imported model, as `attnscope maps` writes it (`<module>.<map>.npy`). */
export interface RunMap {
  module: string;
  map: string;
  kind: ImportedPartKind;
  node: string;
  shape: number[];
  data: Float32Array;
}

/**
 * What run() accepts: an image file or bytes, an already decoded image, or a network input
 * that is already preprocessed (NHWC [1, size, size, 3], normalised; its transform is the
 * identity), which tests and benchmarks use to feed exact tensors.
 */
export type RunImage =
  | ImageSource
  | { kind: 'decoded'; image: DecodedImage }
  | { kind: 'input'; name: string; input: Float32Array; size: number };

export interface RunHooks {
  /** After decoding and preprocessing, before the forward pass. */
  onStarted?: (e: { runId: string; image: { name: string; width: number; height: number }; transform: ImageTransform }) => void;
  /** Each tap as soon as it is read back, in forward order. */
  onTap?: (tap: Tap) => void | Promise<void>;
  /** Aborting stops the run (before the pass, or between taps) and throws EngineError('cancelled'). */
  signal?: AbortSignal;
  /** A tiled run: after each tile. */
  onTile?: (done: number, total: number) => void | Promise<void>;
}

export interface QueryResult {
  /** The query point's cell in the module's query grid. */
  cell: { row: number; col: number };
  /** [H', W']: the key grid. */
  shape: number[];
  data: Float32Array;
  /** A multi-pass attention (CCNet): what `data` is, and the same row at the earlier steps (on the same key grid). */
  label?: string;
  steps?: Array<{ label: string; data: Float32Array }>;
}

export type { ChannelMapResult } from './channelMap';

export interface CamRequest {
  method: CamMethod;
  /** Stage 1-4 (its output, after the blocks inserted after it). */
  stage: number;
  classIndex: number;
}

export type CamResult = CamMap;

/** A non-local affinity of a kept run, for query(). */
export interface AffinityRecord {
  module: string;
  /** Row-major [queries, keys]; null when it was too large to keep (query() recomputes the row). */
  data: Float32Array | null;
  /** When data is null: the block's input [1, C, H, W], from which query() computes a row alone. */
  input: OutputTensor | null;
  query: [number, number];
  key: [number, number];
  /** A multi-pass affinity's earlier steps, kept with `data` (none when it was too large to keep). */
  steps?: { label: string; steps: Array<{ label: string; data: Float32Array }> };
}

interface KeptRun {
  transform: ImageTransform;
  affinities: Map<string, AffinityRecord>;
  /** The network input and bypass set, to recompute module inputs for channelMap(). */
  input: Float32Array;
  bypass: string[];
  bytes: number;
  /** A tiled run: no single pass to re-run for query() or channelMap(). */
  tiled?: boolean;
}

let runCounter = 0;

export class Session {
  private readonly runs = new Map<string, KeptRun>();
  private fetched: FetchedInput | null = null;
  private disposed = false;
  /** Runner builds (one per loaded model: bypass toggles feed inputs, never rebuild). */
  static runnerBuilds = 0;

  private constructor(
    readonly info: ModelInfo,
    readonly graph: AttentionGraph,
    private readonly runner: GraphRunner,
    private readonly defaults: { resize: NonNullable<RunOptions['resize']>; kernel?: PreprocessOptions['kernel'] },
    /** The network's spec; null for an imported ONNX model. */
    readonly spec: NetSpec | null,
    private readonly maxMemory: number | undefined,
    private readonly affinityReadbackBytes = AFFINITY_READBACK_BYTES,
    /** Per non-local module: the runner of its rows graph (GraphModule.rowsModel). */
    private readonly rowRunners = new Map<string, GraphRunner>(),
    /** An imported ONNX model: its full maps, fetched with every run. */
    readonly imported: ImportedModel | null = null,
  ) {
    this.classEvidence = info.stages ? { stages: info.stages, fcWeight: info.cam ? graph.fcWeight : null } : null;
    this.taps = graph.modules.flatMap((m) => m.taps.map((tap) => ({ module: m.name, tap, output: tapOutput(m.name, tap) })));
    this.tapFetch = [LOGITS, ...this.taps.map((t) => t.output), ...(imported?.maps.map((m) => m.output) ?? [])];
  }

  private readonly availableAtLoad = defaultMemoryLimit();
  /** The four stages class evidence weighs, and the classifier's weights where CAM applies. */
  private readonly classEvidence: { stages: string[]; fcWeight: Float32Array | null } | null;

  /**
   * The memory a run may use: the load option, else 90% of what was available when the model
   * loaded; never more than the runtime can hold (tfjs-wasm: its heap). Taken at load, not per run: memory a big run has used and
   * freed is often not back in the system's free count yet, and the same size must not be
   * accepted once and refused the next time.
   */
  memoryLimit(): number {
    return Math.min(this.maxMemory ?? this.availableAtLoad, this.runner.memoryCap ?? Infinity);
  }

  /** The runtime that runs this model's graph. */
  get runtime(): GraphRunner['info'] {
    return this.runner.info;
  }

  /** Every tap's graph output, in forward order, with the module and tap it belongs to. */
  private readonly taps: Array<{ module: string; tap: TapName; output: string }>;
  /** What a pass fetches to show a run: the logits and every tap. */
  private readonly tapFetch: string[];

  /** A kept run's input again, with its bypass set, fetching only `fetch`. */
  private rerun(run: KeptRun, fetch: string[]): Promise<Map<string, OutputTensor>> {
    const { inputWidth: w, inputHeight: h } = run.transform;
    return this.runner.run({ input: { data: run.input, dims: [1, 3, h, w], layout: 'nhwc' }, bypass: new Set(run.bypass), fetch });
  }

  /**
   * Loads a model: a built-in one by name, a checkpoint file or a model directory (with
   * manifest.json) by path, checkpoint bytes, or any ByteSource (which the caller closes).
   */
  static async load(source: ModelSource | { kind: 'source'; source: ByteSource }, opts: LoadOptions = {}): Promise<Session> {
    let manifest: ModelManifest | null = null;
    let weightsPath: string | null = null;
    let name: string;
    if (source.kind === 'builtin') {
      if (!/^[\w.-]+$/.test(source.name) || source.name.startsWith('.')) {
        throw new EngineError('not-found', `"${source.name}" is not a built-in model name.`);
      }
      const dir = join(opts.modelsDir ?? defaultModelsDir(), source.name);
      manifest = readManifest(dir);
      weightsPath = join(dir, manifest.weights);
      name = manifest.name;
    } else if (source.kind === 'hub') {
      const dir = resolveHubModel(source.name);
      if (!dir) throw new EngineError('not-found', `${source.name} is not downloaded yet.`, `Download it first: attnscope models pull ${source.name}, or ImageNet models… in the app's model picker (I).`);
      weightsPath = hubWeights(dir) ?? join(dir, 'model.safetensors');
      name = source.name;
    } else if (source.kind === 'path' && existsSync(join(source.path, 'manifest.json'))) {
      manifest = readManifest(source.path);
      weightsPath = join(source.path, manifest.weights);
      name = manifest.name;
    } else if (source.kind === 'path') {
      // A hub download's folder (config.json + model.safetensors) opens as its weights.
      weightsPath = isDirectory(source.path) ? (hubWeights(source.path) ?? source.path) : source.path;
      name = basename(source.path);
    } else if (source.kind === 'source') {
      name = source.source.name;
    } else {
      name = source.name;
    }

    const bytes = source.kind === 'bytes' ? new Uint8Array(source.bytes) : null;
    if (!manifest && ((source.kind === 'path' && /\.onnx$/i.test(source.path)) || (bytes && looksLikeOnnx(bytes.subarray(0, 16), name)))) {
      return Session.loadOnnx(bytes ?? await readModelFile(weightsPath as string), name, source.kind === 'path' ? source.path : null, opts);
    }
    const byteSource = source.kind === 'source' ? source.source
      : bytes ? new BufferSource(bytes, name) : await FileSource.open(weightsPath as string);
    let contents: CheckpointContents;
    let sha256: string;
    try {
      contents = await openCheckpoint(byteSource, opts.onProgress);
      if (opts.signal?.aborted) throw new EngineError('cancelled', 'Loading the model was cancelled.');
      sha256 = bytes ? createHash('sha256').update(bytes).digest('hex') : await hashSource(byteSource);
    } finally {
      if (source.kind !== 'source') await byteSource.close();
    }

    const tensors = contents.tensors;
    // The readers already warn about NaN/Inf weights.
    const warnings = [...contents.warnings];
    const config = weightsPath && !manifest ? configBeside(weightsPath) : null;
    if (config) warnings.push(...config.warnings);
    const timmArch = typeof opts.arch === 'string' && familyOfArch(opts.arch) ? opts.arch : opts.arch === undefined ? config?.architecture ?? null : null;
    if (!manifest?.spec && (timmArch ? familyOfArch(timmArch) : opts.arch === undefined && isTimmCheckpoint(tensors))) {
      const family = emitTimm(tensors, name, timmArch, opts.inputSize ?? config?.inputSize ?? null);
      return Session.loadFamily(family, { name, sha256, config, warnings, arch: timmArch }, opts);
    }
    let spec: NetSpec;
    let description: string;
    if (opts.arch !== undefined || manifest?.spec) {
      spec = opts.arch === undefined ? (manifest as ModelManifest).spec
        : typeof opts.arch === 'string' ? specFromArchName(opts.arch, tensors) : opts.arch;
      // Names the missing keys, or the first wrong shape, before anything is built.
      checkStateDict(spec, tensors, false);
      description = (opts.arch === undefined ? manifest?.description : undefined) ?? describeSpec(spec);
    } else {
      const detected = detectArchitecture(tensors);
      spec = detected.spec;
      description = detected.description;
      warnings.push(...detected.assumptions);
    }

    const graph = emitResNet(spec, tensors, name, { keepAffinityBytes: opts.affinityReadbackBytes ?? AFFINITY_READBACK_BYTES });
    const unused = graph.unusedKeys;
    if (unused.length) {
      warnings.push(`${unused.length} checkpoint key(s) not used by the network: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', ...' : ''}`);
    }
    const inputSize = manifest?.inputSize ?? (spec.stem === 'cifar' ? 32 : 224);
    const info: ModelInfo = {
      name,
      arch: typeof opts.arch === 'string' ? opts.arch : archName(spec),
      description,
      modules: describeModules(spec, graph.modules, inputSize),
      classes: manifest?.classes ?? null,
      numClasses: spec.numClasses,
      stages: ['layer1', 'layer2', 'layer3', 'layer4'],
      cam: true,
      inputSize,
      mean: manifest?.mean ?? IMAGENET_MEAN,
      std: manifest?.std ?? IMAGENET_STD,
      weightsSha256: sha256,
      warnings,
      ...(manifest?.defaultVisible ? { defaultVisible: manifest.defaultVisible } : {}),
    };
    const options = runnerOptions(opts);
    const runner = await createRunner(graph.model, graph.modules.map((m) => m.name), options);
    Session.runnerBuilds++;
    const rowRunners = new Map<string, GraphRunner>();
    try {
      for (const m of graph.modules) if (m.rowsModel) rowRunners.set(m.name, await createRunner(m.rowsModel, [], options));
      if (opts.signal?.aborted) throw new EngineError('cancelled', 'Loading the model was cancelled.');
    } catch (err) {
      await Promise.all([runner, ...rowRunners.values()].map((r) => r.dispose()));
      throw err;
    }
    info.runtime = runner.info;
    return new Session(info, graph, runner, { resize: manifest?.resize ?? 'stretch' }, spec, opts.maxMemory,
      opts.affinityReadbackBytes ?? AFFINITY_READBACK_BYTES, rowRunners);
  }

  /** A timm checkpoint: the family's network (engine/nets/timm), its attention found by engine/import. */
  private static async loadFamily(family: FamilyGraph, from: { name: string; sha256: string; config: TimmConfig | null; warnings: string[]; arch: string | null }, opts: LoadOptions): Promise<Session> {
    const { config } = from;
    // Without a config.json, timm's own defaults for a catalogue architecture (its size, its resampling).
    const known = from.arch ? findHubModel(from.arch) : undefined;
    const inputSize = family.fixedInputSize ?? opts.inputSize ?? config?.inputSize ?? known?.imageSize ?? 224;
    const imported = await importGraph(family.model, from.name, null, probeShapes, {
      inputSize, description: family.description, keepOutputs: [1, 2, 3, 4].map(stageOutput), logitsOutput: FAMILY_LOGITS,
    });
    imported.dynamic = family.fixedInputSize === undefined;
    if (config?.mean) imported.mean = config.mean;
    if (config?.std) imported.std = config.std;
    const warnings = [...from.warnings, ...family.assumptions.map((a) => `Assumed: ${a}.`)];
    if (family.unusedKeys.length) {
      warnings.push(`${family.unusedKeys.length} checkpoint key(s) not used by the network: ${family.unusedKeys.slice(0, 5).join(', ')}${family.unusedKeys.length > 5 ? ', ...' : ''}`);
    }
    if (config?.numClasses && config.numClasses !== imported.numClasses) warnings.push(`config.json says ${config.numClasses} classes; the weights have ${imported.numClasses}.`);
    const classes = config?.labels ?? (imported.numClasses === 1000 ? imagenetClasses() : null);
    const interpolation = config?.interpolation ?? known?.interpolation;
    const kernel = interpolation === 'bicubic' ? 'cubic' : interpolation === 'bilinear' ? 'linear' : undefined;
    return Session.fromImported({ ...imported, classes, warnings: [...warnings, ...imported.warnings] }, from.sha256, from.arch ?? family.family, opts,
      { kernel, stages: family.stages, fcWeight: family.fcWeight });
  }

  /** An .onnx model: attention found by engine/import, run like a built-in model. */
  private static async loadOnnx(bytes: Uint8Array, name: string, path: string | null, opts: LoadOptions): Promise<Session> {
    opts.onProgress?.(bytes.length, bytes.length);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const imported = await importOnnx(bytes, name, path, probeShapes, opts.inputSize ? { inputSize: opts.inputSize } : {});
    return Session.fromImported(imported, sha256, 'onnx', opts);
  }

  private static async fromImported(imported: ImportedModel, sha256: string, arch: string, opts: LoadOptions,
    family: { kernel: PreprocessOptions['kernel']; stages: string[]; fcWeight: Float32Array | null } | null = null): Promise<Session> {
    const kernel = family?.kernel;
    const name = imported.name;
    if (opts.signal?.aborted) throw new EngineError('cancelled', 'Loading the model was cancelled.');
    const warnings = [...imported.warnings];
    let classes = imported.classes;
    if (opts.labels) {
      if (opts.labels.length === imported.numClasses) classes = opts.labels;
      else warnings.push(`The labels file has ${opts.labels.length} names but the model has ${imported.numClasses} outputs; showing ${classes ? 'the model\'s own names' : 'indices'}.`);
    }
    const info: ModelInfo = {
      name,
      arch,
      description: imported.description,
      modules: imported.infos,
      classes,
      numClasses: imported.numClasses,
      inputSize: imported.inputSize,
      mean: imported.mean ?? IMAGENET_MEAN,
      std: imported.std ?? IMAGENET_STD,
      weightsSha256: sha256,
      warnings,
      ...(imported.rejected.length ? { rejected: imported.rejected.map((r) => ({ node: r.node, reason: r.reason })) } : {}),
      ...(imported.dynamic ? {} : { fixedInputSize: true }),
      ...(family ? { stages: family.stages, cam: family.fcWeight !== null } : {}),
    };
    const graph: AttentionGraph = { model: imported.model, modules: imported.modules, unusedKeys: [], fcWeight: family?.fcWeight ?? new Float32Array(0) };
    const runner = await createRunner(graph.model, graph.modules.map((m) => m.name), { ...runnerOptions(opts), externalDataDir: imported.externalDir });
    Session.runnerBuilds++;
    info.runtime = runner.info;
    return new Session(info, graph, runner, { resize: 'stretch', ...(kernel ? { kernel } : {}) }, null, opts.maxMemory, opts.affinityReadbackBytes ?? AFFINITY_READBACK_BYTES, new Map(), imported);
  }

  async run(request: { image: RunImage; options?: RunOptions }, hooks: RunHooks = {}): Promise<RunResult> {
    if (this.disposed) throw new EngineError('no-model', 'This model was closed; load it again.');
    const opts = request.options ?? {};
    const known = new Set(this.info.modules.map((m) => m.name));
    for (const b of opts.bypass ?? []) {
      if (this.info.modules.find((m) => m.name === b)?.derived) throw new EngineError('bad-request', `"${b}" is computed from other modules' maps after the pass; there is nothing to switch off.`);
      if (!known.has(b)) throw new EngineError('not-found', `Cannot bypass "${b}": the model has no such module.`, `Modules: ${[...known].join(', ')}`);
    }
    const cancelled = (): boolean => hooks.signal?.aborted === true;
    if (opts.tile) return this.runTiled(request.image, opts, opts.tile, hooks);
    // Refused before anything is decoded: a size the machine cannot hold never starts.
    const estimate = this.spec ? checkMemory(this.spec, opts.inputSize ?? this.info.inputSize, this.memoryLimit(), this.affinityReadbackBytes) : null;
    const limit = this.imported?.denseLimit;
    if (limit && (opts.inputSize ?? this.info.inputSize) > limit.size) {
      throw new EngineError('too-large', `${limit.module}'s attention, laid out on the image by AttnScope (the model never forms it whole), would need more than ${formatBytes(DENSE_LAYOUT_BYTES)} above ${limit.size} px.`,
        `Run at ${limit.size} px or less (the Input panel's Size, or --input-size).`);
    }
    if (this.imported && !this.imported.dynamic && opts.inputSize !== undefined && opts.inputSize !== this.info.inputSize) {
      throw new EngineError('bad-request', `This ONNX model takes ${this.info.inputSize}x${this.info.inputSize} inputs only (its input size is fixed in the file).`, `Use --input-size ${this.info.inputSize}, or export the model with dynamic axes.`);
    }
    const t0 = performance.now();
    const src = request.image;
    const prep = {
      ...(this.defaults.kernel ? { kernel: this.defaults.kernel } : {}),
      inputSize: opts.inputSize ?? this.info.inputSize,
      resize: opts.resize ?? this.defaults.resize,
      mean: opts.mean ?? this.info.mean,
      std: opts.std ?? this.info.std,
    };
    // Files and bytes are decoded straight to the input size (decodeToInput: shrink-on-load,
    // no full-size copy; 12 MP JPEG 75 -> 36 ms), so their decode and preprocess times are one
    // step, reported as decodeMs. An already decoded image is only preprocessed.
    let shown: { name: string; width: number; height: number };
    let pre: Preprocessed;
    let t1: number;
    if (src.kind === 'decoded') {
      shown = src.image;
      t1 = performance.now();
      pre = await preprocess(src.image, prep);
    } else if (src.kind === 'input') {
      t1 = performance.now();
      pre = identityInput(src);
      shown = { name: src.name, width: pre.transform.origWidth, height: pre.transform.origHeight };
    } else {
      const fused = await decodeToInput(src.kind === 'path' ? src.path : new Uint8Array(src.bytes), src.kind === 'path' ? undefined : src.name, prep);
      t1 = performance.now();
      pre = fused.pre;
      shown = fused.image;
    }
    const t2 = performance.now();
    if (cancelled()) throw new EngineError('cancelled', 'The run was cancelled.');

    const runId = `run-${++runCounter}`;
    hooks.onStarted?.({ runId, image: { name: shown.name, width: shown.width, height: shown.height }, transform: pre.transform });
    const bypass = [...(opts.bypass ?? [])];
    const [h, w] = [pre.transform.inputHeight, pre.transform.inputWidth];
    const withAffinity = this.graph.modules.filter((m) => m.affinity);
    // Affinities are read back for query() only while small: at 1024 px the built-in model's
    // would be 1 GB. A larger one is never computed whole (the graph runs it in row blocks),
    // and query() computes the clicked row alone (the same numbers).
    const readBack = new Set(withAffinity.filter((m) => (estimate?.affinities.find((a) => a.module === m.name)?.bytes ?? 0) <= this.affinityReadbackBytes).map((m) => m.name));
    // A block whose affinity is not kept keeps its input instead (1 / keys of the affinity's size).
    const fetch = [...this.tapFetch, ...withAffinity.flatMap((m) => (readBack.has(m.name)
      ? [affinityOutput(m.name), ...(m.affinitySteps?.steps ?? []).map((_, i) => affinityStepOutput(m.name, i + 1))]
      : [moduleInputOutput(m.name)]))];
    const t3 = performance.now();
    const out = await this.runner.run({ input: { data: pre.input, dims: [1, 3, h, w], layout: 'nhwc' }, bypass: new Set(bypass), fetch });
    const t4 = performance.now();
    if (cancelled()) throw new EngineError('cancelled', 'The run was cancelled.');

    const result: Tap[] = [];
    for (const t of this.taps) {
      const o = out.get(t.output) as OutputTensor;
      const tap: Tap = { module: t.module, tap: t.tap, shape: o.dims.slice(1), data: o.data };
      result.push(tap);
      await hooks.onTap?.(tap);
      if (cancelled()) throw new EngineError('cancelled', 'The run was cancelled.');
    }
    if (this.imported?.rollout) {
      const { layers, prefix } = this.imported.rollout;
      const heads = layers.map((l) => out.get(l.output) as OutputTensor);
      const [, count, tokens] = (heads[0] as OutputTensor).dims as [number, number, number, number];
      // On the patch grid of the last layer's class-token map.
      const last = layers[layers.length - 1] as ImportedMap;
      const grid = (result.find((t) => t.module === last.module && t.tap === 'attention') as Tap).shape;
      const tap: Tap = { module: ROLLOUT, tap: 'spatial', shape: grid, data: attentionRollout(heads.map((l) => l.data), count, tokens, prefix) };
      result.push(tap);
      await hooks.onTap?.(tap);
    }
    const affinities = new Map<string, AffinityRecord>();
    for (const m of withAffinity) {
      const o = readBack.has(m.name) ? out.get(affinityOutput(m.name)) as OutputTensor : null;
      // (Empty if the graph's own size test chose the row blocks after all.)
      const query = (out.get(tapOutput(m.name, m.taps.includes('activation') ? 'activation' : 'attention')) as OutputTensor).dims.slice(1) as [number, number];
      const key = (out.get(tapOutput(m.name, 'attention')) as OutputTensor).dims.slice(1) as [number, number];
      const data = o?.data.length ? o.data : null;
      const input = data ? null : out.get(moduleInputOutput(m.name)) ?? null;
      const steps = data && m.affinitySteps
        ? { label: m.affinitySteps.label, steps: m.affinitySteps.steps.map((label, i) => ({ label, data: (out.get(affinityStepOutput(m.name, i + 1)) as OutputTensor).data })) }
        : undefined;
      affinities.set(m.name, { module: m.name, data, input, query, key, ...(steps ? { steps } : {}) });
    }
    this.keep(runId, { transform: pre.transform, affinities, input: pre.input, bypass, bytes: sumBytes(affinities) + pre.input.byteLength });
    const t5 = performance.now();
    return {
      runId,
      logits: (out.get(LOGITS) as OutputTensor).data,
      taps: result,
      ...(this.imported ? { maps: this.imported.maps.map((m) => runMap(m, out.get(m.output) as OutputTensor, result)) } : {}),
      transform: pre.transform,
      timings: {
        decodeMs: t1 - t0,
        preprocessMs: t2 - t1,
        forwardMs: t4 - t3,
        readbackMs: 0,
        totalMs: t5 - t0,
      },
      backend: this.runner.info.backend,
      runtime: this.runner.info.runtime,
      ...this.notice(),
    };
  }

  /**
   * Decoded images through one forward pass of batch N (`attnscope export --batch N`): the
   * same preprocessing as run(), the inputs stacked along the graph's batch dimension, each
   * image's taps and logits split back out. The runs are kept (for class evidence) without
   * their affinities, so they answer no clicked query. Options must be the same for all; a
   * tiled run, or a single image, goes through run().
   */
  async runBatch(items: Array<{ image: DecodedImage; options?: RunOptions }>): Promise<RunResult[]> {
    if (this.disposed) throw new EngineError('no-model', 'This model was closed; load it again.');
    const opts = items[0]?.options ?? {};
    if (items.length <= 1 || opts.tile || this.imported?.rollout) {
      const out: RunResult[] = [];
      for (const it of items) out.push(await this.run({ image: { kind: 'decoded', image: it.image }, options: it.options ?? {} }));
      return out;
    }
    const key = (o: RunOptions | undefined) => JSON.stringify([o?.inputSize, o?.resize, o?.mean, o?.std, [...(o?.bypass ?? [])].sort()]);
    if (items.some((it) => key(it.options) !== key(opts))) throw new EngineError('internal', 'A batch needs the same run options for every image.');
    const known = new Set(this.info.modules.map((m) => m.name));
    for (const b of opts.bypass ?? []) if (!known.has(b)) throw new EngineError('not-found', `Cannot bypass "${b}": the model has no such module.`);
    const size = opts.inputSize ?? this.info.inputSize;
    if (this.spec) {
      // Every image of the batch is in memory at once: the per-image estimate times N.
      try {
        checkMemory(this.spec, size, this.memoryLimit() / items.length, this.affinityReadbackBytes);
      } catch (err) {
        if (!(err instanceof EngineError)) throw err;
        throw new EngineError(err.code, `A batch of ${items.length} images does not fit (each image's share of the memory limit is ${Math.round(this.memoryLimit() / items.length / 2 ** 20)} MiB): ${err.message}`, 'Use a smaller --batch.');
      }
    }
    const t0 = performance.now();
    const prep = { ...(this.defaults.kernel ? { kernel: this.defaults.kernel } : {}), inputSize: size, resize: opts.resize ?? this.defaults.resize, mean: opts.mean ?? this.info.mean, std: opts.std ?? this.info.std };
    const pres = await Promise.all(items.map((it) => preprocess(it.image, prep)));
    const [h, w] = [(pres[0] as Preprocessed).transform.inputHeight, (pres[0] as Preprocessed).transform.inputWidth];
    const per = h * w * 3;
    const input = new Float32Array(per * items.length);
    pres.forEach((p, i) => input.set(p.input, i * per));
    const t1 = performance.now();
    const bypass = [...(opts.bypass ?? [])];
    const out = await this.runner.run({ input: { data: input, dims: [items.length, 3, h, w], layout: 'nhwc' }, bypass: new Set(bypass), fetch: this.tapFetch });
    const t2 = performance.now();
    // Row i of a [N, ...] output.
    const row = (o: OutputTensor, i: number): OutputTensor => {
      const n = o.data.length / items.length;
      return { data: o.data.slice(i * n, (i + 1) * n), dims: [1, ...o.dims.slice(1)] };
    };
    const notice = this.notice();
    return pres.map((pre, i) => {
      const runId = `run-${++runCounter}`;
      const one = new Map([...out].map(([k, v]) => [k, row(v, i)]));
      const taps: Tap[] = this.taps.map((t) => {
        const o = one.get(t.output) as OutputTensor;
        return { module: t.module, tap: t.tap, shape: o.dims.slice(1), data: o.data };
      });
      this.keep(runId, { transform: pre.transform, affinities: new Map(), input: pre.input, bypass, bytes: pre.input.byteLength });
      return {
        runId,
        logits: (one.get(LOGITS) as OutputTensor).data,
        taps,
        ...(this.imported ? { maps: this.imported.maps.map((m) => runMap(m, one.get(m.output) as OutputTensor, taps)) } : {}),
        transform: pre.transform,
        timings: { decodeMs: 0, preprocessMs: (t1 - t0) / items.length, forwardMs: (t2 - t1) / items.length, readbackMs: 0, totalMs: (performance.now() - t0) / items.length },
        backend: this.runner.info.backend,
        runtime: this.runner.info.runtime,
        ...(i === 0 ? notice : {}),
      };
    });
  }

  /**
   * The image in tiles at its own resolution (engine/tiles.ts): each tile one pass, its maps
   * stitched into image coordinates. The tile size is checked against the memory limit like
   * an input size, before anything is decoded.
   */
  private async runTiled(src: RunImage, opts: RunOptions, asked: { size: number; overlap?: number }, hooks: RunHooks): Promise<RunResult> {
    const cancelled = (): boolean => hooks.signal?.aborted === true;
    if (!this.spec) throw new EngineError('bad-request', 'Tiles are for the built-in ResNet families for now: an imported ONNX model\'s map grid is not known before it runs.', 'Run it without tiles, at a larger --input-size if the model allows it.');
    const align = tileAlignment(this.spec);
    const tile = { size: asked.size, overlap: asked.overlap ?? defaultOverlap(asked.size, align) };
    planTiles(tile.size, tile.size, tile, align); // the options' own checks, before any work
    checkMemory(this.spec, tile.size, this.memoryLimit(), this.affinityReadbackBytes);
    const t0 = performance.now();
    let image: DecodedImage;
    if (src.kind === 'decoded') image = src.image;
    else if (src.kind === 'input') throw new EngineError('bad-request', 'A tiled run needs an image, not a preprocessed input.');
    else image = await decodeImage(src.kind === 'path' ? src.path : new Uint8Array(src.bytes), src.kind === 'path' ? undefined : src.name);
    const t1 = performance.now();
    const plan = planTiles(image.width, image.height, tile, align);
    const transform: ImageTransform = {
      origWidth: image.width, origHeight: image.height, inputWidth: plan.paddedWidth, inputHeight: plan.paddedHeight,
      scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0, resize: 'pad',
      tiles: { size: tile.size, overlap: tile.overlap, columns: plan.xs.length, rows: plan.ys.length },
    };
    const runId = `run-${++runCounter}`;
    hooks.onStarted?.({ runId, image: { name: image.name, width: image.width, height: image.height }, transform });
    const bypass = [...(opts.bypass ?? [])];
    const mean = opts.mean ?? this.info.mean;
    const std = opts.std ?? this.info.std;
    const stitcher = new TileStitcher(plan);
    const total = plan.xs.length * plan.ys.length;
    let forwardMs = 0;
    for (let iy = 0; iy < plan.ys.length; iy++) {
      for (let ix = 0; ix < plan.xs.length; ix++) {
        if (cancelled()) throw new EngineError('cancelled', 'The run was cancelled.');
        const input = tileInput(image, plan.xs[ix] as number, plan.ys[iy] as number, tile.size, mean, std);
        const t = performance.now();
        const out = await this.runner.run({ input: { data: input, dims: [1, 3, tile.size, tile.size], layout: 'nhwc' }, bypass: new Set(bypass), fetch: this.tapFetch });
        forwardMs += performance.now() - t;
        const taps = this.taps.map((d) => {
          const o = out.get(d.output) as OutputTensor;
          return { module: d.module, tap: d.tap, shape: o.dims.slice(1), data: o.data };
        });
        stitcher.add(ix, iy, taps, (out.get(LOGITS) as OutputTensor).data);
        await hooks.onTile?.(iy * plan.xs.length + ix + 1, total);
      }
    }
    const { taps, logits } = stitcher.result(this.taps);
    for (const tap of taps) {
      await hooks.onTap?.(tap);
      if (cancelled()) throw new EngineError('cancelled', 'The run was cancelled.');
    }
    this.keep(runId, { transform, affinities: new Map(), input: new Float32Array(0), bypass, bytes: 0, tiled: true });
    const t5 = performance.now();
    return {
      runId, logits, taps, transform,
      timings: { decodeMs: t1 - t0, preprocessMs: 0, forwardMs, readbackMs: 0, totalMs: t5 - t0 },
      backend: this.runner.info.backend,
      runtime: this.runner.info.runtime,
      ...this.notice(),
    };
  }

  /** The runner's notice since the last run (GPU lost, now on the CPU), with the model's runtime info brought up to date. */
  private notice(): { notice?: string } {
    const notice = this.runner.takeNotice?.() ?? null;
    if (!notice) return {};
    this.info.runtime = this.runner.info;
    return { notice };
  }

  /**
   * Runs kept run `runId`'s forward pass again `repeat` times (same input, same bypass set,
   * every tap fetched; after one warm-up pass) and returns each pass's time in ms:
   * `attnscope maps --repeat`.
   */
  async time(runId: string, repeat: number): Promise<number[]> {
    const run = this.keptRun(runId, 'Run the image again.');
    await this.rerun(run, this.tapFetch);
    const times: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const t0 = performance.now();
      await this.rerun(run, this.tapFetch);
      times.push(performance.now() - t0);
    }
    return times;
  }

  /**
   * One forward pass on a blank input at the default size, results dropped. The first pass
   * on wasm pays for building and packing every conv operator (about 2-3x a normal pass);
   * hosts can call this right after loading so the user's first image does not.
   * Returns the time it took in ms.
   */
  async warmup(): Promise<number> {
    const t0 = performance.now();
    const size = this.info.inputSize;
    await this.runner.run({
      input: { data: new Float32Array(size * size * 3), dims: [1, 3, size, size] },
      bypass: new Set(),
      fetch: this.tapFetch,
    });
    return performance.now() - t0;
  }

  /** The non-local attention row of the query cell under `point` (original image pixels). */
  async query(runId: string, module: string, point: { x: number; y: number }): Promise<QueryResult> {
    const run = this.keptRun(runId, 'Run the image again, then query.');
    const mod = this.info.modules.find((m) => m.name === module);
    if (!mod) throw new EngineError('not-found', `The model has no module "${module}".`);
    untiled(run, 'each tile has its own attention rows, so there is no single row to show for a point', 'to click a query point');
    const rec = run.affinities.get(module);
    if (!rec) throw new EngineError('bad-request', `"${module}" is a ${mod.kind} module; only affinity modules (non-local, self-attention, heads) have an attention row to query.`);
    const cell = pointToCell(run.transform, point, rec.query);
    if (!cell) {
      throw new EngineError('bad-request', `The point (${point.x.toFixed(1)}, ${point.y.toFixed(1)}) is outside the part of the image the network saw.`,
        'With center-crop, the image edges are cut off; pick a point inside the crop.');
    }
    const keys = rec.key[0] * rec.key[1];
    const row = cell.row * rec.query[1] + cell.col;
    const rowOf = (d: Float32Array): Float32Array => d.slice(row * keys, (row + 1) * keys);
    if (rec.data) {
      return {
        cell, shape: [...rec.key], data: rowOf(rec.data),
        ...(rec.steps ? { label: rec.steps.label, steps: rec.steps.steps.map((s) => ({ label: s.label, data: rowOf(s.data) })) } : {}),
      };
    }
    // Not kept: the row alone, from the block's input (its own small graph).
    const rows = this.rowRunners.get(module);
    let x = rec.input;
    if (!x) {
      const output = moduleInputOutput(module);
      x = (await this.rerun(run, [output])).get(output) as OutputTensor;
    }
    if (!rows) throw new EngineError('internal', `"${module}" has no rows graph.`);
    const output = affinityRowsOutput(module);
    const data = ((await rows.run({ input: { data: x.data, dims: x.dims }, bypass: new Set(), fetch: [output], queryRows: new Map([[module, [row]]]) })).get(output) as OutputTensor).data;
    return { cell, shape: [...rec.key], data };
  }

  /**
   * A class-activation map (engine/cam.ts) of kept run `runId` for class `classIndex` at the
   * output of stage `stage`, with the run's bypass set. Gradient methods run on the tfjs
   * runtime (autodiff through the same graph), whatever runtime the session uses; Score-CAM
   * runs one masked pass per channel in batches, reporting progress.
   */
  async cam(runId: string, req: CamRequest, onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<CamResult> {
    if (this.disposed) throw new EngineError('no-model', 'This model was closed; load it again.');
    const t0 = performance.now();
    const run = this.keptRun(runId, 'Run the image again.');
    untiled(run, 'class evidence comes from one pass over the image', '');
    const evidence = this.classEvidence;
    if (!evidence) throw new EngineError('bad-request', 'Class evidence (CAM, Grad-CAM ...) needs known stages: the ResNet and timm families have them, an imported ONNX model does not.');
    if (!isCamMethod(req.method)) throw new EngineError('bad-request', `Unknown method "${String(req.method)}"; one of ${CAM_METHODS.join(', ')}.`);
    if (![1, 2, 3, 4].includes(req.stage)) throw new EngineError('bad-request', `Stage ${req.stage} does not exist; 1 to 4 (${evidence.stages.join(', ')}).`);
    const classes = this.info.numClasses;
    if (!Number.isInteger(req.classIndex) || req.classIndex < 0 || req.classIndex >= classes) {
      throw new EngineError('bad-request', `Class ${req.classIndex} is out of range: the model has classes 0 to ${classes - 1}.`);
    }
    if (req.method === 'cam' && (req.stage !== 4 || !evidence.fcWeight)) {
      throw new EngineError('bad-request', evidence.fcWeight
        ? `CAM is defined on the last stage (its channels feed the classifier through global pooling); use ${evidence.stages[3]}, or Grad-CAM for earlier stages.`
        : 'CAM needs a classifier right after global pooling, which this model does not have (its head convolves the pooled features); use Grad-CAM.');
    }
    const name = stageOutput(req.stage);
    const a = (await this.rerun(run, [name])).get(name) as OutputTensor;
    const [, c, h, w] = a.dims as [number, number, number, number];
    const hw = h * w;
    let data: Float32Array;
    let passes = 1;
    if (req.method === 'cam') {
      data = weightedSum(a.data, (evidence.fcWeight as Float32Array).subarray(req.classIndex * c, (req.classIndex + 1) * c), c, hw, false);
    } else if (req.method === 'eigencam') {
      data = eigenCam(a.data, c, hw);
    } else if (req.method === 'scorecam') {
      const scores = await this.maskedScores(run, a, req.classIndex, onProgress, signal);
      passes += c;
      data = weightedSum(a.data, scoreWeights(scores), c, hw, true);
    } else {
      // Grad-CAM, Grad-CAM++ and Layer-CAM of one class at one stage share the gradient; DCN
      // differentiates the prediction's entropy instead (no class).
      const objective = req.method === 'dcn' ? 'entropy' : req.classIndex;
      const key = `${runId}:${name}:${objective}`;
      if (this.lastGradient?.key !== key) this.lastGradient = { key, data: await this.gradient(run, name, a, objective) };
      const g = this.lastGradient.data;
      passes += 1;
      data = req.method === 'gradcam' ? gradCam(a.data, g, c, hw) : req.method === 'gradcam++' ? gradCamPlusPlus(a.data, g, c, hw)
        : req.method === 'dcn' ? gradientNorm(g, c, hw) : layerCam(a.data, g, c, hw);
    }
    const regions = req.method === 'dcn' ? topRegions(data, w, Math.min(DCN_REGIONS, Math.max(1, Math.floor(hw / 4)))) : null;
    return { method: req.method, layer: evidence.stages[req.stage - 1] as string, classIndex: req.classIndex, shape: [h, w], data, ...(regions ? { regions } : {}), passes, ms: performance.now() - t0 };
  }

  private gradRunner: Promise<TfjsRunner> | null = null;
  private lastGradient: { key: string; data: Float32Array } | null = null;

  /**
   * d y_c / d A at stage output `name`, A fed back into the tfjs interpreter of the same graph.
   * On the tensorflow or cpu backends the session's own tfjs runner does it; otherwise (ort,
   * or tfjs on wasm, which has no backprop kernels for convolutions and pools) a tfjs runner
   * of the graph on the cpu backend, made once, switched to for the gradient and back.
   */
  private async gradient(run: KeptRun, name: string, a: OutputTensor, objective: number | 'entropy'): Promise<Float32Array> {
    await import('@tensorflow/tfjs'); // registers the gradients (tfjs-core's Node build has none)
    const tf = await import('@tensorflow/tfjs-core');
    const previous = tf.getBackend();
    const own = 'interpreter' in this.runner && ['tensorflow', 'cpu'].includes(this.runner.info.backend) && (this.runner as TfjsRunner).interpreter.gradients;
    try {
      const runner = own ? this.runner as TfjsRunner
        : await (this.gradRunner ??= createTfjsRunner(this.graph.model, this.graph.modules.map((m) => m.name), 'cpu', { differentiable: true }));
      if (!own) await tf.setBackend('cpu');
      const { inputWidth: w, inputHeight: h } = run.transform;
      const feeds = runner.feeds({ input: { data: run.input, dims: [1, 3, h, w], layout: 'nhwc' }, bypass: new Set(run.bypass) });
      const g = tf.tidy(() => tf.grad((x: import('@tensorflow/tfjs-core').Tensor) => {
        const logits = runner.interpreter.run(new Map([...feeds, [name, { tensor: x }]]), [LOGITS]).get(LOGITS) as import('@tensorflow/tfjs-core').Tensor;
        if (objective !== 'entropy') return tf.squeeze(tf.slice(logits, [0, objective], [1, 1]));
        // H = -sum p log p of the prediction (DCN's saliency).
        const logp = tf.logSoftmax(tf.reshape(logits, [1, -1]));
        return tf.neg(tf.sum(tf.mul(tf.exp(logp), logp)));
      })(tf.tensor(a.data, a.dims)));
      const data = Float32Array.from(await g.data() as Float32Array);
      g.dispose();
      return data;
    } finally {
      if (previous && tf.getBackend() !== previous) await tf.setBackend(previous);
    }
  }

  /** Score-CAM: y_c of the run's input times each channel of A, upsampled and min-max normalised. */
  private async maskedScores(run: KeptRun, a: OutputTensor, classIndex: number, onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<Float64Array> {
    const [, c, h, w] = a.dims as [number, number, number, number];
    const { inputWidth: W, inputHeight: H } = run.transform;
    const pixels = W * H;
    const batch = Math.max(1, Math.min(16, Math.floor((64 * 2 ** 20) / (pixels * 3 * 4))));
    const scores = new Float64Array(c);
    for (let k0 = 0; k0 < c; k0 += batch) {
      if (signal?.aborted) throw new EngineError('cancelled', 'The class evidence was cancelled.');
      const n = Math.min(batch, c - k0);
      const input = new Float32Array(n * pixels * 3);
      for (let b = 0; b < n; b++) {
        const mask = minMax(resizeBilinear(a.data.subarray((k0 + b) * h * w, (k0 + b + 1) * h * w), h, w, H, W));
        const base = b * pixels * 3;
        for (let p = 0; p < pixels; p++) {
          const m = mask[p] as number;
          for (let ch = 0; ch < 3; ch++) input[base + p * 3 + ch] = (run.input[p * 3 + ch] as number) * m;
        }
      }
      const out = await this.runner.run({ input: { data: input, dims: [n, 3, H, W], layout: 'nhwc' }, bypass: new Set(run.bypass), fetch: [LOGITS] });
      const logits = (out.get(LOGITS) as OutputTensor).data;
      const classes = logits.length / n;
      for (let b = 0; b < n; b++) scores[k0 + b] = logits[b * classes + classIndex] as number;
      onProgress?.(k0 + n, c);
    }
    return scores;
  }

  /**
   * Channel `channel` of the features that entered `module` in run `runId` ([H, W], on the
   * module's map grid, the grid of its `activation` tap): what the module looked at in that
   * channel, before any gate. Unknown run or module, or a channel out of range:
   * EngineError('not-found').
   */
  async channelMap(runId: string, module: string, channel: number): Promise<ChannelMapResult> {
    if (this.disposed) throw new EngineError('no-model', 'This model was closed; load it again.');
    const run = this.keptRun(runId, 'Run the image again, then pick the channel.');
    const mod = this.info.modules.find((m) => m.name === module);
    if (!mod) throw new EngineError('not-found', `The model has no module "${module}".`);
    if (!Number.isInteger(channel) || channel < 0 || channel >= mod.channels) {
      throw new EngineError('not-found', `"${module}" has ${mod.channels} channels (0 to ${mod.channels - 1}); there is no channel ${channel}.`);
    }
    untiled(run, 'channel maps come from one pass over the image', 'to see a channel');
    if (mod.noChannelMaps) throw new EngineError('bad-request', `"${module}" does not gate a feature map of [C, H, W], so it has no channel maps.`);
    if (this.fetched?.runId !== runId || this.fetched.module !== module) {
      const output = moduleInputOutput(module);
      this.fetched = { runId, module, features: (await this.rerun(run, [output])).get(output) as OutputTensor };
    }
    return readChannel(this.fetched.features, channel);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.runs.clear();
    this.fetched = null;
    void this.runner.dispose();
    for (const r of this.rowRunners.values()) void r.dispose();
    void this.gradRunner?.then((r) => r.dispose(), () => {});
  }

  /** Kept run `runId`, or EngineError('not-found') with `hint`. */
  private keptRun(runId: string, hint: string): KeptRun {
    const run = this.runs.get(runId);
    if (!run) throw new EngineError('not-found', `Run "${runId}" is not kept any more (only the last ${KEPT_RUNS} runs are).`, hint);
    return run;
  }

  private keep(runId: string, run: KeptRun): void {
    this.runs.set(runId, run);
    let total = 0;
    for (const r of this.runs.values()) total += r.bytes;
    for (const [id, r] of this.runs) {
      if (this.runs.size <= KEPT_RUNS && total <= KEPT_AFFINITY_BYTES) break;
      if (id === runId) break;
      this.runs.delete(id);
      total -= r.bytes;
    }
  }
}

/** Built-in models live in assets/models/<name>/ beside the package (or $ATTNSCOPE_MODELS). */
export function defaultModelsDir(): string {
  if (process.env.ATTNSCOPE_MODELS) return process.env.ATTNSCOPE_MODELS;
  let dir = new URL('.', import.meta.url).pathname;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'assets', 'models');
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    dir = join(dir, '..');
  }
  return join(process.cwd(), 'assets', 'models');
}

export function archName(spec: NetSpec): string {
  const att = spec.attention;
  const parts = [`resnet${spec.depth}`];
  if (spec.stem === 'cifar') parts.push('cifar');
  // Stage strides other than torchvision's show as the output stride (DeepLab's "os16").
  const custom = customStrides(spec);
  if (custom) parts.push(`os${(spec.stem === 'cifar' ? 1 : 4) * custom.reduce((a, b) => a * b, 1)}`);
  if (att.kind === 'cbam') parts.push([att.layout === 'timm' ? 'cbam-timm' : 'cbam', ...cbamVariantParts(att)].join('-'));
  if (att.kind === 'se') parts.push(att.layout === 'linear' ? 'se-linear' : 'se');
  if (att.kind === 'gc') parts.push('gc');
  if (att.kind === 'spatial') parts.push('sse');
  if (att.kind === 'psa') parts.push(att.variant === 'sequential' ? 'psa-sequential' : 'psa');
  if (spec.inserts.some((i) => i.kind === 'bam')) parts.push('bam');
  for (const ins of spec.inserts) {
    if (ins.kind === 'nonlocal') parts.push(`${ins.name}-${ins.mode}${ins.subSample ? '-sub' : ''}`);
    if (ins.kind === 'gc' || ins.kind === 'selfattn' || ins.kind === 'pam' || ins.kind === 'cam' || ins.kind === 'cca' || ins.kind === 'ema' || ins.kind === 'a2') parts.push(ins.name);
    if (ins.kind === 'isa') parts.push(`${ins.name}-${ins.downFactor.join('x')}`);
    if (ins.kind === 'lightnl') parts.push(`${ins.name}-r${ins.ratio}-s${ins.stride}`);
    if (ins.kind === 'apnb' || ins.kind === 'stn') parts.push(ins.name);
    if (ins.kind === 'san') parts.push(`${ins.name}-k${ins.kernel}`);
    if (ins.kind === 'nlsa') parts.push(`${ins.name}-c${ins.chunk}`);
    if (ins.kind === 'rnl') parts.push(`${ins.name}-k${ins.kernel}${ins.subSample ? '-sub' : ''}`);
    if (ins.kind === 'afnb') parts.push(ins.low === ins.after - 1 ? ins.name : `${ins.name}-low${ins.low}`);
  }
  return parts.join('-');
}

function identityInput(src: { input: Float32Array; size: number }): Preprocessed {
  if (src.input.length !== src.size * src.size * 3) {
    throw new EngineError('bad-request', `A preprocessed input of size ${src.size} needs ${src.size * src.size * 3} values, not ${src.input.length}.`);
  }
  return {
    input: src.input,
    transform: {
      origWidth: src.size, origHeight: src.size, inputWidth: src.size, inputHeight: src.size,
      scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0, resize: 'stretch',
    },
  };
}

/** What needs one pass over the image refuses a tiled run, saying why (`what`) and what to do (`todo`). */
function untiled(run: KeptRun, what: string, todo: string): void {
  if (run.tiled) throw new EngineError('bad-request', `This run was tiled: ${what}.`, `Run the image without tiles${todo ? ` ${todo}` : ''}.`);
}

function sumBytes(affinities: Map<string, AffinityRecord>): number {
  let n = 0;
  for (const r of affinities.values()) {
    n += r.data?.byteLength ?? r.input?.data.byteLength ?? 0;
    for (const s of r.steps?.steps ?? []) n += s.data.byteLength;
  }
  return n;
}

/** An .onnx file's bytes (a protobuf is at most 2 GiB; larger weights live in external data). */
async function readModelFile(path: string): Promise<Uint8Array> {
  try {
    const size = statSync(path).size;
    if (size >= 2 ** 31) throw new EngineError('bad-model', `${basename(path)}: ${size} bytes is larger than an ONNX protobuf can be (2 GiB).`, 'Save the model with external data (onnx.save(..., save_as_external_data=True)).');
    return new Uint8Array(await readFile(path));
  } catch (err) {
    if (err instanceof EngineError) throw err;
    const code = (err as { code?: string }).code;
    throw new EngineError('not-found', code === 'ENOENT' ? `No file at ${path}.` : `${path} could not be read: ${(err as Error).message}`);
  }
}

/** An imported map of a run, batch dimension removed, in the shape maps.json states. */
function runMap(m: ImportedMap, o: OutputTensor, taps: Tap[]): RunMap {
  const tap = m.kind === 'spatial-softmax' ? taps.find((t) => t.module === m.module && t.tap === 'spatial')?.shape : undefined;
  return { module: m.module, map: m.map, kind: m.kind, node: m.node, shape: mapShape(m.kind, o.dims, tap), data: o.data };
}

/** The runtime options a load asks for. */
function runnerOptions(opts: LoadOptions): RunnerOptions {
  return {
    ...(opts.runtime ? { runtime: opts.runtime } : {}),
    ...(opts.backend ? { backend: opts.backend } : {}),
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
    ...(opts.device !== undefined ? { device: opts.device } : {}),
  };
}

/** SHA-256 of a ByteSource, read in 8 MiB pieces so large checkpoints are never whole in memory twice. */
async function hashSource(source: ByteSource): Promise<string> {
  const hash = createHash('sha256');
  const step = 8 * 1024 * 1024;
  for (let offset = 0; offset < source.size; offset += step) {
    hash.update(await source.read(offset, Math.min(step, source.size - offset)));
  }
  return hash.digest('hex');
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
