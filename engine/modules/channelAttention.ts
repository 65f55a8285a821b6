// DANet's channel attention module: every channel re-expressed as a mix of all channels,
// weighted by how unlike their maps are.
// Paper: Fu, Liu, Tian, Li, Bao, Fang, Lu, "Dual Attention Network for Scene Segmentation",
//   CVPR 2019, https://arxiv.org/abs/1809.02983
// Reference code (semantics and key names followed): junfu1115/DANet (CAM_Module): X = x as
//   [C, HW]; energy = X X^T [C, C]; attention = softmax over the last axis of
//   (max of each row of energy - energy); out = attention X as [C, H, W]; y = gamma * out + x
//   (gamma a learned scalar, its only parameter).
// Taps: channel = the mean attention each channel receives [N, C]; matrix = the attention
//   [N, C, C] (row = the channel being rebuilt, column = the channel it draws on);
//   activation = the channel mean of the input.

import type { ModuleGraph } from './base';
import { channelMean, type Emit } from './layers';

export interface ChannelAttentionConfig {
  channels: number;
}

export function emitChannelAttention(e: Emit, x: string, cfg: ChannelAttentionConfig): ModuleGraph {
  const c = cfg.channels;
  const g = e.g;
  const flat = g.node('Reshape', [x, g.ints([0, c, -1])], `${e.scope}/Reshape`); // [N, C, HW]
  const energy = g.node('MatMul', [flat, g.node('Transpose', [flat], `${e.scope}/Transpose`, { perm: [0, 2, 1] })], `${e.scope}/MatMul`); // [N, C, C]
  const rowMax = g.node('ReduceMax', [energy], `${e.scope}/ReduceMax`, { axes: [-1], keepdims: 1 });
  const attention = g.node('Softmax', [g.node('Sub', [rowMax, energy], `${e.scope}/Sub`)], `${e.scope}/Softmax`, { axis: -1 });
  const mixed = g.node('Reshape', [g.node('MatMul', [attention, flat], `${e.scope}/MatMul`), g.node('Shape', [x], `${e.scope}/Shape`)], `${e.scope}/Reshape`);
  const gamma = g.floats(`${e.w.key('gamma')}`, Float32Array.from(e.w.get('gamma', [1]).data), [1]);
  const out = g.node('Add', [g.node('Mul', [mixed, gamma], `${e.scope}/Mul`), x], `${e.scope}/Add`);
  return {
    out,
    taps: [
      { tap: 'channel', value: g.node('ReduceMean', [attention], `${e.scope}/channel/ReduceMean`, { axes: [1], keepdims: 0 }) },
      { tap: 'matrix', value: attention },
      { tap: 'activation', value: channelMean(e, x) },
    ],
  };
}
