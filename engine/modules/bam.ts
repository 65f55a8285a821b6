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

import * as tf from '@tensorflow/tfjs-core';
import type { TapName } from '../types';
import { type AttentionModule, type ForwardOptions, type ModuleOutput } from './base';
import { type Conv2d, disposeAll, gatedActivation, globalAvg, type Linear, loadConv, loadLinear, type WeightReader } from './layers';

export interface BamConfig {
  channels: number;
  dilation: number;
}

/** Dilated convs in the official code: `dilation_conv_num=2`. */
const DILATED_CONVS = 2;

export class Bam implements AttentionModule {
  readonly kind = 'bam' as const;
  readonly taps: readonly TapName[] = ['channel', 'spatial', 'activation'];
  readonly channels: number;
  private readonly fc0: Linear;
  private readonly fcFinal: Linear;
  private readonly reduce: Conv2d;
  private readonly dilated: Conv2d[];
  private readonly final: Conv2d;

  constructor(w: WeightReader, cfg: BamConfig) {
    const c = cfg.channels;
    this.channels = c;
    const gc = w.sub('channel_att.gate_c');
    this.fc0 = loadLinear(gc, 'gate_c_fc_0', { bias: true, bn: 'gate_c_bn_1', shape: [-1, c] });
    const r = this.fc0.outFeatures;
    this.fcFinal = loadLinear(gc, 'gate_c_fc_final', { bias: true, shape: [c, r] });

    const gs = w.sub('spatial_att.gate_s');
    this.reduce = loadConv(gs, 'gate_s_conv_reduce0', { bias: true, bn: 'gate_s_bn_reduce0', shape: [-1, c, 1, 1] });
    const rs = this.reduce.outChannels;
    this.dilated = [];
    for (let i = 0; i < DILATED_CONVS; i++) {
      this.dilated.push(loadConv(gs, `gate_s_conv_di_${i}`, {
        bias: true, bn: `gate_s_bn_di_${i}`, pad: cfg.dilation, dilation: cfg.dilation, shape: [rs, rs, 3, 3],
      }));
    }
    this.final = loadConv(gs, 'gate_s_conv_final', { bias: true, shape: [1, rs, 1, 1] });
  }

  forward(x: tf.Tensor4D, opts: ForwardOptions): ModuleOutput {
    const mc = this.fcFinal.apply(this.fc0.apply(globalAvg(x), 'relu')); // [1, C]
    let s = this.reduce.apply(x, 'relu');
    for (const conv of this.dilated) s = conv.apply(s, 'relu');
    const ms = this.final.apply(s); // [1, H, W, 1]
    const att = tf.add(1, tf.sigmoid(tf.mul(ms, tf.reshape(mc, [1, 1, 1, this.channels]))));
    const out = tf.mul(x, att) as tf.Tensor4D;

    const [, h, wd] = x.shape;
    const channelGate = tf.sigmoid(mc) as tf.Tensor2D;
    return {
      out: opts.bypass ? x : out,
      taps: [
        { tap: 'channel', value: tf.reshape(channelGate, [this.channels]) },
        { tap: 'spatial', value: tf.reshape(tf.sigmoid(ms), [h, wd]) },
        { tap: 'activation', value: gatedActivation(x, channelGate) },
      ],
    };
  }

  dispose(): void {
    disposeAll([this.fc0, this.fcFinal, this.reduce, ...this.dilated, this.final]);
  }
}
