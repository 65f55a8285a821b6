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

import * as tf from '@tensorflow/tfjs-core';
import type { CbamLayout } from '../nets/spec';
import type { TapName } from '../types';
import { type AttentionModule, type ForwardOptions, type ModuleOutput, type TapTensor } from './base';
import { Conv2d, gatedActivation, globalAvg, globalMax, type Linear, loadConv, loadLinear, type WeightReader } from './layers';

export interface CbamConfig {
  layout: CbamLayout;
  channels: number;
}

const SPATIAL_KERNEL = 7;

export class Cbam implements AttentionModule {
  readonly kind = 'cbam' as const;
  readonly taps: readonly TapName[] = ['channel', 'spatial', 'activation'];
  readonly channels: number;
  private readonly fc1: Linear;
  private readonly fc2: Linear;
  /**
   * The 7x7 spatial conv (BN folded) split by input channel: conv(cat([a, b])) equals
   * conv_a(a) + conv_b(b), which avoids a concat that costs more on wasm than the conv.
   */
  private readonly spatialMax: Conv2d;
  private readonly spatialMean: Conv2d;

  constructor(w: WeightReader, cfg: CbamConfig) {
    const c = cfg.channels;
    this.channels = c;
    if (cfg.layout === 'official') {
      const mlp = w.sub('ChannelGate.mlp');
      this.fc1 = loadLinear(mlp, '1', { bias: true, shape: [-1, c] });
      this.fc2 = loadLinear(mlp, '3', { bias: true, shape: [c, this.fc1.outFeatures] });
      const conv = loadConv(w.sub('SpatialGate.spatial'), 'conv',
        { pad: 3, bn: 'bn', shape: [1, 2, SPATIAL_KERNEL, SPATIAL_KERNEL] });
      [this.spatialMax, this.spatialMean] = splitByInput(conv, 'max-first');
    } else {
      // timm's mlp_bias defaults to False; accept checkpoints trained with it on.
      const ch = w.sub('channel');
      this.fc1 = loadLinear(ch, 'fc1', { pointwise: true, bias: ch.has('fc1.bias'), shape: [-1, c] });
      this.fc2 = loadLinear(ch, 'fc2', { pointwise: true, bias: ch.has('fc2.bias'), shape: [c, this.fc1.outFeatures] });
      const conv = loadConv(w.sub('spatial.conv'), 'conv',
        { pad: 3, bn: 'bn', shape: [1, 2, SPATIAL_KERNEL, SPATIAL_KERNEL] });
      [this.spatialMax, this.spatialMean] = splitByInput(conv, 'mean-first');
    }
  }

  forward(x: tf.Tensor4D, opts: ForwardOptions): ModuleOutput {
    const mlp = (v: tf.Tensor2D): tf.Tensor2D => this.fc2.apply(this.fc1.apply(v, 'relu'));
    const gate = tf.sigmoid(tf.add(mlp(globalAvg(x)), mlp(globalMax(x)))) as tf.Tensor2D; // [1, C]
    const refined = tf.mul(x, tf.reshape(gate, [1, 1, 1, this.channels])) as tf.Tensor4D;

    const maxC = tf.max(refined, 3, true) as tf.Tensor4D;
    const meanC = tf.mean(refined, 3, true) as tf.Tensor4D;
    const logits = tf.add(this.spatialMax.apply(maxC), this.spatialMean.apply(meanC));
    const spatial = tf.sigmoid(logits) as tf.Tensor4D; // [1, H, W, 1]
    const out = tf.mul(refined, spatial) as tf.Tensor4D;

    const [, h, wd] = x.shape;
    const taps: TapTensor[] = [
      { tap: 'channel', value: tf.reshape(gate, [this.channels]) },
      { tap: 'spatial', value: tf.reshape(spatial, [h, wd]) },
      { tap: 'activation', value: gatedActivation(x, gate) },
    ];
    return { out: opts.bypass ? x : out, taps };
  }

  dispose(): void {
    this.fc1.dispose();
    this.fc2.dispose();
    this.spatialMax.dispose();
    this.spatialMean.dispose();
  }
}

/** Splits a 2-input-channel conv into its max-pool half and its mean-pool half (the bias goes with the max half). */
function splitByInput(conv: Conv2d, order: 'max-first' | 'mean-first'): [Conv2d, Conv2d] {
  const [kh, kw, , out] = conv.filter.shape;
  const half = (i: number): tf.Tensor4D => tf.slice(conv.filter, [0, 0, i, 0], [kh, kw, 1, out]);
  const [maxIdx, meanIdx] = order === 'max-first' ? [0, 1] : [1, 0];
  const parts: [Conv2d, Conv2d] = [
    new Conv2d(half(maxIdx), conv.bias, conv.stride, conv.pad, conv.dilation),
    new Conv2d(half(meanIdx), null, conv.stride, conv.pad, conv.dilation),
  ];
  conv.filter.dispose(); // the bias lives on in the max half
  return parts;
}
