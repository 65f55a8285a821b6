// The ONNX operators the TensorFlow.js interpreter knows: the set the engine's emitters use
// plus what common CNN exports use. Semantics are ONNX's (opset 13-17, numpy broadcasting);
// layout handling is in values.ts. Each op runs inside the interpreter's tf.tidy.

import * as tf from '@tensorflow/tfjs-core';
import {
  asNhwc, broadcastNhwc, canonical, host, type HostValue, hostData, shapeOf, tensor, type TensorValue, type Value,
} from './values';

export type Attr = number | number[] | string | tf.Tensor | HostValue | undefined;

export interface OpNode {
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
  /** A Relu folded into this Conv / Gemm (its own node became an alias). */
  fusedRelu?: boolean;
  /** If / Loop: their subgraphs by attribute name (then_branch, else_branch, body). */
  subgraphs?: Record<string, Subgraph>;
  /** If / Loop: `inputs` from this index on are the outer values the subgraphs read. */
  implicitFrom?: number;
}

/** An ONNX subgraph (If branch, Loop body), run by the interpreter with its outer scope. */
export interface Subgraph {
  inputs: string[];
  outputs: string[];
  nodes: OpNode[];
  /** Values it reads from outer scopes (its nodes' and nested subgraphs'). */
  outer: string[];
}

/** A conv weight prepared once at load: [kh, kw, in/group, out] (regular) or [kh, kw, C, mult] (depthwise). */
export interface PreparedFilter {
  filter: tf.Tensor4D;
  depthwise: boolean;
}

export interface OpContext {
  filter(name: string): PreparedFilter | undefined;
  /** Gemm's B already transposed to [K, N], when it is a weight. */
  gemmB(name: string, transB: boolean): tf.Tensor2D | undefined;
  /** Whether explicit numeric padding works on this backend (tensorflow maps to 'same'/'valid' only). */
  numericPadding: boolean;
  /**
   * Runs for gradients: plain conv + bias + relu instead of tf.fused (whose gradient computes
   * the filter's too, eagerly: wasted work, and a kernel wasm does not have).
   */
  differentiable?: boolean;
}

type Op = (ctx: OpContext, node: OpNode, x: Array<Value | undefined>) => Value[];

const num = (a: Attr, d: number): number => (typeof a === 'number' ? a : d);
const ints = (a: Attr, d: number[]): number[] => (Array.isArray(a) ? a : d);
const str = (a: Attr, d: string): string => (typeof a === 'string' ? a : d);

function need(x: Array<Value | undefined>, i: number, node: OpNode): Value {
  const v = x[i];
  if (!v) throw new Error(`${node.op} "${node.name}" has no input ${i}`);
  return v;
}

const normAxis = (a: number, rank: number): number => (a < 0 ? a + rank : a);

/** Canonical axis of a 4-D value -> its axis in the NHWC tensor. */
const NHWC_AXIS = [0, 3, 1, 2];

function unary(f: (t: tf.Tensor, node: OpNode) => tf.Tensor, hostF?: (v: number) => number, hostType?: HostValue['type']): Op {
  return (_ctx, node, x) => {
    const v = need(x, 0, node);
    // Shape arithmetic stays on the host (a tensor there would be read back: impossible on WebGPU in Node).
    if (v.kind === 'host' && hostF) return [host(v.data.map(hostF), v.dims, hostType ?? v.type)];
    if (v.kind === 'host') return [tensor(f(canonical(v), node))];
    return [tensor(f(v.t, node), v.nhwc)];
  };
}

function hostBinary(op: (a: number, b: number) => number, a: HostValue, b: HostValue): HostValue | null {
  // Integer arithmetic stays integer: ONNX Div of ints truncates (7 / 2 = 3).
  const f = a.type === 'int' && b.type === 'int' ? (u: number, v: number) => Math.trunc(op(u, v)) : op;
  // Same shape, or one scalar; anything that broadcasts otherwise ([H, 1] with [1, H]) goes to tf.
  const sameShape = a.dims.length === b.dims.length && a.dims.every((d, i) => d === b.dims[i]);
  if (sameShape) return host(a.data.map((v, i) => f(v, b.data[i] as number)), a.dims, a.type);
  if (b.data.length === 1) return host(a.data.map((v) => f(v, b.data[0] as number)), a.dims, a.type);
  if (a.data.length === 1) return host(b.data.map((v) => f(a.data[0] as number, v)), b.dims, b.type);
  return null;
}

function elementwise(f: (...t: tf.Tensor[]) => tf.Tensor, hostF?: (a: number, b: number) => number): Op {
  return (_ctx, node, x) => {
    const vs = node.inputs.map((_, i) => need(x, i, node));
    if (hostF && vs.length === 2 && vs[0]?.kind === 'host' && vs[1]?.kind === 'host') {
      const r = hostBinary(hostF, vs[0], vs[1]);
      if (r) return [r];
    }
    if (vs.some((v) => v.kind === 'tensor' && v.nhwc) && vs.every((v) => shapeOf(v).length <= 4)) {
      return [tensor(f(...vs.map(broadcastNhwc)), true)];
    }
    return [tensor(f(...vs.map(canonical)))];
  };
}

function pads2d(node: OpNode, kernel: number[], strides: number[], dilations: number[], inH: number, inW: number): [number, number, number, number] {
  const autoPad = str(node.attrs.auto_pad, 'NOTSET');
  if (autoPad === 'NOTSET') {
    const p = ints(node.attrs.pads, [0, 0, 0, 0]);
    return [p[0] ?? 0, p[1] ?? 0, p[2] ?? 0, p[3] ?? 0];
  }
  if (autoPad === 'VALID') return [0, 0, 0, 0];
  // SAME_UPPER / SAME_LOWER: output = ceil(in / stride).
  const total = (size: number, k: number, s: number, d: number): number => {
    const out = Math.ceil(size / s);
    return Math.max(0, (out - 1) * s + (k - 1) * d + 1 - size);
  };
  const th = total(inH, kernel[0] as number, strides[0] as number, dilations[0] as number);
  const tw = total(inW, kernel[1] as number, strides[1] as number, dilations[1] as number);
  const lower = autoPad === 'SAME_LOWER';
  const split = (t: number): [number, number] => (lower ? [Math.ceil(t / 2), Math.floor(t / 2)] : [Math.floor(t / 2), Math.ceil(t / 2)]);
  const [top, bottom] = split(th);
  const [left, right] = split(tw);
  return [top, left, bottom, right];
}

/** Padding for tf conv/pool: a number when symmetric, else explicit; or the input padded when the backend only knows 'valid'. */
function padFor(ctx: OpContext, x: tf.Tensor4D, p: [number, number, number, number], fill = 0): { x: tf.Tensor4D; pad: number | 'valid' | [[number, number], [number, number], [number, number], [number, number]] } {
  const [t, l, b, r] = p;
  if (t === 0 && l === 0 && b === 0 && r === 0) return { x, pad: 'valid' };
  if (!ctx.numericPadding || fill !== 0) {
    return { x: tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]], fill), pad: 'valid' };
  }
  if (t === l && l === b && b === r) return { x, pad: t };
  return { x, pad: [[0, 0], [t, b], [l, r], [0, 0]] };
}

/** A 1-D conv ([N, C, L], ECA's conv over channels) as a 2-D conv of height 1. */
const conv1d: Op = (ctx, node, x) => {
  const v = canonical(need(x, 0, node));
  const [n, c, l] = v.shape as [number, number, number];
  const w = canonical(need(x, 1, node));
  const [o, i, k] = w.shape as [number, number, number];
  const pads = ints(node.attrs.pads, [0, 0]);
  const attrs = {
    ...node.attrs,
    kernel_shape: [1, k],
    pads: [0, pads[0] ?? 0, 0, pads[1] ?? 0],
    strides: [1, ints(node.attrs.strides, [1])[0] ?? 1],
    dilations: [1, ints(node.attrs.dilations, [1])[0] ?? 1],
  };
  const inputs = [...node.inputs];
  inputs[1] = `${inputs[1] as string}#1d`; // not the cached 2-D filter of that name
  const [y] = conv(ctx, { ...node, attrs, inputs }, [tensor(tf.reshape(v, [n, c, 1, l])), tensor(tf.reshape(w, [o, i, 1, k])), ...x.slice(2)]);
  const out = canonical(y as Value);
  return [tensor(tf.reshape(out, [n, o, out.shape[3] as number]))];
};

const conv: Op = (ctx, node, x) => {
  if (shapeOf(need(x, 0, node)).length === 3) return conv1d(ctx, node, x);
  const input = asNhwc(need(x, 0, node));
  const wName = node.inputs[1] as string;
  const explicit = explicitDilation(node, ctx.differentiable === true);
  const prepared = ctx.filter(wName) ?? prepareFilter(canonical(need(x, 1, node)), num(node.attrs.group, 1), explicit);
  const bias = x[2] ? canonical(x[2]) as tf.Tensor1D : undefined;
  const [kh, kw] = prepared.filter.shape;
  const strides = ints(node.attrs.strides, [1, 1]);
  // A filter dilated explicitly (explicitDilation) is then run undilated.
  const dilations = explicit ? [1, 1] : ints(node.attrs.dilations, [1, 1]);
  const [, h, w] = input.shape;
  const { x: padded, pad } = padFor(ctx, input, pads2d(node, [kh, kw], strides, dilations, h, w));
  const activation = node.fusedRelu ? 'relu' : 'linear';
  const s = strides as [number, number];
  const d = dilations as [number, number];
  const group = num(node.attrs.group, 1);
  if (prepared.depthwise) {
    // tf's depthwise conv takes no explicit (asymmetric) padding: pad the input instead.
    const [dx, dpad] = Array.isArray(pad) ? [tf.pad(padded, pad), 'valid' as const] : [padded, pad];
    return [tensor(tf.fused.depthwiseConv2d({ x: dx, filter: prepared.filter, strides: s, pad: dpad, dilations: d, bias, activation }), true)];
  }
  if (group === 1 && ctx.differentiable) {
    let y: tf.Tensor4D = tf.conv2d(padded, prepared.filter, s, pad, 'NHWC', d);
    if (bias) y = tf.add(y, bias);
    return [tensor(activation === 'relu' ? tf.relu(y) : y, true)];
  }
  if (group === 1) {
    return [tensor(tf.fused.conv2d({ x: padded, filter: prepared.filter, strides: s, pad, dilations: d, bias, activation }), true)];
  }
  // Grouped: one conv per group on its slice of channels, concatenated.
  const inPer = prepared.filter.shape[2];
  const outPer = prepared.filter.shape[3] / group;
  const parts: tf.Tensor4D[] = [];
  for (let gi = 0; gi < group; gi++) {
    const xs = tf.slice(padded, [0, 0, 0, gi * inPer], [-1, -1, -1, inPer]);
    const fs = tf.slice(prepared.filter, [0, 0, 0, gi * outPer], [-1, -1, -1, outPer]);
    const bs = bias ? tf.slice(bias, [gi * outPer], [outPer]) : undefined;
    parts.push(tf.fused.conv2d({ x: xs, filter: fs, strides: s, pad, dilations: d, bias: bs, activation }));
  }
  return [tensor(tf.concat(parts, 3), true)];
};

/**
 * tf convolutions take a stride or a dilation, not both (SK's dilated path with stride 2), and
 * have no gradient for a dilated one: such a conv runs undilated with the holes written into
 * its filter (every dilated conv of a differentiable run). The dilation, else null.
 */
export function explicitDilation(node: OpNode, differentiable = false): [number, number] | null {
  const d = ints(node.attrs.dilations, [1, 1]);
  return (differentiable || ints(node.attrs.strides, [1, 1]).some((v) => v > 1)) && d.some((v) => v > 1) ? [d[0] ?? 1, d[1] ?? 1] : null;
}

/**
 * A tf filter [kh, kw, a, b] with dilation d made explicit: zeros between the taps. With tf
 * ops only (no read back: GPU backends cannot read synchronously): each tap followed by d - 1
 * zero rows / columns, the trailing ones cut off.
 */
function dilateFilter(f: tf.Tensor4D, [dh, dw]: [number, number]): tf.Tensor4D {
  // Rank 4 at most (tfjs's WebGPU shaders index vectors up to 4 wide): rows, then columns.
  const [kh, kw, ci, co] = f.shape;
  const rows = tf.pad(tf.reshape(f, [kh, 1, kw * ci * co]), [[0, 0], [0, dh - 1], [0, 0]]);
  const eh = (kh - 1) * dh + 1;
  const tall = tf.slice(tf.reshape(rows, [kh * dh, kw, ci, co]), [0, 0, 0, 0], [eh, kw, ci, co]);
  const cols = tf.pad(tf.reshape(tall, [eh * kw, 1, ci * co]), [[0, 0], [0, dw - 1], [0, 0]]);
  return tf.slice(tf.reshape(cols, [eh, kw * dw, ci, co]) as tf.Tensor4D, [0, 0, 0, 0], [eh, (kw - 1) * dw + 1, ci, co]);
}

/** ONNX conv weight [out, in/group, kh, kw] as a tf filter. */
export function prepareFilter(w: tf.Tensor, group: number, dilation: [number, number] | null = null): PreparedFilter {
  const p = prepareUndilated(w, group);
  return dilation ? { ...p, filter: dilateFilter(p.filter, dilation) } : p;
}

function prepareUndilated(w: tf.Tensor, group: number): PreparedFilter {
  const [out, inPer] = w.shape as [number, number, number, number];
  if (group > 1 && inPer === 1) {
    // Depthwise: output channel o = c * mult + m, the same order as tf's depthwise filter [kh, kw, C, mult].
    const mult = out / group;
    const t = tf.transpose(w, [2, 3, 0, 1]) as tf.Tensor4D; // [kh, kw, out, 1]
    return { filter: tf.reshape(t, [t.shape[0], t.shape[1], group, mult]), depthwise: true };
  }
  return { filter: tf.transpose(w, [2, 3, 1, 0]) as tf.Tensor4D, depthwise: false };
}

/** Extra padding at the end that ceil_mode's last window needs (0 when it adds none). */
function ceilExtra(size: number, k: number, s: number, before: number, after: number): number {
  const padded = size + before + after;
  let out = Math.ceil((padded - k) / s) + 1;
  if ((out - 1) * s >= size + before) out--; // the last window must start inside the input or its left pad
  return Math.max(0, (out - 1) * s + k - padded);
}

function pool(kind: 'max' | 'avg'): Op {
  return (ctx, node, x) => {
    const input = asNhwc(need(x, 0, node));
    const kernel = ints(node.attrs.kernel_shape, [1, 1]) as [number, number];
    const strides = ints(node.attrs.strides, [1, 1]) as [number, number];
    if (ints(node.attrs.dilations, [1, 1]).some((d) => d !== 1)) throw new Error(`${node.op} "${node.name}": dilated pooling is not supported`);
    const [, h, w] = input.shape;
    const p = pads2d(node, kernel, strides, [1, 1], h, w);
    // ceil_mode (timm's average-pool downsampling): windows that start inside the input may
    // run past its end; those parts are padding that is never counted (PyTorch's rule).
    const ext = num(node.attrs.ceil_mode, 0) !== 0
      ? [ceilExtra(h, kernel[0], strides[0], p[0], p[2]), ceilExtra(w, kernel[1], strides[1], p[1], p[3])] : [0, 0];
    if ((ext[0] as number) > 0 || (ext[1] as number) > 0) {
      const all: [number, number][] = [[0, 0], [p[0], p[2] + (ext[0] as number)], [p[1], p[3] + (ext[1] as number)], [0, 0]];
      if (kind === 'max') return [tensor(tf.maxPool(tf.pad(input, all, -Infinity), kernel, strides, 'valid'), true)];
      const includePad = num(node.attrs.count_include_pad, 0) === 1;
      // Which cells a window counts: the input, the explicit pads when counted, never the extension.
      let mask: tf.Tensor4D = tf.ones([1, h, w, 1]);
      mask = includePad ? tf.pad(mask, [[0, 0], [p[0], p[2]], [p[1], p[3]], [0, 0]], 1) : tf.pad(mask, [[0, 0], [p[0], p[2]], [p[1], p[3]], [0, 0]]);
      mask = tf.pad(mask, [[0, 0], [0, ext[0] as number], [0, ext[1] as number], [0, 0]]);
      const sum = tf.avgPool(tf.pad(input, all), kernel, strides, 'valid');
      return [tensor(tf.div(sum, tf.avgPool(mask, kernel, strides, 'valid')), true)];
    }
    if (kind === 'max') {
      const { x: padded, pad } = padFor(ctx, input, p, ctx.numericPadding ? 0 : -Infinity);
      return [tensor(tf.maxPool(padded, kernel, strides, pad as never), true)];
    }
    // count_include_pad=1 (PyTorch's default) counts the zeros: pad first, pool 'valid'.
    const includePad = num(node.attrs.count_include_pad, 0) === 1;
    if (includePad || !ctx.numericPadding) {
      const padded = p.some((v) => v > 0) ? tf.pad(input, [[0, 0], [p[0], p[2]], [p[1], p[3]], [0, 0]]) : input;
      if (!includePad && p.some((v) => v > 0)) throw new Error(`${node.op} "${node.name}": padding that excludes pads needs the wasm or cpu backend`);
      return [tensor(tf.avgPool(padded, kernel, strides, 'valid'), true)];
    }
    const { x: padded, pad } = padFor(ctx, input, p);
    return [tensor(tf.avgPool(padded, kernel, strides, pad as never), true)];
  };
}

function globalPool(kind: 'max' | 'avg'): Op {
  // A full-size pooling window: reducing axes 1 and 2 of an NHWC tensor makes the wasm
  // backend transpose the whole activation first; a window does not.
  return (_ctx, node, x) => {
    const input = asNhwc(need(x, 0, node));
    const [, h, w] = input.shape;
    return [tensor(kind === 'max' ? tf.maxPool(input, [h, w], 1, 'valid') : tf.avgPool(input, [h, w], 1, 'valid'), true)];
  };
}

function reduce(f: (t: tf.Tensor, axes: number[], keep: boolean) => tf.Tensor): Op {
  return (_ctx, node, x) => {
    const v = need(x, 0, node);
    const rank = shapeOf(v).length;
    let axes = Array.isArray(node.attrs.axes) ? node.attrs.axes : x[1] ? hostData(x[1]) : [];
    if (axes.length === 0) {
      if (num(node.attrs.noop_with_empty_axes, 0) === 1) return [v.kind === 'tensor' ? tensor(tf.clone(v.t), v.nhwc) : v];
      axes = Array.from({ length: rank }, (_, i) => i);
    }
    axes = axes.map((a) => normAxis(a, rank));
    const keep = num(node.attrs.keepdims, 1) === 1;
    if (v.kind === 'tensor' && v.nhwc) {
      const kept = [0, 1, 2, 3].filter((a) => !axes.includes(a));
      // Without keepdims the survivors must come out in ONNX order: true unless C stays with H or W.
      const orderSafe = keep || !(kept.includes(1) && (kept.includes(2) || kept.includes(3)));
      if (orderSafe) return [tensor(f(v.t, axes.map((a) => NHWC_AXIS[a] as number), keep), keep)];
    }
    return [tensor(f(canonical(v), axes, keep))];
  };
}

const reshape: Op = (_ctx, node, x) => {
  const v = need(x, 0, node);
  const inShape = shapeOf(v);
  const target = hostData(need(x, 1, node));
  const allowZero = num(node.attrs.allowzero, 0) === 1;
  const dims = target.map((d, i) => (d === 0 && !allowZero ? inShape[i] as number : d));
  if (v.kind === 'host') {
    const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    return [host(v.data, dims.map((d) => (d === -1 ? v.data.length / known : d)), v.type)];
  }
  return [tensor(tf.reshape(canonical(v), dims))];
};

/** ONNX Split: sizes from the `split` input (opset 13+) or attribute, else equal parts (num_outputs or one per output). */
const split: Op = (_ctx, node, x) => {
  const v = canonical(need(x, 0, node));
  const axis = normAxis(num(node.attrs.axis, 0), v.shape.length);
  const sizes = x[1] ? hostData(x[1]) : Array.isArray(node.attrs.split) ? node.attrs.split : null;
  const parts = tf.split(v, sizes ?? num(node.attrs.num_outputs, node.outputs.length), axis);
  return parts.map((t) => tensor(t));
};

/** ONNX Expand: broadcast to the bidirectional broadcast of the input's shape and the given one. */
const expand: Op = (_ctx, node, x) => {
  const v = need(x, 0, node);
  const target = hostData(need(x, 1, node));
  const shape = tf.broadcast_util.assertAndGetBroadcastShape(shapeOf(v), target);
  if (v.kind === 'host' && v.data.length === shape.reduce((a, b) => a * b, 1)) return [host(v.data, shape, v.type)];
  return [tensor(tf.broadcastTo(canonical(v), shape))];
};

/** ONNX Tile (torch's repeat, EMANet's bases repeated over the batch). */
const tile: Op = (_ctx, node, x) => [tensor(tf.tile(canonical(need(x, 0, node)), hostData(need(x, 1, node))))];

/**
 * ONNX GridSample (opset 16): X [N, C, H, W] sampled at grid [N, H', W', 2] ((x, y) in [-1, 1],
 * -1 the left / top edge: of the first pixel's centre with align_corners, of the image
 * otherwise). Bilinear or nearest (half to even, as ONNX Runtime and PyTorch); zeros or border
 * padding. Gathers on the NHWC rows, so the gradient to X flows (Grad-CAM through an STN).
 */
const gridSample: Op = (_ctx, node, x) => {
  const mode = str(node.attrs.mode, 'bilinear');
  const padding = str(node.attrs.padding_mode, 'zeros');
  const align = num(node.attrs.align_corners, 0) === 1;
  if (!['bilinear', 'linear', 'nearest'].includes(mode)) throw new Error(`GridSample mode "${mode}" (node "${node.name}") is not supported by the tfjs runtime (bilinear and nearest are).`);
  if (!['zeros', 'border'].includes(padding)) throw new Error(`GridSample padding_mode "${padding}" (node "${node.name}") is not supported by the tfjs runtime (zeros and border are).`);
  const input = asNhwc(need(x, 0, node));
  const [n, h, w, c] = input.shape;
  const grid = canonical(need(x, 1, node));
  const [, ho, wo] = grid.shape as [number, number, number, number];
  const rows = tf.reshape(input, [n * h * w, c]);
  const [gx, gy] = tf.split(tf.reshape(grid, [n, ho * wo, 2]), 2, 2).map((t) => tf.reshape(t, [n, ho * wo]));
  // Pixel coordinates (0 = the first pixel's centre).
  const unnorm = (g: tf.Tensor, size: number): tf.Tensor => (align
    ? tf.mul(tf.add(g, 1), (size - 1) / 2)
    : tf.div(tf.sub(tf.mul(tf.add(g, 1), size), 1), 2));
  let ix = unnorm(gx as tf.Tensor, w);
  let iy = unnorm(gy as tf.Tensor, h);
  if (padding === 'border') {
    ix = tf.clipByValue(ix, 0, w - 1);
    iy = tf.clipByValue(iy, 0, h - 1);
  }
  const base = tf.reshape(tf.mul(tf.range(0, n, 1, 'int32'), h * w), [n, 1]);
  // The rows of corner (xi, yi), and 0 where it falls outside the map (zeros padding).
  const corner = (xi: tf.Tensor, yi: tf.Tensor, weight: tf.Tensor): tf.Tensor => {
    const inside = tf.cast(tf.logicalAnd(tf.logicalAnd(tf.greaterEqual(xi, 0), tf.lessEqual(xi, w - 1)),
      tf.logicalAnd(tf.greaterEqual(yi, 0), tf.lessEqual(yi, h - 1))), 'float32');
    const index = tf.add(base, tf.add(tf.mul(tf.cast(tf.clipByValue(yi, 0, h - 1), 'int32'), w), tf.cast(tf.clipByValue(xi, 0, w - 1), 'int32')));
    const values = tf.reshape(tf.gather(rows, tf.cast(tf.reshape(index, [-1]), 'int32')), [n, ho * wo, c]);
    return tf.mul(values, tf.expandDims(tf.mul(weight, inside), 2));
  };
  let out: tf.Tensor;
  if (mode === 'nearest') {
    out = corner(tf.round(ix), tf.round(iy), tf.onesLike(ix));
  } else {
    const x0 = tf.floor(ix);
    const y0 = tf.floor(iy);
    const x1 = tf.add(x0, 1);
    const y1 = tf.add(y0, 1);
    const wx1 = tf.sub(ix, x0);
    const wy1 = tf.sub(iy, y0);
    const wx0 = tf.sub(1, wx1);
    const wy0 = tf.sub(1, wy1);
    out = tf.addN([
      corner(x0, y0, tf.mul(wx0, wy0)), corner(x1, y0, tf.mul(wx1, wy0)),
      corner(x0, y1, tf.mul(wx0, wy1)), corner(x1, y1, tf.mul(wx1, wy1)),
    ]);
  }
  return [tensor(tf.reshape(out, [n, ho, wo, c]), true)];
};

/** The axis moved last (and back): tfjs's topk works on the last axis, GatherElements is done there too. */
function lastAxisPerm(rank: number, axis: number): number[] | null {
  if (axis === rank - 1) return null;
  const perm = Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis);
  return [...perm.slice(0, axis), ...perm.slice(axis), axis];
}
const toLast = (t: tf.Tensor, perm: number[] | null): tf.Tensor => (perm ? tf.transpose(t, perm) : t);
const fromLast = (t: tf.Tensor, perm: number[] | null): tf.Tensor => {
  if (!perm) return t;
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => { inverse[p] = i; });
  return tf.transpose(t, inverse);
};

/** ONNX ArgMax / ArgMin: int indices along `axis`, the first extreme (or the last with select_last_index). */
function argExtreme(max: boolean): Op {
  return (_ctx, node, x) => {
    const v = canonical(need(x, 0, node));
    const rank = v.shape.length;
    const axis = normAxis(num(node.attrs.axis, 0), rank);
    const last = num(node.attrs.select_last_index, 0) === 1;
    const n = v.shape[axis] as number;
    const src = last ? tf.reverse(v, axis) : v;
    let idx: tf.Tensor = max ? tf.argMax(src, axis) : tf.argMin(src, axis);
    if (last) idx = tf.sub(tf.scalar(n - 1, 'int32'), idx);
    if (num(node.attrs.keepdims, 1) === 1) idx = tf.expandDims(idx, axis);
    return [tensor(idx)];
  };
}

/** ONNX TopK: the k largest (or smallest) values along `axis` and their int indices, sorted. */
const topK: Op = (_ctx, node, x) => {
  const v = canonical(need(x, 0, node));
  const k = hostData(need(x, 1, node))[0] as number;
  const axis = normAxis(num(node.attrs.axis, -1), v.shape.length);
  const largest = num(node.attrs.largest, 1) === 1;
  const perm = lastAxisPerm(v.shape.length, axis);
  const src = toLast(v, perm);
  const r = tf.topk(largest ? src : tf.neg(src), k, true);
  const values = largest ? r.values : tf.neg(r.values);
  return [tensor(fromLast(values, perm)), tensor(fromLast(r.indices, perm))];
};

/** ONNX GatherElements: out[i][j]... = data[...][index[i][j]...][...] along `axis` (negative indices wrap). */
const gatherElements: Op = (_ctx, node, x) => {
  const data = canonical(need(x, 0, node));
  const index = canonical(need(x, 1, node));
  const rank = data.shape.length;
  const axis = normAxis(num(node.attrs.axis, 0), rank);
  const perm = lastAxisPerm(rank, axis);
  const d = toLast(data, perm);
  const i = toLast(tf.cast(index, 'int32'), perm);
  const n = d.shape[rank - 1] as number;
  const k = i.shape[rank - 1] as number;
  const rows = i.size / k;
  // The leading dims of the index must fit in the data's (ONNX: same rank, index dims <= data dims).
  const lead = i.shape.slice(0, -1);
  const dLead = tf.slice(d, new Array(rank).fill(0), [...lead, n]);
  const wrapped = tf.where(tf.less(i, 0), tf.add(i, tf.scalar(n, 'int32')), i);
  const flat = tf.add(tf.reshape(wrapped, [rows, k]), tf.reshape(tf.mul(tf.range(0, rows, 1, 'int32'), tf.scalar(n, 'int32')), [rows, 1]));
  const out = tf.reshape(tf.gather(tf.reshape(dLead, [-1]), tf.reshape(flat, [-1])), i.shape);
  return [tensor(fromLast(out, perm))];
};

/** ONNX Mod with fmod = 1: C's fmod, a - trunc(a / b) b, the sign of the dividend. */
const fmod = elementwise((a, b) => {
  const q = tf.div(a as tf.Tensor, b as tf.Tensor);
  return tf.sub(a as tf.Tensor, tf.mul(tf.mul(tf.sign(q), tf.floor(tf.abs(q))), b as tf.Tensor));
}, (a, b) => a % b);
/** ONNX Mod with fmod = 0 (integers): the sign of the divisor, as Python's %. */
const floorMod = elementwise((a, b) => tf.mod(a as tf.Tensor, b as tf.Tensor), (a, b) => ((a % b) + b) % b);

/** ONNX Einsum through tf.einsum (two operands at most, each letter once per operand: what tfjs supports). */
const einsum: Op = (_ctx, node, x) => {
  const equation = str(node.attrs.equation, '').replace(/\s+/g, '');
  const vs = node.inputs.map((_, i) => canonical(need(x, i, node)));
  try {
    return [tensor(tf.einsum(equation, ...vs))];
  } catch (err) {
    throw new Error(`Einsum "${equation}" (node "${node.name}") is beyond what the tfjs runtime's einsum supports: ${(err as Error).message}`);
  }
};

/** Row-major `data` of shape `dims` with its axes permuted by `perm`. */
function transposeHost(data: number[], dims: number[], perm: number[]): number[] {
  const outDims = perm.map((p) => dims[p] as number);
  const strides = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
  const out = new Array<number>(data.length);
  const idx = new Array<number>(outDims.length).fill(0);
  for (let o = 0; o < data.length; o++) {
    let src = 0;
    for (let k = 0; k < perm.length; k++) src += (idx[k] as number) * (strides[perm[k] as number] as number);
    out[o] = data[src] as number;
    for (let k = outDims.length - 1; k >= 0; k--) {
      idx[k] = (idx[k] as number) + 1;
      if ((idx[k] as number) < (outDims[k] as number)) break;
      idx[k] = 0;
    }
  }
  return out;
}

const transpose: Op = (_ctx, node, x) => {
  const v = need(x, 0, node);
  const rank = shapeOf(v).length;
  const perm = ints(node.attrs.perm, Array.from({ length: rank }, (_, i) => rank - 1 - i));
  // Host values (pads, shapes: torch exports F.pad's pads through a Transpose) stay on the host;
  // the wasm backend's transpose of an int32 tensor returns its bits as float32.
  if (v.kind === 'host') return [host(transposeHost(v.data, v.dims, perm), perm.map((p) => v.dims[p] as number), v.type)];
  // NCHW -> NHWC of a plain tensor is the same data as an NHWC-held value, and back.
  if (v.kind === 'tensor' && !v.nhwc && rank === 4 && perm.join() === '0,3,1,2') return [tensor(tf.clone(v.t), true)];
  if (v.kind === 'tensor' && v.nhwc && perm.join() === '0,2,3,1') return [tensor(tf.clone(v.t))];
  return [tensor(tf.transpose(canonical(v), perm))];
};

const gemm: Op = (ctx, node, x) => {
  const transA = num(node.attrs.transA, 0) === 1;
  const transB = num(node.attrs.transB, 0) === 1;
  const alpha = num(node.attrs.alpha, 1);
  const beta = num(node.attrs.beta, 1);
  let a = canonical(need(x, 0, node)) as tf.Tensor2D;
  if (transA) a = tf.transpose(a);
  const b = ctx.gemmB(node.inputs[1] as string, transB) ?? (() => {
    const raw = canonical(need(x, 1, node)) as tf.Tensor2D;
    return transB ? tf.transpose(raw) : raw;
  })();
  if (alpha !== 1) a = tf.mul(a, alpha);
  let c = x[2] ? canonical(x[2]) : undefined;
  if (c && beta !== 1) c = tf.mul(c, beta);
  // The wasm backend's fused matMul takes a bias of shape [N] only (a [1] bias lands on column 0): add other Cs after it.
  if (c && (c.rank !== 1 || c.shape[0] !== b.shape[1])) {
    const y = tf.add(tf.matMul(a, b), c);
    return [tensor(node.fusedRelu ? tf.relu(y) : y)];
  }
  return [tensor(tf.fused.matMul({ a, b, bias: c, activation: node.fusedRelu ? 'relu' : 'linear' }))];
};

const matMul: Op = (_ctx, node, x) => {
  let a = canonical(need(x, 0, node));
  let b = canonical(need(x, 1, node));
  // numpy semantics: a 1-D A is a row [1, K], a 1-D B a column [K, 1], and that 1 is dropped from the result.
  const aVec = a.rank === 1;
  const bVec = b.rank === 1;
  if (aVec) a = tf.expandDims(a, 0);
  if (bVec) b = tf.expandDims(b, 1);
  // tf's batched matMul wants equal ranks: give the lower-rank side leading 1s (numpy semantics).
  while (a.rank < b.rank) a = tf.expandDims(a, 0);
  while (b.rank < a.rank) b = tf.expandDims(b, 0);
  let y = tf.matMul(a, b);
  if (aVec) y = tf.squeeze(y, [y.rank - 2]);
  if (bVec) y = tf.squeeze(y, [y.rank - 1]);
  return [tensor(y)];
};

const softmax: Op = (_ctx, node, x) => {
  const t = canonical(need(x, 0, node));
  const axis = normAxis(num(node.attrs.axis, -1), t.rank);
  if (axis === t.rank - 1) return [tensor(tf.softmax(t))];
  const perm = Array.from({ length: t.rank }, (_, i) => i);
  perm[axis] = t.rank - 1;
  perm[t.rank - 1] = axis;
  return [tensor(tf.transpose(tf.softmax(tf.transpose(t, perm)), perm))];
};

const concat: Op = (_ctx, node, x) => {
  const vs = node.inputs.map((_, i) => need(x, i, node));
  const rank = shapeOf(vs[0] as Value).length;
  const axis = normAxis(num(node.attrs.axis, 0), rank);
  if (vs.every((v) => v.kind === 'host')) {
    if (rank !== 1) throw new Error(`Concat "${node.name}": host values of rank ${rank}`);
    return [host(vs.flatMap((v) => (v as HostValue).data), [vs.reduce((n, v) => n + (v as HostValue).data.length, 0)], (vs[0] as HostValue).type)];
  }
  if (rank === 4 && vs.some((v) => v.kind === 'tensor' && v.nhwc)) {
    return [tensor(tf.concat(vs.map(asNhwc), NHWC_AXIS[axis]), true)];
  }
  return [tensor(tf.concat(vs.map(canonical), axis))];
};

function axesOf(node: OpNode, x: Array<Value | undefined>): number[] | null {
  if (Array.isArray(node.attrs.axes)) return node.attrs.axes;
  return x[1] ? hostData(x[1]) : null;
}

const squeeze: Op = (_ctx, node, x) => {
  const v = need(x, 0, node);
  const shape = shapeOf(v);
  const axes = (axesOf(node, x) ?? shape.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => normAxis(a, shape.length));
  const dims = shape.filter((_, i) => !axes.includes(i));
  if (v.kind === 'host') return [host(v.data, dims, v.type)];
  return [tensor(tf.reshape(canonical(v), dims))];
};

const unsqueeze: Op = (_ctx, node, x) => {
  const v = need(x, 0, node);
  const shape = shapeOf(v);
  const axes = axesOf(node, x) ?? [];
  const rank = shape.length + axes.length;
  const norm = axes.map((a) => normAxis(a, rank));
  const dims: number[] = [];
  let src = 0;
  for (let i = 0; i < rank; i++) dims.push(norm.includes(i) ? 1 : shape[src++] as number);
  if (v.kind === 'host') return [host(v.data, dims, v.type)];
  return [tensor(tf.reshape(canonical(v), dims))];
};

const shapeOp: Op = (_ctx, node, x) => {
  const shape = shapeOf(need(x, 0, node));
  const start = normAxis(num(node.attrs.start, 0), shape.length);
  const end = node.attrs.end === undefined ? shape.length : normAxis(num(node.attrs.end, shape.length), shape.length);
  const s = shape.slice(start, end);
  return [host(s, [s.length], 'int')];
};

const gather: Op = (_ctx, node, x) => {
  const data = need(x, 0, node);
  const idx = need(x, 1, node);
  const shape = shapeOf(data);
  const axis = normAxis(num(node.attrs.axis, 0), shape.length);
  if (data.kind === 'host' && idx.kind === 'host' && shape.length === 1) {
    const n = shape[0] as number;
    return [host(idx.data.map((i) => data.data[i < 0 ? i + n : i] as number), idx.dims, data.type)];
  }
  const n = shape[axis] as number;
  const indices = hostData(idx).map((i) => (i < 0 ? i + n : i));
  const t = tf.gather(canonical(data), tf.tensor(indices, shapeOf(idx), 'int32'), axis);
  return [tensor(t)];
};

const cast: Op = (_ctx, node, x) => {
  const v = need(x, 0, node);
  const to = num(node.attrs.to, 1);
  const type = to === 1 || to === 10 || to === 11 ? 'float' : to === 9 ? 'bool' : 'int';
  if (v.kind === 'host') return [host(type === 'int' ? v.data.map(Math.trunc) : v.data, v.dims, type)];
  const dtype = type === 'float' ? 'float32' : type === 'bool' ? 'bool' : 'int32';
  return [tensor(castTo(v.t, dtype), v.nhwc)];
};

/** tf.cast, except that `bool` is `x != 0` (the wasm backend's float -> bool cast truncates to a byte: 0.5 -> false). */
function castTo(t: tf.Tensor, dtype: 'float32' | 'int32' | 'bool'): tf.Tensor {
  return dtype === 'bool' && t.dtype !== 'bool' ? tf.notEqual(t, 0) : tf.cast(t, dtype);
}

const where: Op = (_ctx, node, x) => {
  const cond = need(x, 0, node);
  // A host scalar condition (the bypass switches) selects a branch without computing a blend;
  // the result still has the broadcast shape of all three inputs, as ONNX defines it.
  if (cond.kind === 'host' && cond.data.length === 1) {
    const chosen = need(x, cond.data[0] ? 1 : 2, node);
    const other = need(x, cond.data[0] ? 2 : 1, node);
    const shape = tf.broadcast_util.assertAndGetBroadcastShape(shapeOf(chosen), shapeOf(other));
    if (shape.join() === shapeOf(chosen).join()) return [chosen.kind === 'tensor' ? tensor(tf.clone(chosen.t), chosen.nhwc) : chosen];
    return [tensor(tf.broadcastTo(canonical(chosen), shape))];
  }
  // Shape arithmetic (torch's expand exports Where(Equal(shape, -1), 1, shape)) stays on the
  // host, as the other shape ops do: a GPU backend cannot read a tensor back synchronously.
  const b = need(x, 2, node);
  const a = need(x, 1, node);
  if (cond.kind === 'host' && a.kind === 'host' && b.kind === 'host') {
    const n = Math.max(cond.data.length, a.data.length, b.data.length);
    const at = (v: HostValue, i: number) => v.data[v.data.length === 1 ? 0 : i] as number;
    if ([cond, a, b].every((v) => v.data.length === 1 || v.data.length === n)) {
      const dims = [cond, a, b].find((v) => v.data.length === n)?.dims ?? [];
      return [host(Array.from({ length: n }, (_, i) => (at(cond, i) ? at(a, i) : at(b, i))), dims, a.type)];
    }
  }
  return elementwise((c, t, f) => tf.where(castTo(c as tf.Tensor, 'bool'), t as tf.Tensor, f as tf.Tensor))(_ctx, node, x);
};

const layerNorm: Op = (_ctx, node, x) => {
  const t = canonical(need(x, 0, node));
  const axis = normAxis(num(node.attrs.axis, -1), t.rank);
  const eps = num(node.attrs.epsilon, 1e-5);
  const axes = Array.from({ length: t.rank - axis }, (_, i) => axis + i);
  const { mean, variance } = tf.moments(t, axes, true);
  let y = tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, eps)));
  y = tf.mul(y, canonical(need(x, 1, node)));
  if (x[2]) y = tf.add(y, canonical(x[2]));
  return [tensor(y)];
};

const batchNorm: Op = (_ctx, node, x) => {
  const v = need(x, 0, node);
  const eps = num(node.attrs.epsilon, 1e-5);
  const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => canonical(need(x, i, node)));
  const k = tf.div(scale as tf.Tensor, tf.sqrt(tf.add(variance as tf.Tensor, eps)));
  const shift = tf.sub(bias as tf.Tensor, tf.mul(mean as tf.Tensor, k));
  if (v.kind === 'tensor' && v.nhwc) return [tensor(tf.add(tf.mul(v.t, k), shift), true)];
  const t = canonical(v);
  const dims = [1, -1, ...Array.from({ length: t.rank - 2 }, () => 1)];
  return [tensor(tf.add(tf.mul(t, tf.reshape(k, dims)), tf.reshape(shift, dims)))];
};

const clip: Op = (_ctx, node, x) => {
  const lo = x[1] ? hostData(x[1])[0] as number : num(node.attrs.min, -3.4028234663852886e38);
  const hi = x[2] ? hostData(x[2])[0] as number : num(node.attrs.max, 3.4028234663852886e38);
  return unary((t) => tf.clipByValue(t, lo, hi))(_ctx, node, x);
};

const pad: Op = (_ctx, node, x) => {
  const v = need(x, 0, node);
  const mode = str(node.attrs.mode, 'constant');
  if (mode !== 'constant' && mode !== 'reflect') throw new Error(`Pad "${node.name}": mode ${mode} is not supported (constant and reflect are)`);
  const rank = shapeOf(v).length;
  const p = x[1] ? hostData(x[1]) : ints(node.attrs.pads, []);
  const value = x[2] ? hostData(x[2])[0] as number : 0;
  const pairs = Array.from({ length: rank }, (_, i) => [p[i] as number, p[i + rank] as number] as [number, number]);
  // Reflection without repeating the edge (ONNX's reflect, tf's mirrorPad 'reflect'; SAN's footprints).
  if (mode === 'reflect') {
    if (v.kind === 'tensor' && v.nhwc) return [tensor(tf.mirrorPad(v.t, NHWC_AXIS.map((_, j) => pairs[[0, 2, 3, 1][j] as number] as [number, number]), 'reflect'), true)];
    return [tensor(tf.mirrorPad(canonical(v), pairs, 'reflect'))];
  }
  if (v.kind === 'tensor' && v.nhwc) return [tensor(tf.pad(v.t, NHWC_AXIS.map((_, j) => pairs[[0, 2, 3, 1][j] as number] as [number, number]), value), true)];
  return [tensor(tf.pad(canonical(v), pairs, value))];
};

const slice: Op = (_ctx, node, x) => {
  const v = need(x, 0, node);
  const shape = shapeOf(v);
  const starts = hostData(need(x, 1, node));
  const ends = hostData(need(x, 2, node));
  const axes = x[3] ? hostData(x[3]).map((a) => normAxis(a, shape.length)) : starts.map((_, i) => i);
  const steps = x[4] ? hostData(x[4]) : starts.map(() => 1);
  const begin = shape.map(() => 0);
  const end = [...shape];
  const stride = shape.map(() => 1);
  let endMask = 0;
  axes.forEach((a, i) => {
    const n = shape[a] as number;
    const step = steps[i] as number;
    // ONNX clamps to [0, n] for positive steps, to [0, n - 1] (start) and [-1, n - 1] (end) for negative ones.
    const clampIdx = (s: number, lo: number, hi: number): number => Math.min(Math.max(s < 0 ? s + n : s, lo), hi);
    begin[a] = step < 0 ? clampIdx(starts[i] as number, 0, n - 1) : clampIdx(starts[i] as number, 0, n);
    end[a] = step < 0 ? clampIdx(ends[i] as number, -1, n - 1) : clampIdx(ends[i] as number, 0, n);
    stride[a] = step;
    // An end of -1 (through index 0) is no index to tf, where -1 is the last element: mask it.
    if (end[a] === -1) endMask |= 1 << a;
  });
  if (v.kind === 'host') {
    // Shape arithmetic of any rank (torch's F.pad pads: a [4, 2] reversed) stays on the host.
    const counts = shape.map((_, a) => {
      const [b, e, st] = [begin[a] as number, end[a] as number, stride[a] as number];
      return Math.max(0, Math.ceil(st > 0 ? (e - b) / st : (b - e) / -st));
    });
    const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, q) => p * q, 1));
    const total = counts.reduce((p, q) => p * q, 1);
    const out = new Array<number>(total);
    const idx = new Array<number>(shape.length).fill(0);
    for (let o = 0; o < total; o++) {
      let src = 0;
      for (let a = 0; a < shape.length; a++) src += ((begin[a] as number) + (idx[a] as number) * (stride[a] as number)) * (strides[a] as number);
      out[o] = v.data[src] as number;
      for (let a = shape.length - 1; a >= 0; a--) {
        idx[a] = (idx[a] as number) + 1;
        if ((idx[a] as number) < (counts[a] as number)) break;
        idx[a] = 0;
      }
    }
    return [host(out, counts, v.type)];
  }
  if (stride.some((s) => s !== 1)) return [tensor(tf.stridedSlice(canonical(v), begin, end, stride, 0, endMask))];
  return [tensor(tf.slice(canonical(v), begin, end.map((e, i) => Math.max(0, e - (begin[i] as number)))))];
};

const identity: Op = (_ctx, node, x) => {
  const v = need(x, 0, node);
  return [v.kind === 'tensor' ? tensor(tf.clone(v.t), v.nhwc) : v];
};

const flatten: Op = (_ctx, node, x) => {
  const v = need(x, 0, node);
  const shape = shapeOf(v);
  const axis = normAxis(num(node.attrs.axis, 1), shape.length);
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  return [tensor(tf.reshape(canonical(v), [outer, -1]))];
};

const constantOfShape: Op = (_ctx, node, x) => {
  const dims = hostData(need(x, 0, node));
  const v = node.attrs.value as unknown as Value | undefined;
  const fill = v ? hostData(v)[0] as number : 0;
  if (v?.kind === 'host') return [host(new Array(dims.reduce((a, b) => a * b, 1)).fill(fill), dims, v.type)];
  return [tensor(tf.fill(dims, fill, 'float32'))];
};

/** A comparison: bool results, on the host when both sides are host values (shape arithmetic). */
function compare(f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, hostF: (a: number, b: number) => boolean): Op {
  return (_ctx, node, x) => {
    const a = need(x, 0, node);
    const b = need(x, 1, node);
    if (a.kind === 'host' && b.kind === 'host') {
      const r = hostBinary((u, v) => (hostF(u, v) ? 1 : 0), { ...a, type: 'float' }, { ...b, type: 'float' });
      if (r) return [host(r.data, r.dims, 'bool')];
    }
    const t = f(canonical(a), canonical(b));
    return [tensor(t)];
  };
}

/** Range(start, limit, delta): on the host (indices). */
const range: Op = (_ctx, node, x) => {
  const [start, limit, delta] = [0, 1, 2].map((i) => hostData(need(x, i, node))[0] as number) as [number, number, number];
  const n = Math.max(Math.ceil((limit - start) / delta), 0);
  const type = [0, 1, 2].every((i) => (x[i] as Value).kind === 'host' && (x[i] as HostValue).type === 'int') ? 'int' : 'float';
  return [host(Array.from({ length: n }, (_, i) => start + i * delta), [n], type)];
};

const hardSigmoid = (t: tf.Tensor, alpha: number, beta: number): tf.Tensor => tf.clipByValue(tf.add(tf.mul(t, alpha), beta), 0, 1);

export const OPS: Record<string, Op> = {
  Conv: conv,
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  GlobalAveragePool: globalPool('avg'),
  GlobalMaxPool: globalPool('max'),
  Relu: unary((t) => tf.relu(t)),
  Sigmoid: unary((t) => tf.sigmoid(t)),
  Tanh: unary((t) => tf.tanh(t)),
  Exp: unary((t) => tf.exp(t)),
  Log: unary((t) => tf.log(t)),
  Sqrt: unary((t) => tf.sqrt(t)),
  Neg: unary((t) => tf.neg(t), (v) => -v),
  Abs: unary((t) => tf.abs(t), Math.abs),
  Erf: unary((t) => tf.erf(t)),
  Reciprocal: unary((t) => tf.reciprocal(t)),
  Softplus: unary((t) => tf.softplus(t)),
  LeakyRelu: unary((t, n) => tf.leakyRelu(t, num(n.attrs.alpha, 0.01))),
  HardSigmoid: unary((t, n) => hardSigmoid(t, num(n.attrs.alpha, 0.2), num(n.attrs.beta, 0.5))),
  HardSwish: unary((t) => tf.mul(t, hardSigmoid(t, 1 / 6, 0.5))),
  Clip: clip,
  Add: elementwise((a, b) => tf.add(a as tf.Tensor, b as tf.Tensor), (a, b) => a + b),
  Sub: elementwise((a, b) => tf.sub(a as tf.Tensor, b as tf.Tensor), (a, b) => a - b),
  Mul: elementwise((a, b) => tf.mul(a as tf.Tensor, b as tf.Tensor), (a, b) => a * b),
  Div: elementwise((a, b) => tf.div(a as tf.Tensor, b as tf.Tensor), (a, b) => a / b),
  Pow: elementwise((a, b) => tf.pow(a as tf.Tensor, b as tf.Tensor)),
  Max: elementwise((...t) => t.reduce((a, b) => tf.maximum(a, b)), Math.max),
  Min: elementwise((...t) => t.reduce((a, b) => tf.minimum(a, b)), Math.min),
  Less: compare((a, b) => tf.less(a, b), (a, b) => a < b),
  LessOrEqual: compare((a, b) => tf.lessEqual(a, b), (a, b) => a <= b),
  Greater: compare((a, b) => tf.greater(a, b), (a, b) => a > b),
  GreaterOrEqual: compare((a, b) => tf.greaterEqual(a, b), (a, b) => a >= b),
  Equal: compare((a, b) => tf.equal(a, b), (a, b) => a === b),
  Range: range,
  Where: where,
  ReduceMean: reduce((t, a, k) => tf.mean(t, a, k)),
  ReduceMax: reduce((t, a, k) => tf.max(t, a, k)),
  ReduceMin: reduce((t, a, k) => tf.min(t, a, k)),
  ReduceSum: reduce((t, a, k) => tf.sum(t, a, k)),
  Reshape: reshape,
  Expand: expand,
  Split: split,
  Einsum: einsum,
  Transpose: transpose,
  Flatten: flatten,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Concat: concat,
  Slice: slice,
  Gather: gather,
  Shape: shapeOp,
  Cast: cast,
  Gemm: gemm,
  MatMul: matMul,
  Softmax: softmax,
  LayerNormalization: layerNorm,
  BatchNormalization: batchNorm,
  Pad: pad,
  Tile: tile,
  ArgMax: argExtreme(true),
  ArgMin: argExtreme(false),
  TopK: topK,
  GatherElements: gatherElements,
  Mod: (ctx, node, x) => (num(node.attrs.fmod, 0) === 1 ? fmod : floorMod)(ctx, node, x),
  Floor: unary((t) => tf.floor(t), Math.floor),
  Ceil: unary((t) => tf.ceil(t), Math.ceil),
  Not: unary((t) => tf.logicalNot(tf.cast(t, 'bool')), (v) => (v ? 0 : 1), 'bool'),
  And: elementwise((a, b) => tf.logicalAnd(tf.cast(a as tf.Tensor, 'bool'), tf.cast(b as tf.Tensor, 'bool')), (a, b) => (a && b ? 1 : 0)),
  Or: elementwise((a, b) => tf.logicalOr(tf.cast(a as tf.Tensor, 'bool'), tf.cast(b as tf.Tensor, 'bool')), (a, b) => (a || b ? 1 : 0)),
  ReduceL2: reduce((t, a, k) => tf.sqrt(tf.sum(tf.square(t), a, k))),
  ReduceL1: reduce((t, a, k) => tf.sum(tf.abs(t), a, k)),
  ReduceSumSquare: reduce((t, a, k) => tf.sum(tf.square(t), a, k)),
  ReduceLogSumExp: reduce((t, a, k) => tf.logSumExp(t, a, k)),
  GridSample: gridSample,
  Identity: identity,
  ConstantOfShape: constantOfShape,
  Dropout: identity,
};

export type { TensorValue };
