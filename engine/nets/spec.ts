// The architecture description shared by detection (checkpoints/detect.ts), the
// network builder (nets/resnet.ts) and model manifests (assets/models/*/manifest.json).

export type BlockType = 'basic' | 'bottleneck';
export type Stem = 'imagenet' | 'cifar';
export type CbamLayout = 'official' | 'timm';
export type SeLayout = 'timm' | 'linear';
export type NonLocalMode = 'embedded' | 'gaussian' | 'dot' | 'concat';
export type CbamOrder = 'channel-spatial' | 'spatial-channel' | 'parallel' | 'channel' | 'spatial';
export type CbamPool = 'avg+max' | 'avg' | 'max';

/**
 * Hidden width of a gate MLP is floor(C / reduction), unless `divisor` is set: then it is
 * timm's make_divisible(C / reduction, divisor) = max(divisor, round-to-multiple(C / reduction)),
 * as timm's SE (divisor 8: a 64-channel SE-ResNet-18 block has 8 hidden, not 4) and CBAM (divisor 1) compute it.
 */
/** Attention placed inside every residual block (after the last BN, before the add). */
export type BlockAttention =
  | { kind: 'none' }
  | {
    kind: 'cbam'; layout: CbamLayout; reduction: number; /** official: `cbam`, timm: `se` */ attr: string; divisor?: number;
    /** The CBAM paper's ablation variants (official layout; modules/cbam.ts); default channel-spatial, avg+max. */
    order?: CbamOrder; pool?: CbamPool;
  }
  | { kind: 'se'; layout: SeLayout; reduction: number; attr: string; divisor?: number }
  | { kind: 'gc'; reduction: number; attr: string }
  /** Polarized self-attention (modules/polarized.ts). */
  | { kind: 'psa'; variant: 'parallel' | 'sequential'; attr: string }
  /** Spatial SE, the surveys' simple spatial attention (modules/spatialGate.ts). */
  | { kind: 'spatial'; attr: string };

/** A block inserted after stage `after` (1-4), named at the top level (`bam1`, `nl3`, `gc4`). */
export type InsertedBlock =
  | { kind: 'bam'; name: string; after: number; reduction: number; dilation: number }
  | { kind: 'nonlocal'; name: string; after: number; mode: NonLocalMode; subSample: boolean; bn: boolean }
  | { kind: 'gc'; name: string; after: number; reduction: number }
  /** SAGAN self-attention (`sa3`) or DANet's position attention (`pam3`): the same module, two papers. */
  | { kind: 'selfattn' | 'pam'; name: string; after: number; reduction: number }
  /** DANet's channel attention (`cam3`): only a gamma. */
  | { kind: 'cam'; name: string; after: number }
  /** CCNet's criss-cross attention (`cca3`), applied `recurrence` times with the same weights. */
  | { kind: 'cca'; name: string; after: number; reduction: number; recurrence: number }
  /** EMANet's EM attention (`ema3`): K bases, `stages` EM iterations. */
  | { kind: 'ema'; name: string; after: number; bases: number; stages: number }
  /** A2-Net's double attention (`a23`). */
  | { kind: 'a2'; name: string; after: number; cm: number; cn: number }
  /** ISANet's interlaced sparse self-attention (`isa3`), one down factor [dh, dw]. */
  | { kind: 'isa'; name: string; after: number; downFactor: [number, number]; keyChannels: number; valueChannels: number }
  /** LightNL (`lnl3`): the first ratio * C channels as embeddings, keys sampled every `stride` positions. */
  | { kind: 'lightnl'; name: string; after: number; ratio: number; stride: number }
  /** ANN's asymmetric pyramid non-local block (`apnb3`): keys and values pooled to `sizes`. */
  | { kind: 'apnb'; name: string; after: number; keyChannels: number; valueChannels: number; sizes: number[] }
  /** ANN's asymmetric fusion non-local block (`afnb4`): queries from stage `after`, keys and values pooled from stage `low`'s output. */
  | { kind: 'afnb'; name: string; after: number; low: number; keyChannels: number; valueChannels: number; sizes: number[] }
  /** The region-based non-local block (`rnl3`): a k x k depthwise region conv on the embedding; keys max-pooled with subSample. */
  | { kind: 'rnl'; name: string; after: number; kernel: number; subSample: boolean }
  /** Non-local sparse attention (`nlsa2`): LSH buckets (the `rotations` buffer), chunks of `chunk` sorted positions. */
  | { kind: 'nlsa'; name: string; after: number; reduction: number; hashes: number; buckets: number; chunk: number; kSize: number; resScale: number }
  /** SAN's pairwise self-attention block (`san3`): k x k footprints, a weight channel per `sharePlanes` value channels. */
  | { kind: 'san'; name: string; after: number; kernel: number; sharePlanes: number }
  /** A spatial transformer (`stn1`): a localisation net predicts an affine grid the map is resampled on. */
  | { kind: 'stn'; name: string; after: number; hidden: number };

export interface NetSpec {
  family: 'resnet';
  /** 18, 34, 50, 101 or any layer counts via `layers`. */
  depth: number;
  block: BlockType;
  layers: [number, number, number, number];
  /** Output channels of layer1 before expansion (64 for standard ResNets; smaller for reduced-width fixtures). */
  baseWidth: number;
  stem: Stem;
  attention: BlockAttention;
  inserts: InsertedBlock[];
  numClasses: number;
  /**
   * Stride of each stage's first block. Omitted: torchvision's [1, 2, 2, 2] (output stride 32).
   * Weights do not depend on it, so checkpoints never reveal it; a manifest states it (the
   * built-in model runs layer3 at stride 1 for 16x16 maps at 128 px).
   */
  strides?: [number, number, number, number];
}

export const DEFAULT_STRIDES: readonly [number, number, number, number] = [1, 2, 2, 2];

/** The spec's stage strides when they differ from torchvision's, else null. */
export function customStrides(spec: NetSpec): readonly number[] | null {
  return spec.strides && spec.strides.some((v, k) => v !== DEFAULT_STRIDES[k]) ? spec.strides : null;
}

/** The first block's stride in `stage` (1-4). */
export function stageStride(spec: NetSpec, stage: number): number {
  return (spec.strides ?? DEFAULT_STRIDES)[stage - 1] as number;
}
