// Interlaced sparse self-attention (ISANet): a long-range step among positions a down factor
// apart (interlaced groups), then a short-range step within contiguous blocks; two sparse
// steps that together reach the whole map.
// Paper: Lang Huang, Yuhui Yuan, Jianyuan Guo, Chao Zhang, Xilin Chen, Jingdong Wang,
//   "Interlaced Sparse Self-Attention for Semantic Segmentation", 2019, https://arxiv.org/abs/1907.12273
// Reference code (semantics, key names, permutations, padding followed): openseg-group/
//   openseg.pytorch lib/models/modules/isa_block.py (SelfAttentionBlock2D, ISA_Block,
//   ISA_Module with one down factor [dh, dw]): the map zero-padded to multiples of the factor
//   (extra row / column at the bottom / right); long range: positions with the same
//   (row mod dh, col mod dw) attend to each other; short range (on the long-range output):
//   positions with the same (row div dh, col div dw); each step: q, k = conv-BN-ReLU-conv-BN-ReLU
//   (f_query, f_key), v = f_value, softmax over keys of key_channels^-1/2 q . k, W (conv-BN-ReLU)
//   on the values it gathers; cropped back; out = conv_bn(cat[x, that]) (conv-BN-ReLU).
// Emitted over all positions of the padded map with the other groups' and blocks' keys masked
// (-1e9 before each softmax): the same weights; masks and padding are built in the graph from
// the map's own size, so any size runs.
// Taps: attention = the mean long-range attention each image position receives [N, H, W];
//   activation = the channel mean of the input; the affinity kept for click-a-query is the
//   two-step reach S L over image positions [N, HW, HW] (rows: queries, row-major).

import type { ModuleGraph } from './base';
import { channelMean, conv, type Emit, mapShape } from './layers';
import { mapSize, maskBias, positionGrid, samePairs } from './positions';

export interface InterlacedConfig {
  channels: number;
  down: [number, number];
}

export function emitInterlaced(e: Emit, x: string, cfg: InterlacedConfig): ModuleGraph {
  const c = cfg.channels;
  const g = e.g;
  const s = e.scope;
  const [dh, dw] = cfg.down;
  const ints = (v: number): string => g.ints([v]);
  const op = (type: string, inputs: string[], attrs: Record<string, number | number[]> = {}): string => g.node(type, inputs, `${s}/${type}`, attrs);
  const { h, w } = mapSize(e, x);
  // Padding to multiples of the factor: pad = (d - size mod d) mod d, the extra at the bottom / right.
  const mod = (v: string, d: number): string => op('Sub', [v, op('Mul', [op('Div', [v, ints(d)]), ints(d)])]);
  const [padH, padW] = [mod(op('Sub', [ints(dh), mod(h, dh)]), dh), mod(op('Sub', [ints(dw), mod(w, dw)]), dw)];
  const [top, left] = [op('Div', [padH, ints(2)]), op('Div', [padW, ints(2)])];
  const [bottom, right] = [op('Sub', [padH, top]), op('Sub', [padW, left])];
  const pads = op('Concat', [ints(0), ints(0), top, left, ints(0), ints(0), bottom, right], { axis: 0 });
  const padded = op('Pad', [x, pads]);
  const [hp, wp] = [op('Add', [h, padH]), op('Add', [w, padW])];

  // Positions of the padded map, row-major: their row and column.
  const pos = positionGrid(e, hp, wp);
  const bias = (a: string, b: string): string => maskBias(e, op('Mul', [samePairs(e, a), samePairs(e, b)]));
  const longMask = bias(mod(pos.rows, dh), mod(pos.cols, dw));
  const shortMask = bias(op('Div', [pos.rows, ints(dh)]), op('Div', [pos.cols, ints(dw)]));

  const step = (input: string, part: string, mask: string): { out: string; attention: string } => {
    const p: Emit = { ...e, w: e.w.sub(`stages.0.${part}`), scope: `${s}/${part}` };
    const twice = (name: string): string => {
      const first = conv(p, `${name}.0`, input, { bn: `${name}.1.0`, relu: true });
      return conv(p, `${name}.2`, first.y, { bn: `${name}.3.0`, relu: true, shape: [first.out, first.out, 1, 1] }).y;
    };
    const q = twice('f_query');
    const k = twice('f_key');
    const keyChannels = p.w.get('f_key.0.weight').shape[0] as number;
    const v = conv(p, 'f_value', input);
    const flat = (t: string, ch: number): string => g.node('Reshape', [t, g.ints([0, ch, -1])], `${p.scope}/Reshape`);
    const energy = g.node('MatMul', [g.node('Transpose', [flat(q, keyChannels)], `${p.scope}/Transpose`, { perm: [0, 2, 1] }), flat(k, keyChannels)], `${p.scope}/MatMul`);
    const attention = g.node('Softmax', [g.node('Add', [g.node('Mul', [energy, g.scalar(keyChannels ** -0.5)], `${p.scope}/Mul`), mask], `${p.scope}/Add`)], `${p.scope}/Softmax`, { axis: -1 });
    const gathered = g.node('MatMul', [flat(v.y, v.out), g.node('Transpose', [attention], `${p.scope}/Transpose`, { perm: [0, 2, 1] })], `${p.scope}/MatMul`);
    const back = g.node('Reshape', [gathered, g.node('Concat', [g.node('Slice', [g.node('Shape', [input], `${p.scope}/Shape`), ints(0), ints(1)], `${p.scope}/Slice`), ints(v.out), hp, wp], `${p.scope}/Concat`, { axis: 0 })], `${p.scope}/Reshape`);
    return { out: conv(p, 'W.0', back, { bn: 'W.1.0', relu: true }).y, attention };
  };
  const long = step(padded, 'long_range_sa', longMask);
  const short = step(long.out, 'short_range_sa', shortMask);
  const cropped = op('Slice', [short.out, op('Concat', [top, left], { axis: 0 }), op('Concat', [op('Add', [top, h]), op('Add', [left, w])], { axis: 0 }), g.ints([2, 3])]);
  const out = conv({ ...e, scope: `${s}/conv_bn` }, 'conv_bn.0', op('Concat', [x, cropped], { axis: 1 }), { bn: 'conv_bn.1.0', relu: true, shape: [c, -1, 1, 1] }).y;

  // The image positions among the padded map's, to crop the dense attention.
  const img = positionGrid(e, h, w);
  const index = op('Add', [op('Mul', [op('Add', [img.rows, top]), wp]), op('Add', [img.cols, left])]);
  const crop = (m: string): string => op('Gather', [op('Gather', [m, index], { axis: 1 }), index], { axis: 2 });
  const reach = crop(g.node('MatMul', [short.attention, long.attention], `${s}/reach/MatMul`));
  const received = g.node('ReduceMean', [crop(long.attention)], `${s}/attention/ReduceMean`, { axes: [1], keepdims: 0 });
  return {
    out,
    taps: [
      { tap: 'attention', value: g.node('Reshape', [received, mapShape(e, x)], `${s}/attention/Reshape`) },
      { tap: 'activation', value: channelMean(e, x) },
    ],
    affinity: reach,
  };
}
