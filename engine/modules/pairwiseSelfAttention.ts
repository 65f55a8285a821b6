// SAN's pairwise self-attention: each position attends to its k x k footprint, with a weight
// per footprint position and per channel group computed from the relation between the two
// positions (a subtraction of embeddings, plus their relative position) by a small MLP.
// Paper: Hengshuang Zhao, Jiaya Jia, Vladlen Koltun, "Exploring Self-attention for Image
//   Recognition", CVPR 2020, https://arxiv.org/abs/2004.13621
// Reference code (semantics and key names followed): hszhao/SAN model/san.py (SAM with
//   sa_type 0, position(), Bottleneck) and lib/sa (subtraction, subtraction2, aggregation with
//   reflection padding), as tools/torchref/san.py writes them in plain PyTorch:
//   u = relu(bn1(x)); rel(i, j) = conv1(u)_i - conv2(u)_j; pos(i, j) = conv_p(grid)_i -
//   conv_p(grid)_j (grid: x and y in linspace(-1, 1)); w = softmax over the k^2 footprint
//   positions of conv_w(cat[rel, pos]) (BN, ReLU, 1x1, BN, ReLU, 1x1 -> G weight channels);
//   sam_c(i) = sum_j w_{c mod G}(i, j) conv3(u)_c(j); out = x + conv(relu(bn2(sam))).
//   Footprints are reflected at the borders (no edge repeat), so a border position keeps k^2
//   entries, some of them the same image position twice.
// Emitted with the footprint unfolded by a reflection Pad and k^2 Slices (what torch.onnx
// exports too); the relation MLP runs as 1x1 convs over [N, channels, k^2, H W].
// Taps: attention = the mean over queries of the dense footprint attention [N, H, W];
//   activation = the channel mean of the input; the affinity [N, HW, HW] (row = query: its
//   footprint weights, averaged over the G weight channels, on the image positions they read;
//   mirrored footprint positions that read the same position add up) is kept for click-a-query.

import type { ModuleGraph } from './base';
import { batchNorm, channelMean, conv, type Emit, mapShape } from './layers';
import { mapSize, rangeTo, withChannels } from './positions';

export interface PairwiseSelfAttentionConfig {
  channels: number;
  kernel: number;
}

export function emitPairwiseSelfAttention(e: Emit, x: string, cfg: PairwiseSelfAttentionConfig): ModuleGraph {
  const g = e.g;
  const s = e.scope;
  const c = cfg.channels;
  const k = cfg.kernel;
  const pad = k >> 1;
  const n = (op: string, inputs: string[], attrs: Record<string, number | number[] | string> = {}): string => g.node(op, inputs, `${s}/${op}`, attrs);
  const sam: Emit = { ...e, w: e.w.sub('sam'), scope: `${s}/sam` };
  const size: Emit = { ...e, scope: `${s}/footprint` };
  const { h, w } = mapSize(size, x);

  // [N, ch, k^2, H, W]: each position's footprint (offsets row-major), reflected at the borders.
  const unfold = (t: string): string => {
    const padded = n('Pad', [t, g.ints([0, 0, pad, pad, 0, 0, pad, pad])], { mode: 'reflect' });
    const parts: string[] = [];
    for (let dy = 0; dy < k; dy++) {
      for (let dx = 0; dx < k; dx++) {
        const ends = n('Concat', [n('Add', [h, g.ints([dy])]), n('Add', [w, g.ints([dx])])], { axis: 0 });
        parts.push(n('Unsqueeze', [n('Slice', [padded, g.ints([dy, dx]), ends, g.ints([2, 3])]), g.ints([2])]));
      }
    }
    return n('Concat', parts, { axis: 2 });
  };

  const u = n('Relu', [batchNorm(e, 'bn1', x, c)]);
  const q = conv(sam, 'conv1', u, { bias: true, shape: [-1, c, 1, 1] });
  const key = conv(sam, 'conv2', u, { bias: true, shape: [q.out, c, 1, 1] });
  const v = conv(sam, 'conv3', u, { bias: true, shape: [-1, c, 1, 1] });
  const rel = n('Sub', [n('Unsqueeze', [q.y, g.ints([2])]), unfold(key.y)]); // [N, rel, k^2, H, W]

  // Position encoding: conv_p of the [1, 2, H, W] grid of x (columns) and y (rows) in linspace(-1, 1).
  const line = (count: string): string => {
    const f = n('Cast', [count], { to: 1 });
    return n('Sub', [n('Div', [n('Mul', [n('Cast', [rangeTo(size, count)], { to: 1 }), g.scalar(2)]), n('Sub', [f, g.scalar(1)])]), g.scalar(1)]);
  };
  const hw1 = n('Concat', [g.ints([1, 1]), h, w], { axis: 0 });
  const xs = n('Expand', [n('Unsqueeze', [line(w), g.ints([0, 1, 2])]), hw1]);
  const ys = n('Expand', [n('Unsqueeze', [line(h), g.ints([0, 1, 3])]), hw1]);
  const p = conv(sam, 'conv_p', n('Concat', [xs, ys], { axis: 1 }), { bias: true, shape: [2, 2, 1, 1] }).y;
  const pos = n('Sub', [n('Unsqueeze', [p, g.ints([2])]), unfold(p)]); // [1, 2, k^2, H, W]
  const relShape = n('Shape', [rel]);
  const posFull = n('Expand', [pos, n('Concat', [n('Slice', [relShape, g.ints([0]), g.ints([1])]), g.ints([2]), n('Slice', [relShape, g.ints([2]), g.ints([5])])], { axis: 0 })]);
  const flat = (t: string, ch: number): string => n('Reshape', [t, g.ints([0, ch, k * k, -1])]); // [N, ch, k^2, HW]
  const feat = flat(n('Concat', [rel, posFull], { axis: 1 }), q.out + 2);
  const hidden = conv(sam, 'conv_w.2', n('Relu', [batchNorm(sam, 'conv_w.0', feat, q.out + 2)]), { bn: 'conv_w.3', relu: true, shape: [q.out, q.out + 2, 1, 1] });
  const logits = conv(sam, 'conv_w.5', hidden.y, { bias: true, shape: [-1, q.out, 1, 1] });
  const groups = logits.out;
  const weights = n('Softmax', [logits.y], { axis: 2 }); // [N, G, k^2, HW]

  // Aggregation: channel m G + g reads weight channel g.
  const values = n('Reshape', [unfold(v.y), g.ints([0, v.out / groups, groups, k * k, -1])]);
  const mixed = n('ReduceSum', [n('Mul', [values, n('Unsqueeze', [weights, g.ints([1])])]), g.ints([3])], { keepdims: 0 });
  const samOut = n('Reshape', [mixed, withChannels(size, x, [v.out])]);
  const out = n('Add', [x, conv(e, 'conv', n('Relu', [batchNorm(e, 'bn2', samOut, v.out)]), { bias: true, shape: [c, v.out, 1, 1] }).y]);

  // Dense [N, HW, HW]: footprint offset o of query i lands on the position it reads (reflected).
  const l = n('Mul', [h, w]);
  const index = n('Cast', [n('Reshape', [rangeTo(size, l), n('Concat', [g.ints([1, 1]), h, w], { axis: 0 })])], { to: 1 });
  const reads = n('Reshape', [unfold(index), g.ints([k * k, -1])]); // [k^2, HW]: where offset o of i reads
  const every = n('Cast', [rangeTo(size, l)], { to: 1 });
  const mean = n('ReduceMean', [weights], { axes: [1], keepdims: 0 }); // [N, k^2, HW]
  let dense = '';
  for (let o = 0; o < k * k; o++) {
    const at = n('Gather', [reads, g.ints([o])], { axis: 0 }); // [1, HW]
    const select = n('Cast', [n('Equal', [n('Transpose', [at], { perm: [1, 0] }), n('Unsqueeze', [every, g.ints([0])])])], { to: 1 }); // [HW, HW]
    const weight = n('Transpose', [n('Gather', [mean, g.ints([o])], { axis: 1 })], { perm: [0, 2, 1] }); // [N, HW (query), 1]
    const part = n('Mul', [select, weight]);
    dense = dense ? n('Add', [dense, part]) : part;
  }
  return {
    out,
    taps: [
      { tap: 'attention', value: n('Reshape', [n('ReduceMean', [dense], { axes: [1], keepdims: 0 }), mapShape(e, x)]) },
      { tap: 'activation', value: channelMean(e, x) },
    ],
    affinity: dense,
  };
}
