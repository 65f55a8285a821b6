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
// The ablation variants of the CBAM paper (official layout; Tables 1 and 3): `order`
//   channel-spatial (the above), spatial-channel (x' = x * Ms(x); out = x' * Mc(x')), parallel
//   (out = x * Mc(x) * Ms(x), both from the input), channel (no SpatialGate), spatial (no
//   ChannelGate); `pool` of the channel gate: avg+max (the above), avg, max. activation is
//   mean_c(gate_c * x_c) of the module input where there is a channel gate, else its plain mean.

import type { CbamLayout, CbamOrder, CbamPool } from '../nets/spec';
import type { ModuleGraph } from './base';
import { asChannels, channelMean, conv, dropChannel, type Emit, globalAvg, globalMax, linear, sub } from './layers';

export interface CbamConfig {
  layout: CbamLayout;
  channels: number;
  order?: CbamOrder;
  pool?: CbamPool;
}

const SPATIAL_KERNEL = 7;

export function emitCbam(e: Emit, x: string, cfg: CbamConfig): ModuleGraph {
  const c = cfg.channels;
  const g = e.g;
  const official = cfg.layout === 'official';
  const order = cfg.order ?? 'channel-spatial';
  const pool = cfg.pool ?? 'avg+max';

  /** The channel gate [N, C] of `v` (its MLP shared by the pooled vectors, summed, sigmoid). */
  const channelGate = (v: string): string => {
    const ch = sub(e, official ? 'ChannelGate.mlp' : 'channel', official ? 'ChannelGate' : 'channel');
    // timm's mlp_bias defaults to False; accept checkpoints trained with it on.
    const [fc1, fc2] = official ? ['1', '3'] : ['fc1', 'fc2'];
    const bias = (k: string): boolean => official || ch.w.has(`${k}.bias`);
    const pointwise = !official;
    const mlp = (pooled: string): string => {
      const h = linear(ch, fc1, pooled, { bias: bias(fc1), pointwise, shape: [-1, c], relu: true });
      return linear(ch, fc2, h.y, { bias: bias(fc2), pointwise, shape: [c, h.out] }).y;
    };
    const z = pool === 'avg' ? mlp(globalAvg(ch, v)) : pool === 'max' ? mlp(globalMax(ch, v))
      : g.node('Add', [mlp(globalAvg(ch, v)), mlp(globalMax(ch, v))], `${ch.scope}/Add`);
    return g.node('Sigmoid', [z], `${ch.scope}/Sigmoid`);
  };
  /** The spatial gate [N, 1, H, W] of `v`, and the mean over channels [N, 1, H, W] it pools. */
  let pooledMean: string | null = null;
  const spatialGate = (v: string): string => {
    const sp = sub(e, official ? 'SpatialGate.spatial' : 'spatial.conv', official ? 'SpatialGate' : 'spatial');
    const max = g.node('ReduceMax', [v], `${sp.scope}/ReduceMax`, { axes: [1], keepdims: 1 });
    const mean = g.node('ReduceMean', [v], `${sp.scope}/ReduceMean`, { axes: [1], keepdims: 1 });
    pooledMean = mean;
    const pooled = g.node('Concat', official ? [max, mean] : [mean, max], `${sp.scope}/Concat`, { axis: 1 });
    const logits = conv(sp, 'conv', pooled, { pad: 3, bn: 'bn', shape: [1, 2, SPATIAL_KERNEL, SPATIAL_KERNEL] }).y;
    return g.node('Sigmoid', [logits], `${sp.scope}/Sigmoid`);
  };
  const byChannel = (v: string, gate: string, part: string): string => g.node('Mul', [v, asChannels(e, gate)], `${e.scope}/${part}/Mul`);
  const bySpatial = (v: string, gate: string, part: string): string => g.node('Mul', [v, gate], `${e.scope}/${part}/Mul`);

  let channel: string | null = null;
  let spatial: string | null = null;
  let out: string;
  if (order === 'channel-spatial') {
    channel = channelGate(x);
    const refined = byChannel(x, channel, 'ChannelGate');
    spatial = spatialGate(refined);
    out = bySpatial(refined, spatial, 'SpatialGate');
  } else if (order === 'spatial-channel') {
    spatial = spatialGate(x);
    const refined = bySpatial(x, spatial, 'SpatialGate');
    channel = channelGate(refined);
    out = byChannel(refined, channel, 'ChannelGate');
  } else if (order === 'parallel') {
    channel = channelGate(x);
    spatial = spatialGate(x);
    out = bySpatial(byChannel(x, channel, 'ChannelGate'), spatial, 'SpatialGate');
  } else if (order === 'channel') {
    channel = channelGate(x);
    out = byChannel(x, channel, 'ChannelGate');
  } else {
    spatial = spatialGate(x);
    out = bySpatial(x, spatial, 'SpatialGate');
  }
  const taps: ModuleGraph['taps'] = [];
  if (channel) taps.push({ tap: 'channel', value: channel });
  if (spatial) taps.push({ tap: 'spatial', value: dropChannel(sub(e, null, 'spatial'), spatial) });
  // channel-spatial: mean_c(gate_c * x_c) is the spatial gate's mean channel, one pass over the features, not two.
  const activation = order === 'channel-spatial' && pooledMean ? dropChannel(sub(e, null, 'activation'), pooledMean)
    : channelMean(sub(e, null, 'activation'), channel ? byChannel(x, channel, 'activation') : x);
  taps.push({ tap: 'activation', value: activation });
  return { out, taps };
}
