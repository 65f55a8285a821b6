// Bottleneck self-attention (BoTNet): multi-head self-attention over all positions of a
// feature map with 2-D relative position logits, in place of a bottleneck's 3x3 conv.
// Paper: Srinivas, Lin, Parmar, Shlens, Abbeel, Vaswani, "Bottleneck Transformers for Visual
//   Recognition", CVPR 2021, https://arxiv.org/abs/2101.11605; relative logits from Bello et
//   al., "Attention Augmented Convolutional Networks", ICCV 2019, https://arxiv.org/abs/1904.09925
// Reference code (semantics and key names followed): timm timm/layers/bottleneck_attn.py
//   (BottleneckAttn, PosEmbedRel, rel_logits_1d):
//   qkv = 1x1 conv -> q, k (heads x dim_head_qk each), v (heads x dim_head_v), split in that
//   order; logits[q, k] = (q . k) * dim_head_qk^-0.5 + q . height_rel[kh - qh + H - 1]
//   + q . width_rel[kw - qw + W - 1]; softmax over keys; out = attn @ v laid back as
//   [heads * dim_head_v, H, W]; a 2x2 average pool when the block strides.
//   The relative tables fix the feature grid (H, W) = (rows + 1) / 2, so the model's input size is fixed.
// The relative term is computed as q . R, R[qpos, kpos] = the table row for kpos - qpos: a
// constant gathered from the weights at load, one batched MatMul per axis.
// Taps: the attention [N, heads, HW, HW] is found by engine/import as transformer-style heads.

import { EngineError } from '../errors';
import type { ModuleGraph } from './base';
import { conv, type Emit } from './layers';

export interface BottleneckAttentionConfig {
  channels: number;
  stride: number;
  /** The grid the module runs on. */
  height: number;
  width: number;
}

/**
 * R[a, b, :] = table[row(a, b)] (zeros where row is -1), laid out [nq, d, nk] (per a, d x b)
 * for q[..., a, 1, d] @ R: the relative logits of queries at a against keys at b.
 */
export function relativeTable(table: ArrayLike<number>, d: number, nq: number, nk: number, row: (a: number, b: number) => number): Float32Array {
  const out = new Float32Array(nq * d * nk);
  const rows = table.length / d;
  for (let a = 0; a < nq; a++) {
    for (let b = 0; b < nk; b++) {
      const r = row(a, b);
      if (r < 0 || r >= rows) continue;
      for (let k = 0; k < d; k++) out[(a * d + k) * nk + b] = table[r * d + k] as number;
    }
  }
  return out;
}

/**
 * Relative position logits for q [M, A, B, 1, d] (query rows a, columns b): [M, A, B, KA, KB],
 * the sum of q . RH[a, ka] and q . RW[b, kb] (relativeTable layouts [A, d, KA] and [B, d, KB]).
 */
export function relativeLogits(e: Emit, q5: string, d: number, grid: { qa: number; qb: number; ka: number; kb: number }, tables: { h: Float32Array; w: Float32Array }): string {
  const g = e.g;
  const rw = g.floats(`${e.w.key('pos_embed')}.width_rel.table`, tables.w, [grid.qb, d, grid.kb]);
  const rh = g.floats(`${e.w.key('pos_embed')}.height_rel.table`, tables.h, [grid.qa, d, grid.ka]);
  const relW = g.node('MatMul', [q5, rw], `${e.scope}/pos_embed/MatMul`); // [M, A, B, 1, KB]
  const qT = g.node('Transpose', [q5], `${e.scope}/pos_embed/Transpose`, { perm: [0, 2, 1, 3, 4] }); // [M, B, A, 1, d]
  const relH = g.node('Transpose', [g.node('MatMul', [qT, rh], `${e.scope}/pos_embed/MatMul`)], `${e.scope}/pos_embed/Transpose`, { perm: [0, 2, 1, 4, 3] }); // [M, A, B, KA, 1]
  return g.node('Add', [relH, relW], `${e.scope}/pos_embed/Add`);
}

export function emitBottleneckAttention(e: Emit, x: string, cfg: BottleneckAttentionConfig): ModuleGraph & { channels: number } {
  const g = e.g;
  const { height: H, width: W } = cfg;
  const hRel = e.w.get('pos_embed.height_rel');
  const wRel = e.w.get('pos_embed.width_rel', [2 * W - 1, hRel.shape[1] as number]);
  const d = hRel.shape[1] as number;
  if (hRel.shape[0] !== 2 * H - 1) throw new EngineError('shape-mismatch', `"${e.w.key('pos_embed.height_rel')}" is for a ${((hRel.shape[0] as number) + 1) / 2}-row grid; the module runs on ${H} rows.`, 'BoTNet models take one input size: the one they were trained at.');
  const qkv = conv(e, 'qkv', x, { bias: e.w.has('qkv.bias'), shape: [-1, cfg.channels, 1, 1] });
  const dimV = cfg.channels;
  const dimQk = (qkv.out - dimV) / 2;
  const heads = dimQk / d;
  if (!Number.isInteger(heads) || heads < 1) throw new EngineError('shape-mismatch', `"${e.w.key('qkv.weight')}" has ${qkv.out} outputs, which do not split into q, k and v heads of ${d} channels and ${dimV} values.`);
  const dv = dimV / heads;
  const hw = H * W;
  const [qn, kn, vn] = [g.unique(`${e.scope}/q`), g.unique(`${e.scope}/k`), g.unique(`${e.scope}/v`)];
  g.node('Split', [qkv.y, g.ints([dimQk, dimQk, dimV])], `${e.scope}/Split`, { axis: 1 }, [qn, kn, vn]);
  const q = g.node('Transpose', [g.node('Reshape', [qn, g.ints([-1, heads, d, hw])], `${e.scope}/Reshape`)], `${e.scope}/Transpose`, { perm: [0, 1, 3, 2] }); // [N, h, HW, d]
  const k = g.node('Reshape', [kn, g.ints([-1, heads, d, hw])], `${e.scope}/Reshape`); // [N, h, d, HW]
  const v = g.node('Transpose', [g.node('Reshape', [vn, g.ints([-1, heads, dv, hw])], `${e.scope}/Reshape`)], `${e.scope}/Transpose`, { perm: [0, 1, 3, 2] }); // [N, h, HW, dv]
  const qk = g.node('Mul', [g.node('MatMul', [q, k], `${e.scope}/MatMul`), g.scalar(d ** -0.5)], `${e.scope}/Mul`);
  const q5 = g.node('Reshape', [q, g.ints([-1, H, W, 1, d])], `${e.scope}/pos_embed/Reshape`);
  // rel_logits_1d: the key at b of a query at a reads row b - a + n - 1.
  const rel = relativeLogits(e, q5, d, { qa: H, qb: W, ka: H, kb: W }, {
    h: relativeTable(hRel.data, d, H, H, (a, b) => b - a + H - 1),
    w: relativeTable(wRel.data, d, W, W, (a, b) => b - a + W - 1),
  });
  const logits = g.node('Add', [qk, g.node('Reshape', [rel, g.ints([-1, heads, hw, hw])], `${e.scope}/Reshape`)], `${e.scope}/Add`);
  const attn = g.node('Softmax', [logits], `${e.scope}/Softmax`, { axis: -1 });
  const y = g.node('MatMul', [attn, v], `${e.scope}/MatMul`); // [N, h, HW, dv]
  let out = g.node('Reshape', [g.node('Transpose', [y], `${e.scope}/Transpose`, { perm: [0, 1, 3, 2] }), g.ints([-1, dimV, H, W])], `${e.scope}/Reshape`);
  if (cfg.stride === 2) out = g.node('AveragePool', [out], `${e.scope}/pool/AveragePool`, { kernel_shape: [2, 2], strides: [2, 2] });
  return { out, channels: dimV, taps: [] };
}
