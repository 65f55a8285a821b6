// TensorFlow.js backend selection (DESIGN.md "Backends"): the fastest backend that loads,
// in the order tfjs-node-gpu (CUDA) -> tfjs-node (native CPU) -> wasm -> cpu, or the one
// the user forced. Initialised once per process: tfjs keeps one global engine, so a
// second call only reports what the first one chose (or switches, if a different
// backend is forced and loads).

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { EngineError } from './errors';

export type BackendChoice = 'tensorflow-gpu' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

export const BACKEND_CHOICES: readonly BackendChoice[] = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'];
/**
 * What loads without being asked for. WebGPU is not among them: it is what `--device gpu`
 * (or auto) asks for on the tfjs runtime, like the ort runtime's GPU providers.
 */
const DEFAULT_ORDER: readonly BackendChoice[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

export interface BackendInfo {
  /** The tfjs backend name actually in use: `tensorflow`, `wasm` or `cpu`. */
  name: string;
  /** What was chosen and why, e.g. "wasm (SIMD); tfjs-node not installed". */
  detail: string;
}

let current: { choice: BackendChoice; info: BackendInfo } | null = null;
let pending: Promise<BackendInfo> | null = null;

export function isBackendChoice(value: string): value is BackendChoice {
  return (BACKEND_CHOICES as readonly string[]).includes(value);
}

/** Whether the backend chosen so far runs on a GPU (tfjs-node-gpu's CUDA TensorFlow, WebGPU on Dawn). */
export function backendOnGpu(): boolean {
  return current?.choice === 'tensorflow-gpu' || current?.choice === 'webgpu';
}

/** The backend chosen so far, or null before initBackend. */
export function currentBackend(): BackendInfo | null {
  return current?.info ?? null;
}

/**
 * Picks and initialises a backend. Without `preferred`, tries each in order and reports
 * why the faster ones were skipped; with `preferred`, that one or an EngineError('backend')
 * saying why it failed.
 */
export function initBackend(preferred?: BackendChoice): Promise<BackendInfo> {
  if (current && (preferred === undefined || preferred === current.choice)) return Promise.resolve(current.info);
  // Serialise concurrent callers: tf.setBackend is global state.
  const run = (pending ?? Promise.resolve(null as unknown as BackendInfo)).catch(() => null).then(() => {
    if (current && (preferred === undefined || preferred === current.choice)) return current.info;
    return choose(preferred);
  });
  pending = run;
  return run;
}

async function choose(preferred?: BackendChoice): Promise<BackendInfo> {
  const order = preferred ? [preferred] : DEFAULT_ORDER;
  const skipped: string[] = [];
  for (const choice of order) {
    try {
      const detail = await tryBackend(choice);
      const info: BackendInfo = {
        name: tf.getBackend(),
        detail: skipped.length ? `${detail}; skipped: ${skipped.join('; ')}` : detail,
      };
      current = { choice, info };
      return info;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (preferred) {
        throw new EngineError('backend', `The ${choice} backend could not be loaded: ${why}`, hintFor(choice));
      }
      skipped.push(`${choice}: ${firstLine(why)}`);
    }
  }
  throw new EngineError('backend', `No TensorFlow.js backend could be loaded (${skipped.join('; ')})`,
    'Reinstall the app dependencies (npm ci); the cpu backend should always load.');
}

async function tryBackend(choice: BackendChoice): Promise<string> {
  switch (choice) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      // Optional dependencies: their install downloads libtensorflow, which fails on many
      // machines, so a missing package is the normal case, not an error.
      const pkg = choice === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      try {
        await import(/* @vite-ignore */ pkg);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new Error(`${pkg} is not installed`);
        throw err;
      }
      await activate('tensorflow');
      return `tensorflow (${pkg})`;
    }
    case 'webgpu': {
      const adapter = await installWebGpu();
      await import('@tensorflow/tfjs-backend-webgpu');
      await activate('webgpu');
      return `webgpu (Dawn, ${adapter})`;
    }
    case 'wasm': {
      setWasmPaths(wasmDir());
      await activate('wasm');
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      return `wasm (${simd ? 'SIMD' : 'no SIMD'}, single thread)`;
    }
    case 'cpu':
      await activate('cpu');
      return 'cpu (plain JavaScript)';
  }
}

/**
 * navigator.gpu from the `webgpu` package (Dawn, prebuilt for Linux, macOS and Windows; an
 * optional dependency), for tfjs's WebGPU backend in Node. Returns the adapter's description.
 */
interface DawnGpu { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string; description?: string } } | null> }

async function installWebGpu(): Promise<string> {
  let dawn: { create(flags: string[]): DawnGpu; globals: Record<string, unknown> };
  try {
    const pkg = 'webgpu'; // optional dependency: resolved at run time only
    dawn = await import(/* @vite-ignore */ pkg) as typeof dawn;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new Error('the webgpu package (Dawn) is not installed');
    throw err;
  }
  const g = globalThis as unknown as { navigator?: { gpu?: DawnGpu } };
  if (!g.navigator?.gpu) {
    for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    const gpu = dawn.create([]);
    if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
  const adapter = await (g.navigator?.gpu as DawnGpu).requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter (no Vulkan, Metal or Direct3D 12 driver Dawn can use)');
  const a = adapter.info;
  return [a?.vendor, a?.architecture, a?.description].filter(Boolean).join(' ') || 'adapter';
}

async function activate(name: string): Promise<void> {
  // PROD silences tfjs's console banners (the cpu backend's "install tfjs-node" notice
  // would land in CLI output and the app log); the engine reports its backend itself.
  tf.env().set('PROD', true);
  if (!tf.findBackendFactory(name)) throw new Error(`tfjs has no "${name}" backend registered`);
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`tfjs could not initialise the "${name}" backend`);
  await tf.ready();
}

/** The .wasm binaries ship inside the npm package; in Node the prefix is a directory path. */
function wasmDir(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('@tensorflow/tfjs-backend-wasm');
  // main is <pkg>/dist/tf-backend-wasm.node.js: the binaries sit beside it.
  return join(dirname(main), '/');
}

function hintFor(choice: BackendChoice): string {
  switch (choice) {
    case 'tensorflow-gpu':
      return 'Install @tensorflow/tfjs-node-gpu (needs CUDA and a libtensorflow download), or use --backend wasm.';
    case 'tensorflow':
      return 'Install @tensorflow/tfjs-node (needs a libtensorflow download), or use --backend wasm.';
    case 'webgpu':
      return 'Use --device cpu, or check the GPU driver (Vulkan, Metal or Direct3D 12) and that the optional webgpu package installed.';
    default:
      return 'Reinstall the app dependencies (npm ci), or try --backend cpu.';
  }
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? s;
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}
