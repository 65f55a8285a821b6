// Self-attention over positions as SAGAN introduced it, and DANet's position attention module,
// which computes the same thing under the same key names.
// Papers: Zhang, Goodfellow, Metaxas, Odena, "Self-Attention Generative Adversarial Networks",
//   ICML 2019, https://arxiv.org/abs/1805.08318; Fu, Liu, Tian, Li, Bao, Fang, Lu, "Dual
//   Attention Network for Scene Segmentation", CVPR 2019, https://arxiv.org/abs/1809.02983
// Reference code (semantics and key names followed): heykeetae/Self-Attention-GAN
//   sagan_models.py (Self_Attn) and junfu1115/DANet (PAM_Module): query_conv and key_conv are
//   1x1 convs C -> C / r (r = 8), value_conv C -> C, all with bias; energy[i, j] = q_i . k_j over
//   positions (row-major H then W), attention = softmax over the keys j; out[c, i] =
//   sum_j v[c, j] attention[i, j]; y = gamma * out + x (gamma a learned scalar, 0 at init).
// Taps: attention = the mean attention each key position receives [N, H, W]; activation = the
//   channel mean of the input; the affinity [N, HW, HW] is kept for click-a-query.

import type { ModuleGraph } from './base';
import { channelMean, conv, type Emit, mapShape } from './layers';

export interface SelfAttentionConfig {
  channels: number;
}

export function emitSelfAttention(e: Emit, x: string, cfg: SelfAttentionConfig): ModuleGraph {
  const c = cfg.channels;
  const g = e.g;
  const q = conv(e, 'query_conv', x, { bias: true, shape: [-1, c, 1, 1] });
  const k = conv(e, 'key_conv', x, { bias: true, shape: [q.out, c, 1, 1] });
  const v = conv(e, 'value_conv', x, { bias: true, shape: [c, c, 1, 1] });
  const flat = (t: string, ch: number): string => g.node('Reshape', [t, g.ints([0, ch, -1])], `${e.scope}/Reshape`); // [N, ch, HW]
  const queries = g.node('Transpose', [flat(q.y, q.out)], `${e.scope}/Transpose`, { perm: [0, 2, 1] }); // [N, HW, C/r]
  const energy = g.node('MatMul', [queries, flat(k.y, q.out)], `${e.scope}/MatMul`); // [N, HW(q), HW(k)]
  const attention = g.node('Softmax', [energy], `${e.scope}/Softmax`, { axis: -1 });
  const mixed = g.node('MatMul', [flat(v.y, c), g.node('Transpose', [attention], `${e.scope}/Transpose`, { perm: [0, 2, 1] })], `${e.scope}/MatMul`); // [N, C, HW]
  const gamma = g.floats(`${e.w.key('gamma')}`, Float32Array.from(e.w.get('gamma', [1]).data), [1]);
  const out = g.node('Add', [g.node('Mul', [g.node('Reshape', [mixed, g.node('Shape', [x], `${e.scope}/Shape`)], `${e.scope}/Reshape`), gamma], `${e.scope}/Mul`), x], `${e.scope}/Add`);
  const received = g.node('ReduceMean', [attention], `${e.scope}/attention/ReduceMean`, { axes: [1], keepdims: 0 }); // [N, HW]
  return {
    out,
    taps: [
      { tap: 'attention', value: g.node('Reshape', [received, mapShape(e, x)], `${e.scope}/attention/Reshape`) },
      { tap: 'activation', value: channelMean(e, x) },
    ],
    affinity: attention,
  };
}
