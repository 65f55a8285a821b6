// GC: Global Context block.
// Paper: Cao, Xu, Lin, Wei, Hu, "GCNet: Non-local Networks Meet Squeeze-Excitation
//   Networks and Beyond", ICCV Workshops 2019, https://arxiv.org/abs/1904.11492
// Reference code (semantics followed): xvjiarui/GCNet, mmdet/ops/gcb/context_block.py
//   (ContextBlock, pooling_type='att', fusion_types=('channel_add',)):
//   mask = softmax over H*W of conv_mask(x) (1x1 conv C->1, with bias)
//   context[c] = sum_hw x[c, hw] * mask[hw]
//   term = Conv1x1(P->C)(ReLU(LayerNorm([P,1,1])(Conv1x1(C->P)(context))))
//   out = x + term
// Taps: spatial = the softmax mask [N, H, W]; activation = channel mean of x.

import type { ModuleGraph } from './base';
import { channelMean, conv, type Emit, layerNorm, mapShape, sub } from './layers';

export interface GcConfig {
  channels: number;
}

export function emitGc(e: Emit, x: string, cfg: GcConfig): ModuleGraph {
  const c = cfg.channels;
  const g = e.g;
  const logits = conv(e, 'conv_mask', x, { bias: true, shape: [1, c, 1, 1] }).y;
  const flatLogits = g.node('Reshape', [logits, g.ints([0, 1, -1])], `${e.scope}/Reshape`); // [N, 1, HW]
  const mask = g.node('Softmax', [flatLogits], `${e.scope}/Softmax`, { axis: 2 });
  const flatX = g.node('Reshape', [x, g.ints([0, c, -1])], `${e.scope}/Reshape`); // [N, C, HW]
  const maskCol = g.node('Transpose', [mask], `${e.scope}/Transpose`, { perm: [0, 2, 1] }); // [N, HW, 1]
  const context = g.node('Unsqueeze', [g.node('MatMul', [flatX, maskCol], `${e.scope}/MatMul`), g.ints([3])], `${e.scope}/Unsqueeze`); // [N, C, 1, 1]

  const t = sub(e, 'channel_add_conv', 'channel_add_conv');
  const down = conv(t, '0', context, { bias: true, shape: [-1, c, 1, 1] });
  const normed = g.node('Relu', [layerNorm(t, '1', down.y, down.out)], `${t.scope}/Relu`);
  const term = conv(t, '3', normed, { bias: true, shape: [c, down.out, 1, 1] }).y;
  const out = g.node('Add', [x, term], `${e.scope}/Add`);
  return {
    out,
    taps: [
      { tap: 'spatial', value: g.node('Reshape', [mask, mapShape(e, x)], `${e.scope}/spatial/Reshape`) },
      { tap: 'activation', value: channelMean(e, x) },
    ],
  };
}
