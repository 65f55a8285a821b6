// Attention discovery in someone else's ONNX graph (issue 14): candidates by graph pattern,
// then classified by the shapes one probe pass reports.
//
// Patterns (ONNX ops as torch.onnx.export and other exporters write them):
// - gate: a Mul of a feature map by a value that comes, through shape-only ops (Reshape,
//   Unsqueeze, Expand, Transpose, ... and "+ constant"), from Sigmoid, HardSigmoid,
//   relu6(x + 3) / 6 written out, or a Softmax (over paths: SK). By shape: broadcast over H
//   and W = channel gate; over C = spatial gate; neither = full gate (BAM). Not a gate: the
//   same Mul when the gated value is the gate's own input (SiLU x*sigmoid(x), hard-swish).
// - affinity: a Softmax whose output a MatMul or Einsum reads, or a scores / constant (the
//   non-local dot and concat modes) whose scores come from a MatMul of two computed values
//   or a ReLU. By shape: [N, heads, T, T] = transformer heads; [N, Q, K] with Q = H*W of a
//   feature map upstream = positional affinity (key grid from a map with H'*W' = K); Q = K
//   = channels = channel affinity (DANet CAM); [N, K] or [N, 1, K] = a spatial softmax (GC).
// Sigmoids that gate nothing (a multi-label head, a loss) are not candidates at all.

import type { OnnxTypes } from '../graph/onnx';
import type { ImportedPartKind } from '../types';
import { type LaidOutGroups, sortedSource, unfoldSource } from './groups';
import type { GraphIndex } from './graphEdit';

type Node = OnnxTypes.INodeProto;

/** What a found module part computes (maps.json `kind`). */
export type PartKind = ImportedPartKind;

export interface GateCandidate {
  type: 'gate';
  /** The gate op's output: what a forward hook on the gate sees. */
  value: string;
  op: Node;
  mul: Node;
  /** The gated feature (the Mul's other operand). */
  feature: string;
  /** The gate as it broadcasts against the feature (before any Expand). */
  operand: string;
  softmax: boolean;
}

export interface AffinityCandidate {
  type: 'affinity';
  value: string;
  op: Node;
  /** Values upstream of the scores, for finding the feature maps the positions come from. */
  ancestors: string[];
  /** Where the MatMul reading the scores takes its values from pooled cells of one map (ANN's pyramid). */
  pooled?: PooledKeys;
}

/** Values made by pooling one map and laying the pooled cells side by side (ANN's spatial pyramid). */
export interface PooledKeys {
  /** The map pooled [N, C, H, W]. */
  map: string;
  /** Each pool's output, in the order its cells are laid out. */
  pools: string[];
}

/** A GridSample (spatial transformer): `value` is its sampling grid, `feature` the map it samples. */
export interface SamplerCandidate {
  type: 'sampler';
  value: string;
  op: Node;
  feature: string;
  /** Values upstream of the grid, for finding the affine theta [N, 2, 3] it is made from. */
  ancestors: string[];
}

/**
 * SAN-style footprint attention: a softmax over each position's k^2 footprint offsets that
 * weights (Mul, then ReduceSum over the offsets) an unfolded map: `values` [N, ..., k^2, HW],
 * made by shape-only ops (Pad, Slices, Concat, Reshape) from one map, `source`.
 */
export interface FootprintCandidate {
  type: 'footprint';
  value: string;
  op: Node;
  mul: Node;
  values: string;
  source: string;
}

/**
 * Attention in sorted chunks (LSH attention as NLSA's export writes it): a softmax written out,
 * exp(s - logsumexp(s)), over [N, rounds, chunks, chunk, keys], read by a MatMul with values
 * gathered into each round's sorted order, the rounds then weighted (a Softmax over them) and
 * summed. `queries` / `values`: the scores' and the reading MatMul's chunked inputs, and the maps
 * they come from (null where no shape-only / gather chain leads back to one); `weights`: the
 * rounds' Softmax, or null.
 */
export interface ChunkedCandidate {
  type: 'chunked';
  value: string;
  op: Node;
  queries: string;
  values: string;
  querySource: string | null;
  valueSource: string | null;
  weights: string | null;
}

export type Candidate = GateCandidate | AffinityCandidate | SamplerCandidate | FootprintCandidate | ChunkedCandidate;

/** Ops that move or broadcast values without computing new ones. */
const TRANSPARENT = new Set(['Unsqueeze', 'Squeeze', 'Reshape', 'Expand', 'Transpose', 'Flatten', 'Identity', 'Cast']);
const GATE_OPS = new Set(['Sigmoid', 'HardSigmoid', 'Softmax']);

/** Finds gate and affinity candidates by pattern. */
export function findCandidates(ix: GraphIndex): Candidate[] {
  const out: Candidate[] = [];
  const seen = new Set<string>();
  const nodes = ix.graph.node ?? [];
  for (const mul of nodes) {
    if (mul.opType !== 'Mul' || (mul.input ?? []).length !== 2) continue;
    for (let side = 0; side < 2; side++) {
      const operand = mul.input?.[side] as string;
      const feature = mul.input?.[1 - side] as string;
      if (ix.isConstant(feature)) continue;
      const traced = traceGate(ix, operand);
      if (!traced) continue;
      // x * gate(x): an activation (SiLU, hard-swish), not attention.
      if (sameValue(ix, traced.input, feature)) continue;
      if (seen.has(traced.value)) continue;
      // A softmax over footprint offsets weighting an unfolded map, summed over the offsets (SAN).
      const source = traced.op.opType === 'Softmax' && (ix.consumers.get(mul.output?.[0] as string) ?? []).some((n) => n.opType === 'ReduceSum') ? unfoldSource(ix, feature) : null;
      if (source) {
        seen.add(traced.value);
        out.push({ type: 'footprint', value: traced.value, op: traced.op, mul, values: feature, source });
        continue;
      }
      seen.add(traced.value);
      out.push({ type: 'gate', value: traced.value, op: traced.op, mul, feature, operand: traced.broadcast ?? operand, softmax: traced.op.opType === 'Softmax' });
    }
  }
  for (const n of nodes) {
    const value = n.output?.[0];
    if (!value || seen.has(value)) continue;
    // A sampling grid computed by the model (an STN's affine grid, a flow field): not a constant resize.
    if (n.opType === 'GridSample' && n.input?.[1] && !ix.isConstant(n.input[1])) {
      const producer = ix.producer.get(n.input[1]);
      out.push({ type: 'sampler', value: n.input[1], op: n, feature: n.input[0] as string, ancestors: producer ? [n.input[1], ...ancestors(ix, producer)] : [n.input[1]] });
      continue;
    }
    if (n.opType === 'Exp') {
      const chunked = sortedChunks(ix, n);
      if (chunked) {
        seen.add(value);
        out.push(chunked);
      }
      continue;
    }
    if (n.opType === 'Softmax' || n.opType === 'LogSoftmax') {
      if (n.opType === 'Softmax' && readByMatMul(ix, value, 0)) {
        seen.add(value);
        const pooled = pooledValues(ix, value);
        out.push({ type: 'affinity', value, op: n, ancestors: ancestors(ix, n), ...(pooled ? { pooled } : {}) });
      }
      continue;
    }
    // Scores / N (non-local dot and concat): Div or Mul by a constant or a shape-derived scalar.
    if ((n.opType === 'Div' || n.opType === 'Mul') && (n.input ?? []).length === 2) {
      const [a, b] = n.input as [string, string];
      const scalarSide = isShapeScalar(ix, b) ? a : n.opType === 'Mul' && isShapeScalar(ix, a) ? b : null;
      if (!scalarSide || !readByMatMul(ix, value, 0, true)) continue;
      if (!pairwiseScores(ix, scalarSide, 0)) continue;
      seen.add(value);
      out.push({ type: 'affinity', value, op: n, ancestors: ancestors(ix, n) });
    }
  }
  return out;
}

/** From a Mul operand back through shape-only ops to a gate op; `broadcast` is the value before an Expand. */
function traceGate(ix: GraphIndex, v: string): { value: string; op: Node; input: string; broadcast: string | null } | null {
  let broadcast: string | null = null;
  for (let depth = 0; depth < 12; depth++) {
    const p = ix.producer.get(v);
    if (!p) return null;
    const op = p.opType as string;
    if (GATE_OPS.has(op)) return { value: v, op: p, input: p.input?.[0] as string, broadcast };
    const hs = writtenHardSigmoid(ix, p);
    if (hs) return { value: v, op: p, input: hs, broadcast };
    if (TRANSPARENT.has(op)) {
      if (op === 'Expand') broadcast = p.input?.[0] as string;
      v = p.input?.[0] as string;
      continue;
    }
    // gate[:, :, 0, 0], gate[:, 0]: constant indexing of size-1 dims.
    if ((op === 'Gather' || op === 'Slice') && (p.input ?? []).slice(1).every((i) => !i || ix.isConstant(i))) {
      v = p.input?.[0] as string;
      continue;
    }
    // 1 + gate (BAM), gate + constant.
    if (op === 'Add' && (p.input ?? []).length === 2) {
      const [a, b] = p.input as [string, string];
      if (ix.isConstant(b)) { v = a; broadcast = null; continue; }
      if (ix.isConstant(a)) { v = b; broadcast = null; continue; }
    }
    return null;
  }
  return null;
}

/** relu6(x + 3) / 6 (or * 1/6) as ops: returns x, else null. */
function writtenHardSigmoid(ix: GraphIndex, n: Node): string | null {
  const [a, b] = (n.input ?? []) as [string, string];
  const k = b ? ix.scalarValue(b) : null;
  if (!((n.opType === 'Div' && k !== null && Math.abs(k - 6) < 1e-6) || (n.opType === 'Mul' && k !== null && Math.abs(k - 1 / 6) < 1e-6))) return null;
  let clip = ix.producer.get(a);
  if (clip?.opType === 'Relu') clip = undefined;
  if (!clip || clip.opType !== 'Clip') return null;
  let add = ix.producer.get(clip.input?.[0] as string);
  if (add?.opType === 'Relu') add = ix.producer.get(add.input?.[0] as string); // clamp(min 0) written as a Relu first
  if (!add || add.opType !== 'Add') return null;
  const [x, three] = add.input as [string, string];
  const t = ix.scalarValue(three) ?? ix.scalarValue(x);
  if (t === null || Math.abs(t - 3) > 1e-6) return null;
  return ix.scalarValue(three) !== null ? x : three;
}

/** Whether two values are the same, seen through shape-only ops. */
function sameValue(ix: GraphIndex, a: string, b: string): boolean {
  const root = (v: string): string => {
    for (let i = 0; i < 8; i++) {
      const p = ix.producer.get(v);
      if (!p || !TRANSPARENT.has(p.opType as string)) return v;
      v = p.input?.[0] as string;
    }
    return v;
  };
  return root(a) === root(b);
}

/** Whether a MatMul / Einsum reads v (through shape-only ops). */
function readByMatMul(ix: GraphIndex, v: string, depth: number, direct = false): boolean {
  for (const c of ix.consumers.get(v) ?? []) {
    if (c.opType === 'MatMul' || c.opType === 'Einsum') return true;
    // Through shape-only ops, and through Slices (CCNet reads its column and row parts apart).
    if (!direct && depth < 4 && (TRANSPARENT.has(c.opType as string) || c.opType === 'Slice') && readByMatMul(ix, c.output?.[0] as string, depth + 1)) return true;
  }
  return false;
}

/** exp(s - logsumexp(s)) of scores s = MatMul(queries, keys), read by a MatMul (weights first): a chunked-attention candidate. */
function sortedChunks(ix: GraphIndex, exp: Node): ChunkedCandidate | null {
  const value = exp.output?.[0] as string;
  const sub = ix.producer.get(exp.input?.[0] as string);
  const [s, l] = (sub?.opType === 'Sub' ? sub.input ?? [] : []) as [string?, string?];
  const lse = l ? ix.producer.get(l) : undefined;
  const scores = s ? ix.producer.get(s) : undefined;
  const reader = (ix.consumers.get(value) ?? []).find((c) => c.opType === 'MatMul' && c.input?.[0] === value);
  if (!s || lse?.opType !== 'ReduceLogSumExp' || lse.input?.[0] !== s || scores?.opType !== 'MatMul' || !reader?.input?.[1] || !scores.input?.[0]) return null;
  const [queries, values] = [scores.input[0], reader.input[1]];
  return { type: 'chunked', value, op: exp, queries, values, querySource: sortedSource(ix, queries), valueSource: sortedSource(ix, values), weights: roundWeights(ix, reader.output?.[0] as string) };
}

/**
 * The Softmax that weights the rounds of chunked attention: from the reading MatMul's output,
 * through the ops that put it back in image order, the Mul by a Softmax whose product is summed.
 */
function roundWeights(ix: GraphIndex, v: string): string | null {
  let x = v;
  for (let i = 0; i < 8; i++) {
    const next = ix.consumers.get(x) ?? [];
    const c = next[0];
    if (next.length !== 1 || !c) return null;
    if (c.opType === 'Mul') {
      const other = (c.input?.[0] === x ? c.input?.[1] : c.input?.[0]) as string;
      const summed = (ix.consumers.get(c.output?.[0] as string) ?? []).some((k) => k.opType === 'ReduceSum');
      return ix.producer.get(other)?.opType === 'Softmax' && summed ? other : null;
    }
    if (!(TRANSPARENT.has(c.opType as string) || c.opType === 'GatherElements') || c.input?.[0] !== x) return null;
    x = c.output?.[0] as string;
  }
  return null;
}

const POOLS = new Set(['AveragePool', 'GlobalAveragePool']);

/**
 * The values a MatMul weights by scores `v` (v @ values), when they are average pools of one map
 * flattened and concatenated (ANN's pyramid pooling: GlobalAveragePool and AveragePools, Reshape,
 * Concat, Transpose); null otherwise. Average pooling is linear, so each pooled cell is a known
 * weighting of the map's positions (classify checks the cell count against the scores' keys).
 */
function pooledValues(ix: GraphIndex, v: string): PooledKeys | null {
  const mm = (ix.consumers.get(v) ?? []).find((c) => c.opType === 'MatMul' && c.input?.[0] === v);
  const back = (x: string): string => {
    let p = ix.producer.get(x);
    for (let i = 0; p && TRANSPARENT.has(p.opType as string) && i < 8; i++) { x = p.input?.[0] as string; p = ix.producer.get(x); }
    return x;
  };
  if (!mm?.input?.[1]) return null;
  const top = back(mm.input[1]);
  const concat = ix.producer.get(top);
  const branches = concat?.opType === 'Concat' ? (concat.input ?? []) as string[] : [top];
  let map: string | null = null;
  const pools: string[] = [];
  for (const b of branches) {
    const out = back(b);
    const pool = ix.producer.get(out);
    const input = pool?.input?.[0];
    if (!pool || !POOLS.has(pool.opType as string) || !input || (map !== null && input !== map)) return null;
    map = input;
    pools.push(out);
  }
  return map ? { map, pools } : null;
}

/** A scalar computed from shapes or constants (the N of f / N). */
function isShapeScalar(ix: GraphIndex, v: string): boolean {
  if (ix.scalarValue(v) !== null) return true;
  const p = ix.producer.get(v);
  if (!p) return false;
  if (p.opType === 'Cast' || p.opType === 'Identity') return isShapeScalar(ix, p.input?.[0] as string);
  if (p.opType === 'Gather') return ix.producer.get(p.input?.[0] as string)?.opType === 'Shape';
  return false;
}

/** Whether scores come from a MatMul of two computed values, or a ReLU of a conv (pairwise scores). */
function pairwiseScores(ix: GraphIndex, v: string, depth: number): boolean {
  const p = ix.producer.get(v);
  if (!p || depth > 6) return false;
  if (p.opType === 'MatMul') return (p.input ?? []).every((i) => !ix.isConstant(i));
  if (p.opType === 'Relu') return true;
  if (TRANSPARENT.has(p.opType as string) || p.opType === 'Gather' || p.opType === 'Slice') return pairwiseScores(ix, p.input?.[0] as string, depth + 1);
  return false;
}

/** Values upstream of node n (breadth first, constants skipped), for the feature maps positions come from. */
function ancestors(ix: GraphIndex, n: Node, limit = 48): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  let frontier = (n.input ?? []).filter(Boolean) as string[];
  for (let depth = 0; depth < 24 && frontier.length && out.length < limit; depth++) {
    const next: string[] = [];
    for (const v of frontier) {
      if (seen.has(v) || ix.isConstant(v)) continue;
      seen.add(v);
      out.push(v);
      const p = ix.producer.get(v);
      if (p && p.opType !== 'Shape') next.push(...((p.input ?? []).filter(Boolean) as string[]));
    }
    frontier = next;
  }
  return out;
}

// --- classification --------------------------------------------------------------------

export interface FoundPart {
  kind: PartKind;
  candidate: Candidate;
  /** Map name in the DESIGN vocabulary: the npy file is `<module>.<map>.npy`. */
  map: 'channel' | 'spatial' | 'gate' | 'affinity' | 'heads' | 'maps' | 'weights' | 'grid' | 'warped' | 'affine';
  /** Components: the value is [N, positions, K] (else [N, K, positions]). */
  positionsFirst?: boolean;
  /** Affinities: the feature maps whose positions the queries and keys are (4-D values). */
  queryGrid?: string;
  keyGrid?: string;
  /** Affinities: the value is [N, keys, queries] (a softmax over axis 1, as RNL's code writes it). */
  keysFirst?: boolean;
  /** Footprint attention [N, G, k^2, HW] (SAN): its offset count; laid out by replaying the unfold on position ids. */
  footprint?: { offsets: number };
  /** Affinities over pooled cells of keyGrid (ANN): the pools, laid out densely over keyGrid's positions. */
  pooled?: { pools: string[] };
  /** Sorted-chunk attention: its chunked queries and values (replayed on position ids) and the rounds' weights. */
  chunked?: { queries: string; values: string; weights: string; rounds: number };
  /** Spatial transformers: the affine theta [N, 2, 3] the grid is made from, where there is one. */
  theta?: string;
  /**
   * Affinities in groups folded into the batch [G, n, n] (ISANet): the grouped map, made from
   * `queryGrid` by shape-only ops, or (`via`) regrouped from an earlier grouped block's output.
   */
  groups?: { grouped: string; via?: { from: string; aligned: string } };
  /** Heads: tokens before the patch grid (CLS, distillation). */
  prefix?: number;
  /** Channels of the gated feature (gates) or of the grid map. */
  channels: number;
  /** Map size at the probe's input size [h, w]. */
  mapSize: [number, number];
  note?: string;
  /**
   * Layouts the importer makes that the model never forms (groups, footprints, pooled keys, sorted
   * chunks spread densely over the image): values in the largest tensor it adds, at the probe's
   * size. It grows with the 4th power of the input size (a square of positions).
   */
  denseValues?: number;
}

export interface Rejected {
  value: string;
  node: string;
  reason: string;
}

/** The scope an exported node's name gives it ('/a/b/Softmax' -> '/a/b'), '' for unscoped names. */
function nodeScope(name: string | null | undefined): string {
  return name?.startsWith('/') ? name.slice(0, name.lastIndexOf('/')) : '';
}

/** Where a grouped map [G, C, a, b]'s positions lie on the image (engine/import/groups.ts), or null. */
export type GroupResolver = (grouped: string, earlier: LaidOutGroups[]) => { source: string; via?: { from: string; aligned: string } } | 'unresolved' | null;

/** Classifies candidates by the shapes of a probe pass (`shapes`: value -> dims). */
export function classify(candidates: Candidate[], shapes: Map<string, number[]>, groupsOf: GroupResolver = () => null): { parts: FoundPart[]; rejected: Rejected[] } {
  const parts: FoundPart[] = [];
  const rejected: Rejected[] = [];
  const reject = (c: Candidate, reason: string): void => { rejected.push({ value: c.value, node: c.op.name || (c.op.opType as string), reason }); };
  for (const c of candidates) {
    const g = shapes.get(c.value);
    if (!g) { reject(c, 'the probe pass did not compute it'); continue; }
    if (c.type === 'chunked') {
      // [1, rounds, chunks, chunk, keys]: chunks x chunk queries cover the map once a round.
      const q = c.querySource ? shapes.get(c.querySource) : undefined;
      const v = c.valueSource ? shapes.get(c.valueSource) : undefined;
      const wt = c.weights ? shapes.get(c.weights) : undefined;
      const hw = q?.length === 4 ? (q[2] as number) * (q[3] as number) : 0;
      const ok = g.length === 5 && g[0] === 1 && q?.length === 4 && v?.length === 4 && q[0] === 1 && v[0] === 1 && q[2] === v[2] && q[3] === v[3]
        && (g[2] as number) * (g[3] as number) === hw && wt?.length === 4 && wt[1] === g[1] && wt[2] === hw;
      if (!ok || !q || !v || !c.querySource || !c.valueSource || !c.weights) {
        reject(c, 'a softmax written as exp(s - logsumexp(s)), but not over sorted chunks whose queries, values and round weights lead back to one map');
        continue;
      }
      // A round at a time: the key slots' one-hot [chunks, k, HW] (k = 3 chunks: 3 HW^2), its rows and the sum.
      const denseValues = ((g[4] as number) / (g[3] as number) + 2) * hw * hw;
      if (denseValues > MAX_GROUPED_DENSE * 4) { reject(c, `sorted-chunk attention over ${hw} positions in ${g[1]} rounds is too large to lay out densely; open the model at a smaller input size (--input-size, or the model menu's Input size field) to see it`); continue; }
      parts.push({
        kind: 'affinity', candidate: c, map: 'affinity', queryGrid: c.querySource, keyGrid: c.valueSource, channels: v[1] as number,
        mapSize: [q[2] as number, q[3] as number], chunked: { queries: c.queries, values: c.values, weights: c.weights, rounds: g[1] as number }, denseValues,
        note: `attention in ${g[1]} rounds of ${g[2]} sorted chunks of ${g[3]} queries over ${g[4]} keys, laid out on the image`,
      });
      continue;
    }
    if (c.type === 'footprint') {
      const v = shapes.get(c.values);
      const src = shapes.get(c.source);
      const [, , k, q] = g as [number, number, number, number];
      const ok = g.length === 4 && g[0] === 1 && softmaxAxisIs(c.op, 2) && v && v.length >= 3 && v[v.length - 2] === k && v[v.length - 1] === q
        && src?.length === 4 && src[0] === 1 && (src[2] as number) * (src[3] as number) === q;
      if (!ok || !src) { reject(c, `a softmax [${g.join(', ')}] weighting an unfolded map, but not over [N, groups, offsets, positions] of a map upstream`); continue; }
      if (k * q * q > MAX_GROUPED_DENSE * 16) { reject(c, `footprint attention over ${q} positions is too large to lay out densely`); continue; }
      parts.push({ kind: 'affinity', candidate: c, map: 'affinity', queryGrid: c.source, keyGrid: c.source, channels: src[1] as number, mapSize: [src[2] as number, src[3] as number], footprint: { offsets: k }, denseValues: q * q });
      continue;
    }
    if (c.type === 'sampler') {
      const f = shapes.get(c.feature);
      if (g.length !== 4 || g[3] !== 2 || !f || f.length !== 4) { reject(c, `a GridSample whose grid [${g.join(', ')}] or input is not [N, H, W, 2] over an [N, C, H, W] map`); continue; }
      // An affine transformer's theta: the nearest value upstream of the grid that is [N, 2, 3]
      // (AffineGrid's input, or what a hand-written affine grid multiplies its base grid by).
      // A grid made otherwise (a flow field) has none, and is shown without it.
      const theta = c.ancestors.find((a) => { const d = shapes.get(a); return d?.length === 3 && d[0] === g[0] && d[1] === 2 && d[2] === 3; });
      parts.push({ kind: 'spatial-transform', candidate: c, map: 'grid', channels: f[1] as number, mapSize: [g[1] as number, g[2] as number], ...(theta ? { theta } : {}) });
      continue;
    }
    if (c.type === 'gate') {
      const f = shapes.get(c.feature);
      const b = shapes.get(c.operand);
      if (!f || !b || f.length < 4) { reject(c, `it gates a ${f ? `${f.length}-D` : 'missing'} value, not a feature map`); continue; }
      const r = f.length;
      const bb = [...Array(Math.max(0, r - b.length)).fill(1), ...b];
      const [fh, fw, fc] = [f[r - 2] as number, f[r - 1] as number, f[r - 3] as number];
      const overHW = bb[r - 2] === 1 && bb[r - 1] === 1 && fh * fw > 1;
      const overC = bb[r - 3] === 1 && fc > 1;
      if (overHW && overC) { reject(c, 'one scalar per image: it scales the whole map, no channel or position is singled out'); continue; }
      const kind: PartKind = overHW ? 'channel-gate' : overC ? 'spatial-gate' : 'gate';
      if (c.softmax && kind !== 'channel-gate') { reject(c, 'a softmax that weights positions of a map it multiplies (not over paths)'); continue; }
      parts.push({ kind, candidate: c, map: kind === 'channel-gate' ? 'channel' : kind === 'spatial-gate' ? 'spatial' : 'gate', channels: fc, mapSize: [fh, fw] });
      continue;
    }
    // Affinities: the 4-D values upstream give the grids.
    const grids = c.ancestors.map((v) => ({ v, s: shapes.get(v) })).filter((x): x is { v: string; s: number[] } => !!x.s && x.s.length === 4);
    const byPositions = (n: number) => grids.find((x) => (x.s[2] as number) * (x.s[3] as number) === n);
    if (g.length === 4) {
      // CCNet: [N, H, W, H + W], a softmax over each position's column then row keys.
      const cross = g[3] === (g[1] as number) + (g[2] as number) && softmaxLastAxis(c.op, 4) ? grids.find((x) => x.s[2] === g[1] && x.s[3] === g[2]) : undefined;
      if (cross) {
        // Laid out densely from its column and row parts: two [HW, HW] terms and their sum.
        const hw = (g[1] as number) * (g[2] as number);
        parts.push({ kind: 'criss-cross', candidate: c, map: 'affinity', queryGrid: cross.v, keyGrid: cross.v, channels: cross.s[1] as number, mapSize: [g[1] as number, g[2] as number], denseValues: 3 * hw * hw });
        continue;
      }
      const [, heads, q, k] = g as [number, number, number, number];
      if (q !== k) {
        // Heads whose queries and keys lie on different grids (strided or windowed local attention).
        const qGrid = byPositions(q);
        const kGrid = byPositions(k);
        if (!qGrid || !kGrid) { reject(c, `a [${g.join(', ')}] softmax: ${q} queries and ${k} keys, and no feature maps upstream have those positions`); continue; }
        parts.push({ kind: 'heads', candidate: c, map: 'heads', queryGrid: qGrid.v, keyGrid: kGrid.v, prefix: 0, channels: heads, mapSize: [qGrid.s[2] as number, qGrid.s[3] as number] });
        continue;
      }
      const grid = byPositions(q) ?? byPositions(q - 1) ?? byPositions(q - 2);
      if (!grid) { reject(c, `[${g.join(', ')}] heads over ${q} tokens, but no patch grid upstream has ${q}, ${q - 1} or ${q - 2} positions`); continue; }
      const prefix = q - (grid.s[2] as number) * (grid.s[3] as number);
      parts.push({ kind: 'heads', candidate: c, map: 'heads', keyGrid: grid.v, prefix, channels: heads, mapSize: [grid.s[2] as number, grid.s[3] as number] });
      continue;
    }
    const dims = g.length === 2 ? [g[0], 1, g[1]] : g;
    if (dims.length !== 3) { reject(c, `a ${g.length}-D softmax, not an affinity`); continue; }
    // The probe runs one image: a first dimension other than 1 is groups or heads folded into the
    // batch (ISANet's interlaced groups, a [B * heads, T, T] attention), not positions of this image.
    if (dims[0] !== 1) {
      // Groups folded into the batch (ISANet): laid out on the image when a shape-only chain says where each group's positions lie.
      const [groupCount, gq, gk] = dims as [number, number, number];
      // The nearest map upstream that shape-only ops grouped is the one the attention's embeddings were computed on.
      const candidates = gq === gk && c.op.opType === 'Softmax' && softmaxLastAxis(c.op, 3)
        ? grids.filter((x) => x.s[0] === groupCount && (x.s[2] as number) * (x.s[3] as number) === gq) : [];
      // Grouped attentions laid out so far: a later one may regroup an earlier block's output (ISANet's short range).
      const earlier: LaidOutGroups[] = parts.flatMap((p) => (p.groups && p.queryGrid ? [{ grouped: p.groups.grouped, source: p.queryGrid, scope: nodeScope(p.candidate.op.name) }] : []));
      let nearest: { v: string; traced: ReturnType<GroupResolver> } | null = null;
      for (const x of candidates) {
        const traced = groupsOf(x.v, earlier);
        if (traced !== null) { nearest = { v: x.v, traced }; break; }
      }
      const grouped = nearest && nearest.traced !== null && nearest.traced !== 'unresolved' ? { v: nearest.v, ...nearest.traced } : null;
      const source = grouped ? shapes.get(grouped.source) as number[] : null;
      const hw = source ? (source[2] as number) * (source[3] as number) : 0;
      if (grouped && source && hw * hw <= MAX_GROUPED_DENSE) {
        parts.push({
          kind: 'affinity', candidate: c, map: 'affinity', queryGrid: grouped.source, keyGrid: grouped.source, channels: source[1] as number,
          mapSize: [source[2] as number, source[3] as number], groups: { grouped: grouped.v, ...(grouped.via ? { via: grouped.via } : {}) }, denseValues: hw * hw,
          note: grouped.via
            ? `attention in ${groupCount} groups of ${gq} positions, regrouped from an earlier grouped block's output, laid out on the image`
            : `attention in ${groupCount} groups of ${gq} positions, laid out on the image`,
        });
        continue;
      }
      reject(c, grouped ? `grouped attention over ${hw} positions is too large to lay out densely`
        : nearest ? `attention in ${groupCount} groups whose positions no shape-only chain leads back to the image from (computed from another block's output)`
          : `its first dimension (${dims[0]}) is not the image batch: groups or heads folded into it`);
      continue;
    }
    const [, q, k] = dims as [number, number, number];
    if (q === 1) {
      const grid = byPositions(k);
      if (!grid) { reject(c, `a softmax over ${k} values, but no feature map upstream has ${k} positions`); continue; }
      parts.push({ kind: 'spatial-softmax', candidate: c, map: 'spatial', keyGrid: grid.v, channels: grid.s[1] as number, mapSize: [grid.s[2] as number, grid.s[3] as number] });
      continue;
    }
    const qGrid = byPositions(q);
    const kGrid = byPositions(k);
    const channelMap = grids.find((x) => x.s[1] === q);
    if (qGrid && kGrid) {
      // Normalised over axis 1: [N, keys, queries] (f = softmax(., dim=1), then values @ f).
      const keysFirst = c.op.opType === 'Softmax' && g.length === 3 && !softmaxLastAxis(c.op, 3);
      const [queryGrid, keyGrid] = keysFirst ? [kGrid, qGrid] : [qGrid, kGrid];
      parts.push({
        kind: 'affinity', candidate: c, map: 'affinity', queryGrid: queryGrid.v, keyGrid: keyGrid.v, channels: queryGrid.s[1] as number,
        mapSize: [queryGrid.s[2] as number, queryGrid.s[3] as number], ...(keysFirst ? { keysFirst } : {}),
        ...(channelMap && q === k ? { note: `${q} is both a position count and a channel count upstream; read as positions` } : {}),
      });
      continue;
    }
    if (q === k && channelMap) {
      parts.push({ kind: 'channel-affinity', candidate: c, map: 'affinity', queryGrid: channelMap.v, channels: q, mapSize: [channelMap.s[2] as number, channelMap.s[3] as number] });
      continue;
    }
    // Keys pooled from one map (ANN's pyramid: K cells of 1x1, 2x2, ... pools): each key is a known
    // average of the map's positions, so the scores spread over them are an affinity [N, HW, HW'].
    const pooled = c.type === 'affinity' && c.pooled && qGrid && !kGrid && c.op.opType === 'Softmax' && softmaxLastAxis(c.op) ? c.pooled : null;
    const pooledMap = pooled ? shapes.get(pooled.map) : undefined;
    const cells = pooled ? pooled.pools.reduce((n, o) => { const d = shapes.get(o); return n + (d?.length === 4 ? (d[2] as number) * (d[3] as number) : NaN); }, 0) : NaN;
    if (pooled && qGrid && pooledMap?.length === 4 && pooledMap[0] === 1 && cells === k) {
      const hw = (pooledMap[2] as number) * (pooledMap[3] as number);
      if (q * hw <= MAX_GROUPED_DENSE && hw * hw <= MAX_GROUPED_DENSE) {
        parts.push({
          kind: 'affinity', candidate: c, map: 'affinity', queryGrid: qGrid.v, keyGrid: pooled.map, channels: qGrid.s[1] as number,
          mapSize: [qGrid.s[2] as number, qGrid.s[3] as number], pooled: { pools: pooled.pools }, denseValues: Math.max(q, hw) * hw,
          note: `attention over ${k} keys pooled from a ${pooledMap[2]}x${pooledMap[3]} map (${pooled.pools.length} pools), spread over the positions each key averages`,
        });
        continue;
      }
    }
    // K components over positions: a softmax over the positions per component ([N, K, HW]:
    // A2-Net's gather maps), or over the K components at each position ([N, K, HW] over K:
    // A2-Net's distribute weights; [N, HW, K]: EMANet's responsibilities).
    const positions = qGrid && !kGrid ? qGrid : kGrid && !qGrid ? kGrid : null;
    if (positions && c.op.opType === 'Softmax') {
      const positionsFirst = positions === qGrid;
      // Normalised over K at each position with K first: the distribute step's weights.
      const map = !positionsFirst && !softmaxLastAxis(c.op) ? 'weights' : 'maps';
      parts.push({ kind: 'components', candidate: c, map, keyGrid: positions.v, positionsFirst, channels: positionsFirst ? k : q, mapSize: [positions.s[2] as number, positions.s[3] as number] });
      continue;
    }
    reject(c, `a [${g.join(', ')}] softmax whose ${q} queries or ${k} keys match no feature map upstream`);
  }
  return { parts, rejected };
}

/** The largest dense [HW, HW] layout of a grouped attention (and its one-hot constant): 4 M values. */
const MAX_GROUPED_DENSE = 2 ** 22;

/** Whether a Softmax normalises axis `axis` (of a rank-4 value; opset 13's default -1 is 3). */
function softmaxAxisIs(op: Node, axis: number): boolean {
  const a = op.attribute?.find((x) => x.name === 'axis');
  const v = a?.i === undefined || a.i === null ? -1 : Number(a.i);
  return (v < 0 ? v + 4 : v) === axis;
}

/** Whether a Softmax normalises its last axis (axis -1 or rank - 1; opset 13's default is -1). */
function softmaxLastAxis(op: Node, rank = 3): boolean {
  const a = op.attribute?.find((x) => x.name === 'axis');
  const axis = a?.i === undefined || a.i === null ? -1 : Number(a.i);
  return axis === -1 || axis === rank - 1;
}

/**
 * PyTorch module path of an exporter scope: `/layer1/layer1.0/cbam/ChannelGate/Sigmoid` ->
 * `layer1.0.cbam.ChannelGate` (torch.onnx.export writes one component per module, Sequential
 * children as `parent.index`). Empty when the node name has no scope.
 */
export function scopePath(nodeName: string | null | undefined): string {
  if (!nodeName || !nodeName.startsWith('/')) return '';
  const parts = nodeName.split('/').filter(Boolean);
  parts.pop(); // the op's own name
  let path = '';
  let prev = '';
  for (const c of parts) {
    if (prev && c.startsWith(`${prev}.`)) path += c.slice(prev.length);
    else path = path ? `${path}.${c}` : c;
    prev = c;
  }
  return path;
}

export interface NamedPart extends FoundPart {
  module: string;
}

/**
 * Module names: gates by the scope of the Mul that applies them (CBAM's two gates share
 * `layer1.0.cbam`), affinities by their own scope; a name that would hold the same map twice
 * takes the gate's own scope, then a number. A channel gate then a spatial gate in sibling
 * scopes are one module named after their parent.
 */
export function nameParts(parts: FoundPart[]): NamedPart[] {
  const used = new Set<string>();
  const out: NamedPart[] = [];
  parts.forEach((p, i) => {
    const c = p.candidate;
    const own = scopePath(c.op.name);
    const first = (c.type === 'gate' ? scopePath(c.mul.name) : own) || own || `attention${i + 1}`;
    let name = first;
    if (used.has(`${name}|${p.map}`) && own && own !== name) name = own;
    for (let k = 2; used.has(`${name}|${p.map}`); k++) name = `${first}#${k}`;
    used.add(`${name}|${p.map}`);
    out.push({ ...p, module: name });
  });
  // A spatial gate applied right after a channel gate, in sibling scopes (timm's CbamModule:
  // `se.channel`, `se.spatial`), is one CBAM: both take their common parent's name.
  for (const sp of out) {
    const c = sp.candidate;
    if (sp.kind !== 'spatial-gate' || c.type !== 'gate') continue;
    const ch = out.find((o) => o.kind === 'channel-gate' && o.candidate.type === 'gate' && o.candidate.mul.output?.[0] === c.feature);
    if (!ch || ch.module === sp.module) continue;
    const a = ch.module.split('.');
    const b = sp.module.split('.');
    let k = 0;
    while (k < a.length - 1 && k < b.length - 1 && a[k] === b[k]) k++;
    const parent = a.slice(0, k).join('.');
    if (k === a.length - 1 && k === b.length - 1 && parent && !out.some((o) => o.module === parent)) {
      ch.module = parent;
      sp.module = parent;
    }
  }
  return out;
}
