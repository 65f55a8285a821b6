// Split attention (ResNeSt).
// Paper: Zhang, Wu, Zhang, Zhu, Lin, Zhang, Sun, He, Mueller, Manmatha, Li, Smola,
//   "ResNeSt: Split-Attention Networks", CVPR Workshops 2022, https://arxiv.org/abs/2004.08955
// Reference code (semantics and key names followed): zhanghang1989/ResNeSt
//   resnest/torch/models/splat.py and timm timm/layers/split_attn.py (SplitAttn, RadixSoftmax):
//   conv (3x3, groups = cardinality * radix) -> bn0 -> ReLU gives `radix` splits of C channels;
//   their sum -> global mean -> fc1 (1x1, bias, groups = cardinality) -> bn1 -> ReLU -> fc2
//   (1x1, bias) -> per cardinal group a softmax over the radix splits (a sigmoid when radix is 1);
//   out = sum_r a_r * split_r.
// Taps: channel = the first split's weight per channel [N, C]; activation = channel mean of the output.

import type { ModuleGraph } from './base';
import { convBn, type Feature } from './convBn';
import { channelMean, type Emit } from './layers';
import { withChannels } from './positions';

export interface SplitAttentionConfig {
  stride: number;
  dilation?: number;
}

export function emitSplitAttention(e: Emit, x: Feature, cfg: SplitAttentionConfig): ModuleGraph & { channels: number } {
  const g = e.g;
  const splits = convBn(e, 'conv', x, { stride: cfg.stride, dilation: cfg.dilation ?? 1, bn: 'bn0', act: 'relu' });
  const fc2 = e.w.get('fc2.weight');
  const fc1 = e.w.get('fc1.weight');
  const attnChs = fc1.shape[0] as number;
  const cardinality = attnChs / (fc2.shape[1] as number);
  // Output channels C: fc1 reads C / cardinality per group.
  const c = (fc1.shape[1] as number) * cardinality;
  const radix = splits.c / c;
  const s5 = g.node('Reshape', [splits.y, withChannels(e, splits.y, [radix, c])], `${e.scope}/Reshape`); // [N, R, C, H, W]
  const gap = g.node('ReduceMean', [g.node('ReduceSum', [s5, g.ints([1])], `${e.scope}/ReduceSum`, { keepdims: 0 })], `${e.scope}/ReduceMean`, { axes: [2, 3], keepdims: 1 });
  const h = convBn(e, 'fc1', { y: gap, c }, { bn: 'bn1', act: 'relu' });
  const logits = convBn(e, 'fc2', h).y; // [N, R * C, 1, 1], laid out [cardinality, radix, C / cardinality]
  let weights: string;
  if (radix > 1) {
    const grouped = g.node('Reshape', [logits, g.ints([0, cardinality, radix, c / cardinality])], `${e.scope}/rsoftmax/Reshape`);
    const soft = g.node('Softmax', [g.node('Transpose', [grouped], `${e.scope}/rsoftmax/Transpose`, { perm: [0, 2, 1, 3] })], `${e.scope}/rsoftmax/Softmax`, { axis: 1 });
    weights = g.node('Reshape', [soft, g.ints([0, radix, c, 1, 1])], `${e.scope}/Reshape`);
  } else {
    weights = g.node('Reshape', [g.node('Sigmoid', [logits], `${e.scope}/rsoftmax/Sigmoid`), g.ints([0, 1, c, 1, 1])], `${e.scope}/Reshape`);
  }
  const out = g.node('ReduceSum', [g.node('Mul', [s5, weights], `${e.scope}/Mul`), g.ints([1])], `${e.scope}/ReduceSum`, { keepdims: 0 });
  const first = g.node('Reshape', [g.node('Gather', [weights, g.ints([0])], `${e.scope}/Gather`, { axis: 1 }), g.ints([0, c])], `${e.scope}/channel/Reshape`);
  return { out, channels: c, taps: [{ tap: 'channel', value: first }, { tap: 'activation', value: channelMean(e, out) }] };
}
