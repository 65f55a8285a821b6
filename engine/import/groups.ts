// Attention computed in groups folded into the batch (ISANet's interlaced groups: a softmax
// [G, n, n] over a map reshaped [G, C, a, b]): where each group's positions lie on the image.
// The grouped map is traced back, through shape-only ops with constant parameters (Reshape,
// Transpose, Pad, Slice, Squeeze, Unsqueeze, Identity), to a map of the image batch [1, C, H, W];
// the same ops are then replayed on position ids, so table[g * n + l] is the image position of
// group g's l-th position (-1 for padding). A table holds for the size the model was traced at:
// models that compute their reshapes from the input size (dynamic ones) are not traced.

import type { OnnxTypes } from '../graph/onnx';
import { DataType, tensorNumbers, toInt } from '../graph/onnx';
import type { GraphIndex, GraphWriter } from './graphEdit';

type Node = OnnxTypes.INodeProto;

const MOVING = new Set(['Reshape', 'Transpose', 'Pad', 'Slice', 'Squeeze', 'Unsqueeze', 'Identity']);

export interface GroupTable {
  /** The image-batch map [1, C, H, W] the groups come from. */
  source: string;
  /** [G * n]: image position (row-major over H, W) of each group position, -1 for padding. */
  table: Int32Array;
}

/** A constant's numbers: an initializer or a Constant node's value. */
function constNumbers(ix: GraphIndex, v: string | undefined): number[] | null {
  if (!v) return null;
  const init = ix.numbers(v);
  if (init) return init;
  const p = ix.producer.get(v);
  const t = p?.opType === 'Constant' ? p.attribute?.find((a) => a.name === 'value')?.t : undefined;
  const values = t ? tensorNumbers(t) : null;
  return values ? Array.from(values) : null;
}

const intsAttr = (n: Node, name: string): number[] | null => {
  const a = n.attribute?.find((x) => x.name === name);
  return a?.ints?.length ? a.ints.map((i) => toInt(i as number)) : null;
};

const strides = (dims: number[]): number[] => dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));

/** Visits every index of `dims` in row-major order. */
function forEachIndex(dims: number[], f: (idx: number[], o: number) => void): void {
  const total = dims.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(dims.length).fill(0);
  for (let o = 0; o < total; o++) {
    f(idx, o);
    for (let a = dims.length - 1; a >= 0; a--) {
      idx[a] = (idx[a] as number) + 1;
      if ((idx[a] as number) < (dims[a] as number)) break;
      idx[a] = 0;
    }
  }
}

interface Ids { data: Int32Array; dims: number[] }

/** One shape-only op replayed on ids (null: parameters not constant, or a mode it does not replay). */
function replay(ix: GraphIndex, n: Node, v: Ids, opset: number): Ids | null {
  const rank = v.dims.length;
  switch (n.opType) {
    case 'Identity': return v;
    case 'Reshape': {
      const target = constNumbers(ix, n.input?.[1]);
      if (!target) return null;
      const dims = target.map((d, i) => (d === 0 ? v.dims[i] as number : d));
      const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
      return { data: v.data, dims: dims.map((d) => (d === -1 ? v.data.length / known : d)) };
    }
    case 'Squeeze': case 'Unsqueeze': {
      const axes = (opset >= 13 ? constNumbers(ix, n.input?.[1]) : intsAttr(n, 'axes'))?.map((a) => (a < 0 ? a + rank + (n.opType === 'Unsqueeze' ? 1 : 0) : a));
      if (!axes) return null;
      if (n.opType === 'Squeeze') return { data: v.data, dims: v.dims.filter((_, i) => !axes.includes(i)) };
      const dims = [...v.dims];
      for (const a of [...axes].sort((x, y) => x - y)) dims.splice(a, 0, 1);
      return { data: v.data, dims };
    }
    case 'Transpose': {
      const perm = intsAttr(n, 'perm') ?? v.dims.map((_, i) => rank - 1 - i);
      const dims = perm.map((p) => v.dims[p] as number);
      const st = strides(v.dims);
      const out = new Int32Array(v.data.length);
      forEachIndex(dims, (idx, o) => { let src = 0; for (let k = 0; k < rank; k++) src += (idx[k] as number) * (st[perm[k] as number] as number); out[o] = v.data[src] as number; });
      return { data: out, dims };
    }
    case 'Pad': {
      const mode = n.attribute?.find((a) => a.name === 'mode')?.s;
      if (mode && new TextDecoder().decode(mode as Uint8Array) !== 'constant') return null;
      const pads = opset >= 11 ? constNumbers(ix, n.input?.[1]) : intsAttr(n, 'pads');
      if (!pads || pads.length !== 2 * rank || pads.some((p) => p < 0)) return null;
      const dims = v.dims.map((d, i) => d + (pads[i] as number) + (pads[i + rank] as number));
      const st = strides(v.dims);
      const out = new Int32Array(dims.reduce((a, b) => a * b, 1)).fill(-1);
      forEachIndex(dims, (idx, o) => {
        let src = 0;
        for (let k = 0; k < rank; k++) {
          const j = (idx[k] as number) - (pads[k] as number);
          if (j < 0 || j >= (v.dims[k] as number)) return;
          src += j * (st[k] as number);
        }
        out[o] = v.data[src] as number;
      });
      return { data: out, dims };
    }
    case 'Slice': {
      const starts = constNumbers(ix, n.input?.[1]);
      const ends = constNumbers(ix, n.input?.[2]);
      const axes = n.input?.[3] ? constNumbers(ix, n.input[3]) : starts?.map((_, i) => i);
      const steps = n.input?.[4] ? constNumbers(ix, n.input[4]) : starts?.map(() => 1);
      if (!starts || !ends || !axes || !steps || steps.some((s) => s <= 0)) return null;
      const begin = v.dims.map(() => 0);
      const count = [...v.dims];
      const step = v.dims.map(() => 1);
      axes.forEach((a0, i) => {
        const a = a0 < 0 ? a0 + rank : a0;
        const d = v.dims[a] as number;
        const clamp = (x: number): number => Math.min(Math.max(x < 0 ? x + d : x, 0), d);
        const [b, e, s] = [clamp(starts[i] as number), clamp(ends[i] as number), steps[i] as number];
        begin[a] = b;
        step[a] = s;
        count[a] = Math.max(0, Math.ceil((e - b) / s));
      });
      const st = strides(v.dims);
      const out = new Int32Array(count.reduce((a, b) => a * b, 1));
      forEachIndex(count, (idx, o) => { let src = 0; for (let k = 0; k < rank; k++) src += ((begin[k] as number) + (idx[k] as number) * (step[k] as number)) * (st[k] as number); out[o] = v.data[src] as number; });
      return { data: out, dims: count };
    }
    default: return null;
  }
}

/**
 * The image positions of grouped map `grouped` [G, C, a, b] (see the file header); null when
 * it is not made by shape-only ops (a conv's output: not where the grouping happens);
 * 'unresolved' when no chain of them with constant parameters leads to an image-batch map.
 */
export function groupPositions(ix: GraphIndex, grouped: string, shapes: Map<string, number[]>, opset: number): GroupTable | 'unresolved' | null {
  const target = shapes.get(grouped);
  if (!target || target.length !== 4 || !MOVING.has(ix.producer.get(grouped)?.opType as string)) return null;
  const chain: Node[] = [];
  let v = grouped;
  for (let depth = 0; depth < 16; depth++) {
    const s = shapes.get(v);
    if (v !== grouped && s?.length === 4 && s[0] === 1) {
      // Replay on position ids, every channel alike.
      const [, c, h, w] = s as [number, number, number, number];
      const data = new Int32Array(c * h * w);
      for (let k = 0; k < c; k++) for (let p = 0; p < h * w; p++) data[k * h * w + p] = p;
      let ids: Ids | null = { data, dims: [...s] };
      for (const n of chain) if (ids) ids = replay(ix, n, ids, opset);
      if (!ids || ids.dims.join() !== target.join()) return 'unresolved';
      const [g, tc, a, b] = target as [number, number, number, number];
      const n = a * b;
      const table = new Int32Array(g * n);
      for (let gi = 0; gi < g; gi++) for (let l = 0; l < n; l++) table[gi * n + l] = ids.data[gi * tc * n + l] as number;
      return { source: v, table };
    }
    const p = ix.producer.get(v);
    if (!p || !MOVING.has(p.opType as string)) return 'unresolved';
    chain.unshift(p);
    v = p.input?.[0] as string;
  }
  return 'unresolved';
}

/** The values up a shape-only chain from `v` (what the probe must measure for groupPositions). */
export function chainValues(ix: GraphIndex, v: string): string[] {
  const out: string[] = [];
  for (let depth = 0; depth < 16; depth++) {
    const p = ix.producer.get(v);
    if (!p || !MOVING.has(p.opType as string)) break;
    v = p.input?.[0] as string;
    out.push(v);
  }
  return out;
}

/** Ops an unfolded footprint is made of besides MOVING (SAN: a reflection Pad, k^2 Slices, a Concat). */
const UNFOLD = new Set([...MOVING, 'Concat']);

/**
 * The one value a footprint-unfolded map comes from (SAN's values: Pad, Slices, Unsqueezes, a
 * Concat, Reshapes of one conv output), tracing every input through shape-only ops; null when
 * the ops reach more than one source or any other op, or hold no unfold (a Concat of at least 4
 * Slices of the same map: the k^2 offsets).
 */
export function unfoldSource(ix: GraphIndex, v: string): string | null {
  let found: string | null = null;
  let unfolds = false;
  const seen = new Set<string>();
  const walk = (x: string, depth: number): boolean => {
    if (seen.has(x)) return true;
    seen.add(x);
    const p = ix.producer.get(x);
    if (depth > 0 && (!p || !UNFOLD.has(p.opType as string))) {
      if (found !== null && found !== x) return false;
      found = x;
      return true;
    }
    if (!p || depth > 24) return false;
    if (p.opType === 'Concat' && (p.input ?? []).length >= 4) unfolds = true;
    const data = p.opType === 'Concat' ? (p.input ?? []) : [p.input?.[0] as string];
    return data.every((i) => !!i && walk(i, depth + 1));
  };
  return walk(v, 0) && unfolds && found !== v ? found : null;
}

/**
 * The ops from `source` to `target` (unfoldSource's) replayed on position ids inside the
 * graph, so they hold at any input size: ids + 1 go in (so a constant pad of 0 reads -1 after
 * the final - 1), the result has target's shape, each element the position it came from.
 */
export function replayIds(ix: GraphIndex, w: GraphWriter, source: string, target: string): string {
  const size = w.node('Slice', [w.node('Shape', [source]), w.ints([2]), w.ints([4]), w.ints([0])]);
  const count = w.node('Mul', [w.shapeSlice(source, 2, 3), w.shapeSlice(source, 3, 4)]);
  const range = w.node('Range', [w.node('Squeeze', [w.ints([0]), w.ints([0])]), w.node('Squeeze', [count, w.ints([0])]), w.node('Squeeze', [w.ints([1]), w.ints([0])])]);
  const plus = w.node('Add', [w.node('Cast', [range], { to: DataType.FLOAT }), w.node('Cast', [w.ints([1])], { to: DataType.FLOAT })]);
  const grid = w.node('Reshape', [plus, w.node('Concat', [w.ints([1, 1]), size], { axis: 0 })]);
  const start = w.node('Expand', [grid, w.node('Shape', [source])]);
  const done = new Map<string, string>([[source, start]]);
  const dup = (x: string): string => {
    const have = done.get(x);
    if (have) return have;
    const p = ix.producer.get(x) as Node;
    const inputs = (p.input ?? []).map((i, k) => (p.opType === 'Concat' || k === 0 ? dup(i) : i));
    const out = w.raw(p.opType as string, inputs, p.attribute ?? []);
    done.set(x, out);
    return out;
  };
  return w.node('Sub', [dup(target), w.node('Cast', [w.ints([1])], { to: DataType.FLOAT })]);
}
