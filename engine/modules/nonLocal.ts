// Non-local block.
// Paper: Wang, Girshick, Gupta, He, "Non-local Neural Networks", CVPR 2018,
//   https://arxiv.org/abs/1711.07971
// Reference code (semantics and key names followed): AlexHex7/Non-local_pytorch,
//   lib/non_local_{embedded_gaussian,gaussian,dot_product,concatenation}.py (_NonLocalBlockND):
//   inter = C/2; g, theta, phi are 1x1 convs with bias; with sub_sample, g and phi are
//   Sequential(conv, MaxPool2d(2)) (keys `g.0.*`, `phi.0.*`); W = Sequential(conv inter->C,
//   BatchNorm2d(C)) (`W.0.*`, `W.1.*`) or a bare conv (`W.*`) without bn_layer.
//   f[i, j] over queries i (H*W) and keys j (H'*W'):
//     embedded: softmax_j(theta_i . phi_j)
//     gaussian: softmax_j(x_i . x'_j), no theta/phi convs, x' = maxpool(x) when sub-sampling
//     dot:      (theta_i . phi_j) / N'
//     concat:   ReLU(w . [theta_i, phi_j]) / N'   (concat_project: 1x1 conv 2*inter->1, no bias)
//   y = f g;  z = W(y) + x.
// PyTorch flattens positions as view(b, c, -1): row-major H then W. An NHWC tensor reshaped
// to [H*W, C] has its rows in exactly that order, so affinity rows and columns match
// PyTorch's index for index.

import * as tf from '@tensorflow/tfjs-core';
import type { NonLocalMode } from '../nets/spec';
import type { TapName } from '../types';
import { type AttentionModule, type ForwardOptions, type ModuleOutput } from './base';
import { channelMeanMap, type Conv2d, disposeAll, loadConv, type WeightReader } from './layers';

export interface NonLocalConfig {
  channels: number;
  mode: NonLocalMode;
  subSample: boolean;
  /** W is conv + BatchNorm2d (the reference default), or a bare conv. */
  bn: boolean;
}

export class NonLocal implements AttentionModule {
  readonly kind = 'nonlocal' as const;
  readonly taps: readonly TapName[] = ['attention', 'activation'];
  readonly channels: number;
  readonly mode: NonLocalMode;
  private readonly subSample: boolean;
  private readonly g: Conv2d;
  private readonly theta: Conv2d | null;
  private readonly phi: Conv2d | null;
  /** concat mode: the projection split into its theta half and its phi half, [inter, 1] each. */
  private readonly concatTheta: tf.Tensor2D | null = null;
  private readonly concatPhi: tf.Tensor2D | null = null;
  private readonly out: Conv2d;

  constructor(w: WeightReader, cfg: NonLocalConfig) {
    const c = cfg.channels;
    this.channels = c;
    this.mode = cfg.mode;
    this.subSample = cfg.subSample;
    const seq = (name: string): string => (cfg.subSample ? `${name}.0` : name);
    this.g = loadConv(w, seq('g'), { bias: true, shape: [-1, c, 1, 1] });
    const inter = this.g.outChannels;
    if (cfg.mode === 'gaussian') {
      this.theta = null;
      this.phi = null;
    } else {
      this.theta = loadConv(w, 'theta', { bias: true, shape: [inter, c, 1, 1] });
      this.phi = loadConv(w, seq('phi'), { bias: true, shape: [inter, c, 1, 1] });
    }
    if (cfg.mode === 'concat') {
      const proj = w.get('concat_project.0.weight', [1, 2 * inter, 1, 1]).data;
      // cat([theta, phi], dim=1): the first `inter` weights see theta, the rest phi.
      this.concatTheta = tf.tensor2d(proj.slice(0, inter), [inter, 1]);
      this.concatPhi = tf.tensor2d(proj.slice(inter, 2 * inter), [inter, 1]);
    }
    this.out = cfg.bn
      ? loadConv(w, 'W.0', { bias: true, bn: 'W.1', shape: [c, inter, 1, 1] })
      : loadConv(w, 'W', { bias: true, shape: [c, inter, 1, 1] });
  }

  forward(x: tf.Tensor4D, opts: ForwardOptions): ModuleOutput {
    const [, h, wd] = x.shape;
    const pool = (t: tf.Tensor4D): tf.Tensor4D => (this.subSample ? tf.maxPool(t, 2, 2, 'valid') : t);
    const rows = (t: tf.Tensor4D): tf.Tensor2D => tf.reshape(t, [t.shape[1] * t.shape[2], t.shape[3]]);

    const gx = pool(this.g.apply(x));
    const [, kh, kw] = gx.shape;
    const keys = kh * kw;
    let affinity: tf.Tensor2D;
    if (this.mode === 'gaussian') {
      affinity = tf.softmax(tf.matMul(rows(x), rows(pool(x)), false, true)) as tf.Tensor2D;
    } else {
      const theta = rows((this.theta as Conv2d).apply(x));
      const phi = rows(pool((this.phi as Conv2d).apply(x)));
      if (this.mode === 'embedded') {
        affinity = tf.softmax(tf.matMul(theta, phi, false, true)) as tf.Tensor2D;
      } else if (this.mode === 'dot') {
        affinity = tf.div(tf.matMul(theta, phi, false, true), keys);
      } else {
        // ReLU(w_theta . theta_i + w_phi . phi_j): the 1x1 projection of the concatenation
        // splits into a query term and a key term, so the N x N' x 2*inter tensor the
        // reference builds is never needed.
        const a = tf.matMul(theta, this.concatTheta as tf.Tensor2D); // [N, 1]
        const b = tf.reshape(tf.matMul(phi, this.concatPhi as tf.Tensor2D), [1, keys]); // [1, N']
        affinity = tf.div(tf.relu(tf.add(a, b)), keys);
      }
    }
    const y = tf.reshape(tf.matMul(affinity, rows(gx)), [1, h, wd, -1]) as tf.Tensor4D;
    const out = tf.add(this.out.apply(y), x) as tf.Tensor4D;
    return {
      out: opts.bypass ? x : out,
      taps: [
        // Mean over queries of the attention each key position receives.
        { tap: 'attention', value: tf.reshape(tf.mean(affinity, 0), [kh, kw]) },
        { tap: 'activation', value: channelMeanMap(x) },
      ],
      affinity,
      grids: { query: [h, wd], key: [kh, kw] },
    };
  }

  dispose(): void {
    disposeAll([this.g, this.theta, this.phi, this.concatTheta, this.concatPhi, this.out]);
  }
}
