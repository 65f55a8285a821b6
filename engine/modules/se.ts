// SE: Squeeze-and-Excitation.
// Paper: Hu, Shen, Sun, "Squeeze-and-Excitation Networks", CVPR 2018,
//   https://arxiv.org/abs/1709.01507
// Reference code (semantics followed, two checkpoint layouts):
//   timm: huggingface/pytorch-image-models, timm/layers/squeeze_excite.py (SEModule):
//     fc1 / fc2 are 1x1 convs with bias on the global average: sigmoid(fc2(relu(fc1(avg)))).
//   linear: the common SELayer (moskomule/senet.pytorch, se_module.py):
//     fc = Sequential(Linear(C, C/r, bias=False), ReLU, Linear(C/r, C, bias=False), Sigmoid).
// out = x * gate. Taps: channel = gate [N, C]; activation = mean_c(gate_c * x_c).

import type { SeLayout } from '../nets/spec';
import type { ModuleGraph } from './base';
import { asChannels, channelMean, type Emit, globalAvg, linear } from './layers';

export interface SeConfig {
  layout: SeLayout;
  channels: number;
}

export function emitSe(e: Emit, x: string, cfg: SeConfig): ModuleGraph {
  const c = cfg.channels;
  const timm = cfg.layout === 'timm';
  const [fc1, fc2] = timm ? ['fc1', 'fc2'] : ['fc.0', 'fc.2'];
  const h = linear(e, fc1, globalAvg(e, x), { pointwise: timm, bias: e.w.has(`${fc1}.bias`), shape: [-1, c], relu: true });
  const z = linear(e, fc2, h.y, { pointwise: timm, bias: e.w.has(`${fc2}.bias`), shape: [c, h.out] });
  const gate = e.g.node('Sigmoid', [z.y], `${e.scope}/Sigmoid`);
  const out = e.g.node('Mul', [x, asChannels(e, gate)], `${e.scope}/Mul`);
  return { out, taps: [{ tap: 'channel', value: gate }, { tap: 'activation', value: channelMean(e, out) }] };
}
