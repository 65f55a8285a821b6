// SK: Selective Kernel convolution.
// Paper: Li, Wang, Hu, Yang, "Selective Kernel Networks", CVPR 2019,
//   https://arxiv.org/abs/1903.06586
// Reference code (semantics and key names followed): timm timm/layers/selective_kernel.py
//   (SelectiveKernel, SelectiveKernelAttn), as skresnet* use it: `paths.<i>` are 3x3
//   ConvNormAct branches (conv + BN + ReLU) with dilation 1, 2 ... (a 5x5 kept as a dilated
//   3x3), each on its share of the input channels when the input is split (skresnet18);
//   attn: sum of the branches -> global mean -> fc_reduce (1x1, no bias) -> BN -> ReLU ->
//   fc_select (1x1, no bias) -> softmax over the paths per channel; out = sum_i a_i * path_i.
// Taps: channel = the first path's weight per channel [N, C] (with two paths, the share of
//   the small kernel); activation = channel mean of the output.

import type { ModuleGraph } from './base';
import { activate, convBn, type Feature } from './convBn';
import { channelMean, conv, type Emit, sub } from './layers';

export interface SelectiveKernelConfig {
  stride: number;
}

export function emitSelectiveKernel(e: Emit, x: Feature, cfg: SelectiveKernelConfig): ModuleGraph & { channels: number } {
  const g = e.g;
  let paths = 0;
  while (e.w.has(`paths.${paths}.conv.weight`)) paths++;
  const perPath = e.w.get('paths.0.conv.weight').shape[1] as number;
  const split = paths > 1 && perPath * paths === x.c && perPath !== x.c;
  const parts = Array.from({ length: paths }, (_, i) => g.unique(`${e.scope}/split${i}`));
  if (split) g.node('Split', [x.y, g.ints(new Array(paths).fill(x.c / paths))], `${e.scope}/Split`, { axis: 1 }, parts);
  const outs: Feature[] = [];
  for (let i = 0; i < paths; i++) {
    const p = sub(e, `paths.${i}`, `paths.${i}`);
    const input: Feature = split ? { y: parts[i] as string, c: x.c / paths } : x;
    outs.push(convBn(p, 'conv', input, { stride: cfg.stride, dilation: i + 1, bn: 'bn', act: 'relu' }));
  }
  const c = (outs[0] as Feature).c;
  const stacked = g.node('Concat', outs.map((o) => g.node('Unsqueeze', [o.y, g.ints([1])], `${e.scope}/Unsqueeze`)), `${e.scope}/Concat`, { axis: 1 }); // [N, P, C, H, W]
  const a = sub(e, 'attn', 'attn');
  const pooled = g.node('ReduceMean', [g.node('ReduceSum', [stacked, g.ints([1])], `${a.scope}/ReduceSum`, { keepdims: 0 })], `${a.scope}/ReduceMean`, { axes: [2, 3], keepdims: 1 });
  const reduced = activate(a, conv(a, 'fc_reduce', pooled, { bn: 'bn', shape: [-1, c, 1, 1] }).y, 'relu');
  const select = conv(a, 'fc_select', reduced, { shape: [c * paths, -1, 1, 1] }).y;
  const weights = g.node('Softmax', [g.node('Reshape', [select, g.ints([0, paths, c, 1, 1])], `${a.scope}/Reshape`)], `${a.scope}/Softmax`, { axis: 1 });
  const out = g.node('ReduceSum', [g.node('Mul', [stacked, weights], `${e.scope}/Mul`), g.ints([1])], `${e.scope}/ReduceSum`, { keepdims: 0 });
  const first = g.node('Reshape', [g.node('Gather', [weights, g.ints([0])], `${e.scope}/Gather`, { axis: 1 }), g.ints([0, c])], `${e.scope}/channel/Reshape`);
  return { out, channels: c, taps: [{ tap: 'channel', value: first }, { tap: 'activation', value: channelMean(e, out) }] };
}
