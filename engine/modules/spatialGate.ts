// Spatial squeeze-and-excitation: the simple spatial attention module of the attention surveys.
// Paper: Roy, Navab, Wachinger, "Concurrent Spatial and Channel 'Squeeze & Excitation' in Fully
//   Convolutional Networks", MICCAI 2018, https://arxiv.org/abs/1803.02579 (sSE), as Guo et al.,
//   "Attention Mechanisms in Computer Vision: A Survey", Computational Visual Media 2022, list it.
// Reference code (semantics and key names followed): ai-med/squeeze_and_excitation
//   (SpatialSELayer): gate = sigmoid(conv 1x1 C -> 1, with bias); out = x * gate.
// Taps: spatial = the gate [N, H, W]; activation = the channel mean of the input.

import type { ModuleGraph } from './base';
import { channelMean, conv, dropChannel, type Emit } from './layers';

export interface SpatialGateConfig {
  channels: number;
}

export function emitSpatialGate(e: Emit, x: string, cfg: SpatialGateConfig): ModuleGraph {
  const gate = e.g.node('Sigmoid', [conv(e, 'conv', x, { bias: true, shape: [1, cfg.channels, 1, 1] }).y], `${e.scope}/Sigmoid`);
  return {
    out: e.g.node('Mul', [x, gate], `${e.scope}/Mul`),
    taps: [{ tap: 'spatial', value: dropChannel(e, gate) }, { tap: 'activation', value: channelMean(e, x) }],
  };
}
