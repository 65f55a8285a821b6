// APNB, the asymmetric pyramid non-local block of ANN: self-attention whose keys and values are
// pyramid-pooled (adaptive average pooling to a few sizes, concatenated), so every position
// attends to a few dozen region summaries instead of every position.
// Paper: Zhen Zhu, Mengde Xu, Song Bai, Tengteng Huang, Xiang Bai, "Asymmetric Non-local Neural
//   Networks for Semantic Segmentation", ICCV 2019, https://arxiv.org/abs/1908.07678
// Reference code (semantics and key names followed): MendelXu/ANN models/seg/utils/apnb.py (APNB,
//   PSPModule, _SelfAttentionBlock; one stage at scale 1 as annn.py uses it): q = f_query(x),
//   k = pool(f_key(x)), v = pool(f_value(x)) (f_key = f_query: conv (bias) + BN + ReLU, the same
//   module twice in a state dict; f_value a conv with bias); A = softmax over the S pooled keys of
//   key_channels^-1/2 q . k; context = W(v A^T) (a conv with bias); out = conv_bn_dropout(
//   cat[context, x]) (conv with bias + BN + ReLU; the dropout is off at inference).
// The pooling is a matrix P [S, HW] built in the graph from the map's own size with PyTorch's
// adaptive bins (start = floor(i H / b), end = ceil((i + 1) H / b); bins may overlap): pooled keys
// and values are K P^T, V P^T, and the attention over pooled keys A [HW, S] is shown over image
// positions as A P (each region's weight spread over its positions: rows sum to 1).
// Taps: attention = the mean over queries of A P [N, H, W]; activation = the channel mean of the
//   input; the affinity A P [N, HW, HW] is kept for click-a-query.

import type { ModuleGraph } from './base';
import { channelMean, conv, type Emit, mapShape } from './layers';
import { mapSize, rangeTo, withChannels } from './positions';

export interface PyramidNonLocalConfig {
  channels: number;
  sizes: number[];
}

/**
 * P [S, H W] of x's own size: row s averages the positions of pooled cell s, the levels `sizes`
 * (b x b bins each, PyTorch's adaptive bins) concatenated in order; and its transpose.
 */
export function pyramidPooling(e: Emit, x: string, sizes: number[]): { pool: string; poolT: string } {
  const g = e.g;
  const s = e.scope;
  const op = (type: string, inputs: string[], attrs: Record<string, number | number[]> = {}): string => g.node(type, inputs, `${s}/pool/${type}`, attrs);
  const ints = (v: number): string => g.ints([v]);
  const pooling: Emit = { ...e, scope: `${s}/pool` };
  const { h, w } = mapSize(pooling, x);
  // [b, size]: 1 where position (row or column) p is in bin i of b.
  const bins = (size: string, b: number): string => {
    const i = g.ints(Array.from({ length: b }, (_, k) => k));
    const start = op('Div', [op('Mul', [i, size]), ints(b)]);
    const end = op('Div', [op('Add', [op('Mul', [op('Add', [i, ints(1)]), size]), ints(b - 1)]), ints(b)]);
    const p = op('Unsqueeze', [rangeTo(pooling, size), ints(0)]); // [1, size]
    const inside = op('Mul', [
      op('Cast', [op('GreaterOrEqual', [p, op('Unsqueeze', [start, ints(1)])])], { to: 1 }),
      op('Cast', [op('Less', [p, op('Unsqueeze', [end, ints(1)])])], { to: 1 }),
    ]);
    return inside;
  };
  const levels = sizes.map((b) => {
    const member = op('Reshape', [op('Mul', [
      op('Unsqueeze', [bins(h, b), g.ints([1, 3])]), // [b, 1, H, 1]
      op('Unsqueeze', [bins(w, b), g.ints([0, 2])]), // [1, b, 1, W]
    ]), g.ints([b * b, -1])]); // [b^2, HW]
    return op('Div', [member, op('ReduceSum', [member, ints(1)], { keepdims: 1 })]);
  });
  const pool = levels.length > 1 ? op('Concat', levels, { axis: 0 }) : levels[0] as string; // P [S, HW]
  const poolT = op('Transpose', [pool], { perm: [1, 0] });

  return { pool, poolT };
}

/**
 * ANN's attention stage (`stages.0`, shared by APNB and AFNB): queries f_query(x), keys
 * f_key(source) and values f_value(source) pooled by P (poolT = P^T); A = softmax over the S
 * pooled keys of key_channels^-1/2 q . k [N, HW, S]; context = W(v A^T) [N, out, H, W].
 */
export function pooledAttention(e: Emit, x: string, source: string, poolT: string, io: { sourceChannels: number; out: number }): { context: string; attention: string } {
  const g = e.g;
  const p: Emit = { ...e, w: e.w.sub('stages.0'), scope: `${e.scope}/stages.0` };
  const query = conv(p, 'f_query.0', x, { bias: true, bn: 'f_query.1.0', relu: true });
  const key = conv(p, 'f_key.0', source, { bias: true, bn: 'f_key.1.0', relu: true, shape: [query.out, io.sourceChannels, 1, 1] });
  const value = conv(p, 'f_value', source, { bias: true, shape: [-1, io.sourceChannels, 1, 1] });
  const flat = (t: string, ch: number): string => g.node('Reshape', [t, g.ints([0, ch, -1])], `${p.scope}/Reshape`);
  const pooled = (t: string, ch: number): string => g.node('MatMul', [flat(t, ch), poolT], `${p.scope}/MatMul`); // [N, ch, S]
  const energy = g.node('MatMul', [g.node('Transpose', [flat(query.y, query.out)], `${p.scope}/Transpose`, { perm: [0, 2, 1] }), pooled(key.y, query.out)], `${p.scope}/MatMul`);
  const attention = g.node('Softmax', [g.node('Mul', [energy, g.scalar(query.out ** -0.5)], `${p.scope}/Mul`)], `${p.scope}/Softmax`, { axis: -1 }); // [N, HW, S]
  const gathered = g.node('MatMul', [pooled(value.y, value.out), g.node('Transpose', [attention], `${p.scope}/Transpose`, { perm: [0, 2, 1] })], `${p.scope}/MatMul`); // [N, value, HW]
  const back = g.node('Reshape', [gathered, withChannels(p, x, [value.out])], `${p.scope}/Reshape`);
  return { context: conv(p, 'W', back, { bias: true, shape: [io.out, value.out, 1, 1] }).y, attention };
}

export function emitPyramidNonLocal(e: Emit, x: string, cfg: PyramidNonLocalConfig): ModuleGraph {
  const g = e.g;
  const s = e.scope;
  const c = cfg.channels;
  const { pool, poolT } = pyramidPooling(e, x, cfg.sizes);
  const { context, attention } = pooledAttention(e, x, x, poolT, { sourceChannels: c, out: c });
  const out = conv({ ...e, scope: `${s}/conv_bn_dropout` }, 'conv_bn_dropout.0', g.node('Concat', [context, x], `${s}/Concat`, { axis: 1 }), { bias: true, bn: 'conv_bn_dropout.1.0', relu: true, shape: [c, 2 * c, 1, 1] }).y;
  const dense = g.node('MatMul', [attention, pool], `${s}/dense/MatMul`); // [N, HW, HW]
  return {
    out,
    taps: [
      { tap: 'attention', value: g.node('Reshape', [g.node('ReduceMean', [dense], `${s}/attention/ReduceMean`, { axes: [1], keepdims: 0 }), mapShape(e, x)], `${s}/attention/Reshape`) },
      { tap: 'activation', value: channelMean(e, x) },
    ],
    affinity: dense,
  };
}
