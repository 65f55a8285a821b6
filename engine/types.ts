// Shared engine vocabulary (DESIGN.md "The engine's vocabulary"). Pure types and
// tiny pure helpers: safe to import as types from main/ and renderer/ via protocol.ts.

/** The standard things a module shows. */
export type TapName = 'channel' | 'spatial' | 'attention' | 'activation'
  /** A [C, C] channel affinity (DANet's channel attention): row = the channel rebuilt, column = the channel it draws on. */
  | 'matrix'
  /** [K, H, W], one map per component: EMANet's bases (responsibilities), A2-Net's gather maps. */
  | 'maps'
  /** [K, H, W]: per position, its weight on each component (A2-Net's distribute step). */
  | 'weights'
  /** [2, 3]: a spatial transformer's affine transform theta (output pixel -> sampled point, normalised coordinates). */
  | 'affine'
  /** [H, W, 2]: the sampling grid, (x, y) in [-1, 1] of the map (and so of the image): where each output pixel reads. */
  | 'grid'
  /** [H, W]: the channel mean of the resampled map (what the next layer sees). */
  | 'warped';

/**
 * Taps that are not one [H, W] map over the image: a [C, C] matrix, K component maps, an affine
 * transform, a sampling grid. Exports write them as raw arrays (.npy) only; the UI draws each its
 * own way (matrix view, components grid, grid overlay).
 */
export const NON_IMAGE_TAPS: readonly TapName[] = ['matrix', 'maps', 'weights', 'affine', 'grid'];

/** Kinds of attention mechanism the engine implements (engine/modules/*). */
export type ModuleKind = 'cbam' | 'se' | 'bam' | 'nonlocal' | 'gc'
  // SAGAN self-attention, DANet's position and channel attention (engine/modules/selfAttention.ts, channelAttention.ts).
  | 'selfattn' | 'pam' | 'chanattn'
  // CCNet (engine/modules/crissCross.ts).
  | 'crisscross'
  // Polarized self-attention (engine/modules/polarized.ts).
  | 'psa'
  // EMANet's EM attention, A2-Net's double attention, ISANet's interlaced self-attention.
  | 'ema' | 'a2' | 'isa'
  // LightNL, spatial SE.
  | 'lightnl' | 'sse'
  // ANN's APNB and AFNB; a spatial transformer.
  | 'apnb' | 'afnb' | 'stn'
  // The region-based non-local block, non-local sparse attention.
  | 'rnl' | 'nlsa'
  // SAN's pairwise self-attention.
  | 'san'
  // Found in an imported ONNX model (engine/import): what it computes, not which paper.
  | 'gate' | 'affinity' | 'heads';

/** What a part of an imported module computes (engine/import/discover.ts). */
export type ImportedPartKind = 'channel-gate' | 'spatial-gate' | 'gate' | 'affinity' | 'channel-affinity' | 'heads' | 'spatial-softmax' | 'spatial-transform' | 'criss-cross'
  /** K maps over positions (EMANet's responsibilities, A2-Net's gather maps and distribute weights). */
  | 'components';

export type ResizeMode = 'stretch' | 'pad' | 'center-crop';

/**
 * How original image coordinates (after EXIF orientation) map onto the network input:
 *   inputX = origX * scaleX + offsetX,  inputY = origY * scaleY + offsetY
 * in continuous pixel coordinates (pixel centres at +0.5). A tap of shape [h, w] covers
 * the whole input canvas uniformly: tap cell (i, j) has its centre at input
 * ((j + 0.5) * inputWidth / w, (i + 0.5) * inputHeight / h).
 * Pad: the letterbox offsets are positive; center-crop: negative (parts of the
 * original fall outside the input and have no map there).
 */
export interface ImageTransform {
  origWidth: number;
  origHeight: number;
  inputWidth: number;
  inputHeight: number;
  scaleX: number;
  scaleY: number;
  offsetX: number;
  offsetY: number;
  resize: ResizeMode;
  /** A tiled run: the input is the image padded to whole tiles, at scale 1. */
  tiles?: { size: number; overlap: number; columns: number; rows: number };
}

export interface ModuleInfo {
  /** PyTorch module path, e.g. `layer3.1.cbam`, `bam2`, `nl3`. */
  name: string;
  kind: ModuleKind;
  /** Stage the module belongs to, e.g. `layer3`; used to group the UI tree. */
  stage: string;
  taps: TapName[];
  /** Channels at this module's input. */
  channels: number;
  /** Spatial size of its maps at the model's default input size [h, w]. */
  mapSize: [number, number];
  /** Imported models: what each found part computes (a CBAM has a channel and a spatial gate). */
  parts?: ImportedPartKind[];
  /** Imported models: the gated value is not a 4-D feature map, so there are no channel maps. */
  noChannelMaps?: boolean;
  /** Computed from other modules' maps after the pass (attention rollout): nothing to bypass. */
  derived?: boolean;
}

/** The runtimes that run a model's attention graph (DESIGN.md "One graph, two runtimes"). */
export type RuntimeName = 'ort' | 'tfjs';
export const RUNTIME_NAMES: readonly RuntimeName[] = ['ort', 'tfjs'];

export function isRuntimeName(v: unknown): v is RuntimeName {
  return (RUNTIME_NAMES as readonly unknown[]).includes(v);
}

/** Which runtime runs a model's attention graph, on what. */
export interface RuntimeInfo {
  runtime: RuntimeName;
  /** `cpu` or `gpu`: where the graph runs. */
  device: 'cpu' | 'gpu';
  /** ort: the execution provider (`cpu`); tfjs: the backend (`wasm`, `tensorflow`, `cpu`). */
  backend: string;
  /** Threads the runtime computes with. */
  threads: number;
  /** What was chosen and why, e.g. "onnxruntime-node 1.30.0, CPU execution provider, 2 threads". */
  detail: string;
}

export interface ModelInfo {
  /** Display name: built-in model name or the checkpoint's file name. */
  name: string;
  /** Detected or manifest architecture, e.g. `resnet50-cbam`. */
  arch: string;
  /** Human summary of what detection found, e.g. "ResNet-50, bottleneck, ImageNet stem, CBAM (official) in every block". */
  description: string;
  modules: ModuleInfo[];
  classes: string[] | null;
  numClasses: number;
  inputSize: number;
  mean: [number, number, number];
  std: [number, number, number];
  /** SHA-256 (hex) of the weights file bytes. */
  weightsSha256: string;
  /** Warnings found while loading (NaN/Inf weights, ignored keys...). */
  warnings: string[];
  /** Imported models: what discovery found and did not list as attention, with why (also among the warnings). */
  rejected?: Array<{ node: string; reason: string }>;
  /** The model runs at inputSize only (an ONNX file with a fixed input shape). */
  fixedInputSize?: boolean;
  /** Modules the manifest suggests showing first (built-in models). */
  defaultVisible?: string[];
  /** The runtime the engine runs this model on. */
  runtime?: RuntimeInfo;
  /**
   * Class evidence (CAM, Grad-CAM ...): the module names of stages 1-4, whose outputs it
   * weighs (`layer1`..`layer4` for ResNets); absent where the model has none (an .onnx file).
   */
  stages?: string[];
  /** Whether CAM itself applies (the classifier reads globally pooled stage-4 features); the gradient methods need only `stages`. */
  cam?: boolean;
}

export interface RunOptions {
  inputSize?: number;
  resize?: ResizeMode;
  /** Modules switched off for this run (DESIGN.md "Bypass"). */
  bypass?: string[];
  mean?: [number, number, number];
  std?: [number, number, number];
  /**
   * Run the image in tiles of `size` px at its own resolution, `overlap` px shared (default:
   * about size / 4), and stitch the maps (engine/tiles.ts); inputSize and resize do not apply.
   */
  tile?: { size: number; overlap?: number };
}

export interface Tap {
  module: string;
  tap: TapName;
  /** [C] for channel, [H, W] for the others. */
  shape: number[];
  data: Float32Array;
}

export interface RunTimings {
  decodeMs: number;
  preprocessMs: number;
  forwardMs: number;
  readbackMs: number;
  totalMs: number;
}

export interface RunResult {
  runId: string;
  logits: Float32Array;
  /** Imported ONNX models: every found map in full, batch removed (`attnscope maps` writes them as .npy). */
  maps?: Array<{ module: string; map: string; kind: ImportedPartKind; node: string; shape: number[]; data: Float32Array }>;
  taps: Tap[];
  transform: ImageTransform;
  timings: RunTimings;
  backend: string;
  runtime: RuntimeName;
  /** Something that happened to the runtime during the run (the GPU lost, the CPU took over). */
  notice?: string;
}

export interface Prediction {
  index: number;
  label: string;
  probability: number;
}

/** Top-k softmax of logits. */
export function topK(logits: Float32Array, classes: string[] | null, k = 5): Prediction[] {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  const exps = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps
    .map((e, index) => ({ index, label: classes?.[index] ?? `class ${index}`, probability: e / sum }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, k);
}

/** Where the ort runtime runs a graph: the CPU, the GPU (WebGPU execution provider), or the GPU when one loads. */
export type DeviceChoice = 'cpu' | 'gpu' | 'auto';
export const DEVICE_CHOICES: readonly DeviceChoice[] = ['cpu', 'gpu', 'auto'];
export const isDeviceChoice = (v: unknown): v is DeviceChoice => typeof v === 'string' && (DEVICE_CHOICES as readonly string[]).includes(v);
