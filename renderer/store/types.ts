// The app's state: one zustand store made of typed slices (DESIGN.md "Style anchors":
// zustand docs). Each slice is a plain object under its own key; actions live at the top.
import type {
  ImageSource, ImageTransform, ModelInfo, ModelSource, Prediction, ResizeMode, RunTimings, RuntimeInfo, RuntimeName, TapName,
  CamMethod, DeviceChoice, HubModelState,
} from '../../engine/protocol';
import type { EngineClient } from '../client/types';
import type { Colormap } from '../lib/colormap';
import type { Interpolation, MapData, Normalisation } from '../lib/heatmap';

/** What a load names beyond its source (the model menu's Architecture and Input size fields). */
export interface LoadChoices { arch?: string; inputSize?: number }

/** An error the user can act on. */
export interface UserError { code: string; message: string; hint?: string }

export interface ImageEntry {
  id: string;
  name: string;
  /** What the engine is sent. Bytes are copied per run: the client may transfer them. */
  source: ImageSource;
  /** Object URL of the bytes, shown in <img> (the browser applies EXIF orientation, as the engine does). */
  url: string | null;
  byteLength: number;
}

export interface ImageSlice {
  list: ImageEntry[];
  currentId: string | null;
}

export type ConnectionState = 'connecting' | 'ready' | 'restarting' | 'disconnected';

export interface EngineSlice {
  client: EngineClient | null;
  state: ConnectionState;
  message: string | null;
  /** As hello and runDone say it, e.g. "ort cpu". */
  backend: string | null;
  /** The engine's runtime from hello (the loaded model's, else its default); the model's own is model.info.runtime. */
  runtime: RuntimeInfo | null;
  /** Runtimes a model may be loaded on (hello's capabilities.runtimes; ['ort'] when it names none). */
  runtimes: RuntimeName[];
  version: string | null;
  colormaps: Colormap[];
  builtinModels: string[];
  /** Source kinds the host accepts; web mode has no `path`. */
  sources: Array<'builtin' | 'bytes' | 'path'>;
  samples: string[];
}

export interface RecentModel { label: string; source: Extract<ModelSource, { kind: 'builtin' } | { kind: 'hub' } | { kind: 'path' }> }

/** The user's preprocessing over the model's own (Input panel); null: the model's. Reset when another model loads. */
export interface Preprocess {
  inputSize: number | null;
  mean: [number, number, number] | null;
  std: [number, number, number] | null;
}

export interface ModelSlice {
  info: ModelInfo | null;
  preprocess: Preprocess;
  /** Where `info` came from, to load it again (another runtime); null when unknown (a model the host preloaded from a path). */
  source: ModelSource | null;
  /** What the user named for it beyond its source (the Architecture and Input size fields), kept for reloads. */
  choices: LoadChoices;
  status: 'none' | 'loading' | 'ready' | 'error';
  /** What is loading or loaded, for display. */
  label: string | null;
  progress: { read: number; total: number } | null;
  error: UserError | null;
  /** The model that failed to load (the previous one may still be in use). */
  errorLabel: string | null;
  recent: RecentModel[];
}

export type TapMaps = Record<string, Partial<Record<TapName, MapData>>>;

export interface RunSlice {
  status: 'idle' | 'running' | 'done' | 'error';
  seq: number;
  runId: string | null;
  imageId: string | null;
  image: { name: string; width: number; height: number } | null;
  transform: ImageTransform | null;
  taps: TapMaps;
  received: number;
  total: number;
  /** A tiled run: tiles done of all. */
  tiles: { done: number; total: number } | null;
  predictions: Prediction[];
  /** Bypass set this run was made with. */
  bypass: string[];
  timings: RunTimings | null;
  error: UserError | null;
  startedAt: number | null;
}

export interface QueryState {
  runId: string;
  module: string;
  point: { x: number; y: number };
  cell: { row: number; col: number } | null;
  map: MapData | null;
  /** A multi-pass attention (CCNet): what `map` is, and the same query's row at the earlier passes. */
  label?: string;
  steps?: Array<{ label: string; map: MapData }>;
  status: 'pending' | 'done' | 'error';
  error: UserError | null;
}

export interface ChannelPick {
  module: string;
  channel: number;
  /** The channel's own activation map when the engine answers `channelMap`; null meanwhile. */
  map: MapData | null;
  status: 'pending' | 'done' | 'unsupported' | 'error';
  /** What went wrong (status 'error'). */
  error?: string;
}

export interface AnalysisSlice {
  /** Predictions without any bypass, per image id (for the current model), to compare against. */
  baseline: Record<string, Prediction[]>;
  query: QueryState | null;
  channel: ChannelPick | null;
  /** The class the class evidence is for (a clicked prediction); null: the top prediction. */
  camClass: number | null;
  cam: CamState | null;
  /** Grid view: the class evidence of each stage (key: stage number), a row beside its attention maps. */
  stageCams: Record<number, CamState>;
  /** Per module, which of its `maps` / `weights` components (EM bases, A2 descriptors) is shown. */
  component: Record<string, number>;
  /** Per module with a multi-pass affinity, which pass a clicked query shows (0-based; absent or past the steps: after all passes). */
  queryStep: Record<string, number>;
}

/** Class evidence (compare view): what was asked and what came back. */
export interface CamState {
  runId: string;
  method: CamMethod;
  stage: number;
  classIndex: number;
  status: 'pending' | 'done' | 'error';
  map: MapData | null;
  /** DCN saliency: the regions it selects (cells of the map's grid, most salient first). */
  regions?: Array<{ row: number; col: number; value: number }>;
  progress: { done: number; total: number } | null;
  ms: number | null;
  error: UserError | null;
}

export interface FocusedTap { module: string; tap: TapName }

export interface ModulesSlice {
  focused: FocusedTap | null;
  hidden: string[];
  bypass: string[];
}

export type Theme = 'system' | 'light' | 'dark';
export type Layout = 'single' | 'grid' | 'compare';

/** Persisted between launches (localStorage). */
export interface Settings {
  colormap: string;
  opacity: number;
  normalisation: Normalisation;
  interpolation: Interpolation;
  theme: Theme;
  showColorbar: boolean;
  layout: Layout;
  resize: ResizeMode;
  /** Class evidence method and stage (1-4) of the compare view. */
  camMethod: CamMethod;
  camStage: number;
  /** Tile side in px for tiled runs at the image's own resolution (engine/tiles.ts); 0: off. */
  tile: number;
  /** Which runtime the engine runs models on (DESIGN.md "One graph, two runtimes"). */
  runtime: RuntimeName;
  /** ort: where it runs (cpu, gpu: WebGPU, auto). */
  device: DeviceChoice;
}

export interface UiSlice {
  zoom: number;
  pan: { x: number; y: number };
  shortcutsOpen: boolean;
  toast: { text: string; kind: 'info' | 'error' } | null;
  hover: { x: number; y: number; value: number | null; row: number; col: number } | null;
}

export type ExportKind = 'heatmap' | 'overlay' | 'grid' | 'raw';
export type ExportScope = 'current' | 'all';

export interface ExportSlice {
  open: boolean;
  kinds: ExportKind[];
  scope: ExportScope;
  status: 'idle' | 'running' | 'done' | 'error';
  progress: { done: number; total: number } | null;
  /** Where the files went (a folder the user chose), and how many. */
  result: { dir: string | null; files: string[] } | null;
  error: UserError | null;
}

/** One catalogue model being fetched (the Models dialog's row state). */
export interface HubPull {
  /** downloading: bytes arriving; loading: in the cache, the model is loading; cancelled: stopped, the next pull resumes; error: see `error`. */
  status: 'downloading' | 'loading' | 'cancelled' | 'error';
  /** The file arriving (hubPullProgress), null before the first byte. */
  file: string | null;
  bytes: number;
  /** 0 while unknown. */
  total: number;
  error: UserError | null;
}

/** The hub catalogue (issue 15): timm's ImageNet attention networks, downloaded once into the engine's cache. */
export interface HubSlice {
  open: boolean;
  /** The catalogue list (hubList). */
  status: 'idle' | 'loading' | 'ready' | 'error';
  models: HubModelState[];
  error: UserError | null;
  /** By model name: the ones being downloaded, stopped or failed. */
  pulls: Record<string, HubPull>;
}

export interface Metrics {
  /** performance.now() when images were dropped/opened. */
  openedAt: number | null;
  /** ms from open to the first heatmap painted for that image. */
  firstHeatmapMs: number | null;
}

export interface AppActions {
  attachClient(client: EngineClient): Promise<void>;
  addImages(files: Array<{ name: string; bytes: ArrayBuffer }>): void;
  addImagePaths(files: Array<{ name: string; path: string }>): void;
  selectImage(id: string): void;
  stepImage(delta: number): void;
  removeImage(id: string): void;
  /**
   * `arch`: an architecture name instead of the engine's detection (what the weights do not store);
   * `inputSize`: the size to open an .onnx model with a dynamic input at (what its attention is found at).
   */
  loadModel(source: ModelSource, label: string, options?: LoadChoices): Promise<void>;
  /** Loads the current model (or the one loading) again, on the runtime in settings; nothing when there is none. */
  reloadModel(): Promise<void>;
  runCurrent(): Promise<void>;
  focus(module: string, tap?: TapName): void;
  stepModule(delta: number): void;
  focusStage(index: number): void;
  toggleVisible(module: string): void;
  setAllVisible(visible: boolean): void;
  toggleBypass(module: string): void;
  clearBypass(): void;
  /** Sets preprocessing over the model's own (null fields: the model's) and re-runs. */
  setPreprocess(patch: Partial<Preprocess>): void;
  queryPoint(module: string, point: { x: number; y: number }): Promise<void>;
  clearQuery(): void;
  pickChannel(module: string, channel: number | null): Promise<void>;
  /** Shows component `index` of a module's `maps` or `weights` tap on the image. */
  pickComponent(module: string, tap: 'maps' | 'weights', index: number): void;
  /** A multi-pass attention's query: show pass `index` (0-based; the step count: after all passes); null cycles to the next. */
  pickQueryStep(module: string, index: number | null): void;
  /** The class evidence of the current run (settings' method and stage, analysis.camClass). */
  requestCam(): Promise<void>;
  /** Grid view: class evidence at every stage of the current run (settings' method; CAM: layer4 only). */
  requestStageCams(): Promise<void>;
  /** Class evidence for this class (null: the top prediction); opens the compare view. */
  setCamClass(index: number | null): void;
  setSetting<K extends keyof Settings>(key: K, value: Settings[K]): void;
  cycleColormap(delta?: number): void;
  nudgeOpacity(delta: number): void;
  setView(zoom: number, pan: { x: number; y: number }): void;
  resetView(): void;
  setHover(hover: UiSlice['hover']): void;
  setShortcutsOpen(open: boolean): void;
  showToast(text: string, kind?: 'info' | 'error'): void;
  dismissToast(): void;
  openExport(open: boolean): void;
  setExport(patch: Partial<Pick<ExportSlice, 'kinds' | 'scope'>>): void;
  startExport(destination: { dir: string | null }): Promise<void>;
  markHeatmapPainted(runSeq: number): void;
  /** Opens (and refreshes the list) or closes the Models dialog. */
  openCatalogue(open: boolean): void;
  refreshCatalogue(): Promise<void>;
  /** Downloads a catalogue model into the engine's cache (a cached one: nothing to fetch), then loads it unless a newer one was asked for. */
  pullHubModel(name: string): Promise<void>;
  /** Stops a download; the next pull resumes it. */
  cancelHubPull(name: string): void;
  /** Loads a cached catalogue model and closes the dialog. */
  openHubModel(name: string): Promise<void>;
}

export interface AppState extends AppActions {
  engine: EngineSlice;
  images: ImageSlice;
  model: ModelSlice;
  run: RunSlice;
  analysis: AnalysisSlice;
  modules: ModulesSlice;
  settings: Settings;
  ui: UiSlice;
  exporting: ExportSlice;
  hub: HubSlice;
  metrics: Metrics;
}
