// SE: Squeeze-and-Excitation.
// Paper: Hu, Shen, Sun, "Squeeze-and-Excitation Networks", CVPR 2018,
//   https://arxiv.org/abs/1709.01507
// Reference code (semantics followed, two checkpoint layouts):
//   timm: huggingface/pytorch-image-models, timm/layers/squeeze_excite.py (SEModule):
//     fc1 / fc2 are 1x1 convs with bias on the global average: sigmoid(fc2(relu(fc1(avg)))).
//   linear: the common SELayer (moskomule/senet.pytorch, se_module.py):
//     fc = Sequential(Linear(C, C/r, bias=False), ReLU, Linear(C/r, C, bias=False), Sigmoid).
// out = x * gate.

import * as tf from '@tensorflow/tfjs-core';
import type { SeLayout } from '../nets/spec';
import type { TapName } from '../types';
import { type AttentionModule, type ForwardOptions, type ModuleOutput } from './base';
import { gatedActivation, globalAvg, type Linear, loadLinear, type WeightReader } from './layers';

export interface SeConfig {
  layout: SeLayout;
  channels: number;
}

export class SqueezeExcite implements AttentionModule {
  readonly kind = 'se' as const;
  readonly taps: readonly TapName[] = ['channel', 'activation'];
  readonly channels: number;
  private readonly fc1: Linear;
  private readonly fc2: Linear;

  constructor(w: WeightReader, cfg: SeConfig) {
    const c = cfg.channels;
    this.channels = c;
    if (cfg.layout === 'timm') {
      this.fc1 = loadLinear(w, 'fc1', { pointwise: true, bias: w.has('fc1.bias'), shape: [-1, c] });
      this.fc2 = loadLinear(w, 'fc2', { pointwise: true, bias: w.has('fc2.bias'), shape: [c, this.fc1.outFeatures] });
    } else {
      this.fc1 = loadLinear(w, 'fc.0', { bias: w.has('fc.0.bias'), shape: [-1, c] });
      this.fc2 = loadLinear(w, 'fc.2', { bias: w.has('fc.2.bias'), shape: [c, this.fc1.outFeatures] });
    }
  }

  forward(x: tf.Tensor4D, opts: ForwardOptions): ModuleOutput {
    const gate = tf.sigmoid(this.fc2.apply(this.fc1.apply(globalAvg(x), 'relu'))) as tf.Tensor2D;
    const out = tf.mul(x, tf.reshape(gate, [1, 1, 1, this.channels])) as tf.Tensor4D;
    return {
      out: opts.bypass ? x : out,
      taps: [
        { tap: 'channel', value: tf.reshape(gate, [this.channels]) },
        { tap: 'activation', value: gatedActivation(x, gate) },
      ],
    };
  }

  dispose(): void {
    this.fc1.dispose();
    this.fc2.dispose();
  }
}
