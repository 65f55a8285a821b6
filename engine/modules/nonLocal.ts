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
// Positions are flattened as PyTorch's view(b, c, -1): row-major H then W, so affinity rows
// and columns match PyTorch's index for index.
// Taps: attention = mean over queries of the affinity, on the key grid [N, H', W'];
//   activation = channel mean of x. The affinity [N, HW, H'W'] is an aux output.
//
// Memory (issue: big inputs): the affinity is Q x K floats, 1 GB for the built-in model at
// 1024 px and 16 GB at 2048. An If node chooses, from the run's own shapes, between
//   - whole: the affinity computed at once and output (it is kept for click-a-query), when
//     Q x K x 4 <= keepBytes;
//   - chunked: a Loop over blocks of query rows (at most CHUNK_BYTES of affinity each), each
//     block's y rows and column sums computed and the block freed; the affinity output is
//     then empty, and a clicked query's row comes from a small graph of its own
//     (emitNonLocalRows: the block's input and query indices in, those affinity rows out,
//     from the same theta and phi), the same numbers as the whole affinity's rows.

import type { NonLocalMode } from '../nets/spec';
import type { ModuleGraph } from './base';
import type { GraphBuilder } from '../graph/builder';
import { floatScalarTensor } from '../graph/builder';
import { DataType } from '../graph/onnx';
import { channelMean, conv, type Emit, mapShape } from './layers';

/** Affinities up to this size are computed whole and output (and kept for query()). */
export const KEEP_AFFINITY_BYTES = 16 * 1024 * 1024;
/**
 * Above it, affinities are computed in blocks of query rows of at most this size. Measured on
 * the built-in model, ort, 2 cores (1, 2, 4, 8, 16 MB): 768 px 301/230/241/237/421 ms, 1024 px
 * 828/664/650/595/1161 ms, 1536 px 5405/4540/2041/1936/1957 ms. Small blocks pay the Loop's
 * per-iteration cost and re-read phi and g for every block; large ones leave the caches.
 */
export const CHUNK_BYTES = 8 * 1024 * 1024;

export interface NonLocalConfig {
  channels: number;
  mode: NonLocalMode;
  subSample: boolean;
  /** W is conv + BatchNorm2d (the reference default), or a bare conv. */
  bn: boolean;
  /** The largest affinity computed whole and output (default KEEP_AFFINITY_BYTES). */
  keepBytes?: number;
  /** The largest block of affinity rows the chunked path computes at once (default CHUNK_BYTES). */
  chunkBytes?: number;
}

type AffinityOf = (b: GraphBuilder, q: string, part: string) => string;

/** Helpers every part of the block shares. */
function helpers(e: Emit, cfg: NonLocalConfig) {
  const g = e.g;
  const s = e.scope;
  return {
    seq: (name: string): string => (cfg.subSample ? `${name}.0` : name),
    pool: (t: string, part: string): string =>
      (cfg.subSample ? g.node('MaxPool', [t], `${s}/${part}/MaxPool`, { kernel_shape: [2, 2], strides: [2, 2] }) : t),
    /** [N, K, H, W] -> [N, K, HW]. */
    flat: (t: string, k: number, part: string): string => g.node('Reshape', [t, g.ints([0, k, -1])], `${s}/${part}/Reshape`),
    /** [N, K, HW] -> [N, HW, K]. */
    rows: (t: string, part: string): string => g.node('Transpose', [t], `${s}/${part}/Transpose`, { perm: [0, 2, 1] }),
  };
}

/**
 * The queries [N, HW, i] (or [N, HW, C] for gaussian) and the affinity of any of their rows,
 * emitted on builder `b` (the top graph or a subgraph: ONNX subgraphs read outer values by name).
 */
function queryParts(e: Emit, x: string, cfg: NonLocalConfig, inter: number): { queries: string; affinityOf: AffinityOf } {
  const c = cfg.channels;
  const g = e.g;
  const s = e.scope;
  const { seq, pool, flat, rows } = helpers(e, cfg);
  if (cfg.mode === 'gaussian') {
    const k = flat(pool(x, 'phi'), c, 'phi');
    return {
      queries: rows(flat(x, c, 'theta'), 'theta'),
      affinityOf: (b, q, part) => b.node('Softmax', [b.node('MatMul', [q, k], `${s}/${part}/MatMul`)], `${s}/${part}/Softmax`, { axis: -1 }),
    };
  }
  const queries = rows(flat(conv(e, 'theta', x, { bias: true, shape: [inter, c, 1, 1] }).y, inter, 'theta'), 'theta'); // [N, HW, i]
  const phi = flat(pool(conv(e, seq('phi'), x, { bias: true, shape: [inter, c, 1, 1] }).y, 'phi'), inter, 'phi'); // [N, i, H'W']
  if (cfg.mode === 'embedded') {
    return {
      queries,
      affinityOf: (b, q, part) => b.node('Softmax', [b.node('MatMul', [q, phi], `${s}/${part}/MatMul`)], `${s}/${part}/Softmax`, { axis: -1 }),
    };
  }
  // Divided by N', the number of key positions, known only at run time.
  const keys = g.node('Cast', [g.node('Gather', [g.node('Shape', [phi], `${s}/Shape`), g.ints([2])], `${s}/Gather`, { axis: 0 })], `${s}/Cast`, { to: 1 });
  let f: AffinityOf;
  if (cfg.mode === 'dot') {
    f = (b, q, part) => b.node('MatMul', [q, phi], `${s}/${part}/MatMul`);
  } else {
    // ReLU(w_theta . theta_i + w_phi . phi_j): the 1x1 projection of the concatenation
    // splits into a query term and a key term, so the N x N' x 2*inter tensor the
    // reference builds is never needed.
    const proj = e.w.get('concat_project.0.weight', [1, 2 * inter, 1, 1]).data;
    const wTheta = g.floats(`${e.w.key('concat_project.0.weight')}.theta`, Float32Array.from(proj.subarray(0, inter)), [inter, 1]);
    const wPhi = g.floats(`${e.w.key('concat_project.0.weight')}.phi`, Float32Array.from(proj.subarray(inter, 2 * inter)), [1, inter]);
    const keyTerm = g.node('MatMul', [wPhi, phi], `${s}/concat_project/MatMul`); // [N, 1, H'W']
    f = (b, q, part) => {
      const queryTerm = b.node('MatMul', [q, wTheta], `${s}/${part}/concat_project/MatMul`); // [N, R, 1]
      return b.node('Relu', [b.node('Add', [queryTerm, keyTerm], `${s}/${part}/concat_project/Add`)], `${s}/${part}/concat_project/Relu`);
    };
  }
  return { queries, affinityOf: (b, q, part) => b.node('Div', [f(b, q, part), keys], `${s}/${part}/Div`) };
}

/**
 * The block's affinity rows [N, R, keys] for query indices `index` (int64 [R]), computed from
 * the block's input x alone: a small graph of its own (Session.query at sizes whose affinity
 * is not kept), the same nodes and weights as the block's, so the same numbers.
 */
export function emitNonLocalRows(e: Emit, x: string, cfg: NonLocalConfig, index: string): string {
  const { seq } = helpers(e, cfg);
  const inter = cfg.mode === 'gaussian' ? cfg.channels : e.w.get(`${seq('g')}.weight`).shape[0] as number;
  const { queries, affinityOf } = queryParts(e, x, cfg, inter);
  return affinityOf(e.g, e.g.node('Gather', [queries, index], `${e.scope}/rows/Gather`, { axis: 1 }), 'rows');
}

export function emitNonLocal(e: Emit, x: string, cfg: NonLocalConfig): ModuleGraph {
  const c = cfg.channels;
  const g = e.g;
  const s = e.scope;
  const { seq, pool, flat, rows } = helpers(e, cfg);
  const gFull = conv(e, seq('g'), x, { bias: true, shape: [-1, c, 1, 1] });
  const inter = gFull.out;
  const gx = pool(gFull.y, 'g');
  const { queries, affinityOf } = queryParts(e, x, cfg, inter);
  const values = rows(flat(gx, inter, 'g'), 'g'); // [N, H'W', i]
  const chunked = emitChunkedAttention(g, s, queries, values, affinityOf, cfg.keepBytes ?? KEEP_AFFINITY_BYTES, cfg.chunkBytes ?? CHUNK_BYTES);
  const y = chunked.y;
  const yMap = g.node('Reshape', [rows(y, 'y'), g.node('Shape', [gFull.y], `${s}/y/Shape`)], `${s}/y/Reshape`); // [N, i, H, W]
  const wy = cfg.bn
    ? conv(e, 'W.0', yMap, { bias: true, bn: 'W.1', shape: [c, inter, 1, 1] })
    : conv(e, 'W', yMap, { bias: true, shape: [c, inter, 1, 1] });
  const out = g.node('Add', [wy.y, x], `${s}/Add`);
  return {
    out,
    taps: [
      { tap: 'attention', value: g.node('Reshape', [chunked.summary, mapShape({ ...e, scope: `${s}/attention` }, gx)], `${s}/attention/Reshape`) },
      { tap: 'activation', value: channelMean(e, x) },
    ],
    affinity: chunked.affinity,
  };
}

/**
 * y = A values and the mean of A over queries, where A = affinityOf(queries) [N, Q, K]:
 * whole when Q x K x 4 <= keepBytes (A is output too), else in blocks of query rows.
 */
function emitChunkedAttention(
  g: GraphBuilder, s: string, queries: string, values: string,
  affinityOf: AffinityOf, keepBytes: number, chunkBytes: number,
): { y: string; summary: string; affinity: string } {
  const I64 = DataType.INT64;
  const dim = (v: string, axis: number, part: string): string =>
    g.node('Gather', [g.node('Shape', [v], `${s}/${part}/Shape`), g.ints([axis])], `${s}/${part}/Gather`, { axis: 0 }); // [1]
  const q = dim(queries, 1, 'queries');
  const k = dim(values, 1, 'keys');
  const qFloat = g.node('Cast', [q], `${s}/queries/Cast`, { to: DataType.FLOAT });
  const whole = g.node('LessOrEqual', [g.node('Mul', [q, k], `${s}/size/Mul`), g.ints([Math.min(Math.floor(keepBytes / 4), Number.MAX_SAFE_INTEGER)])], `${s}/size/LessOrEqual`);
  const cond = g.node('Squeeze', [whole, g.ints([0])], `${s}/size/Squeeze`);

  // Mean over queries as a [1, 1, R] row of weights times the affinity: ONNX Runtime reduces a
  // middle axis with strided reads (2 s for the 16384 x 16384 affinity at 1024 px); a GEMV
  // reads it once in order.
  const thenBranch = g.subgraph(`${s}/whole`, [], (b) => {
    const a = affinityOf(b, queries, 'whole');
    const y = b.node('MatMul', [a, values], `${s}/whole/y/MatMul`);
    const onesShape = b.node('Concat', [g.ints([1, 1]), q], `${s}/whole/attention/Concat`, { axis: 0 });
    const ones = b.node('ConstantOfShape', [onesShape], `${s}/whole/attention/ConstantOfShape`, { value: { tensor: floatScalarTensor(1) } });
    const sum = b.node('MatMul', [ones, a], `${s}/whole/attention/MatMul`); // [N, 1, K]
    return [{ value: y }, { value: sum }, { value: a }];
  });

  const elseBranch = g.subgraph(`${s}/chunked`, [], (b) => {
    // Rows per block: as many as fit chunkBytes (at least one); the queries padded to whole blocks.
    const per = b.node('Max', [b.node('Div', [g.ints([Math.max(1, Math.floor(chunkBytes / 4))]), k], `${s}/chunked/Div`), g.ints([1])], `${s}/chunked/Max`);
    const blocks = b.node('Div', [b.node('Sub', [b.node('Add', [q, per], `${s}/chunked/Add`), g.ints([1])], `${s}/chunked/Sub`), per], `${s}/chunked/blocks/Div`);
    const padRows = b.node('Sub', [b.node('Mul', [blocks, per], `${s}/chunked/Mul`), q], `${s}/chunked/pad/Sub`);
    const pads = b.node('Concat', [g.ints([0, 0, 0, 0]), padRows, g.ints([0])], `${s}/chunked/pad/Concat`, { axis: 0 });
    const padded = b.node('Pad', [queries, pads], `${s}/chunked/Pad`);
    const batch = b.node('Gather', [b.node('Shape', [queries], `${s}/chunked/batch/Shape`), g.ints([0])], `${s}/chunked/batch/Gather`, { axis: 0 });
    const sum0 = b.node('ConstantOfShape', [b.node('Concat', [batch, g.ints([1]), k], `${s}/chunked/sum0/Concat`, { axis: 0 })],
      `${s}/chunked/sum0/ConstantOfShape`, { value: { tensor: floatScalarTensor(0) } }); // [N, 1, K]
    const body = g.subgraph(`${s}/chunk`, [
      { name: `${s}/chunk/i`, elemType: I64, shape: [] },
      { name: `${s}/chunk/cond`, elemType: DataType.BOOL, shape: [] },
      { name: `${s}/chunk/sum`, elemType: DataType.FLOAT },
    ], (c, [i, condIn, sumIn]) => {
      const start = c.node('Mul', [c.node('Unsqueeze', [i as string, g.ints([0])], `${s}/chunk/Unsqueeze`), per], `${s}/chunk/start/Mul`);
      const end = c.node('Add', [start, per], `${s}/chunk/end/Add`);
      const block = c.node('Slice', [padded, start, end, g.ints([1])], `${s}/chunk/Slice`); // [N, per, i]
      const a = affinityOf(c, block, 'chunk'); // [N, per, K]
      const y = c.node('MatMul', [a, values], `${s}/chunk/y/MatMul`); // [N, per, i]
      // Weight 1 for real query rows, 0 for the padding.
      const index = c.node('Range', [c.node('Squeeze', [start, g.ints([0])], `${s}/chunk/start/Squeeze`), c.node('Squeeze', [end, g.ints([0])], `${s}/chunk/end/Squeeze`), g.ints([1])], `${s}/chunk/Range`);
      const real = c.node('Cast', [c.node('Less', [index, q], `${s}/chunk/Less`)], `${s}/chunk/Cast`, { to: DataType.FLOAT });
      const weights = c.node('Reshape', [real, g.ints([1, 1, -1])], `${s}/chunk/Reshape`);
      const sum = c.node('Add', [sumIn as string, c.node('MatMul', [weights, a], `${s}/chunk/attention/MatMul`)], `${s}/chunk/attention/Add`);
      return [{ value: c.node('Identity', [condIn as string], `${s}/chunk/cond/Identity`), elemType: DataType.BOOL }, { value: sum }, { value: y }];
    });
    const loopOut = `${s}/chunked/Loop`;
    const [sum, ys] = [b.unique(`${loopOut}/sum`), b.unique(`${loopOut}/y`)];
    b.node('Loop', [b.node('Squeeze', [blocks, g.ints([0])], `${s}/chunked/blocks/Squeeze`), '', sum0], loopOut, { body: { graph: body } }, [sum, ys]);
    // [blocks, N, per, i] -> [N, blocks * per, i] -> the first Q rows.
    const stacked = b.node('Transpose', [ys], `${s}/chunked/y/Transpose`, { perm: [1, 0, 2, 3] });
    const yShape = b.node('Concat', [g.ints([0, -1]), b.node('Gather', [b.node('Shape', [stacked], `${s}/chunked/y/Shape`), g.ints([3])], `${s}/chunked/y/Gather`, { axis: 0 })], `${s}/chunked/y/Concat`, { axis: 0 });
    const y = b.node('Slice', [b.node('Reshape', [stacked, yShape], `${s}/chunked/y/Reshape`), g.ints([0]), q, g.ints([1])], `${s}/chunked/y/Slice`);
    // No whole affinity exists on this path: an empty one stands in for the output.
    const empty = b.node('ConstantOfShape', [g.ints([1, 0, 0])], `${s}/chunked/empty/ConstantOfShape`, { value: { tensor: floatScalarTensor(0) } });
    return [{ value: y }, { value: sum }, { value: empty }];
  });
  const [y, sum, affinity] = [g.unique(`${s}/If/y`), g.unique(`${s}/If/sum`), g.unique(`${s}/If/affinity`)];
  g.node('If', [cond], `${s}/If`, { then_branch: { graph: thenBranch }, else_branch: { graph: elseBranch } }, [y, sum, affinity]);
  return { y, summary: g.node('Div', [sum, qFloat], `${s}/attention/Div`), affinity };
}
