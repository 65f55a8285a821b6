// Global Context attention as timm builds it (gcresnet*, GlobalContext with fuse_add / fuse_scale).
// Paper: Cao, Xu, Lin, Wei, Hu, "GCNet: Non-local Networks Meet Squeeze-Excitation Networks
//   and Beyond", ICCV Workshops 2019, https://arxiv.org/abs/1904.11492
// Reference code (semantics and key names followed): timm timm/layers/global_context.py
//   (GlobalContext): context = x weighted by softmax_hw(conv_attn(x)) (or the plain mean
//   without conv_attn); mlp_scale -> x * sigmoid(mlp_scale(context)); mlp_add ->
//   x + mlp_add(context); each mlp is timm's ConvMlp fc1 (1x1, bias) -> LayerNorm2d
//   (eps 1e-6) -> ReLU -> fc2 (1x1, bias). ('gca' in timm = fuse_add only, as gcresnet50t.)
//   engine/modules/gc.ts is the mmdet ContextBlock layout of the same paper.
// Taps: spatial = the softmax context mask [N, H, W] when it has one; channel = the scale
//   gate [N, C] when it has one; activation = channel mean of the input.

import type { ModuleGraph } from './base';
import { channelMean, conv, type Emit, globalAvg, layerNorm, mapShape, sub } from './layers';

export interface GlobalContextConfig {
  channels: number;
}

const LN2D_EPS = 1e-6;

export function emitGlobalContext(e: Emit, x: string, cfg: GlobalContextConfig): ModuleGraph {
  const c = cfg.channels;
  const g = e.g;
  const taps: ModuleGraph['taps'] = [];
  let context: string;
  let mask: string | null = null;
  if (e.w.has('conv_attn.weight')) {
    const logits = conv(e, 'conv_attn', x, { bias: true, shape: [1, c, 1, 1] }).y;
    mask = g.node('Softmax', [g.node('Reshape', [logits, g.ints([0, 1, -1])], `${e.scope}/Reshape`)], `${e.scope}/Softmax`, { axis: 2 }); // [N, 1, HW]
    const flatX = g.node('Reshape', [x, g.ints([0, c, -1])], `${e.scope}/Reshape`); // [N, C, HW]
    const col = g.node('Transpose', [mask], `${e.scope}/Transpose`, { perm: [0, 2, 1] });
    context = g.node('Unsqueeze', [g.node('MatMul', [flatX, col], `${e.scope}/MatMul`), g.ints([3])], `${e.scope}/Unsqueeze`);
  } else {
    context = g.node('Unsqueeze', [globalAvg(e, x), g.ints([2, 3])], `${e.scope}/Unsqueeze`);
  }
  const mlp = (name: string): string => {
    const m = sub(e, name, name);
    const h = conv(m, 'fc1', context, { bias: true, shape: [-1, c, 1, 1] });
    const act = g.node('Relu', [layerNorm(m, 'norm', h.y, h.out, LN2D_EPS)], `${m.scope}/act/Relu`);
    return conv(m, 'fc2', act, { bias: true, shape: [c, h.out, 1, 1] }).y;
  };
  let out = x;
  if (e.w.has('mlp_scale.fc1.weight')) {
    const gate = g.node('Sigmoid', [mlp('mlp_scale')], `${e.scope}/gate/Sigmoid`);
    out = g.node('Mul', [out, gate], `${e.scope}/Mul`);
    taps.push({ tap: 'channel', value: g.node('Flatten', [gate], `${e.scope}/Flatten`) });
  }
  if (e.w.has('mlp_add.fc1.weight')) out = g.node('Add', [out, mlp('mlp_add')], `${e.scope}/Add`);
  if (mask) taps.push({ tap: 'spatial', value: g.node('Reshape', [mask, mapShape(e, x)], `${e.scope}/spatial/Reshape`) });
  taps.push({ tap: 'activation', value: channelMean(e, x) });
  return { out, taps };
}
