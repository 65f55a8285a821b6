// Every message between the engine and its clients (DESIGN.md "Processes").
// A discriminated union on `type`. Requests carry a client-chosen `id`; every reply and
// stream event carries the `id` of the request it answers. Bulk arrays travel as
// Float32Array / ArrayBuffer so that hosts can transfer them instead of copying.
//
// A request ends with exactly one final message for its id: its reply (`hello`,
// `modelInfo`, `runDone`, `queryResult`, `channelMapResult`, `cancelled` ...) or an `error`. Stream events
// before it are named `runStarted`, `tap`, `prediction` or `*Progress`; a client that
// does not know a request type (export, added later) relies on that naming.
// `engineStatus` (id null) comes from the host, not from the engine core: the engine
// process died and is being restarted, or is back.
//
// Transports:
// - MessagePort / worker_threads / utilityProcess: structured clone, with the
//   ArrayBuffers of every typed array in the message transferred.
// - WebSocket (web mode): a message without arrays is a text frame of plain JSON. A
//   message with arrays is one binary frame:
//     bytes 0..3   u32 little-endian: N, byte length of the header
//     bytes 4..4+N UTF-8 JSON header {"m": message, "b": [[offset, byteLength], ...]}
//     then the raw bytes of each array, each starting at an offset that is a multiple of 8
//   In the header's message every array is replaced by {"$bin": i, "t": "f32" | "u8" | "ab"}
//   (Float32Array, Uint8Array, ArrayBuffer), i indexing "b"; offsets count from frame
//   start. Codec: common/wire.ts, shared by the engine's WebSocket host and the
//   page's client.
//
// This file must stay free of Node and DOM APIs: main/ and renderer/ import its types.

import { CAM_METHODS, type CamMap, type CamMethod, isCamMethod } from './cam';
import type { ErrorCode } from './errors';
import { findHubModel, type HubModelState } from './hub/catalogue';
import { DEVICE_CHOICES, type DeviceChoice, type ImageTransform, isDeviceChoice, isRuntimeName, type ModelInfo, type Prediction, type ResizeMode, type RunOptions, type RunTimings, type RuntimeInfo, type RuntimeName, RUNTIME_NAMES, type TapName } from './types';

export type { ErrorCode } from './errors';
export type { CamMethod } from './cam';
export type { HubAttention, HubModel, HubModelState, HubPaper } from './hub/catalogue';
export type { DeviceChoice } from './types';
export type { ImageTransform, ModelInfo, ModuleInfo, Prediction, RunOptions, RunTimings, RuntimeInfo, RuntimeName, TapName, ResizeMode } from './types';
export type { AttnScopeBridge, ChosenFile, RecentFile, MenuCommand, PortRelayMessage, StatusRelayMessage } from './bridge';

export const PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------- client -> engine

/** Where a model comes from. `path` is only ever a path the user chose (dialog or drop). */
export type ModelSource =
  | { kind: 'builtin'; name: string }
  /** A model of the hub catalogue (engine/hub), from the engine's own download cache. */
  | { kind: 'hub'; name: string }
  | { kind: 'bytes'; name: string; bytes: ArrayBuffer }
  | { kind: 'path'; path: string };

export type ImageSource =
  | { kind: 'bytes'; name: string; bytes: ArrayBuffer }
  | { kind: 'path'; path: string };

export interface HelloRequest { type: 'hello'; id: number }
/** `runtime`: which runtime runs the model's graph (DESIGN.md "One graph, two runtimes"); default: the engine's. */
/**
 * `arch`: an architecture name (`resnet18-cifar-nlsa2-c32`, timm's `seresnet50`) instead of what
 * detection reads from the keys: for what the weights do not store (the app's Architecture field).
 * `inputSize`: an .onnx model with a dynamic input opened at this size (what its attention is found
 * at: layouts too large at the default size are listed at a smaller one; the app's Input size field).
 */
export interface LoadModelRequest { type: 'loadModel'; id: number; source: ModelSource; runtime?: RuntimeName; device?: DeviceChoice; arch?: string; inputSize?: number }
export interface RunRequest { type: 'run'; id: number; image: ImageSource; options: RunOptions }
/** A point in original image coordinates (pixels, after EXIF orientation). */
export interface QueryRequest { type: 'query'; id: number; runId: string; module: string; point: { x: number; y: number } }
/**
 * Channel `channel` (0-based) of the features that entered `module` in kept run `runId`:
 * what the module looked at in that channel, before its gates, on its map grid.
 */
export interface ChannelMapRequest { type: 'channelMap'; id: number; runId: string; module: string; channel: number }
/**
 * Cancels request `target` (a run, or a load still reading): `target` gets `cancelled`
 * (unless it already finished). The cancel itself has no reply.
 */
export interface CancelRequest { type: 'cancel'; id: number; target: number }
/**
 * Class evidence (engine/cam.ts) of kept run `runId` for class `classIndex` at stage `stage`'s
 * output (1-4). Score-CAM streams `camProgress` (passes done of all).
 */
export interface CamRequest { type: 'cam'; id: number; runId: string; method: CamMethod; stage: number; classIndex: number }

// Export (issue 7): the settings are shared with `attnscope export`, and both end in the
// same engine/render.ts code, so the files are byte-identical. See engine/exportJob.ts.
/** `cam`: class evidence of the top class (settings.cam; default Grad-CAM at layer4), overlay + .npy, and a grid cell. */
export type ExportKind = 'heatmap' | 'overlay' | 'grid' | 'raw' | 'cam';
export type Normalisation = 'raw' | 'minmax' | 'stage';
export type Interpolation = 'bilinear' | 'nearest';
export interface ExportSettings {
  /** One of hello's capabilities.colormaps names. */
  colormap: string;
  /** Heatmap weight in overlays and the grid, 0..1. */
  opacity: number;
  normalise: Normalisation;
  interpolation: Interpolation;
  resize?: ResizeMode;
  inputSize?: number;
  /** Normalisation over the model's own (the app's Preprocess fields). */
  mean?: [number, number, number];
  std?: [number, number, number];
  /** The `cam` kind's method and stage (default gradcam, 4). */
  cam?: { method: CamMethod; stage?: number };
  /** Run each image in tiles at its own resolution (RunOptions.tile). */
  tile?: { size: number; overlap?: number };
  /** Modules switched off for the export's forward pass. */
  bypass?: string[];
  /** `raw` kind: also write each map resampled to the image size (`*.full.npy`). */
  rawUpsampled?: boolean;
  /** Only these taps (default: every tap of the chosen modules). */
  taps?: TapName[];
}
/** A folder the user chose in a dialog (Electron), or a store-only zip sent back (web mode). */
export type ExportDestination = { kind: 'dir'; path: string } | { kind: 'download' };
export interface ExportRequest {
  type: 'export';
  id: number;
  image: ImageSource;
  /** Module names; omitted or empty: every module of the loaded model. */
  modules?: string[];
  kinds: ExportKind[];
  settings: ExportSettings;
  destination: ExportDestination;
  /** Keep files that already exist instead of replacing them (default false: replace). */
  keepExisting?: boolean;
  /** Folder for this image's files under the destination, '/'-separated (default: the image's name without extension). Sanitised. */
  folder?: string;
  /** Merge the files into the destination's export.json (default true; batch exports write their own). */
  manifest?: boolean;
}

// Hub (issue 15): timm's ImageNet attention networks, downloaded once into the engine's cache.
/** The catalogue (engine/hub/catalogue.ts), each model with its cache state: answered by `hubModels`. */
export interface HubListRequest { type: 'hubList'; id: number }
/**
 * Downloads catalogue model `name` (a name of hubModels, or its repo id) into the engine's
 * cache unless it is there: `hubPullProgress` events, then `hubPulled`. A cancel stops it;
 * the next pull resumes where it stopped. The client then loads it as ModelSource
 * `{ kind: 'hub', name }`: the cache folder's path never leaves the engine.
 */
export interface HubPullRequest { type: 'hubPull'; id: number; name: string }

export type ClientMessage = HelloRequest | LoadModelRequest | RunRequest | QueryRequest | ChannelMapRequest | CancelRequest | ExportRequest | CamRequest
  | HubListRequest | HubPullRequest;

// ---------------------------------------------------------------- engine -> client

export interface ColormapInfo {
  name: string;
  /** 256 * 3 RGB bytes, entry i for value i / 255. */
  lut: number[];
}

export interface HelloReply {
  type: 'hello';
  id: number;
  protocol: number;
  version: string;
  backend: string;
  /** Why this backend (e.g. "wasm (SIMD); skipped: tensorflow: not installed"). */
  backendDetail?: string;
  /** The engine's default runtime, what it runs on and with how many threads. */
  runtime?: RuntimeInfo;
  /** What this engine can do: checkpoint formats, module kinds, built-in model names. */
  capabilities: {
    formats: string[];
    modules: string[];
    builtinModels: string[];
    imageFormats: string[];
    /** The engine's colormaps, so the renderer paints exactly what export writes. */
    colormaps: ColormapInfo[];
    /** Runtimes a loadModel request may name. */
    runtimes?: RuntimeName[];
    /** Which ModelSource / ImageSource kinds this host accepts (web mode: no `path`). */
    sources: Array<'builtin' | 'bytes' | 'path'>;
  };
  /** A model the host loaded already (`attnscope serve --model`): the client need not load one. */
  model?: ModelInfo;
}
export interface LoadProgressEvent { type: 'loadProgress'; id: number; bytesRead: number; totalBytes: number }
export interface ModelInfoReply { type: 'modelInfo'; id: number; info: ModelInfo }
export interface RunStartedEvent {
  type: 'runStarted';
  id: number;
  runId: string;
  image: { name: string; width: number; height: number };
  transform: ImageTransform;
}
/** One tap, sent as soon as the engine has it, in forward order. */
export interface TapEvent {
  type: 'tap';
  id: number;
  runId: string;
  module: string;
  tap: TapName;
  shape: number[];
  data: Float32Array;
  /** Position in this run's tap sequence, 0-based, and how many taps the run will send. */
  index: number;
  total: number;
  /** When the engine had the values: ms since the Unix epoch, sub-ms precision (performance.timeOrigin + now()). */
  computedAt?: number;
}
/** A tiled run (options.tile): tile `done` of `total` has run (taps follow once all have). */
export interface RunProgressEvent { type: 'runProgress'; id: number; runId: string; done: number; total: number }
export interface PredictionEvent { type: 'prediction'; id: number; runId: string; logits: Float32Array; top: Prediction[] }
export interface RunDoneEvent {
  type: 'runDone';
  id: number;
  runId: string;
  timings: RunTimings;
  backend: string;
  runtime?: RuntimeName;
  /** How many taps were sent. */
  tapCount?: number;
  /** Something that happened to the runtime during the run (the GPU lost, the CPU took over): show it. */
  notice?: string;
}
export interface QueryReply {
  type: 'queryResult';
  id: number;
  runId: string;
  module: string;
  point: { x: number; y: number };
  /** The query point in the module's map grid (row, col). */
  cell: { row: number; col: number };
  /** The attention row of that query as [H', W'] over key positions. */
  shape: number[];
  data: Float32Array;
  /** A multi-pass attention (CCNet): what `data` is, and the query's row at the earlier steps, on the same key grid. */
  label?: string;
  steps?: Array<{ label: string; data: Float32Array }>;
}
export interface ChannelMapReply {
  type: 'channelMapResult';
  id: number;
  runId: string;
  module: string;
  channel: number;
  /** [H, W]: the module's map grid (the grid of its `activation` tap). */
  shape: [number, number];
  data: Float32Array;
}
export interface CamReply extends CamMap { type: 'camResult'; id: number; runId: string }
export interface CamProgressEvent { type: 'camProgress'; id: number; done: number; total: number }
export interface CancelledEvent { type: 'cancelled'; id: number }
export interface ErrorReply {
  type: 'error';
  /** The request this answers; null when the message had no usable id. */
  id: number | null;
  code: ErrorCode;
  message: string;
  /** What the user can do about it. */
  hint?: string;
}
/** From the host (web server, Electron main), not the engine: the engine process died or is back. */
export interface EngineStatusEvent {
  type: 'engineStatus';
  id: null;
  state: 'restarting' | 'ready' | 'failed';
  message: string;
}

/** What export.json and an exported PNG's text chunks record about one file. */
export interface ExportFileMeta {
  app: string;
  version: string;
  model: string;
  weightsSha256: string;
  /** The image's file name (no folders). */
  source: string;
  kind: ExportKind;
  module: string | null;
  tap: TapName | null;
  colormap: string;
  normalise: Normalisation;
  /** Values mapped to the colormap's ends; null for raw data and for files kept from before. */
  range: [number, number] | null;
  interpolation: Interpolation;
  opacity: number;
  /** Network input, e.g. "224x224". */
  inputSize: string;
  resize: ResizeMode;
  /** A tiled run's tiles (the input is then the image padded to whole tiles, at scale 1). */
  tiles?: { size: number; overlap: number };
  /** Normalisation, when the export set one over the model's. */
  mean?: [number, number, number];
  std?: [number, number, number];
  bypass: string[];
}
export interface ExportFileEntry { path: string; written: boolean; meta: ExportFileMeta }

/** One file written (or kept) of `total`. */
export interface ExportProgressEvent { type: 'exportProgress'; id: number; done: number; total: number; file: string }
export interface ExportDoneReply {
  type: 'exportDone';
  id: number;
  /** The destination folder; null for a download. */
  dir: string | null;
  /** Files of this export, relative to `dir` (or inside the zip), '/'-separated. */
  files: string[];
  /** The same files with their metadata; `written` false for files kept (keepExisting). */
  entries: ExportFileEntry[];
  /** Download destination: the zip (store-only) with every file and export.json. */
  archive?: { name: string; bytes: ArrayBuffer };
}

export interface HubModelsReply { type: 'hubModels'; id: number; models: HubModelState[] }
/** Bytes of `file` downloaded so far, of `total` (0 while unknown); a resumed download starts above 0. */
export interface HubPullProgressEvent { type: 'hubPullProgress'; id: number; file: string; bytes: number; total: number }
export interface HubPulledReply {
  type: 'hubPulled';
  id: number;
  name: string;
  repo: string;
  /** True when it was cached already (nothing downloaded). */
  fromCache: boolean;
  /** sha256 of model.safetensors, checked against the hub's. */
  sha256: string | null;
  bytes: number;
}

export type EngineMessage =
  | HelloReply
  | HubModelsReply
  | HubPullProgressEvent
  | HubPulledReply
  | ExportProgressEvent
  | ExportDoneReply
  | LoadProgressEvent
  | ModelInfoReply
  | RunStartedEvent
  | TapEvent
  | RunProgressEvent
  | PredictionEvent
  | RunDoneEvent
  | QueryReply
  | ChannelMapReply
  | CamReply
  | CamProgressEvent
  | CancelledEvent
  | ErrorReply
  | EngineStatusEvent;

export type ClientMessageType = ClientMessage['type'];
export type EngineMessageType = EngineMessage['type'];

/** Engine messages that are not the last one for their request id. */
export type StreamEventType = 'loadProgress' | 'runStarted' | 'runProgress' | 'tap' | 'prediction' | 'exportProgress' | 'hubPullProgress';

// ---------------------------------------------------------------- runtime validation

type Obj = Record<string, unknown>;
/** Returns what is wrong with the message, or null when it is well formed. */
type Check = (m: Obj) => string | null;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFiniteNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown, max = 4096): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;
const isBytes = (v: unknown): v is ArrayBuffer => v instanceof ArrayBuffer
  // Structured clone across realms (worker, vm) yields ArrayBuffers of another global.
  || Object.prototype.toString.call(v) === '[object ArrayBuffer]';
const RESIZE: readonly ResizeMode[] = ['stretch', 'pad', 'center-crop'];

function checkTriple(v: unknown, what: string): string | null {
  if (v === undefined) return null;
  return Array.isArray(v) && v.length === 3 && v.every(isFiniteNum) ? null : `${what} must be three finite numbers`;
}

function checkRunOptions(v: unknown): string | null {
  if (!isObj(v)) return 'options must be an object';
  if (v.inputSize !== undefined && !(Number.isInteger(v.inputSize) && (v.inputSize as number) >= 8 && (v.inputSize as number) <= 4096)) {
    return 'options.inputSize must be an integer from 8 to 4096';
  }
  if (v.resize !== undefined && !RESIZE.includes(v.resize as ResizeMode)) return `options.resize must be one of ${RESIZE.join(', ')}`;
  if (v.bypass !== undefined && !(Array.isArray(v.bypass) && v.bypass.length <= 10_000 && v.bypass.every((b) => isStr(b, 256)))) {
    return 'options.bypass must be a list of module names';
  }
  if (v.tile !== undefined) {
    const t = v.tile;
    if (!isObj(t) || !Number.isInteger(t.size) || (t.size as number) < 8 || (t.size as number) > 4096
      || (t.overlap !== undefined && !(Number.isInteger(t.overlap) && (t.overlap as number) >= 0 && (t.overlap as number) < (t.size as number)))) {
      return 'options.tile must be { size: 8 to 4096, overlap?: 0 to size - 1 } (integers)';
    }
  }
  return checkTriple(v.mean, 'options.mean') ?? checkTriple(v.std, 'options.std')
    ?? (Array.isArray(v.std) && v.std.some((x) => (x as number) <= 0) ? 'options.std must be positive' : null);
}

function checkSource(v: unknown, kinds: readonly string[], what: string): string | null {
  if (!isObj(v)) return `${what} must be an object`;
  switch (v.kind) {
    case 'builtin': return kinds.includes('builtin') && isStr(v.name, 256) ? null : `${what}: builtin needs a model name`;
    case 'hub': return kinds.includes('hub') && isStr(v.name, 256) && findHubModel(v.name) ? null : `${what}: hub needs the name of a model of the hub catalogue`;
    case 'bytes': return isStr(v.name, 1024) && isBytes(v.bytes) ? null : `${what}: bytes needs a name and an ArrayBuffer`;
    case 'path': return isStr(v.path, 32_768) && !v.path.includes('\0') ? null : `${what}: path needs a file path`;
    default: return `${what}.kind must be one of ${kinds.join(', ')}`;
  }
}

/**
 * One check per request type. Typed over ClientMessageType so that a new request type
 * (export, ...) cannot be added to ClientMessage without its validation.
 */
const checks: { [K in ClientMessageType]: Check } = {
  hello: () => null,
  loadModel: (m) => checkSource(m.source, ['builtin', 'hub', 'bytes', 'path'], 'source')
    ?? (m.runtime === undefined || isRuntimeName(m.runtime) ? null : `runtime must be one of ${RUNTIME_NAMES.join(', ')}`)
    ?? (m.device === undefined || isDeviceChoice(m.device) ? null : `device must be one of ${DEVICE_CHOICES.join(', ')}`)
    ?? (m.arch === undefined || (isStr(m.arch, 256) && /^[A-Za-z0-9_.-]+$/.test(m.arch)) ? null : 'arch must be an architecture name (letters, digits, . _ -)')
    ?? (m.inputSize === undefined || (Number.isInteger(m.inputSize) && (m.inputSize as number) >= 8 && (m.inputSize as number) <= 4096) ? null : 'inputSize must be an integer from 8 to 4096'),
  run: (m) => checkSource(m.image, ['bytes', 'path'], 'image') ?? checkRunOptions(m.options ?? {}),
  query: (m) => {
    if (!isStr(m.runId, 256)) return 'runId must be a string';
    if (!isStr(m.module, 256)) return 'module must be a module name';
    const p = m.point;
    return isObj(p) && isFiniteNum(p.x) && isFiniteNum(p.y) ? null : 'point must be {x, y} with finite numbers';
  },
  cam: (m) => {
    if (!isStr(m.runId, 256)) return 'runId must be a string';
    if (!isCamMethod(m.method)) return `method must be one of ${CAM_METHODS.join(', ')}`;
    if (![1, 2, 3, 4].includes(m.stage as number)) return 'stage must be 1, 2, 3 or 4';
    return Number.isSafeInteger(m.classIndex) && (m.classIndex as number) >= 0 ? null : 'classIndex must be a class index (an integer from 0)';
  },
  channelMap: (m) => {
    if (!isStr(m.runId, 256)) return 'runId must be a string';
    if (!isStr(m.module, 256)) return 'module must be a module name';
    return Number.isSafeInteger(m.channel) && (m.channel as number) >= 0 ? null : 'channel must be a channel index (an integer from 0)';
  },
  cancel: (m) => (Number.isSafeInteger(m.target) ? null : 'target must be the id of a request'),
  export: (m) => checkSource(m.image, ['bytes', 'path'], 'image') ?? checkExport(m),
  hubList: () => null,
  hubPull: (m) => (isStr(m.name, 256) && findHubModel(m.name) ? null : 'name must be a model of the hub catalogue (see hubList)'),
};

const EXPORT_KINDS: readonly ExportKind[] = ['heatmap', 'overlay', 'grid', 'raw', 'cam'];
const TAP_NAMES: readonly TapName[] = ['channel', 'spatial', 'attention', 'activation'];

function checkExport(m: Obj): string | null {
  if (!(Array.isArray(m.kinds) && m.kinds.length > 0 && m.kinds.every((k) => EXPORT_KINDS.includes(k as ExportKind)))) {
    return `kinds must be a non-empty list of ${EXPORT_KINDS.join(', ')}`;
  }
  if (m.modules !== undefined && !(Array.isArray(m.modules) && m.modules.length <= 10_000 && m.modules.every((x) => isStr(x, 256)))) {
    return 'modules must be a list of module names';
  }
  const d = m.destination;
  if (!isObj(d) || !((d.kind === 'dir' && isStr(d.path, 32_768) && !d.path.includes('\0')) || d.kind === 'download')) {
    return "destination must be {kind: 'dir', path} or {kind: 'download'}";
  }
  const s = m.settings;
  if (!isObj(s)) return 'settings must be an object';
  if (!isStr(s.colormap, 64)) return 'settings.colormap must be a colormap name';
  if (!(isFiniteNum(s.opacity) && s.opacity >= 0 && s.opacity <= 1)) return 'settings.opacity must be a number from 0 to 1';
  if (!['raw', 'minmax', 'stage'].includes(s.normalise as string)) return 'settings.normalise must be raw, minmax or stage';
  if (!['bilinear', 'nearest'].includes(s.interpolation as string)) return 'settings.interpolation must be bilinear or nearest';
  if (s.taps !== undefined && !(Array.isArray(s.taps) && s.taps.every((t) => TAP_NAMES.includes(t as TapName)))) {
    return `settings.taps must be a list of ${TAP_NAMES.join(', ')}`;
  }
  if (s.rawUpsampled !== undefined && typeof s.rawUpsampled !== 'boolean') return 'settings.rawUpsampled must be true or false';
  if (m.keepExisting !== undefined && typeof m.keepExisting !== 'boolean') return 'keepExisting must be true or false';
  if (m.manifest !== undefined && typeof m.manifest !== 'boolean') return 'manifest must be true or false';
  if (m.folder !== undefined && !isStr(m.folder, 4096)) return 'folder must be a relative folder name';
  if (s.cam !== undefined && !(isObj(s.cam) && isCamMethod(s.cam.method) && (s.cam.stage === undefined || [1, 2, 3, 4].includes(s.cam.stage as number)))) {
    return `settings.cam must be { method: one of ${CAM_METHODS.join(', ')}, stage?: 1 to 4 }`;
  }
  return checkRunOptions({ resize: s.resize, inputSize: s.inputSize, bypass: s.bypass, mean: s.mean, std: s.std, ...(s.tile !== undefined ? { tile: s.tile } : {}) });
}

function badRequest(id: number | null, message: string): ErrorReply {
  return {
    type: 'error', id, code: 'bad-request', message: `Malformed request: ${message}`,
    hint: 'The app and its engine disagree about the protocol; restart the app, or update it.',
  };
}

/**
 * Validates a message received from a client. Never throws: anything that is not a
 * well-formed ClientMessage becomes an ErrorReply with code 'bad-request' (id kept when
 * the message had a usable one). Extra fields are ignored; `run` options default to {}.
 */
export function parseClientMessage(raw: unknown): ClientMessage | ErrorReply {
  if (!isObj(raw)) return badRequest(null, 'a message must be an object');
  const id = Number.isSafeInteger(raw.id) && (raw.id as number) >= 0 ? (raw.id as number) : null;
  const type = raw.type;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(checks, type)) {
    // JSON.stringify(undefined) is undefined: say "no type" rather than "type undefined".
    if (type === undefined) return badRequest(id, 'the message has no "type" field');
    return badRequest(id, `unknown message type ${JSON.stringify(typeof type === 'string' ? type.slice(0, 64) : type)}`);
  }
  if (id === null) return badRequest(null, `${type} needs a numeric id`);
  const problem = checks[type as ClientMessageType](raw);
  if (problem) return badRequest(id, `${type}: ${problem}`);
  if (type === 'run' && raw.options === undefined) return { ...(raw as unknown as RunRequest), options: {} };
  return raw as unknown as ClientMessage;
}

/** True for the engine messages that end their request (everything but stream events and host status). */
export function isFinalMessage(m: EngineMessage): boolean {
  return m.type !== 'engineStatus' && m.type !== 'runStarted' && m.type !== 'tap' && m.type !== 'prediction' && !m.type.endsWith('Progress');
}
