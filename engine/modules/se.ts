// SE: Squeeze-and-Excitation.
// Paper: Hu, Shen, Sun, "Squeeze-and-Excitation Networks", CVPR 2018,
//   https://arxiv.org/abs/1709.01507
// Reference code (semantics followed, two checkpoint layouts):
//   timm: huggingface/pytorch-image-models, timm/layers/squeeze_excite.py (SEModule):
//     fc1 / fc2 are 1x1 convs with bias on the global average: sigmoid(fc2(relu(fc1(avg)))).
//   linear: the common SELayer (moskomule/senet.pytorch, se_module.py):
//     fc = Sequential(Linear(C, C/r, bias=False), ReLU, Linear(C/r, C, bias=False), Sigmoid).
//   efficientnet: timm timm/models/_efficientnet_blocks.py (SqueezeExcite) in EfficientNet and
//     MobileNetV3 blocks: conv_reduce / conv_expand (1x1, bias), the block's activation (SiLU)
//     or a forced ReLU (MobileNetV3), gate sigmoid or hard-sigmoid (relu6(x + 3) / 6).
// out = x * gate. Taps: channel = gate [N, C]; activation = mean_c(gate_c * x_c).

import type { SeLayout } from '../nets/spec';
import type { ModuleGraph } from './base';
import { type Act, activate } from './convBn';
import { asChannels, channelMean, type Emit, globalAvg, linear } from './layers';

export interface SeConfig {
  layout: SeLayout | 'efficientnet';
  channels: number;
  /** efficientnet layout: the activation between the two layers (default ReLU) and the gate. */
  act?: Act;
  gate?: 'sigmoid' | 'hard_sigmoid';
}

export function emitSe(e: Emit, x: string, cfg: SeConfig): ModuleGraph {
  const c = cfg.channels;
  const pointwise = cfg.layout !== 'linear';
  const [fc1, fc2] = { timm: ['fc1', 'fc2'], linear: ['fc.0', 'fc.2'], efficientnet: ['conv_reduce', 'conv_expand'] }[cfg.layout] as [string, string];
  const h = linear(e, fc1, globalAvg(e, x), { pointwise, bias: e.w.has(`${fc1}.bias`), shape: [-1, c] });
  const hidden = activate(e, h.y, cfg.act ?? 'relu', 'act1');
  const z = linear(e, fc2, hidden, { pointwise, bias: e.w.has(`${fc2}.bias`), shape: [c, h.out] });
  const gate = cfg.gate === 'hard_sigmoid'
    ? e.g.node('HardSigmoid', [z.y], `${e.scope}/gate/HardSigmoid`, { alpha: { float: 1 / 6 }, beta: { float: 0.5 } })
    : e.g.node('Sigmoid', [z.y], `${e.scope}/Sigmoid`);
  const out = e.g.node('Mul', [x, asChannels(e, gate)], `${e.scope}/Mul`);
  return { out, taps: [{ tap: 'channel', value: gate }, { tap: 'activation', value: channelMean(e, out) }] };
}
