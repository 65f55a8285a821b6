// Attention whose positions were moved by shape-only ops before it ran, laid out back on the
// image: ISANet's groups folded into the batch (a softmax [G, n, n] over a map reshaped
// [G, C, a, b]; the short-range groups regrouped from the long-range block's output), SAN's
// footprints (a softmax over the k^2 offsets of a map unfolded by a Pad, Slices and a Concat) and
// NLSA's sorted chunks (queries and values gathered into each hash round's sorted order). The
// moved map is traced back through those ops (Reshape, Transpose, Pad, Slice, Squeeze, Unsqueeze,
// Identity, Concat, and for sorted chunks GatherElements) to the one map they started from, and
// the same ops are replayed inside the graph on position ids (replayIds; a gather keeps the
// model's own indices), so each moved element says which image position it holds, at any size.

import type { OnnxTypes } from '../graph/onnx';
import { DataType } from '../graph/onnx';
import type { GraphIndex, GraphWriter } from './graphEdit';

type Node = OnnxTypes.INodeProto;

const MOVING = new Set(['Reshape', 'Transpose', 'Pad', 'Slice', 'Squeeze', 'Unsqueeze', 'Identity']);

/** A grouped attention already laid out: its grouped map, the image map behind it, and its softmax's node scope. */
export interface LaidOutGroups { grouped: string; source: string; scope: string }

/**
 * Where grouped map `grouped` [G, C, a, b] came from: the image-batch map [1, C, H, W] that
 * shape-only ops (see the file header) made it from; or, when they lead to the output of an
 * earlier grouped attention block instead (ISANet's short-range groups, regrouped from the
 * long-range block's output), that block's image map, with `via` saying how: the block's output
 * `from` holds its positions where its grouped input `aligned` held them (same groups and a x b,
 * computed inside the block's scope: a self-attention block answers each query position in
 * place). null when `grouped` is not made by shape-only ops (a conv's output: not where the
 * grouping happens); 'unresolved' when they lead to no such map.
 */
export function groupSource(ix: GraphIndex, grouped: string, shapes: Map<string, number[]>, earlier: LaidOutGroups[] = []): { source: string; via?: { from: string; aligned: string } } | 'unresolved' | null {
  if (shapes.get(grouped)?.length !== 4 || !MOVING.has(ix.producer.get(grouped)?.opType as string)) return null;
  const from = traceSource(ix, grouped, false);
  const s = from ? shapes.get(from) : undefined;
  if (!from || s?.length !== 4) return 'unresolved';
  if (s[0] === 1) return { source: from };
  const producer = ix.producer.get(from)?.name ?? '';
  for (const e of earlier) {
    const g = shapes.get(e.grouped);
    if (g && g[0] === s[0] && g[2] === s[2] && g[3] === s[3] && e.scope && producer.startsWith(`${e.scope}/`)) return { source: e.source, via: { from, aligned: e.grouped } };
  }
  return 'unresolved';
}

/** Ops an unfolded footprint is made of besides MOVING (SAN: a reflection Pad, k^2 Slices, a Concat). */
const UNFOLD = new Set([...MOVING, 'Concat']);

/**
 * The one value `v` is made from by shape-only ops (Reshape, Transpose, Pad, Slice, Squeeze,
 * Unsqueeze, Identity, Concat), tracing every input; null when they reach more than one source
 * or any other op, or (`requireUnfold`) hold no unfold: a Concat of at least 4 inputs, SAN's k^2
 * footprint offsets.
 */
function traceSource(ix: GraphIndex, v: string, requireUnfold: boolean, ops: ReadonlySet<string> = UNFOLD): string | null {
  let found: string | null = null;
  let unfolds = false;
  const seen = new Set<string>();
  const walk = (x: string, depth: number): boolean => {
    if (seen.has(x)) return true;
    seen.add(x);
    const p = ix.producer.get(x);
    if (depth > 0 && (!p || !ops.has(p.opType as string))) {
      if (found !== null && found !== x) return false;
      found = x;
      return true;
    }
    if (!p || depth > 24) return false;
    if (p.opType === 'Concat' && (p.input ?? []).length >= 4) unfolds = true;
    const data = p.opType === 'Concat' ? (p.input ?? []) : [p.input?.[0] as string];
    return data.every((i) => !!i && walk(i, depth + 1));
  };
  return walk(v, 0) && (unfolds || !requireUnfold) && found !== v ? found : null;
}

/** The one map a footprint-unfolded map (SAN's values) comes from, else null (traceSource). */
export function unfoldSource(ix: GraphIndex, v: string): string | null {
  return traceSource(ix, v, true);
}

/** What sorted attention moves positions with besides UNFOLD: a GatherElements into sorted order (its data input). */
const SORTING = new Set([...UNFOLD, 'GatherElements']);

/**
 * The one map sorted-chunk attention's queries or values `v` come from (NLSA's export: a map
 * flattened, gathered into the order of its hash buckets, cut into chunks, each chunk beside its
 * neighbours), else null. Replaying those ops on position ids (replayIds) says which position each
 * chunk slot holds: the gathers' indices are the model's own.
 */
export function sortedSource(ix: GraphIndex, v: string): string | null {
  return traceSource(ix, v, false, SORTING);
}

/** The map `v` was made from by shape-only ops, if any (the probe must measure it). */
export function shapeOnlySource(ix: GraphIndex, v: string): string | null {
  return MOVING.has(ix.producer.get(v)?.opType as string) ? traceSource(ix, v, false) : null;
}

/**
 * The ops from `source` to `target` (traced by the functions above) replayed on position ids inside the
 * graph, so they hold at any input size: ids + 1 go in (so a constant pad of 0 reads -1 after
 * the final - 1), the result has target's shape, each element the position it came from.
 * `start`: the ids + 1 to begin from, in source's shape (default: source's own positions).
 */
export function replayIds(ix: GraphIndex, w: GraphWriter, source: string, target: string, start?: string): string {
  const one = (): string => w.node('Cast', [w.ints([1])], { to: DataType.FLOAT });
  const begin = start ?? (() => {
    const size = w.node('Slice', [w.node('Shape', [source]), w.ints([2]), w.ints([4]), w.ints([0])]);
    const count = w.positionCount(source);
    const grid = w.node('Reshape', [w.node('Add', [w.indices(count), one()]), w.node('Concat', [w.ints([1, 1]), size], { axis: 0 })]);
    return w.node('Expand', [grid, w.node('Shape', [source])]);
  })();
  const done = new Map<string, string>([[source, begin]]);
  const dup = (x: string): string => {
    const have = done.get(x);
    if (have) return have;
    const p = ix.producer.get(x) as Node;
    const inputs = (p.input ?? []).map((i, k) => (p.opType === 'Concat' || k === 0 ? dup(i) : i));
    const out = w.raw(p.opType as string, inputs, p.attribute ?? []);
    done.set(x, out);
    return out;
  };
  return w.node('Sub', [dup(target), one()]);
}

/**
 * Position ids of grouped map `grouped` [G, C, a, b]: replayed from the image map `source`, or,
 * for groups regrouped from an earlier block's output (`via`), the earlier grouping's ids carried
 * onto that output (one channel, expanded to its channels) and the regrouping replayed on them.
 */
export function groupedIds(ix: GraphIndex, w: GraphWriter, source: string, grouped: string, via?: { from: string; aligned: string }): string {
  if (!via) return replayIds(ix, w, source, grouped);
  const aligned = replayIds(ix, w, source, via.aligned);
  const plusOne = w.node('Add', [w.node('Slice', [aligned, w.ints([0]), w.ints([1]), w.ints([1])]), w.node('Cast', [w.ints([1])], { to: DataType.FLOAT })]);
  return replayIds(ix, w, via.from, grouped, w.node('Expand', [plusOne, w.node('Shape', [via.from])]));
}
