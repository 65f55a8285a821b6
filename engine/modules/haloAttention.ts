// Halo attention (HaloNet): blocked local self-attention. The map is cut into blocks of
// block_size x block_size queries; each block attends to its window, the block grown by
// `halo` on every side (zeros past the border), with 2-D relative position logits.
// Paper: Vaswani, Ramachandran, Srinivas, Parmar, Hechtman, Shlens, "Scaling Local
//   Self-Attention for Parameter Efficient Visual Backbones", CVPR 2021,
//   https://arxiv.org/abs/2103.12731
// Reference code (semantics and key names followed): timm timm/layers/halo_attn.py (HaloAttn,
//   PosEmbedRel, rel_logits_1d): q = 1x1 conv (stride block_stride), kv = 1x1 conv padded by
//   `halo` with zeros then unfolded into win x win windows (win = block + 2 halo) every
//   block_size; kv channels are per head [k (dim_head_qk), v (dim_head_v)]; logits =
//   (q . k) * dim_head_qk^-0.5 + q . height_rel[ky - qy + win - 1] + q . width_rel[kx - qx + win - 1]
//   with q positions in the (strided) block and k positions in the window; softmax over the
//   window (its zero-padded keys included: their logit is the relative term alone); out =
//   attn @ v laid back block by block as [heads * dim_head_v, H / s, W / s].
// Emitted position by position instead of block by block: every query against every key of
// the padded map, keys outside its block's window masked out (-1e9 before the softmax), the
// relative term from per-position tables. The same numbers (the masked keys get weight 0),
// and the attention comes out as one [N, heads, queries, padded keys] map that engine/import
// lists as heads, so a clicked query shows its window on the image. The masks and tables are
// built for one input size.
// Taps: none declared; engine/import finds the heads.

import { EngineError } from '../errors';
import type { ModuleGraph } from './base';
import { relativeLogits, relativeTable } from './bottleneckAttention';
import { conv, type Emit } from './layers';

export interface HaloAttentionConfig {
  channels: number;
  stride: number;
  height: number;
  width: number;
  blockSize: number;
}

const MASKED = -1e9;

export function emitHaloAttention(e: Emit, x: string, cfg: HaloAttentionConfig): ModuleGraph & { channels: number } {
  const g = e.g;
  const { height: H, width: W, blockSize: bs } = cfg;
  const hRel = e.w.get('pos_embed.height_rel');
  const d = hRel.shape[1] as number;
  const win = ((hRel.shape[0] as number) + 1) / 2;
  const wRel = e.w.get('pos_embed.width_rel', [2 * win - 1, d]);
  const halo = (win - bs) / 2;
  if (!Number.isInteger(halo) || halo < 0) throw new EngineError('shape-mismatch', `"${e.w.key('pos_embed.height_rel')}" is for ${win}-wide windows, which blocks of ${bs} cannot have.`);
  if (H % bs || W % bs) throw new EngineError('bad-request', `Halo attention at ${e.w.key('self_attn')} runs on a ${H}x${W} map, which blocks of ${bs} do not tile.`, 'Use an input size that is a multiple of the network stride times the block size (for halonet26t: 256, 512, 768 ...).');
  const avgDown = cfg.stride > 1 && bs % cfg.stride !== 0;
  const blockStride = cfg.stride > 1 && !avgDown ? cfg.stride : 1;
  const bsd = bs / blockStride;
  const [Hq, Wq, Hp, Wp] = [H / blockStride, W / blockStride, H + 2 * halo, W + 2 * halo];
  const qc = conv(e, 'q', x, { stride: blockStride, bias: e.w.has('q.bias'), shape: [-1, cfg.channels, 1, 1] });
  const kv = conv(e, 'kv', x, { bias: e.w.has('kv.bias'), shape: [-1, cfg.channels, 1, 1] });
  const heads = qc.out / d;
  const dv = (kv.out - qc.out) / heads;
  if (!Number.isInteger(heads) || !Number.isInteger(dv)) throw new EngineError('shape-mismatch', `"${e.w.key('kv.weight')}" has ${kv.out} outputs, which do not split into ${qc.out / d} heads of keys (${d}) and values.`);
  const q = g.node('Transpose', [g.node('Reshape', [qc.y, g.ints([-1, heads, d, Hq * Wq])], `${e.scope}/Reshape`)], `${e.scope}/Transpose`, { perm: [0, 1, 3, 2] }); // [N, h, Q, d]
  const padded = g.node('Pad', [kv.y, g.ints([0, 0, halo, halo, 0, 0, halo, halo])], `${e.scope}/Pad`); // [N, h(d+dv), Hp, Wp]
  const [kn, vn] = [g.unique(`${e.scope}/k`), g.unique(`${e.scope}/v`)];
  g.node('Split', [g.node('Reshape', [padded, g.ints([-1, heads, d + dv, Hp * Wp])], `${e.scope}/Reshape`), g.ints([d, dv])], `${e.scope}/Split`, { axis: 2 }, [kn, vn]);
  const v = g.node('Transpose', [vn], `${e.scope}/Transpose`, { perm: [0, 1, 3, 2] }); // [N, h, K, dv]
  const qk = g.node('Mul', [g.node('MatMul', [q, kn], `${e.scope}/MatMul`), g.scalar(d ** -0.5)], `${e.scope}/Mul`); // [N, h, Q, K]
  // Along one axis: query a (strided map) is in block a / bsd, whose window starts at padded
  // key block * bs; timm's relative row is (window position) - (position in block) + win - 1.
  const row = (a: number, b: number): number => {
    const block = Math.floor(a / bsd);
    const inWindow = b - block * bs;
    return inWindow < 0 || inWindow >= win ? -1 : inWindow - (a - block * bsd) + win - 1;
  };
  const mask = (nq: number, nk: number): Float32Array => Float32Array.from({ length: nq * nk }, (_, i) => (row(Math.floor(i / nk), i % nk) < 0 ? MASKED : 0));
  const q5 = g.node('Reshape', [q, g.ints([-1, Hq, Wq, 1, d])], `${e.scope}/pos_embed/Reshape`);
  let rel = relativeLogits(e, q5, d, { qa: Hq, qb: Wq, ka: Hp, kb: Wp }, {
    h: relativeTable(hRel.data, d, Hq, Hp, row),
    w: relativeTable(wRel.data, d, Wq, Wp, row),
  }); // [M, Hq, Wq, Hp, Wp]
  rel = g.node('Add', [rel, g.floats(`${e.w.key('window')}.rows`, mask(Hq, Hp), [Hq, 1, Hp, 1])], `${e.scope}/window/Add`);
  rel = g.node('Add', [rel, g.floats(`${e.w.key('window')}.cols`, mask(Wq, Wp), [1, Wq, 1, Wp])], `${e.scope}/window/Add`);
  const logits = g.node('Add', [qk, g.node('Reshape', [rel, g.ints([-1, heads, Hq * Wq, Hp * Wp])], `${e.scope}/Reshape`)], `${e.scope}/Add`);
  const attn = g.node('Softmax', [logits], `${e.scope}/Softmax`, { axis: -1 });
  const y = g.node('MatMul', [attn, v], `${e.scope}/MatMul`); // [N, h, Q, dv]
  let out = g.node('Reshape', [g.node('Transpose', [y], `${e.scope}/Transpose`, { perm: [0, 1, 3, 2] }), g.ints([-1, heads * dv, Hq, Wq])], `${e.scope}/Reshape`);
  if (avgDown) out = g.node('AveragePool', [out], `${e.scope}/pool/AveragePool`, { kernel_shape: [2, 2], strides: [2, 2] });
  return { out, channels: heads * dv, taps: [] };
}
