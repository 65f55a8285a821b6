// NLSA, non-local sparse attention: locality-sensitive hashing puts each position in a bucket
// (per hash round), positions are sorted by bucket and cut into chunks, and each position
// attends only within its chunk and the two beside it; the rounds are mixed by how much each
// round's keys explain the query (a softmax over their logsumexps).
// Paper: Yiqun Mei, Yuchen Fan, Yuqian Zhou, "Image Super-Resolution with Non-Local Sparse
//   Attention", CVPR 2021.
// Reference code (semantics and key names followed): HarukiYqM/Non-Local-Sparse-Attention
//   src/model/attention.py (NonLocalSparseAttention): conv_match (k x k) embeds, conv_assembly
//   (1x1) gives the values; codes = argmax of [x R, -x R] per round; keys L2-normalised (eps
//   5e-5), queries not; out = the rounds' outputs mixed by softmax_r(logsumexp_r) * res_scale + x.
// As tools/torchref/nlsa.py defines it (and says why): the rotations are the checkpoint's
//   `rotations` buffer [C', rounds, buckets / 2] (the authors draw new ones every pass), and the
//   sort is stable (by bucket, then position). Emitted densely, which gives the same numbers
//   without a sort: a position's rank in round r is the number of positions with a smaller
//   (code, position) key, its chunk floor(rank / chunk), and query q may read key k when their
//   chunks are equal or adjacent (circularly); each round's attention is a softmax over those
//   keys. (With fewer than 3 chunks, or H W not a multiple of the chunk size, the authors' code
//   sees a chunk twice or pads the last one: this form does neither.)
// Taps: affinity = the rounds' mixed attention [N, HW, HW] (click a query); attention = its mean
//   over queries [N, H, W]; maps = round 1's bucket membership [N, buckets, H, W] (one-hot: the
//   buckets partition the image); activation = the channel mean of the input.

import type { ModuleGraph } from './base';
import { channelMean, conv, type Emit } from './layers';
import { mapSize, maskBias, rangeTo, withChannels } from './positions';

export interface SparseNonLocalConfig {
  channels: number;
  chunk: number;
  resScale: number;
}

export function emitSparseNonLocal(e: Emit, x: string, cfg: SparseNonLocalConfig): ModuleGraph {
  const g = e.g;
  const s = e.scope;
  const c = cfg.channels;
  const n = (op: string, inputs: string[], attrs: Record<string, number | number[]> = {}): string => g.node(op, inputs, `${s}/${op}`, attrs);
  const f = (v: number): string => g.scalar(v);
  const rec = e.w.get('conv_match.0.weight', [-1, c, -1, -1]);
  const [, , k] = rec.shape as [number, number, number, number];
  const match = conv(e, 'conv_match.0', x, { bias: true, pad: k >> 1 });
  const ce = match.out;
  const rot = e.w.get('rotations', [ce, -1, -1]);
  const [, rounds, half] = rot.shape as [number, number, number];
  const buckets = 2 * half;
  const values = conv(e, 'conv_assembly.0', x, { bias: true, shape: [c, c, 1, 1] }).y;

  const emb = n('Reshape', [match.y, g.ints([0, ce, -1])]); // [N, C', L]
  const queries = n('Transpose', [emb], { perm: [0, 2, 1] }); // [N, L, C']
  // LSH codes [N, R, L]: the first index of the largest of [x R, -x R] per round.
  const rotated = n('Reshape', [n('MatMul', [queries, g.floats(`${e.w.key('rotations')}`, Float32Array.from(rot.data), [ce, rounds * half])]), g.ints([0, 0, rounds, half])]);
  const both = n('Concat', [rotated, n('Neg', [rotated])], { axis: 3 }); // [N, L, R, K]
  const top = n('ReduceMax', [both], { axes: [3], keepdims: 1 });
  const index = g.floats(`${s}/bucket_index`, Float32Array.from({ length: buckets }, (_, i) => i), [buckets]);
  const below = n('Cast', [n('Less', [both, top])], { to: 1 });
  const codes = n('Transpose', [n('ReduceMin', [n('Add', [index, n('Mul', [below, f(buckets)])])], { axes: [3], keepdims: 0 })], { perm: [0, 2, 1] }); // [N, R, L]

  // Ranks by the (code, position) key, chunks, and which keys each query may read [N, R, L, L].
  const pos: Emit = { ...e, scope: `${s}/positions` };
  const { h, w } = mapSize(pos, x);
  const l = n('Mul', [h, w]);
  const lf = n('Cast', [l], { to: 1 });
  const position = n('Cast', [rangeTo(pos, l)], { to: 1 });
  const key = n('Add', [n('Mul', [codes, lf]), position]);
  const rank = n('ReduceSum', [n('Cast', [n('Less', [n('Unsqueeze', [key, g.ints([2])]), n('Unsqueeze', [key, g.ints([3])])])], { to: 1 }), g.ints([3])], { keepdims: 0 });
  const chunk = n('Cast', [n('Cast', [n('Div', [rank, f(cfg.chunk)])], { to: 6 })], { to: 1 }); // floor: ranks are >= 0
  const apart = n('Abs', [n('Sub', [n('Unsqueeze', [chunk, g.ints([2])]), n('Unsqueeze', [chunk, g.ints([3])])])]); // [N, R, q, k]
  const chunks = n('Div', [lf, f(cfg.chunk)]);
  const near = n('Add', [n('Cast', [n('Less', [apart, f(1.5)])], { to: 1 }), n('Cast', [n('Equal', [apart, n('Sub', [chunks, f(1)])])], { to: 1 })]);
  const allowed = n('Min', [near, f(1)]);

  // Scores x_q . x_k / max(|x_k|, 5e-5), masked per round; each round's softmax and logsumexp.
  const norm = n('Max', [n('Sqrt', [n('ReduceSum', [n('Mul', [emb, emb]), g.ints([1])], { keepdims: 1 })]), f(5e-5)]);
  const scores = n('Unsqueeze', [n('MatMul', [queries, n('Div', [emb, norm])]), g.ints([1])]); // [N, 1, L, L]
  const masked = n('Add', [scores, maskBias(e, allowed)]);
  const peak = n('ReduceMax', [masked], { axes: [3], keepdims: 1 });
  const expd = n('Exp', [n('Sub', [masked, peak])]);
  const total = n('ReduceSum', [expd, g.ints([3])], { keepdims: 1 });
  const perRound = n('Div', [expd, total]); // [N, R, L, L]
  const lse = n('Squeeze', [n('Add', [peak, n('Log', [total])]), g.ints([3])]); // [N, R, L]
  const mix = n('Softmax', [lse], { axis: 1 });
  const attention = n('ReduceSum', [n('Mul', [perRound, n('Unsqueeze', [mix, g.ints([3])])]), g.ints([1])], { keepdims: 0 }); // [N, L, L]

  const mixed = n('MatMul', [n('Reshape', [values, g.ints([0, c, -1])]), n('Transpose', [attention], { perm: [0, 2, 1] })]);
  const back = n('Reshape', [mixed, n('Shape', [x])]);
  const out = n('Add', [cfg.resScale === 1 ? back : n('Mul', [back, f(cfg.resScale)]), x]);
  // Round 1's buckets as K one-hot maps.
  const first = n('Gather', [codes, g.ints([0])], { axis: 1 }); // [N, 1, L]
  const membership = n('Cast', [n('Equal', [first, n('Unsqueeze', [index, g.ints([1])])])], { to: 1 }); // [N, K, L]
  const grid = (v: string, dims: number[]): string => n('Reshape', [v, withChannels(pos, x, dims)]);
  return {
    out,
    taps: [
      { tap: 'attention', value: n('Squeeze', [grid(n('ReduceMean', [attention], { axes: [1], keepdims: 1 }), [1]), g.ints([1])]) },
      { tap: 'maps', value: grid(membership, [buckets]) },
      { tap: 'activation', value: channelMean(e, x) },
    ],
    affinity: attention,
  };
}
