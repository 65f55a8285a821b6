// A loaded model: checkpoint -> architecture -> network, then runs on images with taps
// streamed in forward order, and non-local attention rows answered for the last few runs.
// One Session per loaded model; everything it allocates goes away with dispose().

import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { currentBackend, type BackendChoice, initBackend } from './backend';
import { BufferSource, FileSource, openCheckpoint } from './checkpoints';
import { checkStateDict, describeSpec, detectArchitecture } from './checkpoints/detect';
import type { ByteSource, CheckpointContents } from './checkpoints/types';
import { type ChannelMapResult, disposeFeatures, type LastInputs, readChannel, recomputeModuleInput } from './channelMap';
import { EngineError } from './errors';
import { type DecodedImage, decodeToInput, IMAGENET_MEAN, IMAGENET_STD, pointToCell, type Preprocessed, preprocess } from './image';
import { readManifest, type ModelManifest } from './models';
import { specFromArchName } from './nets/presets';
import { type AffinityRecord, ResNet } from './nets/resnet';
import { customStrides, type NetSpec } from './nets/spec';
import type { ImageSource, ModelSource } from './protocol';
import type { ImageTransform, ModelInfo, RunOptions, RunResult, Tap } from './types';

/** Runs whose non-local affinities (and decoded images) are kept for query(). */
export const KEPT_RUNS = 4;
/** ...and at most this many bytes of affinities and network inputs (for channelMap) across them. */
export const KEPT_AFFINITY_BYTES = 256 * 1024 * 1024;

export interface LoadOptions {
  /** Architecture name (nets/presets.ts) or a NetSpec; default: the manifest's, else detected from the keys. */
  arch?: string | NetSpec;
  /** Directory of built-in models (assets/models). */
  modelsDir?: string;
  backend?: BackendChoice;
  onProgress?: (bytesRead: number, totalBytes: number) => void;
  signal?: AbortSignal;
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
  onTap?: (tap: Tap) => void;
  /** Aborting stops the run at the next module, frees its tensors and throws EngineError('cancelled'). */
  signal?: AbortSignal;
}

export interface QueryResult {
  /** The query point's cell in the module's query grid. */
  cell: { row: number; col: number };
  /** [H', W']: the key grid. */
  shape: number[];
  data: Float32Array;
}

export type { ChannelMapResult } from './channelMap';

interface KeptRun {
  transform: ImageTransform;
  affinities: Map<string, AffinityRecord>;
  /** The network input and bypass set, to recompute module inputs for channelMap(). */
  input: Float32Array;
  bypass: string[];
  bytes: number;
}

let runCounter = 0;

export class Session {
  private readonly runs = new Map<string, KeptRun>();
  private last: LastInputs | null = null;
  private disposed = false;

  private constructor(
    readonly info: ModelInfo,
    private readonly net: ResNet,
    private readonly defaults: { resize: NonNullable<RunOptions['resize']> },
  ) {}

  /**
   * Loads a model: a built-in one by name, a checkpoint file or a model directory (with
   * manifest.json) by path, checkpoint bytes, or any ByteSource (which the caller closes).
   */
  static async load(source: ModelSource | { kind: 'source'; source: ByteSource }, opts: LoadOptions = {}): Promise<Session> {
    await initBackend(opts.backend);
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
    } else if (source.kind === 'path' && existsSync(join(source.path, 'manifest.json'))) {
      manifest = readManifest(source.path);
      weightsPath = join(source.path, manifest.weights);
      name = manifest.name;
    } else if (source.kind === 'path') {
      weightsPath = source.path;
      name = basename(source.path);
    } else if (source.kind === 'source') {
      name = source.source.name;
    } else {
      name = source.name;
    }

    const bytes = source.kind === 'bytes' ? new Uint8Array(source.bytes) : null;
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

    const net = ResNet.load(spec, tensors);
    const unused = net.unusedKeys;
    if (unused.length) {
      warnings.push(`${unused.length} checkpoint key(s) not used by the network: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', ...' : ''}`);
    }
    const inputSize = manifest?.inputSize ?? (spec.stem === 'cifar' ? 32 : 224);
    const info: ModelInfo = {
      name,
      arch: typeof opts.arch === 'string' ? opts.arch : archName(spec),
      description,
      modules: net.describe(inputSize),
      classes: manifest?.classes ?? null,
      numClasses: spec.numClasses,
      inputSize,
      mean: manifest?.mean ?? IMAGENET_MEAN,
      std: manifest?.std ?? IMAGENET_STD,
      weightsSha256: sha256,
      warnings,
      ...(manifest?.defaultVisible ? { defaultVisible: manifest.defaultVisible } : {}),
    };
    return new Session(info, net, { resize: manifest?.resize ?? 'stretch' });
  }

  async run(request: { image: RunImage; options?: RunOptions }, hooks: RunHooks = {}): Promise<RunResult> {
    if (this.disposed) throw new EngineError('no-model', 'This model was closed; load it again.');
    const opts = request.options ?? {};
    const known = new Set(this.info.modules.map((m) => m.name));
    for (const b of opts.bypass ?? []) {
      if (!known.has(b)) throw new EngineError('not-found', `Cannot bypass "${b}": the model has no such module.`, `Modules: ${[...known].join(', ')}`);
    }
    const cancelled = (): boolean => hooks.signal?.aborted === true;
    const t0 = performance.now();
    const src = request.image;
    const prep = {
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
    const affinities = new Map<string, AffinityRecord>();
    const features = new Map<string, tf.Tensor4D>();
    const input = tf.tensor4d(pre.input, [1, pre.transform.inputHeight, pre.transform.inputWidth, 3]);
    const bypass = [...(opts.bypass ?? [])];
    let result;
    try {
      result = await this.net.forward(input, {
        bypass: new Set(bypass),
        onTap: hooks.onTap,
        onAffinity: (r) => affinities.set(r.module, r),
        onModuleInput: (module, t) => features.set(module, t),
        signal: hooks.signal,
      });
    } catch (err) {
      disposeFeatures(features);
      throw err;
    } finally {
      input.dispose();
    }
    if (this.last) disposeFeatures(this.last.features);
    this.last = { runId, features };
    this.keep(runId, { transform: pre.transform, affinities, input: pre.input, bypass, bytes: sumBytes(affinities) + pre.input.byteLength });
    const t3 = performance.now();
    return {
      runId,
      logits: result.logits,
      taps: result.taps,
      transform: pre.transform,
      timings: {
        decodeMs: t1 - t0,
        preprocessMs: t2 - t1,
        forwardMs: result.forwardMs,
        readbackMs: result.readbackMs,
        totalMs: t3 - t0,
      },
      backend: currentBackend()?.name ?? tf.getBackend(),
    };
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
    const input = tf.zeros([1, size, size, 3]) as tf.Tensor4D;
    try {
      await this.net.forward(input);
    } finally {
      input.dispose();
    }
    return performance.now() - t0;
  }

  /** The non-local attention row of the query cell under `point` (original image pixels). */
  async query(runId: string, module: string, point: { x: number; y: number }): Promise<QueryResult> {
    const run = this.runs.get(runId);
    if (!run) {
      throw new EngineError('not-found', `Run "${runId}" is not kept any more (only the last ${KEPT_RUNS} runs are).`, 'Run the image again, then query.');
    }
    const mod = this.info.modules.find((m) => m.name === module);
    if (!mod) throw new EngineError('not-found', `The model has no module "${module}".`);
    const rec = run.affinities.get(module);
    if (!rec) throw new EngineError('bad-request', `"${module}" is a ${mod.kind} module; only non-local modules have an attention row to query.`);
    const cell = pointToCell(run.transform, point, rec.query);
    if (!cell) {
      throw new EngineError('bad-request', `The point (${point.x.toFixed(1)}, ${point.y.toFixed(1)}) is outside the part of the image the network saw.`,
        'With center-crop, the image edges are cut off; pick a point inside the crop.');
    }
    const keys = rec.key[0] * rec.key[1];
    const row = cell.row * rec.query[1] + cell.col;
    return { cell, shape: [...rec.key], data: rec.data.slice(row * keys, (row + 1) * keys) };
  }

  /**
   * Channel `channel` of the features that entered `module` in run `runId` ([H, W], on the
   * module's map grid, the grid of its `activation` tap): what the module looked at in that
   * channel, before any gate. Unknown run or module, or a channel out of range:
   * EngineError('not-found').
   */
  async channelMap(runId: string, module: string, channel: number): Promise<ChannelMapResult> {
    if (this.disposed) throw new EngineError('no-model', 'This model was closed; load it again.');
    const run = this.runs.get(runId);
    if (!run) {
      throw new EngineError('not-found', `Run "${runId}" is not kept any more (only the last ${KEPT_RUNS} runs are).`, 'Run the image again, then pick the channel.');
    }
    const mod = this.info.modules.find((m) => m.name === module);
    if (!mod) throw new EngineError('not-found', `The model has no module "${module}".`);
    if (!Number.isInteger(channel) || channel < 0 || channel >= mod.channels) {
      throw new EngineError('not-found', `"${module}" has ${mod.channels} channels (0 to ${mod.channels - 1}); there is no channel ${channel}.`);
    }
    const kept = this.last?.runId === runId ? this.last.features.get(module) : undefined;
    if (kept) return readChannel(kept, channel);
    const features = await recomputeModuleInput(this.net, run, module);
    try {
      return await readChannel(features, channel);
    } finally {
      features.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.runs.clear();
    if (this.last) disposeFeatures(this.last.features);
    this.last = null;
    this.net.dispose();
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
  if (att.kind === 'cbam') parts.push(att.layout === 'timm' ? 'cbam-timm' : 'cbam');
  if (att.kind === 'se') parts.push(att.layout === 'linear' ? 'se-linear' : 'se');
  if (att.kind === 'gc') parts.push('gc');
  if (spec.inserts.some((i) => i.kind === 'bam')) parts.push('bam');
  for (const ins of spec.inserts) {
    if (ins.kind === 'nonlocal') parts.push(`${ins.name}-${ins.mode}${ins.subSample ? '-sub' : ''}`);
    if (ins.kind === 'gc') parts.push(ins.name);
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

function sumBytes(affinities: Map<string, AffinityRecord>): number {
  let n = 0;
  for (const r of affinities.values()) n += r.data.byteLength;
  return n;
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
