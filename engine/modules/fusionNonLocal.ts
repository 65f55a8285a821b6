// AFNB, the asymmetric fusion non-local block of ANN: queries from a high-level map, keys and
// values pyramid-pooled from a lower stage's map, fused back with the high-level map.
// Paper: Zhen Zhu, Mengde Xu, Song Bai, Tengteng Huang, Xiang Bai, "Asymmetric Non-local Neural
//   Networks for Semantic Segmentation", ICCV 2019, https://arxiv.org/abs/1908.07678
// Reference code (semantics and key names followed): MendelXu/ANN models/seg/utils/afnb.py (AFNB,
//   SelfAttentionBlock2D with low and high inputs, PSPModule; one stage at scale 1): q =
//   f_query(high), k = pool(f_key(low)), v = pool(f_value(low)) (f_key and f_query are separate
//   conv (bias) + BN + ReLU modules here: their inputs differ); A = softmax over the S pooled keys
//   of key_channels^-1/2 q . k; context = W(v A^T); out = conv_bn_dropout(cat[context, high]):
//   a conv with bias and a plain BN (no ReLU, unlike APNB; the dropout is off at inference).
// The low map is stage `low`'s output (in the authors' network, res4 beside res5); in a ResNet
// without dilation it is twice the high map's size, which the pooled keys make no matter.
// Taps: attention = the mean over high-map queries of D = A P over the low map's positions
//   [N, H_l, W_l]; activation = the channel mean of the high input; the affinity D [N, HW, H_l W_l]
//   is kept for click-a-query (a query on the high map, its weights over the low map).

import type { ModuleGraph } from './base';
import { channelMean, conv, type Emit, mapShape } from './layers';
import { pooledAttention, pyramidPooling } from './pyramidNonLocal';

export interface FusionNonLocalConfig {
  channels: number;
  /** The low-level map [N, C_l, H_l, W_l] (a value of the same graph) and its channels. */
  low: string;
  lowChannels: number;
  sizes: number[];
}

export function emitFusionNonLocal(e: Emit, x: string, cfg: FusionNonLocalConfig): ModuleGraph {
  const g = e.g;
  const s = e.scope;
  const c = cfg.channels;
  const { pool, poolT } = pyramidPooling(e, cfg.low, cfg.sizes);
  const { context, attention } = pooledAttention(e, x, cfg.low, poolT, { sourceChannels: cfg.lowChannels, out: c });
  const out = conv({ ...e, scope: `${s}/conv_bn_dropout` }, 'conv_bn_dropout.0', g.node('Concat', [context, x], `${s}/Concat`, { axis: 1 }), { bias: true, bn: 'conv_bn_dropout.1', shape: [c, 2 * c, 1, 1] }).y;
  const dense = g.node('MatMul', [attention, pool], `${s}/dense/MatMul`); // [N, HW, H_l W_l]
  return {
    out,
    taps: [
      { tap: 'attention', value: g.node('Reshape', [g.node('ReduceMean', [dense], `${s}/attention/ReduceMean`, { axes: [1], keepdims: 0 }), mapShape(e, cfg.low)], `${s}/attention/Reshape`) },
      { tap: 'activation', value: channelMean(e, x) },
    ],
    affinity: dense,
  };
}
