// Criss-cross attention (CCNet), applied `recurrence` times with the same weights.
// Paper: Huang, Wang, Huang, Huang, Wei, Liu, "CCNet: Criss-Cross Attention for Semantic
//   Segmentation", ICCV 2019, https://arxiv.org/abs/1811.11721
// Reference code (semantics and key names followed): speedinghzl/CCNet (CrissCrossAttention,
//   RCCAModule's recurrence loop): query_conv and key_conv 1x1 C -> C / 8, value_conv C -> C,
//   all with bias, gamma a learned scalar. Each position attends to the positions of its
//   column and its row (itself once: the column part masks it), one softmax over the H + W
//   values; out = the values there weighted; y = gamma * out + x. Two passes reach every
//   position.
// Emitted over all positions, those off the query's row and column masked (-1e9 before the
// softmax): the same weights, and the attention comes out as one [N, HW, HW] map. The mask is
// built in the graph from the input's own size (Range, Equal), so any size runs.
// Taps: attention = the mean pass-1 attention each position receives [N, H, W]; activation =
//   the channel mean of the input; the affinity kept for click-a-query is the two-pass reach
//   A2 A1 [N, HW, HW] (row = query, column = where its information comes from after both passes).
// The earlier passes alone are `affinitySteps` (pass 1: the query's row and column), so a
// clicked query shows both what one criss-cross path reads and the full reach.

import type { ModuleGraph } from './base';
import { channelMean, conv, type Emit, mapShape } from './layers';
import { mapSize, maskBias, positionGrid, samePairs } from './positions';

export interface CrissCrossConfig {
  channels: number;
  recurrence: number;
}

export function emitCrissCross(e: Emit, x: string, cfg: CrissCrossConfig): ModuleGraph {
  const c = cfg.channels;
  const g = e.g;
  const scope = e.scope;
  // 0 where key and query share a row or a column, -1e9 elsewhere: [HW, HW] from the map's size.
  const cross: Emit = { ...e, scope: `${scope}/cross` };
  const { h, w } = mapSize(cross, x);
  const { rows, cols } = positionGrid(cross, h, w);
  const allowed = g.node('Min', [g.node('Add', [samePairs(cross, rows), samePairs(cross, cols)], `${scope}/cross/Add`), g.scalar(1)], `${scope}/cross/Min`);
  const bias = maskBias(cross, allowed);

  const gamma = g.floats(`${e.w.key('gamma')}`, Float32Array.from(e.w.get('gamma', [1]).data), [1]);
  const pass = (input: string, k: number): { out: string; attention: string } => {
    const p: Emit = { ...e, scope: `${scope}/pass${k}` };
    const q = conv(p, 'query_conv', input, { bias: true, shape: [-1, c, 1, 1] });
    const key = conv(p, 'key_conv', input, { bias: true, shape: [q.out, c, 1, 1] });
    const v = conv(p, 'value_conv', input, { bias: true, shape: [c, c, 1, 1] });
    const flat = (t: string, ch: number): string => g.node('Reshape', [t, g.ints([0, ch, -1])], `${p.scope}/Reshape`);
    const queries = g.node('Transpose', [flat(q.y, q.out)], `${p.scope}/Transpose`, { perm: [0, 2, 1] });
    const energy = g.node('Add', [g.node('MatMul', [queries, flat(key.y, q.out)], `${p.scope}/MatMul`), bias], `${p.scope}/Add`);
    const attention = g.node('Softmax', [energy], `${p.scope}/Softmax`, { axis: -1 }); // [N, HW, HW]
    const mixed = g.node('MatMul', [flat(v.y, c), g.node('Transpose', [attention], `${p.scope}/Transpose`, { perm: [0, 2, 1] })], `${p.scope}/MatMul`);
    const back = g.node('Reshape', [mixed, g.node('Shape', [input], `${p.scope}/Shape`)], `${p.scope}/Reshape`);
    return { out: g.node('Add', [g.node('Mul', [back, gamma], `${p.scope}/Mul`), input], `${p.scope}/Add`), attention };
  };
  const passes: Array<{ out: string; attention: string }> = [];
  let y = x;
  for (let k = 1; k <= cfg.recurrence; k++) {
    passes.push(pass(y, k));
    y = (passes[passes.length - 1] as { out: string }).out;
  }
  // Reach after all passes: A_R ... A_2 A_1.
  let reach = (passes[0] as { attention: string }).attention;
  for (const p of passes.slice(1)) reach = g.node('MatMul', [p.attention, reach], `${scope}/reach/MatMul`);
  const received = g.node('ReduceMean', [(passes[0] as { attention: string }).attention], `${scope}/attention/ReduceMean`, { axes: [1], keepdims: 0 });
  return {
    out: y,
    taps: [
      { tap: 'attention', value: g.node('Reshape', [received, mapShape(e, x)], `${scope}/attention/Reshape`) },
      { tap: 'activation', value: channelMean(e, x) },
    ],
    affinity: reach,
    ...(passes.length > 1 ? {
      affinitySteps: passes.slice(0, -1).map((p, i) => ({ label: `pass ${i + 1}: its row and column`, value: p.attention })),
      affinityLabel: `reach after ${passes.length} passes`,
    } : {}),
  };
}
