// BAM: Bottleneck Attention Module.
// Paper: Park, Woo, Lee, Kweon, "BAM: Bottleneck Attention Module", BMVC 2018,
//   https://arxiv.org/abs/1807.06514
// Reference code (semantics followed): Jongchan/attention-module, MODEL/bam.py
//   channel: global avg pool -> Linear(C, C/r) -> BatchNorm1d -> ReLU -> Linear(C/r, C)  = Mc
//   spatial: 1x1 conv C->C/r, BN, ReLU, two (3x3 conv dilation d padding d, BN, ReLU),
//            1x1 conv C/r->1                                                          = Ms
//   out = x * (1 + sigmoid(Mc * Ms))   (Mc broadcast over H, W; Ms over C)
// The official ChannelGate pools with a kernel of size H (square maps); the global mean
// is the same thing on the square inputs the network is run on.
// Taps: channel = sigmoid(Mc) [N, C]; spatial = sigmoid(Ms) [N, H, W];
//   activation = mean_c(sigmoid(Mc)_c * x_c).

import type { ModuleGraph } from './base';
import { asChannels, channelMean, conv, dropChannel, type Emit, globalAvg, linear, sub } from './layers';

export interface BamConfig {
  channels: number;
  dilation: number;
}

/** Dilated convs in the official code: `dilation_conv_num=2`. */
const DILATED_CONVS = 2;

export function emitBam(e: Emit, x: string, cfg: BamConfig): ModuleGraph {
  const c = cfg.channels;
  const gc = sub(e, 'channel_att.gate_c', 'ChannelGate');
  const h = linear(gc, 'gate_c_fc_0', globalAvg(gc, x), { bias: true, bn: 'gate_c_bn_1', shape: [-1, c], relu: true });
  const mc = linear(gc, 'gate_c_fc_final', h.y, { bias: true, shape: [c, h.out] }).y;

  const gs = sub(e, 'spatial_att.gate_s', 'SpatialGate');
  const reduce = conv(gs, 'gate_s_conv_reduce0', x, { bias: true, bn: 'gate_s_bn_reduce0', shape: [-1, c, 1, 1], relu: true });
  let s = reduce.y;
  for (let i = 0; i < DILATED_CONVS; i++) {
    s = conv(gs, `gate_s_conv_di_${i}`, s, {
      bias: true, bn: `gate_s_bn_di_${i}`, pad: cfg.dilation, dilation: cfg.dilation, shape: [reduce.out, reduce.out, 3, 3], relu: true,
    }).y;
  }
  const ms = conv(gs, 'gate_s_conv_final', s, { bias: true, shape: [1, reduce.out, 1, 1] }).y;

  const mc4 = asChannels(gc, mc);
  const att = e.g.node('Add', [e.g.scalar(1), e.g.node('Sigmoid', [e.g.node('Mul', [ms, mc4], `${e.scope}/Mul`)], `${e.scope}/Sigmoid`)], `${e.scope}/Add`);
  const out = e.g.node('Mul', [x, att], `${e.scope}/Mul`);

  const channelGate = e.g.node('Sigmoid', [mc], `${gc.scope}/Sigmoid`);
  const spatial = e.g.node('Sigmoid', [ms], `${gs.scope}/Sigmoid`);
  const gated = e.g.node('Mul', [x, asChannels(gc, channelGate)], `${gc.scope}/Mul`);
  return {
    out,
    taps: [
      { tap: 'channel', value: channelGate },
      { tap: 'spatial', value: dropChannel(gs, spatial) },
      { tap: 'activation', value: channelMean(e, gated) },
    ],
  };
}
