// LightNL: the lightweight non-local block found by AutoNL's architecture search.
// Paper: Yingwei Li, Xiaojie Jin, Jieru Mei, Xiaochen Lian, Linjie Yang, Cihang Xie, Qihang Yu,
//   Yuyin Zhou, Song Bai, Alan Yuille, "Neural Architecture Search for Lightweight Non-Local
//   Networks", CVPR 2020, https://arxiv.org/abs/2004.01961
// Reference code (semantics and key names followed): LiYingwei/AutoNL model_def.py
//   (MnasBlock._call_non_local, non_local_op): no theta / phi / g convolutions: the
//   embeddings are the input itself. theta = the first c' = int(ratio * C) channels of x;
//   xs = x sampled every `stride` positions (no pooling); phi = the first c' channels of xs,
//   g = xs; f = theta^T phi / (H W) (no softmax); y = f g^T; out = x + BN(depthwise 3x3(y))
//   (non_local_conv, non_local_bn).
// Taps: attention = the mean over queries of what each key position (the sampled grid)
//   receives [N, H', W']; activation = the channel mean of the input; the affinity f
//   [N, HW, H'W'] is kept for click-a-query (rows are not normalised: f is a scaled dot product).

import type { ModuleGraph } from './base';
import { channelMean, conv, type Emit } from './layers';
import { mapSize } from './positions';

export interface LightNonLocalConfig {
  channels: number;
  ratio: number;
  stride: number;
}

export function emitLightNonLocal(e: Emit, x: string, cfg: LightNonLocalConfig): ModuleGraph {
  const c = cfg.channels;
  const part = Math.floor(cfg.ratio * c);
  const g = e.g;
  const s = e.scope;
  const big = 2 ** 31 - 1;
  const sampled = cfg.stride > 1
    ? g.node('Slice', [x, g.ints([0, 0]), g.ints([big, big]), g.ints([2, 3]), g.ints([cfg.stride, cfg.stride])], `${s}/Slice`)
    : x;
  const firstChannels = (t: string): string => g.node('Slice', [t, g.ints([0]), g.ints([part]), g.ints([1])], `${s}/Slice`);
  const flat = (t: string, ch: number): string => g.node('Reshape', [t, g.ints([0, ch, -1])], `${s}/Reshape`);
  const theta = g.node('Transpose', [flat(firstChannels(x), part)], `${s}/Transpose`, { perm: [0, 2, 1] }); // [N, HW, c']
  const phi = flat(firstChannels(sampled), part); // [N, c', K]
  const { shape: dims, h, w } = mapSize(e, x);
  const hw = g.node('Cast', [g.node('Mul', [h, w], `${s}/Mul`)], `${s}/Cast`, { to: 1 });
  const f = g.node('Div', [g.node('MatMul', [theta, phi], `${s}/MatMul`), hw], `${s}/Div`); // [N, HW, K]
  const values = g.node('Transpose', [flat(sampled, c)], `${s}/Transpose`, { perm: [0, 2, 1] }); // [N, K, C]
  const y = g.node('Reshape', [g.node('Transpose', [g.node('MatMul', [f, values], `${s}/MatMul`)], `${s}/Transpose`, { perm: [0, 2, 1] }), dims], `${s}/Reshape`);
  const out = g.node('Add', [x, conv(e, 'non_local_conv', y, { groups: c, pad: 1, bn: 'non_local_bn', shape: [c, 1, 3, 3] }).y], `${s}/Add`);
  const keyDims = g.node('Gather', [g.node('Shape', [sampled], `${s}/Shape`), g.ints([0, 2, 3])], `${s}/Gather`, { axis: 0 });
  return {
    out,
    taps: [
      { tap: 'attention', value: g.node('Reshape', [g.node('ReduceMean', [f], `${s}/attention/ReduceMean`, { axes: [1], keepdims: 0 }), keyDims], `${s}/attention/Reshape`) },
      { tap: 'activation', value: channelMean(e, x) },
    ],
    affinity: f,
  };
}
