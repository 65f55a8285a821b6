// The TensorFlow.js interpreter of ONNX graphs (engine/runtimes/tfjs/) against ONNX Runtime,
// the reference, on small random graphs: one test per op and per layout edge case of the
// NHWC-held 4-D values (values.ts), on the wasm and cpu backends. Also: unknown ops, feeds
// of intermediate values, gradients through a run, and tensor leaks.
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, test } from 'vitest';
import { type BackendChoice, initBackend } from '../../../engine/backend';
import { EngineError } from '../../../engine/errors';
import { type AttrValue, encodeModel, floatScalarTensor, GraphBuilder } from '../../../engine/graph/builder';
import { DataType, type OnnxTypes, toInt } from '../../../engine/graph/onnx';
import { createRunner } from '../../../engine/runtimes';
import { createTfjsRunner } from '../../../engine/runtimes/tfjs';
import type { Feed } from '../../../engine/runtimes/tfjs/interpreter';
import type { OpNode } from '../../../engine/runtimes/tfjs/ops';

// ---------------------------------------------------------------------------------------------
// Helpers

/** mulberry32: a small seeded generator. */
class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** n values uniform in [lo, hi). */
  arr(n: number, lo = -1, hi = 1): Float32Array {
    return Float32Array.from({ length: n }, () => lo + (hi - lo) * this.next());
  }
}

function seedOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

const size = (dims: number[]): number => dims.reduce((a, b) => a * b, 1);

const inputDims = (v: OnnxTypes.IValueInfoProto): number[] => (v.type?.tensorType?.shape?.dim ?? []).map((d) => toInt(d.dimValue));

interface Tensor { data: Float32Array; dims: number[] }

/** Runs the model on ONNX Runtime (CPU, every optimisation on, as engine/runtimes/ort.ts does). */
async function runOrt(model: OnnxTypes.IModelProto, feeds: Map<string, Tensor>, fetch: string[]): Promise<Map<string, Tensor>> {
  const session = await ort.InferenceSession.create(encodeModel(model), { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [k, v] of feeds) inputs[k] = new ort.Tensor('float32', v.data, v.dims);
    const out = await session.run(inputs, fetch);
    return new Map(fetch.map((k) => [k, { data: out[k]!.data as Float32Array, dims: [...out[k]!.dims] }]));
  } finally {
    await session.release();
  }
}

/** Runs the model with the tfjs interpreter; checks that the run and the runner's life leak no tensor. */
async function runTfjs(model: OnnxTypes.IModelProto, backend: BackendChoice, feeds: Map<string, Tensor>, fetch: string[]): Promise<Map<string, Tensor>> {
  await initBackend(backend);
  const before = tf.memory().numTensors;
  const runner = await createTfjsRunner(model, [], backend);
  const loaded = tf.memory().numTensors;
  const result = new Map<string, Tensor>();
  try {
    const out = runner.interpreter.run(new Map<string, Feed>([...feeds].map(([k, v]) => [k, { data: v.data, dims: v.dims }])), fetch);
    for (const [k, t] of out) {
      result.set(k, { data: Float32Array.from(t.dataSync() as ArrayLike<number>), dims: [...t.shape] });
      t.dispose();
    }
    expect(tf.memory().numTensors, 'tensors left by a run').toBe(loaded);
  } finally {
    await runner.dispose();
  }
  expect(tf.memory().numTensors, 'tensors left by the runner').toBe(before);
  return result;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return Number.isNaN(worst) ? Infinity : worst;
}

/** Builds a graph (its inputs get random data unless `build` returns theirs) and compares tfjs with ORT. */
type Build = (g: GraphBuilder, r: Rng) => void | Record<string, Float32Array>;

async function check(backend: BackendChoice, build: Build, tol = 1e-5): Promise<void> {
  const r = new Rng(seedOf(expect.getState().currentTestName ?? ''));
  const g = new GraphBuilder('t');
  const given = build(g, r) ?? {};
  const model = g.build();
  const feeds = new Map<string, Tensor>();
  for (const v of model.graph?.input ?? []) {
    const dims = inputDims(v);
    feeds.set(v.name!, { data: given[v.name!] ?? r.arr(size(dims)), dims });
  }
  const fetch = (model.graph?.output ?? []).map((o) => o.name!);
  expect(fetch.length).toBeGreaterThan(0);
  const ref = await runOrt(model, feeds, fetch);
  const got = await runTfjs(model, backend, feeds, fetch);
  for (const name of fetch) {
    const a = got.get(name)!;
    const b = ref.get(name)!;
    expect(a.dims, `shape of ${name}`).toEqual(b.dims);
    expect(maxAbsDiff(a.data, b.data), `max |tfjs - ort| of ${name}`).toBeLessThanOrEqual(tol);
  }
}

const F = DataType.FLOAT;
/** The usual feature-map input: [N, C, H, W] = [2, 3, 5, 6] (odd H, even W). */
const X = [2, 3, 5, 6];
const input = (g: GraphBuilder, shape = X, name = 'input'): string => g.input({ name, elemType: F, shape });

/** A Conv with random weights (and bias); returns its output, held NHWC by the interpreter. */
function conv(g: GraphBuilder, r: Rng, x: string, cin: number, cout: number, k: number, attrs: Record<string, AttrValue> = {}, bias = true): string {
  const group = typeof attrs.group === 'number' ? attrs.group : 1;
  const ins = [x, g.floats('w', r.arr(cout * (cin / group) * k * k), [cout, cin / group, k, k])];
  if (bias) ins.push(g.floats('b', r.arr(cout), [cout]));
  return g.node('Conv', ins, 'conv', { kernel_shape: [k, k], ...attrs });
}

/** input [2,3,5,6] -> Conv 3x3 pad 1 -> [2,4,5,6], NHWC-held. */
const fmap = (g: GraphBuilder, r: Rng, c = 4): string => conv(g, r, input(g), 3, c, 3, { pads: [1, 1, 1, 1] });

/** Marks `v` a graph output: `y`, `out_<name>`, or `v` itself when `name` is `v` (no Identity). */
const out = (g: GraphBuilder, v: string, name = 'y'): string => g.output(v, name === v || name === 'y' ? name : `out_${name}`);

// ---------------------------------------------------------------------------------------------
// Cases: [name, build, tolerance]

type Case = [string, Build, number?];

const CONV: Case[] = [
  ['3x3 pad 1 with bias', (g, r) => { out(g, fmap(g, r)); }],
  ['3x3 no bias, stride 2', (g, r) => { out(g, conv(g, r, input(g), 3, 4, 3, { pads: [1, 1, 1, 1], strides: [2, 2] }, false)); }],
  ['1x1 stride 2', (g, r) => { out(g, conv(g, r, input(g), 3, 5, 1, { strides: [2, 2] })); }],
  ['dilation 2 pad 2', (g, r) => { out(g, conv(g, r, input(g), 3, 4, 3, { pads: [2, 2, 2, 2], dilations: [2, 2] })); }],
  ['asymmetric pads [0,1,1,0]', (g, r) => { out(g, conv(g, r, input(g), 3, 4, 3, { pads: [0, 1, 1, 0] })); }],
  ['asymmetric pads [1,0,0,2] stride 2', (g, r) => { out(g, conv(g, r, input(g), 3, 4, 3, { pads: [1, 0, 0, 2], strides: [2, 2] })); }],
  ['auto_pad SAME_UPPER stride 2', (g, r) => { out(g, conv(g, r, input(g), 3, 4, 3, { auto_pad: 'SAME_UPPER', strides: [2, 2] })); }],
  ['auto_pad SAME_UPPER stride 2, kernel 4', (g, r) => { out(g, conv(g, r, input(g), 3, 4, 4, { auto_pad: 'SAME_UPPER', strides: [2, 2] })); }],
  ['auto_pad SAME_LOWER stride 1, kernel 2', (g, r) => { out(g, conv(g, r, input(g), 3, 4, 2, { auto_pad: 'SAME_LOWER' })); }],
  ['auto_pad VALID', (g, r) => { out(g, conv(g, r, input(g), 3, 4, 3, { auto_pad: 'VALID' })); }],
  ['depthwise group=C, multiplier 1', (g, r) => { out(g, conv(g, r, fmap(g, r), 4, 4, 3, { group: 4, pads: [1, 1, 1, 1] })); }],
  ['depthwise group=C, multiplier 2, stride 2', (g, r) => { out(g, conv(g, r, fmap(g, r), 4, 8, 3, { group: 4, pads: [1, 1, 1, 1], strides: [2, 2] })); }],
  ['depthwise, no bias, asymmetric pads [0,1,1,0]', (g, r) => { out(g, conv(g, r, fmap(g, r), 4, 4, 3, { group: 4, pads: [0, 1, 1, 0] }, false)); }],
  ['depthwise on a graph input (plain NCHW)', (g, r) => { out(g, conv(g, r, input(g), 3, 6, 3, { group: 3, pads: [1, 1, 1, 1] })); }],
  ['depthwise auto_pad SAME_UPPER stride 2', (g, r) => { out(g, conv(g, r, fmap(g, r), 4, 4, 3, { group: 4, auto_pad: 'SAME_UPPER', strides: [2, 2] })); }],
  ['depthwise dilation 2; grouped dilation 2', (g, r) => {
    const x = fmap(g, r);
    out(g, conv(g, r, x, 4, 4, 3, { group: 4, pads: [2, 2, 2, 2], dilations: [2, 2] }), 'a');
    out(g, conv(g, r, x, 4, 4, 3, { group: 2, pads: [2, 1, 2, 1], dilations: [2, 2] }), 'b');
  }],
  ['grouped: group 2, 4 in / 4 out', (g, r) => { out(g, conv(g, r, fmap(g, r), 4, 4, 3, { group: 2, pads: [1, 1, 1, 1] })); }],
  ['grouped: group 2, 4 in / 6 out, no bias, pads [0,1,1,0] stride 2', (g, r) => { out(g, conv(g, r, fmap(g, r), 4, 6, 3, { group: 2, pads: [0, 1, 1, 0], strides: [2, 2] }, false)); }],
  ['Conv with a computed weight (not an initializer), regular and depthwise', (g, r) => {
    const x = fmap(g, r);
    const w = g.node('Mul', [g.floats('w', r.arr(2 * 4 * 9), [2, 4, 3, 3]), g.scalar(2)], 'mul');
    out(g, g.node('Conv', [x, w], 'conv', { pads: [1, 1, 1, 1] }), 'a');
    const dw = g.node('Mul', [g.floats('w', r.arr(4 * 9), [4, 1, 3, 3]), g.scalar(2)], 'mul');
    out(g, g.node('Conv', [x, dw, g.floats('b', r.arr(4), [4])], 'conv', { group: 4, pads: [0, 1, 1, 0] }), 'b');
  }],
  ['Conv -> Relu (fused)', (g, r) => { out(g, g.node('Relu', [fmap(g, r)], 'relu')); }],
  ['Conv -> Relu, pre-ReLU value also a graph output (by its own name)', (g, r) => {
    const c = fmap(g, r);
    out(g, c, c);
    out(g, g.node('Relu', [c], 'relu'));
  }],
  ['Conv -> Relu, pre-ReLU value also a graph output (through Identity)', (g, r) => {
    const c = fmap(g, r);
    out(g, g.node('Relu', [c], 'relu'));
    out(g, c, 'pre');
  }],
  ['Conv -> Relu -> Conv -> Relu (two fusions)', (g, r) => { out(g, g.node('Relu', [conv(g, r, g.node('Relu', [fmap(g, r)], 'relu'), 4, 2, 3, { pads: [0, 1, 1, 0] })], 'relu')); }],
  ['Conv on the NHWC data of Transpose [0,3,1,2]', (g, r) => {
    const x = input(g, [2, 5, 6, 3]); // an NHWC image
    out(g, conv(g, r, g.node('Transpose', [x], 'tr', { perm: [0, 3, 1, 2] }), 3, 4, 3, { pads: [1, 1, 1, 1] }));
  }],
];

const POOL: Case[] = [
  ['MaxPool 3x3 stride 2 pads 1 on negative values', (g, r) => { out(g, g.node('MaxPool', [input(g)], 'mp', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })); return { input: r.arr(size(X), -3, -1) }; }],
  ['MaxPool 3x3 pads [0,1,1,0] on negative values', (g, r) => { out(g, g.node('MaxPool', [input(g)], 'mp', { kernel_shape: [3, 3], pads: [0, 1, 1, 0] })); return { input: r.arr(size(X), -3, -1) }; }],
  ['MaxPool 2x2 stride 2 on a Conv output', (g, r) => { out(g, g.node('MaxPool', [fmap(g, r)], 'mp', { kernel_shape: [2, 2], strides: [2, 2] })); }],
  ['MaxPool SAME_UPPER stride 2 on negative values', (g, r) => { out(g, g.node('MaxPool', [input(g)], 'mp', { kernel_shape: [2, 2], strides: [2, 2], auto_pad: 'SAME_UPPER' })); return { input: r.arr(size(X), -3, -1) }; }],
  ['AveragePool count_include_pad=0 pads 1', (g, r) => { out(g, g.node('AveragePool', [fmap(g, r)], 'ap', { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 0 })); }],
  ['AveragePool count_include_pad=1 pads 1 stride 2', (g, r) => { out(g, g.node('AveragePool', [fmap(g, r)], 'ap', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 })); }],
  ['AveragePool count_include_pad=0 pads [0,1,1,0]', (g, r) => { out(g, g.node('AveragePool', [fmap(g, r)], 'ap', { kernel_shape: [3, 3], pads: [0, 1, 1, 0] })); }],
  ['AveragePool count_include_pad=1 pads [0,1,1,0]', (g, r) => { out(g, g.node('AveragePool', [fmap(g, r)], 'ap', { kernel_shape: [3, 3], pads: [0, 1, 1, 0], count_include_pad: 1 })); }],
  ['AveragePool 2x2 stride 2, no pads', (g) => { out(g, g.node('AveragePool', [input(g)], 'ap', { kernel_shape: [2, 2], strides: [2, 2] })); }],
  ['GlobalAveragePool on a Conv output', (g, r) => { out(g, g.node('GlobalAveragePool', [fmap(g, r)], 'gap')); }],
  ['GlobalMaxPool on a Conv output', (g, r) => { out(g, g.node('GlobalMaxPool', [fmap(g, r)], 'gmp')); }],
  ['GlobalAveragePool / GlobalMaxPool on a graph input', (g) => {
    const x = input(g);
    out(g, g.node('GlobalAveragePool', [x], 'gap'), 'avg');
    out(g, g.node('GlobalMaxPool', [x], 'gmp'), 'max');
  }],
];

const ELEMENTWISE: Case[] = [
  ['Add: Conv output + [1,C,1,1] initializer (both orders)', (g, r) => {
    const c = fmap(g, r);
    const t = g.floats('t', r.arr(4), [1, 4, 1, 1]);
    out(g, g.node('Add', [c, t], 'add'), 'a');
    out(g, g.node('Add', [t, c], 'add'), 'b');
  }],
  ['Mul: Conv output * [C,1,1] initializer', (g, r) => { out(g, g.node('Mul', [fmap(g, r), g.floats('t', r.arr(4), [4, 1, 1])], 'mul')); }],
  ['Sub: Conv output - [1,1,H,W] initializer (both orders)', (g, r) => {
    const c = fmap(g, r);
    const t = g.floats('t', r.arr(30), [1, 1, 5, 6]);
    out(g, g.node('Sub', [c, t], 'sub'), 'a');
    out(g, g.node('Sub', [t, c], 'sub'), 'b');
  }],
  ['Sub: Conv output - computed [N,1,H,W] (ReduceMean of the plain input)', (g, r) => {
    const x = input(g);
    const c = conv(g, r, x, 3, 4, 3, { pads: [1, 1, 1, 1] });
    out(g, g.node('Sub', [c, g.node('ReduceMean', [x], 'rm', { axes: [1], keepdims: 1 })], 'sub'));
  }],
  ['Mul: Conv output * [1,C,1,1] graph input', (g, r) => { out(g, g.node('Mul', [fmap(g, r), input(g, [1, 4, 1, 1], 'scale')], 'mul')); }],
  ['Div: Conv output / scalar, scalar / Conv output', (g, r) => {
    const c = fmap(g, r);
    out(g, g.node('Div', [c, g.scalar(3)], 'div'), 'a');
    out(g, g.node('Div', [g.scalar(0.5), g.node('Add', [g.node('Abs', [c], 'abs'), g.scalar(1)], 'add')], 'div'), 'b');
  }],
  ['Div: Conv output / [1,C,1,1] positive initializer', (g, r) => { out(g, g.node('Div', [fmap(g, r), g.floats('t', r.arr(4, 0.5, 2), [1, 4, 1, 1])], 'div')); }],
  ['Add: Conv output + [W] and + [H,W] initializers', (g, r) => {
    const c = fmap(g, r);
    out(g, g.node('Add', [c, g.floats('t', r.arr(6), [6])], 'add'), 'a');
    out(g, g.node('Add', [c, g.floats('t', r.arr(30), [5, 6])], 'add'), 'b');
  }],
  ['Add: Conv output + [1] initializer', (g, r) => { out(g, g.node('Add', [fmap(g, r), g.floats('t', [0.25], [1])], 'add')); }],
  ['Add: two Conv outputs; Conv output + plain [N,C,H,W] input', (g, r) => {
    const x = input(g);
    const c1 = conv(g, r, x, 3, 3, 3, { pads: [1, 1, 1, 1] });
    const c2 = conv(g, r, x, 3, 3, 1);
    out(g, g.node('Add', [c1, c2], 'add'), 'a');
    out(g, g.node('Mul', [x, c1], 'mul'), 'b');
  }],
  ['Mul: plain input * GlobalAveragePool output [N,C,1,1] (SE gate)', (g, r) => {
    const x = input(g);
    const gate = g.node('Sigmoid', [conv(g, r, g.node('GlobalAveragePool', [x], 'gap'), 3, 3, 1)], 'sig');
    out(g, g.node('Mul', [x, gate], 'mul'));
  }],
  ['Max / Min / Pow: Conv output against [1,C,1,1]', (g, r) => {
    const c = fmap(g, r);
    const t = g.floats('t', r.arr(4), [1, 4, 1, 1]);
    out(g, g.node('Max', [c, t], 'max'), 'a');
    out(g, g.node('Min', [t, c], 'min'), 'b');
    out(g, g.node('Pow', [g.node('Abs', [c], 'abs'), g.scalar(2)], 'pow'), 'c');
  }],
  ['Where: computed condition Cast(Relu(conv), BOOL), Conv output vs [1,C,1,1]', (g, r) => {
    const c = fmap(g, r);
    const cond = g.node('Cast', [g.node('Relu', [c], 'relu')], 'cast', { to: DataType.BOOL });
    out(g, g.node('Where', [cond, c, g.floats('t', r.arr(4), [1, 4, 1, 1])], 'where'));
  }],
  ['Where: condition [1,1,H,W] cast from 0/1 input data, Conv output vs scalar', (g, r) => {
    const m = input(g, [1, 1, 5, 6], 'mask');
    const cond = g.node('Cast', [m], 'cast', { to: DataType.BOOL });
    out(g, g.node('Where', [cond, g.scalar(-1), fmap(g, r)], 'where'));
    return { mask: Float32Array.from({ length: 30 }, () => (r.next() < 0.5 ? 0 : 1)) };
  }],
];

const REDUCE: Case[] = [];
for (const op of ['ReduceMean', 'ReduceMax', 'ReduceMin']) {
  for (const [axes, keepdims] of [[[1], 1], [[1], 0], [[2, 3], 0], [[2, 3], 1], [[1, 2], 0], [[2], 0], [[-1], 0], [[0, 1], 0], [[1, 3], 1]] as Array<[number[], number]>) {
    REDUCE.push([`${op} axes [${axes.join(',')}] keepdims ${keepdims} on a Conv output`, (g, r) => {
      const y = g.node(op, [fmap(g, r)], 'red', { axes, keepdims });
      out(g, y);
      // What the reduction feeds next sees the same layout ORT does.
      out(g, g.node('Mul', [y, g.scalar(2)], 'mul'), 'z');
    }]);
  }
}
REDUCE.push(
  ['ReduceMean with no axes (all), keepdims 0', (g, r) => { out(g, g.node('ReduceMean', [fmap(g, r)], 'red', { keepdims: 0 })); }],
  ['ReduceSum axes as an input [1] keepdims 1, [2,3] keepdims 0', (g, r) => {
    const c = fmap(g, r);
    out(g, g.node('ReduceSum', [c, g.ints([1])], 'rs', { keepdims: 1 }), 'a');
    out(g, g.node('ReduceSum', [c, g.ints([2, 3])], 'rs', { keepdims: 0 }), 'b');
  }],
  ['ReduceMean axis 1 keepdims 1 then Mul back onto the Conv output (CBAM spatial)', (g, r) => {
    const c = fmap(g, r);
    const m = g.node('ReduceMean', [c], 'rm', { axes: [1], keepdims: 1 });
    const mx = g.node('ReduceMax', [c], 'rx', { axes: [1], keepdims: 1 });
    const s = conv(g, r, g.node('Concat', [m, mx], 'cat', { axis: 1 }), 2, 1, 3, { pads: [1, 1, 1, 1] });
    out(g, g.node('Mul', [c, g.node('Sigmoid', [s], 'sig')], 'mul'));
  }],
);

const SHAPE: Case[] = [
  ['Concat axis 1 of two Conv outputs', (g, r) => {
    const x = input(g);
    out(g, g.node('Concat', [conv(g, r, x, 3, 4, 3, { pads: [1, 1, 1, 1] }), conv(g, r, x, 3, 2, 1)], 'cat', { axis: 1 }));
  }],
  ['Concat axis 1 of a Conv output and the plain input; axis -1; axis 2', (g, r) => {
    const x = input(g);
    const c = conv(g, r, x, 3, 4, 3, { pads: [1, 1, 1, 1] });
    out(g, g.node('Concat', [c, x], 'cat', { axis: 1 }), 'a');
    out(g, g.node('Concat', [x, c, c], 'cat', { axis: -3 }), 'b');
    out(g, g.node('Concat', [c, c], 'cat', { axis: -1 }), 'c');
    out(g, g.node('Concat', [c, c], 'cat', { axis: 2 }), 'd');
  }],
  ['Transpose of a Conv output: [0,2,3,1], [0,3,1,2], [0,1,3,2], default', (g, r) => {
    const c = fmap(g, r);
    out(g, g.node('Transpose', [c], 'tr', { perm: [0, 2, 3, 1] }), 'a');
    out(g, g.node('Transpose', [c], 'tr', { perm: [0, 3, 1, 2] }), 'b');
    out(g, g.node('Transpose', [c], 'tr', { perm: [0, 1, 3, 2] }), 'c');
    out(g, g.node('Transpose', [c], 'tr'), 'd');
  }],
  ['Transpose [0,2,3,1] then [0,3,1,2] round trip, then Add', (g, r) => {
    const c = fmap(g, r);
    const t = g.node('Transpose', [g.node('Transpose', [c], 'tr', { perm: [0, 2, 3, 1] })], 'tr', { perm: [0, 3, 1, 2] });
    out(g, g.node('Add', [t, g.floats('t', r.arr(4), [4, 1, 1])], 'add'));
  }],
  ['Transpose [0,3,1,2] of a plain input then elementwise', (g, r) => {
    const t = g.node('Transpose', [input(g, [2, 5, 6, 3])], 'tr', { perm: [0, 3, 1, 2] });
    out(g, g.node('Mul', [t, g.floats('t', r.arr(3), [1, 3, 1, 1])], 'mul'));
  }],
  ['Reshape of a Conv output with 0 and -1', (g, r) => {
    const c = fmap(g, r);
    out(g, g.node('Reshape', [c, g.ints([0, -1])], 'rs'), 'a');
    out(g, g.node('Reshape', [c, g.ints([0, 0, -1])], 'rs'), 'b');
    out(g, g.node('Reshape', [c, g.ints([-1, 0, 3, 10])], 'rs'), 'c');
  }],
  ['Flatten of a Conv output, axis 1, 2 and 0', (g, r) => {
    const c = fmap(g, r);
    out(g, g.node('Flatten', [c], 'fl'), 'a');
    out(g, g.node('Flatten', [c], 'fl', { axis: 2 }), 'b');
    out(g, g.node('Flatten', [c], 'fl', { axis: 0 }), 'c');
  }],
  ['Squeeze / Unsqueeze around a pooled vector (SE)', (g, r) => {
    const c = fmap(g, r);
    const v = g.node('Squeeze', [g.node('GlobalAveragePool', [c], 'gap'), g.ints([2, 3])], 'sq');
    const fc = g.node('Gemm', [v, g.floats('fc', r.arr(16), [4, 4]), g.floats('fb', r.arr(4), [4])], 'fc', { transB: 1 });
    const u = g.node('Unsqueeze', [fc, g.ints([-1, 2])], 'usq');
    out(g, v, 'v');
    out(g, g.node('Mul', [c, u], 'mul'));
  }],
  ['Squeeze without axes; Unsqueeze at the front', (g, r) => {
    const c = conv(g, r, input(g), 3, 1, 3, { pads: [1, 1, 1, 1] }); // [2,1,5,6]
    out(g, g.node('Squeeze', [c], 'sq'), 'a');
    out(g, g.node('Unsqueeze', [c, g.ints([0])], 'usq'), 'b');
  }],
  ['Shape -> Gather -> Cast -> Div on tensor data', (g, r) => {
    const c = fmap(g, r);
    const s = g.node('Shape', [c], 'shape');
    const h = g.node('Gather', [s, g.ints([2])], 'gather');
    const w = g.node('Gather', [s, g.ints([3])], 'gather');
    const hw = g.node('Cast', [g.node('Mul', [h, w], 'mul')], 'cast', { to: DataType.FLOAT });
    out(g, g.node('Div', [c, hw], 'div'));
  }],
  ['Shape -> Gather (scalar index) -> integer Div -> Cast, Shape with start/end', (g, r) => {
    const c = fmap(g, r); // H = 5: 5 / 2 is 2 in int64
    const idx = g.node('Constant', [], 'idx', { value_int: 2 });
    const h = g.node('Gather', [g.node('Shape', [c], 'shape'), idx], 'gather');
    const half = g.node('Div', [h, g.node('Constant', [], 'two', { value_int: 2 })], 'div');
    out(g, g.node('Mul', [c, g.node('Cast', [half], 'cast', { to: DataType.FLOAT })], 'mul'), 'a');
    const hw = g.node('Shape', [c], 'shape', { start: -2 });
    out(g, g.node('Cast', [hw], 'cast', { to: DataType.FLOAT }), 'b');
  }],
  ['ConstantOfShape from a computed shape, MatMul with it (the non-local summary row)', (g, r) => {
    const c = fmap(g, r);
    const flat = g.node('Reshape', [c, g.ints([0, 0, -1])], 'rs'); // [N, C, HW]
    const q = g.node('Gather', [g.node('Shape', [flat], 'shape'), g.ints([1])], 'gather', { axis: 0 });
    const ones = g.node('ConstantOfShape', [g.node('Concat', [g.ints([1, 1]), q], 'cat', { axis: 0 })], 'cos', { value: { tensor: floatScalarTensor(1) } });
    out(g, g.node('Div', [g.node('MatMul', [ones, flat], 'mm'), g.node('Cast', [q], 'cast', { to: DataType.FLOAT })], 'div'), 'a');
    out(g, g.node('Add', [c, g.node('ConstantOfShape', [g.ints([1, 1, 1])], 'zeros')], 'add'), 'b'); // default value 0
  }],
  ['Shape -> Gather -> Unsqueeze -> Concat -> Reshape (torch flatten export)', (g, r) => {
    const c = fmap(g, r);
    const n = g.node('Gather', [g.node('Shape', [c], 'shape'), g.node('Constant', [], 'zero', { value_int: 0 })], 'gather');
    const dims = g.node('Concat', [g.node('Unsqueeze', [n, g.ints([0])], 'usq'), g.ints([-1])], 'cat', { axis: 0 });
    out(g, g.node('Reshape', [c, dims], 'rs'));
  }],
  ['Slice of a Conv output with axes and negative indices', (g, r) => {
    const c = fmap(g, r);
    out(g, g.node('Slice', [c, g.ints([1, -4]), g.ints([3, 100]), g.ints([1, 3])], 'sl'), 'a');
    out(g, g.node('Slice', [c, g.ints([-3]), g.ints([-1]), g.ints([-2])], 'sl'), 'b');
  }],
  ['Slice with step 2 (and without axes)', (g, r) => {
    const c = fmap(g, r);
    out(g, g.node('Slice', [c, g.ints([0, 1]), g.ints([5, 6]), g.ints([2, 3]), g.ints([2, 2])], 'sl'), 'a');
    out(g, g.node('Slice', [c, g.ints([0, 0, 1]), g.ints([1, 4, 4])], 'sl'), 'b');
  }],
  ['Slice with negative steps (flip), and on a host shape', (g, r) => {
    const c = fmap(g, r);
    out(g, g.node('Slice', [c, g.ints([-1]), g.ints([-1000]), g.ints([3]), g.ints([-1])], 'sl'), 'a');
    out(g, g.node('Slice', [c, g.ints([3, 4]), g.ints([0, -7]), g.ints([1, 2]), g.ints([-2, -1])], 'sl'), 'b');
    const hw = g.node('Slice', [g.node('Shape', [c], 'shape'), g.ints([-1]), g.ints([1]), g.ints([0]), g.ints([-1])], 'sl'); // [W, H]
    out(g, g.node('Cast', [hw], 'cast', { to: DataType.FLOAT }), 'c');
  }],
  ['Slice with start past end is empty', (g, r) => { out(g, g.node('Slice', [fmap(g, r), g.ints([3]), g.ints([1]), g.ints([2])], 'sl')); }],
  ['Gather on a Conv output: axis 1 with a negative index, axis 2 scalar index', (g, r) => {
    const c = fmap(g, r);
    out(g, g.node('Gather', [c, g.ints([-1, 0])], 'ga', { axis: 1 }), 'a');
    out(g, g.node('Gather', [c, g.node('Constant', [], 'k', { value_int: 3 })], 'ga', { axis: 2 }), 'b');
  }],
  ['Cast float -> int32 -> float truncates toward zero', (g, r) => {
    out(g, g.node('Cast', [g.node('Cast', [g.node('Mul', [fmap(g, r), g.scalar(4)], 'mul')], 'cast', { to: DataType.INT32 })], 'cast', { to: DataType.FLOAT }));
  }],
  ['Pad constant on a Conv output (value as input) and on the plain input', (g, r) => {
    const c = fmap(g, r);
    out(g, g.node('Pad', [c, g.ints([0, 1, 2, 0, 0, 0, 1, 3]), g.scalar(0.5)], 'pad'), 'a');
    out(g, g.node('Pad', [input(g, [2, 3, 4, 4], 'other'), g.ints([0, 0, 1, 1, 0, 0, 1, 1])], 'pad'), 'b');
  }],
];

const LINEAR: Case[] = [
  ['Softmax axis 1 of a 3-D tensor, and on the last axis', (g) => {
    const x = input(g, [2, 3, 4]);
    out(g, g.node('Softmax', [x], 'sm', { axis: 1 }), 'a');
    out(g, g.node('Softmax', [x], 'sm'), 'b');
    out(g, g.node('Softmax', [x], 'sm', { axis: -3 }), 'c');
  }],
  ['Softmax axis 1 of a Conv output', (g, r) => { out(g, g.node('Softmax', [fmap(g, r)], 'sm', { axis: 1 })); }],
  ['MatMul 2-D x 3-D and 3-D x 2-D broadcasting', (g) => {
    const a = input(g, [3, 4], 'a');
    const b = input(g, [2, 4, 5], 'b');
    out(g, g.node('MatMul', [a, b], 'mm'), 'ab');
    out(g, g.node('MatMul', [b, g.node('Transpose', [input(g, [3, 5], 'c')], 'tr')], 'mm'), 'bc');
  }],
  ['MatMul 3-D with batch broadcast [1,M,K] x [B,K,N], and 4-D on Conv outputs (non-local)', (g, r) => {
    out(g, g.node('MatMul', [input(g, [1, 3, 4], 'a'), input(g, [2, 4, 5], 'b')], 'mm'), 'ab');
    const c = fmap(g, r);
    const flat = g.node('Reshape', [c, g.ints([0, 0, -1])], 'rs'); // [2,4,30]
    const aff = g.node('MatMul', [g.node('Transpose', [flat], 'tr', { perm: [0, 2, 1] }), flat], 'mm'); // [2,30,30]
    out(g, g.node('MatMul', [flat, g.node('Softmax', [aff], 'sm')], 'mm'), 'nl');
  }, 1e-4],
  ['MatMul with 1-D operands', (g) => {
    out(g, g.node('MatMul', [input(g, [4], 'a'), input(g, [2, 4, 5], 'b')], 'mm'), 'ab');
    out(g, g.node('MatMul', [input(g, [3, 4], 'c'), input(g, [4], 'd')], 'mm'), 'cd');
  }],
  ['Gemm with C [1] and [1,N]', (g, r) => {
    const x = input(g, [3, 5]);
    out(g, g.node('Gemm', [x, g.floats('w', r.arr(20), [5, 4]), g.floats('c', [0.5], [1])], 'gemm'), 'a');
    out(g, g.node('Gemm', [x, g.floats('w', r.arr(20), [4, 5]), g.floats('c', r.arr(4), [1, 4])], 'gemm', { transB: 1, beta: { float: 0.5 } }), 'b');
  }],
  ['Gemm transB=1 with a weight, alpha/beta != 1', (g, r) => {
    out(g, g.node('Gemm', [input(g, [3, 5]), g.floats('w', r.arr(20), [4, 5]), g.floats('c', r.arr(4), [4])], 'gemm', { transB: 1, alpha: { float: 0.5 }, beta: { float: 2 } }));
  }],
  ['Gemm transA=1, alpha/beta != 1, C [M,N]', (g, r) => {
    out(g, g.node('Gemm', [input(g, [5, 3]), g.floats('w', r.arr(20), [5, 4]), g.floats('c', r.arr(12), [3, 4])], 'gemm', { transA: 1, alpha: { float: 1.5 }, beta: { float: 0.25 } }));
  }],
  ['Gemm transA=1 transB=1 with B a graph input, no C', (g) => {
    out(g, g.node('Gemm', [input(g, [5, 3], 'a'), input(g, [4, 5], 'b')], 'gemm', { transA: 1, transB: 1, alpha: { float: -2 } }));
  }],
  ['Gemm -> Relu (fused), beta != 1', (g, r) => {
    out(g, g.node('Relu', [g.node('Gemm', [input(g, [3, 5]), g.floats('w', r.arr(20), [4, 5]), g.floats('c', r.arr(4), [4])], 'gemm', { transB: 1, beta: { float: 3 } })], 'relu'));
  }],
];

const ACTIVATION: Case[] = [
  ['HardSigmoid (default and custom alpha/beta)', (g, r) => {
    const c = fmap(g, r);
    out(g, g.node('HardSigmoid', [c], 'hs'), 'a');
    out(g, g.node('HardSigmoid', [c], 'hs', { alpha: { float: 0.5 }, beta: { float: 0.25 } }), 'b');
    return { input: r.arr(size(X), -4, 4) };
  }],
  ['HardSwish', (g, r) => { out(g, g.node('HardSwish', [fmap(g, r)], 'hsw')); return { input: r.arr(size(X), -4, 4) }; }],
  ['Clip with min/max as inputs, with max only, and without bounds', (g, r) => {
    const c = fmap(g, r);
    out(g, g.node('Clip', [c, g.scalar(-0.25), g.scalar(0.5)], 'clip'), 'a');
    out(g, g.node('Clip', [c, '', g.scalar(0.1)], 'clip'), 'b');
    out(g, g.node('Clip', [c], 'clip'), 'c');
  }],
  ['LeakyRelu (default and alpha 0.2)', (g, r) => {
    const c = fmap(g, r);
    out(g, g.node('LeakyRelu', [c], 'lr'), 'a');
    out(g, g.node('LeakyRelu', [c], 'lr', { alpha: { float: 0.2 } }), 'b');
  }],
  ['Sigmoid / Tanh / Exp / Neg / Abs / Softplus / Erf / Sqrt / Log / Reciprocal on a Conv output', (g, r) => {
    const c = fmap(g, r);
    for (const op of ['Sigmoid', 'Tanh', 'Exp', 'Neg', 'Abs', 'Softplus', 'Erf']) out(g, g.node(op, [c], op), op);
    const pos = g.node('Add', [g.node('Abs', [c], 'abs'), g.scalar(0.5)], 'add');
    for (const op of ['Sqrt', 'Log', 'Reciprocal']) out(g, g.node(op, [pos], op), op);
  }, 1e-4],
  ['BatchNormalization on a Conv output, on the plain input and on [N,C]', (g, r) => {
    const bn = (x: string, c: number): string => g.node('BatchNormalization', [x, g.floats('s', r.arr(c, 0.5, 1.5), [c]), g.floats('b', r.arr(c), [c]),
      g.floats('m', r.arr(c), [c]), g.floats('v', r.arr(c, 0.5, 2), [c])], 'bn', { epsilon: { float: 1e-3 } });
    out(g, bn(fmap(g, r), 4), 'a');
    out(g, bn(input(g, X, 'x2'), 3), 'b');
    out(g, bn(input(g, [2, 3], 'x3'), 3), 'c');
  }],
  ['LayerNormalization axis 1 on [N,P,1,1] (GC), and axis -1 on 3-D', (g, r) => {
    const p = g.node('GlobalAveragePool', [fmap(g, r, 6)], 'gap'); // [2,6,1,1], NHWC-held
    out(g, g.node('LayerNormalization', [p, g.floats('s', r.arr(6, 0.5, 1.5), [6, 1, 1]), g.floats('b', r.arr(6), [6, 1, 1])], 'ln', { axis: 1 }), 'a');
    out(g, g.node('LayerNormalization', [input(g, [2, 3, 7], 'x3'), g.floats('s', r.arr(7), [7])], 'ln', { axis: -1, epsilon: { float: 1e-3 } }), 'b');
  }],
  ['Identity / Dropout / Constant', (g, r) => {
    const c = fmap(g, r);
    out(g, g.node('Dropout', [g.node('Identity', [c], 'id')], 'drop'));
    const k = g.node('Constant', [], 'k', { value_floats: { floats: [1, 2, 3, 4, 5, 6] } });
    out(g, g.node('Mul', [c, k], 'mul'), 'z');
  }],
];

// GridSample (STN): grids reaching past [-1, 1] (zeros / border padding), on a Conv output
// (NHWC-held) and on the plain input, both corner conventions.
const SAMPLING: Case[] = [
  ['Pad reflect on a Conv output and on the plain input (pads as an input)', (g, r) => {
    out(g, g.node('Pad', [fmap(g, r), g.ints([0, 0, 1, 2, 0, 0, 2, 1])], 'pad', { mode: 'reflect' }), 'a');
    out(g, g.node('Pad', [input(g, X, 'x2'), g.ints([0, 0, 2, 2, 0, 0, 2, 2])], 'pad', { mode: 'reflect' }), 'b');
  }],
  ['Pad reflect whose pads torch-style come through a reversed [4, 2] Slice and a Transpose (host shape arithmetic)', (g, r) => {
    const raw = g.node('Reshape', [g.ints([2, 1, 0, 0, 1, 2, 0, 0]), g.ints([4, 2])], 'rs');
    const reversed = g.node('Slice', [raw, g.ints([-1]), g.ints([-(2 ** 53)]), g.ints([0]), g.ints([-1])], 'sl');
    const pads = g.node('Reshape', [g.node('Transpose', [reversed], 'tr', { perm: [1, 0] }), g.ints([-1])], 'rs');
    out(g, g.node('Pad', [fmap(g, r), pads], 'pad', { mode: 'reflect' }));
  }],
  ['GridSample bilinear, zeros, align_corners 0 on a Conv output; grid past +-1', (g, r) => {
    out(g, g.node('GridSample', [fmap(g, r), input(g, [2, 4, 3, 2], 'grid')], 'gs', { mode: 'bilinear', padding_mode: 'zeros', align_corners: 0 }));
    return { grid: r.arr(2 * 4 * 3 * 2, -1.3, 1.3) };
  }],
  ['GridSample bilinear, border, align_corners 1 on the plain input', (g, r) => {
    out(g, g.node('GridSample', [input(g), input(g, [2, 7, 5, 2], 'grid')], 'gs', { mode: 'bilinear', padding_mode: 'border', align_corners: 1 }));
    return { grid: r.arr(2 * 7 * 5 * 2, -1.3, 1.3) };
  }],
  ['GridSample nearest, zeros, and the defaults (bilinear, zeros, align_corners 0)', (g, r) => {
    const c = fmap(g, r);
    const grid = input(g, [2, 3, 4, 2], 'grid');
    out(g, g.node('GridSample', [c, grid], 'gs', { mode: 'nearest' }), 'a');
    out(g, g.node('GridSample', [c, grid], 'gs'), 'b');
    return { grid: r.arr(2 * 3 * 4 * 2, -1.2, 1.2) };
  }],
];

// Indices, sorting and the remaining reductions (LSH / sorted attention such as NLSA's export):
// integer outputs are cast to float for the comparison.
const toFloat = (g: GraphBuilder, v: string): string => g.node('Cast', [v], 'cast', { to: 1 });
const INDICES: Case[] = [
  ['ArgMax / ArgMin on a Conv output (axis 1 keepdims, axis -1, select_last_index with ties)', (g, r) => {
    const c = fmap(g, r);
    out(g, toFloat(g, g.node('ArgMax', [c], 'am', { axis: 1 })), 'a');
    out(g, toFloat(g, g.node('ArgMin', [c], 'an', { axis: -1, keepdims: 0 })), 'b');
    const ties = g.node('Floor', [g.node('Mul', [input(g, [2, 7], 't'), g.scalar(2)], 'mul')], 'floor');
    out(g, toFloat(g, g.node('ArgMax', [ties], 'am', { axis: 1, select_last_index: 1 })), 'c');
    out(g, toFloat(g, g.node('ArgMax', [ties], 'am', { axis: 1 })), 'd');
  }],
  ['TopK largest and smallest, on the last axis and on axis 1, values and indices', (g, r) => {
    const v = input(g, [2, 6, 5], 'v');
    g.node('TopK', [v, g.ints([3])], 'tk', { axis: -1 }, ['tk_values', 'tk_indices']);
    out(g, 'tk_values', 'a');
    out(g, toFloat(g, 'tk_indices'), 'ai');
    g.node('TopK', [v, g.ints([4])], 'tk', { axis: 1, largest: 0 }, ['tk2_values', 'tk2_indices']);
    out(g, 'tk2_values', 'b');
    out(g, toFloat(g, 'tk2_indices'), 'bi');
    return { v: r.arr(60, -3, 3) };
  }],
  ['GatherElements on axis 1 and axis -1 (negative indices), and a TopK argsort gathered back', (g, r) => {
    const d = input(g, [2, 4, 3], 'd');
    const idx1 = g.node('Reshape', [g.ints([0, 3, -1, 2, 1, 0, 3, 3, 1, 0, -4, 2]), g.ints([2, 2, 3])], 'rs');
    out(g, g.node('GatherElements', [d, idx1], 'ge', { axis: 1 }), 'a');
    const idx2 = g.node('Reshape', [g.ints([2, 0, -1, 1, 1, 0, 0, 2]), g.ints([2, 4, 1])], 'rs');
    out(g, g.node('GatherElements', [d, idx2], 'ge', { axis: -1 }), 'b');
    g.node('TopK', [d, g.ints([4])], 'tk', { axis: 1, largest: 0 }, ['s_values', 's_indices']);
    out(g, g.node('GatherElements', [d, 's_indices'], 'ge', { axis: 1 }), 'c');
    return { d: r.arr(24) };
  }],
  ['Mod (integer and fmod) / Floor / Ceil / Not / And / Or', (g, r) => {
    const a = g.node('Mul', [input(g, [3, 4], 'a'), g.scalar(5)], 'mul');
    const b = g.floats('b', [1.5, -2, 3, -0.75], [4]);
    // Integer Mod takes the divisor's sign (Python's %); float Mod must be fmod in ONNX Runtime.
    const ai = g.node('Cast', [g.node('Floor', [a], 'fl')], 'cast', { to: 7 });
    out(g, toFloat(g, g.node('Mod', [ai, g.ints([3, -2, 4, -5])], 'mod')), 'a');
    out(g, g.node('Mod', [a, b], 'mod', { fmod: 1 }), 'b');
    out(g, g.node('Floor', [a], 'fl'), 'c');
    out(g, g.node('Ceil', [a], 'ce'), 'd');
    const p = g.node('Greater', [a, g.scalar(0)], 'gt');
    const q = g.node('Less', [a, g.scalar(2)], 'lt');
    out(g, toFloat(g, g.node('And', [p, q], 'and')), 'e');
    out(g, toFloat(g, g.node('Or', [g.node('Not', [p], 'not'), q], 'or')), 'f');
    return { a: r.arr(12) };
  }],
  ['ReduceL2 / ReduceL1 / ReduceSumSquare / ReduceLogSumExp on a Conv output and a 3-D input', (g, r) => {
    const c = fmap(g, r);
    out(g, g.node('ReduceL2', [c], 'l2', { axes: [1], keepdims: 1 }), 'a');
    out(g, g.node('ReduceL1', [c], 'l1', { axes: [2, 3], keepdims: 0 }), 'b');
    out(g, g.node('ReduceSumSquare', [c], 'ss', { axes: [1] }), 'c');
    out(g, g.node('ReduceLogSumExp', [input(g, [2, 5, 7], 'v')], 'lse', { axes: [-1], keepdims: 0 }), 'd');
  }, 1e-4],
];

const GROUPS: Array<[string, Case[]]> = [
  ['Conv', CONV], ['pooling', POOL], ['elementwise broadcasting', ELEMENTWISE], ['reductions', REDUCE],
  ['shape and layout ops', SHAPE], ['Softmax / MatMul / Gemm', LINEAR], ['activations and norms', ACTIVATION],
  ['sampling', SAMPLING], ['indices and sorting', INDICES],
];

const BACKENDS: BackendChoice[] = ['wasm', 'cpu'];

describe.each(BACKENDS)('tfjs interpreter on %s matches ONNX Runtime', (backend) => {
  for (const [group, cases] of GROUPS) {
    describe(group, () => {
      for (const [name, build, tol] of cases) test(name, () => check(backend, build, tol));
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Load-time behaviour, intermediate feeds, gradients, leaks (on wasm, the default where tfjs-node is not installed)

/** The interpreter's nodes after load (private: read to see which Relus were fused). */
const nodesOf = (interp: unknown): OpNode[] => (interp as { nodes: OpNode[] }).nodes;

describe('tfjs interpreter', () => {
  // The runners below take the backend already chosen: make that wasm, whatever ran before.
  beforeAll(() => initBackend('wasm'));

  test('Conv -> Relu is fused only when the pre-ReLU value has no other use', async () => {
    const r = new Rng(1);
    const g = new GraphBuilder('t');
    const a = g.node('Relu', [fmap(g, r)], 'relu');
    const b = conv(g, r, a, 4, 4, 1);
    out(g, b, b);
    out(g, g.node('Relu', [b], 'relu'), 'b');
    const c = conv(g, r, a, 4, 4, 1);
    out(g, g.node('Relu', [c], 'relu'), 'c');
    out(g, c, 'pre');
    const runner = await createTfjsRunner(g.build(), []);
    try {
      const convs = nodesOf(runner.interpreter).filter((n) => n.op === 'Conv');
      expect(convs.map((n) => !!n.fusedRelu)).toEqual([true, false, false]);
    } finally {
      await runner.dispose();
    }
  });

  test.each(['DeformConv', 'FrobnicateOp', 'toString'])('an unknown op (%s) fails runner creation naming the op and the node', async (op) => {
    const g = new GraphBuilder('t');
    const c = fmap(g, new Rng(2));
    out(g, g.node(op, [c, 'input'], 'block1/mystery'));
    const before = tf.memory().numTensors;
    const err = await createRunner(g.build(), [], { runtime: 'tfjs' }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('unsupported-op');
    expect((err as EngineError).message).toContain(`"${op}"`);
    expect((err as EngineError).message).toContain('"block1/mystery"');
    expect(tf.memory().numTensors, 'weights loaded before the failure are disposed').toBe(before);
  });

  /** input -> Conv -> Relu (fused) -> Conv -> y, with the intermediate names. */
  function chain(r: Rng): { model: OnnxTypes.IModelProto; pre: string; act: string; w2: Float32Array; b2: Float32Array } {
    const g = new GraphBuilder('t');
    const pre = fmap(g, r);
    const act = g.node('Relu', [pre], 'relu');
    const w2 = r.arr(2 * 4 * 9);
    const b2 = r.arr(2);
    out(g, g.node('Conv', [act, g.floats('w', w2, [2, 4, 3, 3]), g.floats('b', b2, [2])], 'conv2', { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }));
    return { model: g.build(), pre, act, w2, b2 };
  }

  /** ORT's Relu? -> Conv(w2, b2) of `v`: what the chain computes from an intermediate value. */
  async function tail(v: Float32Array, w2: Float32Array, b2: Float32Array, relu: boolean): Promise<Float32Array> {
    const g = new GraphBuilder('tail');
    let x = g.input({ name: 'v', elemType: F, shape: [2, 4, 5, 6] });
    if (relu) x = g.node('Relu', [x], 'relu');
    out(g, g.node('Conv', [x, g.floats('w', w2, [2, 4, 3, 3]), g.floats('b', b2, [2])], 'conv2', { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }));
    return (await runOrt(g.build(), new Map([['v', { data: v, dims: [2, 4, 5, 6] }]]), ['y'])).get('y')!.data;
  }

  test('a feed for an intermediate value skips its producer (also the pre-ReLU value of a fused Conv)', async () => {
    const r = new Rng(3);
    const { model, pre, act, w2, b2 } = chain(r);
    const runner = await createTfjsRunner(model, []);
    try {
      const v = r.arr(2 * 4 * 30);
      for (const [name, relu] of [[act, false], [pre, true]] as const) {
        // No feed for `input`: the Conv producing `name` must not run.
        const got = runner.interpreter.run(new Map([[name, { data: v, dims: [2, 4, 5, 6] }]]), ['y']).get('y')!;
        const data = Float32Array.from(got.dataSync() as ArrayLike<number>);
        got.dispose();
        expect(maxAbsDiff(data, await tail(v, w2, b2, relu)), `fed ${name}`).toBeLessThanOrEqual(1e-5);
      }
      // The NHWC layout of a feed is honoured too.
      const nhwc = tf.tidy(() => tf.transpose(tf.tensor4d(v, [2, 4, 5, 6]), [0, 2, 3, 1]).dataSync() as Float32Array);
      const got = runner.interpreter.run(new Map([[act, { data: nhwc, dims: [2, 4, 5, 6], layout: 'nhwc' as const }]]), ['y']).get('y')!;
      expect(maxAbsDiff(Float32Array.from(got.dataSync() as ArrayLike<number>), await tail(v, w2, b2, false))).toBeLessThanOrEqual(1e-5);
      got.dispose();
    } finally {
      await runner.dispose();
    }
  });

  test('fetching the pre-ReLU value of a fused Conv gives it before the ReLU', async () => {
    const r = new Rng(4);
    const { model, pre } = chain(r);
    const x = r.arr(size(X));
    const g = new GraphBuilder('head');
    out(g, conv(g, new Rng(4), input(g), 3, 4, 3, { pads: [1, 1, 1, 1] }));
    const ref = (await runOrt(g.build(), new Map([['input', { data: x, dims: X }]]), ['y'])).get('y')!.data;
    const runner = await createTfjsRunner(model, []);
    try {
      const got = runner.interpreter.run(new Map([['input', { data: x, dims: X }]]), [pre, 'y']);
      expect(maxAbsDiff(Float32Array.from(got.get(pre)!.dataSync() as ArrayLike<number>), ref)).toBeLessThanOrEqual(1e-5);
      for (const t of got.values()) t.dispose();
    } finally {
      await runner.dispose();
    }
  });

  test('tf.grad through interpreter.run matches finite differences', async () => {
    const r = new Rng(5);
    const g = new GraphBuilder('t');
    const pre = fmap(g, r);
    const act = g.node('Relu', [pre], 'relu');
    out(g, g.node('Relu', [conv(g, r, act, 4, 3, 3, { group: 1, pads: [0, 1, 1, 0], strides: [2, 2] })], 'relu2'));
    const runner = await createTfjsRunner(g.build(), []);
    const before = tf.memory().numTensors;
    try {
      // f(v) = sum(y) with `v` fed as `name` (the graph input, or the intermediate ReLU output).
      const f = (name: string) => (v: tf.Tensor): tf.Scalar => {
        const res = runner.interpreter.run(new Map([[name, { tensor: v }]]), ['y']);
        return tf.sum(res.get('y')!);
      };
      for (const [name, dims] of [['input', X], [act, [2, 4, 5, 6]]] as Array<[string, number[]]>) {
        const x0 = r.arr(size(dims));
        const grad = tf.tidy(() => tf.grad(f(name))(tf.tensor(x0, dims)).dataSync() as Float32Array);
        expect(grad.some((v) => v !== 0)).toBe(true);
        const eps = 1e-3;
        for (const i of [0, 7, 31, 64, x0.length - 1]) {
          const at = (d: number): number => tf.tidy(() => {
            const x = Float32Array.from(x0);
            x[i] = x0[i]! + d;
            return f(name)(tf.tensor(x, dims)).dataSync()[0]!;
          });
          const fd = (at(eps) - at(-eps)) / (2 * eps);
          expect(Math.abs(grad[i]! - fd), `d sum / d ${name}[${i}]: ${grad[i]} vs ${fd}`).toBeLessThanOrEqual(1e-2 * Math.max(1, Math.abs(fd)));
        }
      }
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      await runner.dispose();
    }
  });

  test('50 runs of a several-op graph leak no tensor (and match the ort runner)', async () => {
    const r = new Rng(6);
    const g = new GraphBuilder('t');
    const x = input(g);
    const c = g.node('Relu', [conv(g, r, x, 3, 4, 3, { pads: [1, 1, 1, 1] })], 'relu');
    const gate = g.node('Sigmoid', [g.node('Unsqueeze', [g.node('Squeeze', [g.node('GlobalAveragePool', [c], 'gap'), g.ints([2, 3])], 'sq'), g.ints([2, 3])], 'usq')], 'sig');
    const y = g.node('Mul', [c, gate], 'mul');
    const sp = g.node('Concat', [g.node('ReduceMean', [y], 'rm', { axes: [1], keepdims: 1 }), g.node('ReduceMax', [y], 'rx', { axes: [1], keepdims: 1 })], 'cat', { axis: 1 });
    const att = g.node('Sigmoid', [conv(g, r, sp, 2, 1, 3, { pads: [1, 1, 1, 1] })], 'sig');
    g.output(att, 'att');
    const z = g.node('Mul', [y, att], 'mul');
    const flat = g.node('Reshape', [g.node('MaxPool', [z], 'mp', { kernel_shape: [2, 2], strides: [2, 2] }), g.ints([0, -1])], 'rs');
    g.output(g.node('Softmax', [g.node('Gemm', [flat, g.floats('fc', r.arr(10 * 24), [10, 24])], 'fc', { transB: 1 })], 'sm'), 'logits');
    const model = g.build();
    const data = r.arr(size(X));
    const fetch = ['att', 'logits'];
    const ortRunner = await createRunner(model, [], { runtime: 'ort' });
    const ref = await ortRunner.run({ input: { data, dims: X }, bypass: new Set(), fetch }).finally(() => ortRunner.dispose());
    const runner = await createRunner(model, [], { runtime: 'tfjs' });
    try {
      expect(runner.info.backend).toBe('wasm');
      const first = await runner.run({ input: { data, dims: X }, bypass: new Set(), fetch });
      for (const k of fetch) expect(maxAbsDiff(first.get(k)!.data, ref.get(k)!.data), k).toBeLessThanOrEqual(1e-5);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 50; i++) {
        const res = await runner.run({ input: { data, dims: X }, bypass: new Set(), fetch: i % 2 ? ['att', 'logits'] : ['logits'] });
        expect(res.get('logits')!.dims).toEqual([2, 10]);
      }
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      await runner.dispose();
    }
  });
});
