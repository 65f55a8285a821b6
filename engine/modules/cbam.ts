// CBAM: Convolutional Block Attention Module.
// Paper: Woo, Park, Lee, Kweon, "CBAM: Convolutional Block Attention Module", ECCV 2018,
//   https://arxiv.org/abs/1807.06521
// Reference code (semantics followed, two checkpoint layouts):
//   official: Jongchan/attention-module, MODEL/cbam.py
//     ChannelGate.mlp = Sequential(Flatten, Linear(C, C/r), ReLU, Linear(C/r, C)) applied
//     to global avg and global max pool, summed, sigmoid. SpatialGate: ChannelPool =
//     cat([max over C, mean over C]) (max first) -> 7x7 conv (no bias) -> BN -> sigmoid.
//   timm: huggingface/pytorch-image-models, timm/layers/cbam.py (CbamModule)
//     channel.fc1 / fc2 are 1x1 convs without bias; spatial input is cat([mean, max])
//     (mean first); spatial.conv is ConvNormAct (conv.conv + conv.bn, no activation).
// Order inside the module: x' = x * channel_gate; out = x' * spatial_gate(x').
// Taps: channel = the gate [N, C]; spatial = the spatial gate [N, H, W];
//   activation = mean_c(gate_c * x_c) = the channel mean of x'.

import type { CbamLayout } from '../nets/spec';
import type { ModuleGraph } from './base';
import { asChannels, conv, dropChannel, type Emit, globalAvg, globalMax, linear, sub } from './layers';

export interface CbamConfig {
  layout: CbamLayout;
  channels: number;
}

const SPATIAL_KERNEL = 7;

export function emitCbam(e: Emit, x: string, cfg: CbamConfig): ModuleGraph {
  const c = cfg.channels;
  const official = cfg.layout === 'official';
  const ch = sub(e, official ? 'ChannelGate.mlp' : 'channel', official ? 'ChannelGate' : 'channel');
  // timm's mlp_bias defaults to False; accept checkpoints trained with it on.
  const [fc1, fc2] = official ? ['1', '3'] : ['fc1', 'fc2'];
  const bias = (k: string): boolean => official || ch.w.has(`${k}.bias`);
  const pointwise = !official;
  let hidden = 0;
  const mlp = (pooled: string): string => {
    const h = linear(ch, fc1, pooled, { bias: bias(fc1), pointwise, shape: [-1, c], relu: true });
    hidden = h.out;
    return linear(ch, fc2, h.y, { bias: bias(fc2), pointwise, shape: [c, hidden] }).y;
  };
  const sum = e.g.node('Add', [mlp(globalAvg(ch, x)), mlp(globalMax(ch, x))], `${ch.scope}/Add`);
  const gate = e.g.node('Sigmoid', [sum], `${ch.scope}/Sigmoid`);
  const refined = e.g.node('Mul', [x, asChannels(ch, gate)], `${ch.scope}/Mul`);

  const sp = sub(e, official ? 'SpatialGate.spatial' : 'spatial.conv', official ? 'SpatialGate' : 'spatial');
  const max = e.g.node('ReduceMax', [refined], `${sp.scope}/ReduceMax`, { axes: [1], keepdims: 1 });
  const mean = e.g.node('ReduceMean', [refined], `${sp.scope}/ReduceMean`, { axes: [1], keepdims: 1 });
  const pooled = e.g.node('Concat', official ? [max, mean] : [mean, max], `${sp.scope}/Concat`, { axis: 1 });
  const logits = conv(sp, 'conv', pooled, { pad: 3, bn: 'bn', shape: [1, 2, SPATIAL_KERNEL, SPATIAL_KERNEL] }).y;
  const spatial = e.g.node('Sigmoid', [logits], `${sp.scope}/Sigmoid`);
  const out = e.g.node('Mul', [refined, spatial], `${e.scope}/Mul`);
  return {
    out,
    taps: [
      { tap: 'channel', value: gate },
      { tap: 'spatial', value: dropChannel(sp, spatial) },
      // mean_c(gate_c * x_c) is the spatial gate's mean channel: one pass over the features, not two.
      { tap: 'activation', value: dropChannel({ ...e, scope: `${e.scope}/activation` }, mean) },
    ],
  };
}
