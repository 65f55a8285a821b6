// ECA: Efficient Channel Attention.
// Paper: Wang, Wu, Zhu, Li, Zuo, Hu, "ECA-Net: Efficient Channel Attention for Deep
//   Convolutional Neural Networks", CVPR 2020, https://arxiv.org/abs/1910.03151
// Reference code (semantics and key names followed): BangguWu/ECANet models/eca_module.py and
//   timm timm/layers/eca.py (EcaModule): gate = sigmoid(conv1d_k(mean_hw(x))) over the channel
//   axis, one kernel shared by all channels, zero padding (k - 1) / 2, no bias. The kernel size
//   adapts to the width, k = odd(|log2(C) + 1| / 2) (at least 3); the checkpoint's
//   `conv.weight` [1, 1, k] says which.
// out = x * gate. Taps: channel = gate [N, C]; activation = mean_c(gate_c * x_c).

import type { ModuleGraph } from './base';
import { channelMean, type Emit, globalAvg } from './layers';

export interface EcaConfig {
  channels: number;
}

export function emitEca(e: Emit, x: string, cfg: EcaConfig): ModuleGraph {
  const g = e.g;
  const rec = e.w.get('conv.weight', [1, 1, -1]);
  const k = rec.shape[2] as number;
  const pooled = g.node('Unsqueeze', [globalAvg(e, x), g.ints([1])], `${e.scope}/Unsqueeze`); // [N, 1, C]
  const weight = g.floats(`${e.w.key('conv')}.weight`, Float32Array.from(rec.data), [1, 1, k]);
  const pad = (k - 1) / 2;
  const z = g.node('Conv', [pooled, weight], `${e.scope}/conv/Conv`, { kernel_shape: [k], pads: [pad, pad], strides: [1], dilations: [1], group: 1 });
  const gate = g.node('Sigmoid', [g.node('Reshape', [z, g.ints([-1, cfg.channels])], `${e.scope}/Reshape`)], `${e.scope}/gate/Sigmoid`);
  const out = g.node('Mul', [x, g.node('Unsqueeze', [gate, g.ints([2, 3])], `${e.scope}/Unsqueeze`)], `${e.scope}/Mul`);
  return { out, taps: [{ tap: 'channel', value: gate }, { tap: 'activation', value: channelMean(e, out) }] };
}
