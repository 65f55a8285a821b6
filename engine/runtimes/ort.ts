// Runtime `ort` (the default): ONNX Runtime for Node (`onnxruntime-node`), CPU execution
// provider with one intra-op thread per core and every graph optimisation on. It installs
// from npm without a download (`.npmrc`: onnxruntime-node-install=skip; the CPU and WebGPU
// builds ship in the package). Measured on this machine size (bench/RESULTS.md) it runs the
// attention graph several times faster than TensorFlow.js on wasm.

import { availableParallelism } from 'node:os';
import { EngineError } from '../errors';
import { bypassInput, QUERY_ROWS_SUFFIX, queryRowsInput } from '../graph/names';
import { type FloatFeed, type GraphRunner, nhwcToNchw, type OutputTensor, type RunRequest, type RuntimeInfo } from './types';

type Ort = typeof import('onnxruntime-node');
let ortModule: Promise<Ort> | null = null;

/** Loaded on first use: the native binding is only paid for by processes that run a graph. */
function loadOrt(): Promise<Ort> {
  ortModule ??= import('onnxruntime-node').then((ort) => {
    // ONNX Runtime's own log: fatal only. Its errors reach the user as exceptions, with advice
    // (a GPU provider that does not load is expected and said in the runtime detail).
    ort.env.logLevel = 'fatal';
    return ort;
  }, (err: unknown) => {
    ortModule = null;
    throw new EngineError('backend', `ONNX Runtime could not be loaded: ${err instanceof Error ? err.message : String(err)}`,
      'Reinstall the app dependencies (npm ci), or use --runtime tfjs.');
  });
  return ortModule;
}

// Devices (engine/types.ts DeviceChoice): gpu is the WebGPU execution provider bundled with
// onnxruntime-node (Vulkan, Metal or Direct3D through Dawn); auto, the GPU when one loads.
export { DEVICE_CHOICES, type DeviceChoice, isDeviceChoice } from '../types';
import type { DeviceChoice } from '../types';

export interface OrtOptions {
  threads?: number;
  /** Default cpu. */
  device?: DeviceChoice;
  /** Imported models: the folder ONNX Runtime reads external data from (checked by engine/import/onnxFile.ts). */
  externalDataDir?: string | null;
}

/** Session options that let a model given as bytes read its external data from `dir`. */
function externalData(dir: string | null | undefined): { extra?: Record<string, unknown> } {
  return dir ? { extra: { session: { model_external_initializers_file_folder_path: dir } } } : {};
}

/**
 * One pass of a model (engine/import's probe): zeros of `input.dims` fed to `input.name`,
 * the dims of every value in `outputs` that the graph computed.
 */
export async function probeShapes(model: Uint8Array, input: { name: string; dims: number[] }, outputs: string[], externalDir: string | null): Promise<Map<string, number[]>> {
  const ort = await loadOrt();
  let session: import('onnxruntime-node').InferenceSession;
  try {
    session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], graphOptimizationLevel: 'basic', enableCpuMemArena: false, logSeverityLevel: 3, ...externalData(externalDir) });
  } catch (err) {
    throw new EngineError('bad-model', `ONNX Runtime could not load the model: ${firstLine(err)}`, unknownOpHint(err));
  }
  try {
    const count = input.dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = Math.sin(i * 0.37) * 0.5; // not all zeros: softmaxes and gates stay generic
    const out = await session.run({ [input.name]: new ort.Tensor('float32', data, input.dims) }, outputs);
    return new Map(Object.entries(out).map(([k, t]) => [k, [...t.dims]]));
  } finally {
    await session.release();
  }
}

function firstLine(err: unknown): string {
  return ((err instanceof Error ? err.message : String(err)).split('\n')[0] as string).slice(0, 400);
}

/** ONNX Runtime's words for an op it does not implement, as advice. */
function unknownOpHint(err: unknown): string | undefined {
  const m = /Could not find an implementation for (\w+)\((\d+)\)|No opset import for domain '([^']*)'|(\w+) is not a registered function\/op/.exec(err instanceof Error ? err.message : String(err));
  if (!m) return undefined;
  return m[1] ? `ONNX Runtime has no ${m[1]} (opset ${m[2]}); export with another opset or replace the op.` : m[3] !== undefined ? `The model uses the custom op domain "${m[3]}", which ONNX Runtime does not know.` : `ONNX Runtime does not know the op ${m[4]}; it may come from a custom exporter.`;
}

/** What the ort runtime runs on with `threads` intra-op threads (default: one per core). */
export async function ortInfo(threads = availableParallelism()): Promise<RuntimeInfo> {
  const ort = await loadOrt();
  return {
    runtime: 'ort',
    device: 'cpu',
    backend: 'cpu',
    threads,
    detail: `onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common}, CPU execution provider, ${threads} thread${threads === 1 ? '' : 's'}`,
  };
}

/**
 * GPU execution providers in the order `--device gpu|auto` tries them, the first that loads
 * wins: the native providers first (CUDA where the user installed onnxruntime-node's CUDA
 * build, DirectML on Windows, CoreML on macOS), then WebGPU (Vulkan, Metal, Direct3D through
 * Dawn), bundled everywhere. The order is an assumption from the issue's H200 figures (PyTorch
 * on CUDA 12.8 ms, ONNX Runtime on WebGPU 30.5 ms, CBAM ResNet-50); ONNX Runtime's own CUDA,
 * DirectML and CoreML providers have not been measured on a GPU machine yet. Only those this build of
 * onnxruntime-node lists are tried (an unlisted one would be dropped silently, CPU instead).
 */
const GPU_ORDER = ['cuda', 'dml', 'coreml', 'webgpu'] as const;
export type GpuProvider = (typeof GPU_ORDER)[number];
const GPU_LABEL: Record<GpuProvider, string> = { cuda: 'CUDA', dml: 'DirectML', coreml: 'CoreML', webgpu: 'WebGPU' };

export async function gpuProviders(): Promise<GpuProvider[]> {
  const ort = await loadOrt();
  const listed = new Set(ort.listSupportedBackends().map((b) => b.name));
  return GPU_ORDER.filter((ep) => listed.has(ep));
}

export async function createOrtRunner(model: Uint8Array, bypassModules: string[], opts: OrtOptions = {}): Promise<GraphRunner> {
  const ort = await loadOrt();
  const threads = opts.threads ?? availableParallelism();
  const device = opts.device ?? 'cpu';
  let session: import('onnxruntime-node').InferenceSession | null = null;
  /** The GPU execution provider the session runs on, and why each one tried before it did not load. */
  let chosen: GpuProvider | null = null;
  const failures: string[] = [];
  if (device !== 'cpu') {
    // Shape ops and what a GPU provider lacks (If/Loop bookkeeping, Range ...) stay on the CPU
    // provider; ONNX Runtime copies between them.
    for (const ep of await gpuProviders()) {
      try {
        session = await ort.InferenceSession.create(model, {
          executionProviders: [ep, 'cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1,
          enableCpuMemArena: false, logSeverityLevel: 4, ...externalData(opts.externalDataDir),
        });
        chosen = ep;
        break;
      } catch (err) {
        failures.push(`${GPU_LABEL[ep]}: ${ep === 'cuda' && /Failed to load shared library/.test(String(err)) ? 'not installed (npm install --onnxruntime-node-install=cuda12)' : firstLine(err).slice(0, 200)}`);
      }
    }
    if (!chosen && device === 'gpu') {
      const webgpu = failures.find((f) => f.startsWith('WebGPU: '));
      const others = failures.filter((f) => f !== webgpu);
      throw new EngineError('backend', `No GPU for ONNX Runtime's WebGPU execution provider: ${webgpu ? webgpu.slice('WebGPU: '.length) : 'not in this build'}${others.length ? ` (also tried ${others.join('; ')})` : ''}`,
        'Use --device cpu (or auto, which falls back to the CPU), or check the GPU driver (Vulkan, Metal or Direct3D 12).');
    }
  }
  try {
    session ??= await ort.InferenceSession.create(model, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      // No memory arena: ORT's arena keeps the peak of the largest run for the session's life
      // (3.4 GB RSS after one 1024 px pass of the built-in model, 153 MB without). Measured
      // A/B at the models' own sizes, 2 threads: built-in model 2-3 ms, CBAM ResNet-50
      // 74-85 ms, either way (within this machine's noise).
      enableCpuMemArena: false,
      ...externalData(opts.externalDataDir),
    });
  } catch (err) {
    throw new EngineError('bad-model', `ONNX Runtime could not build the graph: ${err instanceof Error ? err.message : String(err)}`, unknownOpHint(err));
  }
  const base = await ortInfo(threads);
  const version = base.detail.split(',')[0] as string;
  const notChosen = failures.length ? `; not ${failures.join('; ')}` : '';
  const info: RuntimeInfo = chosen
    ? { ...base, device: 'gpu', backend: chosen, detail: `${version}, ${GPU_LABEL[chosen]} execution provider (${chosen === 'webgpu' ? 'Dawn; ' : ''}shape ops on the CPU EP, ${threads} thread${threads === 1 ? '' : 's'})${notChosen}` }
    : failures.length ? { ...base, detail: `${base.detail}; no GPU (${failures.join('; ')})` } : base;
  const rowModules = session.inputNames.filter((n) => n.endsWith(QUERY_ROWS_SUFFIX)).map((n) => n.slice(0, -QUERY_ROWS_SUFFIX.length));
  const bools = new Map<boolean, import('onnxruntime-node').Tensor>();
  const bool = (v: boolean) => {
    let t = bools.get(v);
    if (!t) { t = new ort.Tensor('bool', new Uint8Array([v ? 1 : 0]), []); bools.set(v, t); }
    return t;
  };
  const floatTensor = (f: FloatFeed) =>
    new ort.Tensor('float32', f.layout === 'nhwc' ? nhwcToNchw(f.data, f.dims) : f.data, f.dims);

  return {
    info,
    async run(req: RunRequest): Promise<Map<string, OutputTensor>> {
      const feeds: Record<string, import('onnxruntime-node').Tensor> = { input: floatTensor(req.input) };
      for (const m of bypassModules) feeds[bypassInput(m)] = bool(req.bypass.has(m));
      for (const m of rowModules) {
        const rows = req.queryRows?.get(m) ?? [0];
        feeds[queryRowsInput(m)] = new ort.Tensor('int64', BigInt64Array.from(rows, BigInt), [rows.length]);
      }
      let out: Record<string, import('onnxruntime-node').Tensor>;
      try {
        out = await session.run(feeds, req.fetch);
      } catch (err) {
        throw new EngineError('internal', `ONNX Runtime failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      const result = new Map<string, OutputTensor>();
      for (const name of req.fetch) {
        const t = out[name];
        if (!t) throw new EngineError('not-found', `The graph has no output "${name}".`);
        result.set(name, { data: t.data as Float32Array, dims: [...t.dims] });
      }
      return result;
    },
    async dispose() {
      await session.release();
    },
  };
}
