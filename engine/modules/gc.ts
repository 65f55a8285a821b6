// GC: Global Context block.
// Paper: Cao, Xu, Lin, Wei, Hu, "GCNet: Non-local Networks Meet Squeeze-Excitation
//   Networks and Beyond", ICCV Workshops 2019, https://arxiv.org/abs/1904.11492
// Reference code (semantics followed): xvjiarui/GCNet, mmdet/ops/gcb/context_block.py
//   (ContextBlock, pooling_type='att', fusion_types=('channel_add',)):
//   mask = softmax over H*W of conv_mask(x) (1x1 conv C->1, with bias)
//   context[c] = sum_hw x[c, hw] * mask[hw]
//   term = Conv1x1(P->C)(ReLU(LayerNorm([P,1,1])(Conv1x1(C->P)(context))))
//   out = x + term
// On the pooled [C] context every 1x1 conv is a linear layer, and the LayerNorm over
// [P, 1, 1] normalises the P values.

import * as tf from '@tensorflow/tfjs-core';
import type { TapName } from '../types';
import { type AttentionModule, type ForwardOptions, type ModuleOutput } from './base';
import { channelMeanMap, type Conv2d, disposeAll, type LayerNorm, type Linear, loadConv, loadLayerNorm, loadLinear, type WeightReader } from './layers';

export interface GcConfig {
  channels: number;
}

export class GlobalContext implements AttentionModule {
  readonly kind = 'gc' as const;
  readonly taps: readonly TapName[] = ['spatial', 'activation'];
  readonly channels: number;
  private readonly mask: Conv2d;
  private readonly down: Linear;
  private readonly norm: LayerNorm;
  private readonly up: Linear;

  constructor(w: WeightReader, cfg: GcConfig) {
    const c = cfg.channels;
    this.channels = c;
    this.mask = loadConv(w, 'conv_mask', { bias: true, shape: [1, c, 1, 1] });
    const t = w.sub('channel_add_conv');
    this.down = loadLinear(t, '0', { pointwise: true, bias: true, shape: [-1, c] });
    const p = this.down.outFeatures;
    this.norm = loadLayerNorm(t, '1', p);
    this.up = loadLinear(t, '3', { pointwise: true, bias: true, shape: [c, p] });
  }

  forward(x: tf.Tensor4D, opts: ForwardOptions): ModuleOutput {
    const [, h, wd, c] = x.shape;
    const flat = tf.reshape(x, [h * wd, c]);
    const logits = tf.reshape(this.mask.apply(x), [1, h * wd]);
    const mask = tf.softmax(logits) as tf.Tensor2D; // [1, HW]
    const context = tf.matMul(mask, flat) as tf.Tensor2D; // [1, C]
    const term = this.up.apply(tf.relu(this.norm.apply(this.down.apply(context))) as tf.Tensor2D);
    const out = tf.add(x, tf.reshape(term, [1, 1, 1, c])) as tf.Tensor4D;
    return {
      out: opts.bypass ? x : out,
      taps: [
        { tap: 'spatial', value: tf.reshape(mask, [h, wd]) },
        { tap: 'activation', value: channelMeanMap(x) },
      ],
    };
  }

  dispose(): void {
    disposeAll([this.mask, this.down, this.norm, this.up]);
  }
}
