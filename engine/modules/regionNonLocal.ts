// RNL, the region-based non-local block: a non-local operation whose pairwise function compares
// regions (each position's neighbourhood, summarised by a depthwise conv) instead of positions.
// Paper: Guoxi Huang, Adrian G. Bors, "Region-based Non-local Operation for Video
//   Classification", ICPR 2020, https://arxiv.org/abs/2007.09033
// Reference code (semantics and key names followed): guoxih/region-based-non-local-network
//   ops/rnl.py (_NonLocalBlockND) and ops/depthwise_conv.py (DiagonalwiseRefactorization), in
//   its 2-D form: t = theta(x) (1x1 conv with bias, C -> C/2); p = penta(t), a k x k conv whose
//   weight is multiplied by a fixed 0/1 mask (`penta.mask`) so each channel reads only itself
//   (a depthwise conv written as a grouped one), no bias; f = softmax over the keys of p_k . p_q
//   (the same region embedding on both sides, keys max-pooled 2x2 with sub-sampling); y = the
//   values t (not region-aggregated) weighted by f; out = x + W(y) (1x1 conv + BN).
// Taps: attention = the mean over queries of what each key receives [N, H', W']; activation =
//   the channel mean of the input; the affinity f [N, HW, H'W'] (rows = queries) is kept for
//   click-a-query.

import type { ModuleGraph } from './base';
import { channelMean, conv, type Emit, mapShape } from './layers';

export interface RegionNonLocalConfig {
  channels: number;
  subSample: boolean;
}

export function emitRegionNonLocal(e: Emit, x: string, cfg: RegionNonLocalConfig): ModuleGraph {
  const g = e.g;
  const s = e.scope;
  const c = cfg.channels;
  const t = conv(e, 'theta', x, { bias: true, shape: [-1, c, 1, 1] });
  let p = t.y;
  if (e.w.has('penta.weight')) {
    // The authors' masked grouped conv, its mask folded into the weight once.
    const weight = e.w.get('penta.weight', [t.out, -1, -1, -1]);
    const mask = e.w.get('penta.mask', weight.shape);
    const [, per, k] = weight.shape as [number, number, number, number];
    const folded = Float32Array.from(weight.data, (v, i) => v * (mask.data[i] as number));
    p = g.node('Conv', [t.y, g.floats(`${e.w.key('penta.weight')}`, folded, weight.shape)], `${s}/penta/Conv`, {
      kernel_shape: [k, k], pads: Array(4).fill((k - 1) >> 1), strides: [1, 1], dilations: [1, 1], group: t.out / per,
    });
  }
  const pool = (v: string): string => g.node('MaxPool', [v], `${s}/MaxPool`, { kernel_shape: [2, 2], strides: [2, 2] });
  const keys = cfg.subSample ? pool(p) : p;
  const values = cfg.subSample ? pool(t.y) : t.y;
  const flat = (v: string): string => g.node('Reshape', [v, g.ints([0, t.out, -1])], `${s}/Reshape`);
  const queries = g.node('Transpose', [flat(p)], `${s}/Transpose`, { perm: [0, 2, 1] }); // [N, HW, C']
  const f = g.node('Softmax', [g.node('MatMul', [queries, flat(keys)], `${s}/MatMul`)], `${s}/Softmax`, { axis: -1 }); // [N, HW, K]
  const y = g.node('MatMul', [flat(values), g.node('Transpose', [f], `${s}/Transpose`, { perm: [0, 2, 1] })], `${s}/MatMul`); // [N, C', HW]
  const back = g.node('Reshape', [y, g.node('Shape', [t.y], `${s}/Shape`)], `${s}/Reshape`);
  const out = g.node('Add', [x, conv(e, 'W.0', back, { bias: true, bn: 'W.1', shape: [c, t.out, 1, 1] }).y], `${s}/Add`);
  return {
    out,
    taps: [
      { tap: 'attention', value: g.node('Reshape', [g.node('ReduceMean', [f], `${s}/attention/ReduceMean`, { axes: [1], keepdims: 0 }), mapShape(e, keys)], `${s}/attention/Reshape`) },
      { tap: 'activation', value: channelMean(e, x) },
    ],
    affinity: f,
  };
}
