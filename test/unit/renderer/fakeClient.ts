// A scripted EngineClient for store and component tests: a small CBAM + non-local model
// whose taps are deterministic, with hooks to observe requests and hold runs open.
import type {
  EngineClient, EngineStatus, ExtraRequest, HelloReply, ImageSource, LoadOptions, ModelInfo, ModelSource,
  QueryReply, RequestOptions, RunDoneEvent, RunHandlers, RunOptions, RuntimeInfo, RuntimeName,
} from '../../../renderer/client/types';
import type { ImageTransform, Prediction } from '../../../engine/protocol';

export const MODEL: ModelInfo = {
  name: 'tiny-cbam', arch: 'resnet-tiny-cbam-nl', description: 'test model',
  modules: [
    { name: 'layer1.0.cbam', kind: 'cbam', stage: 'layer1', taps: ['channel', 'spatial', 'activation'], channels: 8, mapSize: [4, 4] },
    { name: 'layer2.0.cbam', kind: 'cbam', stage: 'layer2', taps: ['channel', 'spatial', 'activation'], channels: 8, mapSize: [2, 2] },
    { name: 'layer2.1.cbam', kind: 'cbam', stage: 'layer2', taps: ['channel', 'spatial', 'activation'], channels: 8, mapSize: [2, 2] },
    { name: 'nl3', kind: 'nonlocal', stage: 'layer3', taps: ['attention', 'activation'], channels: 16, mapSize: [2, 2] },
  ],
  classes: ['cat', 'dog', 'car', 'cup', 'sun', 'tree'], numClasses: 6, inputSize: 16,
  mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], weightsSha256: 'ab'.repeat(32), warnings: [],
};

/** What each runtime says it runs on (engine/runtimes). */
export const RUNTIMES: Record<RuntimeName, RuntimeInfo> = {
  ort: { runtime: 'ort', device: 'cpu', backend: 'cpu', threads: 2, detail: 'onnxruntime-node 1.30.0, CPU execution provider, 2 threads' },
  tfjs: { runtime: 'tfjs', device: 'cpu', backend: 'wasm', threads: 1, detail: 'TensorFlow.js 4.22.0, wasm (SIMD)' },
};

export const TRANSFORM: ImageTransform = {
  origWidth: 40, origHeight: 20, inputWidth: 16, inputHeight: 16, scaleX: 0.4, scaleY: 0.8, offsetX: 0, offsetY: 0, resize: 'stretch',
};

const GRAY_LUT = Array.from({ length: 768 }, (_, i) => Math.floor(i / 3));
const RED_LUT = Array.from({ length: 768 }, (_, i) => (i % 3 === 0 ? Math.floor(i / 3) : 0));

export function predictions(bypass: string[]): Prediction[] {
  const p = bypass.length ? [0.3, 0.4, 0.1, 0.1, 0.05, 0.05] : [0.6, 0.2, 0.1, 0.05, 0.03, 0.02];
  return p.map((probability, index) => ({ index, label: MODEL.classes![index]!, probability }))
    .sort((a, b) => b.probability - a.probability).slice(0, 5);
}

/** Channel weights of a module: a ramp, so sorting and statistics are predictable. */
export function channelWeights(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (i + 0.5) / n);
}

export class FakeClient implements EngineClient {
  readonly transport = 'websocket' as const;
  runs: Array<{ image: ImageSource; options: RunOptions }> = [];
  /** Every loadModel, with the runtime it asked for (undefined: the engine's default, ort). */
  loads: Array<{ source: ModelSource; runtime: RuntimeName | undefined }> = [];
  /** The device each load asked for. */
  devices: Array<string | undefined> = [];
  /** The runtime of the model loaded last. */
  loadedRuntime: RuntimeName = 'ort';
  requests: ExtraRequest[] = [];
  queries: Array<{ runId: string; module: string; point: { x: number; y: number } }> = [];
  /** When set, run() waits for this before streaming. */
  gate: Promise<void> | null = null;
  helloExtra: Partial<HelloReply> = {};
  loadError: Error | null = null;
  /** A runDone notice the engine sends (a GPU lost mid-run). */
  notice: string | null = null;
  /** Fields of the model the next loads return over MODEL's (another model: another weightsSha256). */
  modelOverride: Partial<ModelInfo> = {};
  /** False: an older engine that refuses `channelMap` (bad-request). */
  channelMapSupported = true;
  private statusListeners: Array<(s: EngineStatus) => void> = [];
  private runCount = 0;
  private cancelLast: (() => void) | null = null;

  async hello(): Promise<HelloReply> {
    return {
      type: 'hello', id: 1, protocol: 1, version: '0.1.0-test', backend: 'ort cpu', runtime: RUNTIMES.ort,
      capabilities: {
        formats: ['safetensors'], modules: ['cbam'], builtinModels: ['tiny-cbam'], imageFormats: ['png'],
        colormaps: [{ name: 'gray', lut: GRAY_LUT }, { name: 'viridis', lut: RED_LUT }, { name: 'turbo', lut: RED_LUT }],
        sources: ['builtin', 'bytes'], runtimes: ['ort', 'tfjs'],
      },
      ...this.helloExtra,
    };
  }

  async loadModel(source: ModelSource, onProgress?: (read: number, total: number) => void, options: LoadOptions = {}): Promise<ModelInfo> {
    this.loads.push({ source, runtime: options.runtime });
    this.devices.push(options.device);
    onProgress?.(50, 100);
    if (this.loadError) throw this.loadError;
    onProgress?.(100, 100);
    this.loadedRuntime = options.runtime ?? 'ort';
    return { ...MODEL, ...this.modelOverride, runtime: RUNTIMES[this.loadedRuntime] };
  }

  async run(image: ImageSource, options: RunOptions, handlers: RunHandlers = {}): Promise<RunDoneEvent> {
    this.cancelLast?.();
    const n = ++this.runCount;
    const runId = `run${n}`;
    this.runs.push({ image, options });
    let cancelled = false;
    const cancelError = Object.assign(new Error('Superseded by a newer request.'), { code: 'cancelled' });
    let rejectCancel: (e: unknown) => void = () => {};
    const cancelledP = new Promise<never>((_, reject) => { rejectCancel = reject; });
    this.cancelLast = () => { cancelled = true; rejectCancel(cancelError); };
    const body = async (): Promise<RunDoneEvent> => {
      if (this.gate) await this.gate;
      if (cancelled) throw cancelError;
      handlers.onStarted?.({ type: 'runStarted', id: n, runId, image: { name: 'img.png', width: 40, height: 20 }, transform: TRANSFORM });
      const taps = MODEL.modules.flatMap((m) => m.taps.map((t) => ({ m, t })));
      taps.forEach(({ m, t }, index) => {
        if (cancelled) return;
        const [h, w] = m.mapSize;
        const data = t === 'channel' ? channelWeights(m.channels)
          : Float32Array.from({ length: h * w }, (_, i) => (i === h * w - 1 ? 0.9 : 0.1 + i * 0.01));
        handlers.onTap?.({ type: 'tap', id: n, runId, module: m.name, tap: t, shape: t === 'channel' ? [m.channels] : [h, w], data, index, total: taps.length });
      });
      if (cancelled) throw cancelError;
      handlers.onPrediction?.({ type: 'prediction', id: n, runId, logits: new Float32Array(6), top: predictions(options.bypass ?? []) });
      const rt = RUNTIMES[this.loadedRuntime];
      return { type: 'runDone', id: n, runId, backend: `${rt.runtime} ${rt.backend}`, runtime: rt.runtime, timings: { decodeMs: 1, preprocessMs: 1, forwardMs: 10, readbackMs: 1, totalMs: 13 }, ...(this.notice ? { notice: this.notice } : {}) };
    };
    return Promise.race([body(), cancelledP]);
  }

  async query(runId: string, module: string, point: { x: number; y: number }): Promise<QueryReply> {
    this.queries.push({ runId, module, point });
    return { type: 'queryResult', id: 9, runId, module, point, cell: { row: 0, col: 1 }, shape: [2, 2], data: Float32Array.from([0.1, 0.7, 0.1, 0.1]) };
  }

  cancelRun(): void { this.cancelLast?.(); }

  onStatus(listener: (s: EngineStatus) => void): () => void {
    this.statusListeners.push(listener);
    listener({ state: 'ready', backend: 'ort cpu', runtime: RUNTIMES.ort });
    return () => { this.statusListeners = this.statusListeners.filter((l) => l !== listener); };
  }

  emitStatus(s: EngineStatus): void { for (const l of this.statusListeners) l(s); }

  async request<T extends { type: string }>(msg: ExtraRequest, options?: RequestOptions): Promise<T> {
    this.requests.push(msg);
    if (msg.type === 'channelMap') {
      if (!this.channelMapSupported) throw Object.assign(new Error('This engine does not handle "channelMap" requests.'), { code: 'bad-request' });
      return { type: 'channelMapResult', id: 9, runId: msg.runId, module: msg.module, channel: msg.channel, shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) } as unknown as T;
    }
    if (msg.type === 'export') {
      options?.onEvent?.({ type: 'exportProgress', id: 5, done: 1, total: 2, file: 'a.png' });
      return { type: 'exportDone', id: 5, dir: null, files: ['a.png', 'b.png'], archive: { name: 'export.zip', bytes: new ArrayBuffer(4) } } as unknown as T;
    }
    throw Object.assign(new Error(`unknown ${msg.type}`), { code: 'bad-request' });
  }

  close(): void {}
}

/** In-memory localStorage. */
export function memoryStorage(initial: Record<string, string> = {}): Storage {
  const map = new Map(Object.entries(initial));
  return {
    get length() { return map.size; },
    clear: () => map.clear(),
    getItem: (k) => map.get(k) ?? null,
    key: (i) => [...map.keys()][i] ?? null,
    removeItem: (k) => { map.delete(k); },
    setItem: (k, v) => { map.set(k, String(v)); },
  };
}

export const flush = () => new Promise((r) => setTimeout(r, 0));
