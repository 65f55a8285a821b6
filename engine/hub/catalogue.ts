// The ImageNet attention networks a user can pick and download once (issue 15): twelve of
// timm's pretrained models, each the default pretrained tag timm's `create_model(name,
// pretrained=True)` loads (the first tag in the model's default_cfgs).
//
// Facts, with their sources:
// - top1 / top5 / imageSize / cropPct / interpolation / paramsM: the row of
//   huggingface/pytorch-image-models results/results-imagenet.csv (commit 4e5207c7bb65)
//   for `<name>.<tag>` at the model's default input size (its pretrained cfg's
//   input_size; timm also lists larger test sizes, e.g. 288 px, not used here).
// - license: the `license` of the tag's pretrained cfg in timm/models/*.py: apache-2.0
//   for timm's own weights and the GluonCV ResNeSt weights, mit for RegNetY's weights
//   from facebookresearch/pycls (MIT).
// - sizeBytes (model.safetensors) is left out: it could not be read from the hub here.
//   `attnscope models list` shows an estimate from the parameter count (float32).
//
// Pure data and lookups: no Node APIs, so protocol.ts can export its types.

export type HubAttention = 'se' | 'eca' | 'gc' | 'sk' | 'split-attention' | 'mhsa' | 'halo';

export interface HubPaper {
  title: string;
  /** First author et al., venue or year. */
  cite: string;
  url: string;
}

export interface HubModel {
  /** timm architecture name, e.g. 'seresnet50'. */
  name: string;
  /** The pretrained tag: ImageNet-1k weights, e.g. 'a1_in1k'. */
  tag: string;
  /** Hugging Face hub repository: 'timm/<name>.<tag>'. */
  repo: string;
  /** Network family for people, e.g. 'SE-ResNet'. */
  family: string;
  /** The attention mechanism it shows. */
  attention: HubAttention;
  /** Parameters, millions. */
  paramsM: number;
  /** ImageNet-1k validation accuracy (%) at `imageSize`, timm's table. */
  top1: number;
  top5: number;
  /** Square input size of the published result, pixels. */
  imageSize: number;
  cropPct: number;
  interpolation: 'bicubic' | 'bilinear';
  /** SPDX-style identifier of the weights' license. */
  license: string;
  paper: HubPaper;
  /** Bytes of model.safetensors on the hub, where known. */
  sizeBytes?: number;
}

/** A catalogue entry with its state in this machine's cache (engine/hub/cache.ts listHubModels). */
export interface HubModelState extends HubModel {
  cached: boolean;
  /** Bytes on disk when cached, else sizeBytes, else an estimate from the parameters. */
  bytes: number;
  bytesEstimated: boolean;
}

const SE: HubPaper = { title: 'Squeeze-and-Excitation Networks', cite: 'Hu et al., CVPR 2018', url: 'https://arxiv.org/abs/1709.01507' };
const ECA: HubPaper = { title: 'ECA-Net: Efficient Channel Attention for Deep Convolutional Neural Networks', cite: 'Wang et al., CVPR 2020', url: 'https://arxiv.org/abs/1910.03151' };

function entry(m: Omit<HubModel, 'repo'>): HubModel {
  return { ...m, repo: `timm/${m.name}.${m.tag}` };
}

export const HUB_MODELS: readonly HubModel[] = [
  entry({ name: 'seresnet50', tag: 'a1_in1k', family: 'SE-ResNet', attention: 'se', paramsM: 28.09, top1: 80.012, top5: 94.704, imageSize: 224, cropPct: 0.95, interpolation: 'bicubic', license: 'apache-2.0', paper: SE }),
  entry({ name: 'seresnext26d_32x4d', tag: 'bt_in1k', family: 'SE-ResNeXt', attention: 'se', paramsM: 16.81, top1: 77.592, top5: 93.614, imageSize: 224, cropPct: 0.875, interpolation: 'bicubic', license: 'apache-2.0', paper: SE }),
  entry({ name: 'ecaresnet50d', tag: 'miil_in1k', family: 'ECA-ResNet', attention: 'eca', paramsM: 25.58, top1: 80.634, top5: 95.31, imageSize: 224, cropPct: 0.875, interpolation: 'bicubic', license: 'apache-2.0', paper: ECA }),
  entry({ name: 'ecaresnet26t', tag: 'ra2_in1k', family: 'ECA-ResNet', attention: 'eca', paramsM: 16.01, top1: 78.894, top5: 94.548, imageSize: 256, cropPct: 0.875, interpolation: 'bicubic', license: 'apache-2.0', paper: ECA }),
  entry({
    name: 'gcresnet50t', tag: 'ra2_in1k', family: 'GC-ResNet', attention: 'gc', paramsM: 25.9, top1: 80.944, top5: 95.458, imageSize: 256, cropPct: 0.9, interpolation: 'bicubic', license: 'apache-2.0',
    paper: { title: 'GCNet: Non-local Networks Meet Squeeze-Excitation Networks and Beyond', cite: 'Cao et al., ICCV Workshops 2019', url: 'https://arxiv.org/abs/1904.11492' },
  }),
  entry({
    name: 'skresnet18', tag: 'ra_in1k', family: 'SK-ResNet', attention: 'sk', paramsM: 11.96, top1: 73.02, top5: 91.172, imageSize: 224, cropPct: 0.875, interpolation: 'bicubic', license: 'apache-2.0',
    paper: { title: 'Selective Kernel Networks', cite: 'Li et al., CVPR 2019', url: 'https://arxiv.org/abs/1903.06586' },
  }),
  entry({
    name: 'resnest14d', tag: 'gluon_in1k', family: 'ResNeSt', attention: 'split-attention', paramsM: 10.61, top1: 75.516, top5: 92.512, imageSize: 224, cropPct: 0.875, interpolation: 'bilinear', license: 'apache-2.0',
    paper: { title: 'ResNeSt: Split-Attention Networks', cite: 'Zhang et al., 2020', url: 'https://arxiv.org/abs/2004.08955' },
  }),
  entry({
    name: 'efficientnet_b0', tag: 'ra_in1k', family: 'EfficientNet', attention: 'se', paramsM: 5.29, top1: 77.698, top5: 93.538, imageSize: 224, cropPct: 0.875, interpolation: 'bicubic', license: 'apache-2.0',
    paper: { title: 'EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks', cite: 'Tan and Le, ICML 2019', url: 'https://arxiv.org/abs/1905.11946' },
  }),
  entry({
    name: 'mobilenetv3_large_100', tag: 'ra_in1k', family: 'MobileNetV3', attention: 'se', paramsM: 5.48, top1: 75.784, top5: 92.528, imageSize: 224, cropPct: 0.875, interpolation: 'bicubic', license: 'apache-2.0',
    paper: { title: 'Searching for MobileNetV3', cite: 'Howard et al., ICCV 2019', url: 'https://arxiv.org/abs/1905.02244' },
  }),
  entry({
    name: 'regnety_002', tag: 'pycls_in1k', family: 'RegNetY', attention: 'se', paramsM: 3.16, top1: 70.288, top5: 89.544, imageSize: 224, cropPct: 0.875, interpolation: 'bicubic', license: 'mit',
    paper: { title: 'Designing Network Design Spaces', cite: 'Radosavovic et al., CVPR 2020', url: 'https://arxiv.org/abs/2003.13678' },
  }),
  entry({
    name: 'botnet26t_256', tag: 'c1_in1k', family: 'BoTNet', attention: 'mhsa', paramsM: 12.49, top1: 79.256, top5: 94.528, imageSize: 256, cropPct: 0.95, interpolation: 'bicubic', license: 'apache-2.0',
    paper: { title: 'Bottleneck Transformers for Visual Recognition', cite: 'Srinivas et al., CVPR 2021', url: 'https://arxiv.org/abs/2101.11605' },
  }),
  entry({
    name: 'halonet26t', tag: 'a1h_in1k', family: 'HaloNet', attention: 'halo', paramsM: 12.48, top1: 79.134, top5: 94.34, imageSize: 256, cropPct: 0.95, interpolation: 'bicubic', license: 'apache-2.0',
    paper: { title: 'Scaling Local Self-Attention for Parameter Efficient Visual Backbones', cite: 'Vaswani et al., CVPR 2021', url: 'https://arxiv.org/abs/2103.12731' },
  }),
];

/**
 * The catalogue entry for a timm name ('seresnet50'), a name with its tag
 * ('seresnet50.a1_in1k') or a hub repo id ('timm/seresnet50.a1_in1k'); case-insensitive.
 */
export function findHubModel(nameOrRepo: string): HubModel | undefined {
  const key = nameOrRepo.trim().toLowerCase();
  return HUB_MODELS.find((m) => m.name === key || `${m.name}.${m.tag}` === key || m.repo.toLowerCase() === key);
}

/** Approximate bytes of a float32 safetensors file with this many parameters (BatchNorm statistics not counted). */
export function estimatedBytes(m: HubModel): number {
  return m.sizeBytes ?? Math.round(m.paramsM * 1e6 * 4);
}
