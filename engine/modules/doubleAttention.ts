// Double attention (A^2-Nets): gather the whole image into a few global descriptors, then
// distribute them back to every position.
// Paper: Yunpeng Chen, Yannis Kalantidis, Jianshu Li, Shuicheng Yan, Jiashi Feng, "A^2-Nets:
//   Double Attention Networks", NeurIPS 2018, https://arxiv.org/abs/1810.11579
// Reference code: the authors released MXNet only; key names follow the widely used PyTorch
//   layout DoubleAttention (xmu-xiaoma666/External-Attention-pytorch, A2Atttention.py: convA,
//   convB, convV, conv_reconstruct, 1x1 with bias); the softmaxes follow the paper: gather maps =
//   softmax over positions of convB(x) [c_n, HW]; G = convA(x) maps^T [c_m, c_n]; distribute
//   weights = softmax over the c_n descriptors of convV(x) at each position; Z = G weights;
//   out = conv_reconstruct(Z) + x.
// Taps: maps = the gather maps [N, c_n, H, W]; weights = the distribute weights [N, c_n, H, W];
//   activation = the channel mean of the input.

import type { ModuleGraph } from './base';
import { channelMean, conv, type Emit } from './layers';
import { withChannels } from './positions';

export interface DoubleAttentionConfig {
  channels: number;
}

export function emitDoubleAttention(e: Emit, x: string, cfg: DoubleAttentionConfig): ModuleGraph {
  const c = cfg.channels;
  const g = e.g;
  const a = conv(e, 'convA', x, { bias: true, shape: [-1, c, 1, 1] });
  const b = conv(e, 'convB', x, { bias: true, shape: [-1, c, 1, 1] });
  const v = conv(e, 'convV', x, { bias: true, shape: [b.out, c, 1, 1] });
  const flat = (t: string, ch: number): string => g.node('Reshape', [t, g.ints([0, ch, -1])], `${e.scope}/Reshape`);
  const maps = g.node('Softmax', [flat(b.y, b.out)], `${e.scope}/gather/Softmax`, { axis: 2 }); // [N, c_n, HW]
  const weights = g.node('Softmax', [flat(v.y, b.out)], `${e.scope}/distribute/Softmax`, { axis: 1 }); // [N, c_n, HW]
  const descriptors = g.node('MatMul', [flat(a.y, a.out), g.node('Transpose', [maps], `${e.scope}/Transpose`, { perm: [0, 2, 1] })], `${e.scope}/gather/MatMul`); // [N, c_m, c_n]
  const z = g.node('MatMul', [descriptors, weights], `${e.scope}/distribute/MatMul`); // [N, c_m, HW]
  const reconstructed = conv(e, 'conv_reconstruct', g.node('Reshape', [z, withChannels(e, x, [a.out])], `${e.scope}/Reshape`), { bias: true, shape: [c, a.out, 1, 1] }).y;
  const out = g.node('Add', [reconstructed, x], `${e.scope}/Add`);
  return {
    out,
    taps: [
      { tap: 'maps', value: g.node('Reshape', [maps, withChannels(e, x, [b.out])], `${e.scope}/maps/Reshape`) },
      { tap: 'weights', value: g.node('Reshape', [weights, withChannels(e, x, [b.out])], `${e.scope}/weights/Reshape`) },
      { tap: 'activation', value: channelMean(e, x) },
    ],
  };
}
