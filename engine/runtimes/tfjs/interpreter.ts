// Runs an ONNX graph with TensorFlow.js ops (DESIGN.md "One graph, two runtimes", runtime
// `tfjs`): the same attention graph ONNX Runtime runs, on tfjs's backends, with gradients
// (every op is a differentiable tf op, so tf.grad works through a run).
//
// Load: initializers become tensors once (conv weights pre-transposed to tf filters, Gemm
// weights to [K, N]), int64 initializers and Constants become host values, and Conv/Gemm
// followed by their only consumer Relu are fused. Run: only the nodes the requested
// outputs need are executed, in graph order; each value is disposed right after its last
// consumer, so a run holds the live activations, not all of them.

import * as tf from '@tensorflow/tfjs-core';
import { DataType, onnx, type OnnxTypes, tensorNumbers, toInt } from '../../graph/onnx';
import { EngineError } from '../../errors';
import { type Attr, explicitDilation, OPS, type OpContext, type OpNode, type PreparedFilter, prepareFilter, type Subgraph } from './ops';
import { canonical, disposeValue, host, hostData, tensor, type Value } from './values';

/** A feed: float data in ONNX layout, or already NHWC for a 4-D input; or a bool. */
export type Feed =
  | { data: Float32Array; dims: number[]; layout?: 'nchw' | 'nhwc' }
  | { bool: boolean }
  | { ints: number[] }
  | { tensor: tf.Tensor };

export class GraphInterpreter {
  private readonly nodes: OpNode[] = [];
  private readonly weights = new Map<string, Value>();
  private readonly filters = new Map<string, PreparedFilter>();
  private readonly gemmWeights = new Map<string, tf.Tensor2D>();
  private readonly producer = new Map<string, number>();
  /** Outputs of Conv/Gemm nodes with a fused Relu: the pre-ReLU values, which a run can no longer see. */
  private readonly fusedPre = new Set<string>();
  readonly outputNames: string[];
  private readonly ctx: OpContext;

  /**
   * Whether tf.grad works through a run: built differentiable, or with no dilated convolution
   * (tf has no gradient for those; a differentiable interpreter writes their holes into the filter).
   */
  gradients = true;

  /** The first node whose op is in `ops` (subgraphs included), or null. */
  findOp(ops: ReadonlySet<string>): OpNode | null {
    const walk = (nodes: OpNode[]): OpNode | null => {
      for (const n of nodes) {
        if (ops.has(n.op)) return n;
        for (const sg of Object.values(n.subgraphs ?? {})) {
          const found = walk(sg.nodes);
          if (found) return found;
        }
      }
      return null;
    };
    return walk(this.nodes);
  }

  constructor(model: OnnxTypes.IModelProto, opts: { differentiable?: boolean } = {}) {
    const graph = model.graph;
    if (!graph) throw new EngineError('bad-model', 'The ONNX model has no graph.');
    this.outputNames = (graph.output ?? []).map((v) => v.name as string);
    try {
      for (const t of graph.initializer ?? []) this.weights.set(t.name as string, fromTensorProto(t));
      for (const n of graph.node ?? []) {
        const node = toOpNode(n);
        if (node.op === 'Constant') {
          this.weights.set(node.outputs[0] as string, constantValue(node));
          continue;
        }
        this.nodes.push(node);
      }
      this.nodes.forEach((n, i) => n.outputs.forEach((o) => this.producer.set(o, i)));
      this.prepareWeights(opts.differentiable === true);
      this.gradients = opts.differentiable === true || !this.nodes.some((n) => n.op === 'Conv' && Array.isArray(n.attrs.dilations) && (n.attrs.dilations as number[]).some((d) => d > 1));
      this.fuseRelus(new Set(this.outputNames));
    } catch (err) {
      this.dispose();
      throw err;
    }
    this.ctx = {
      filter: (name) => this.filters.get(name),
      gemmB: (name, transB) => (transB ? this.gemmWeights.get(name) : undefined),
      numericPadding: tf.getBackend() !== 'tensorflow',
      ...(opts.differentiable ? { differentiable: true } : {}),
    };
  }

  /**
   * Runs the nodes `fetch` needs. `feeds` may also name intermediate values: their producers
   * are then skipped (tf.grad of a part of the graph). Returns the fetched values as tensors
   * in ONNX layout, owned by the caller. Synchronous: tf ops only.
   */
  run(feeds: Map<string, Feed>, fetch: string[]): Map<string, tf.Tensor> {
    const values = new Map<string, Value>();
    const owned = new Set<string>();
    try {
      for (const [name, feed] of feeds) {
        values.set(name, feedValue(feed));
        if (!('tensor' in feed)) owned.add(name);
      }
      const plan = this.plan(fetch, feeds);
      const uses = new Map<string, number>();
      for (const i of plan) for (const inp of (this.nodes[i] as OpNode).inputs) if (inp) uses.set(inp, (uses.get(inp) ?? 0) + 1);
      const keep = new Set(fetch);
      // A fed or fetched pre-ReLU value needs its Conv/Gemm -> Relu pair unfused for this run.
      const unfuse = new Set([...feeds.keys(), ...fetch].filter((n) => this.fusedPre.has(n)));
      for (const i of plan) {
        const node = unfuse.size ? unfused(this.nodes[i] as OpNode, unfuse) : this.nodes[i] as OpNode;
        const args = node.inputs.map((name) => (name ? values.get(name) ?? this.weights.get(name) : undefined));
        const missing = node.inputs.findIndex((name, k) => name && !args[k]);
        if (missing >= 0) throw new EngineError('bad-request', `No value for "${node.inputs[missing]}", an input of node "${node.name}".`);
        const outs = this.exec(node, args);
        node.outputs.forEach((name, k) => {
          const v = outs[k];
          if (name && v) { values.set(name, v); owned.add(name); }
        });
        for (const inp of node.inputs) {
          if (!inp) continue;
          const left = (uses.get(inp) ?? 1) - 1;
          uses.set(inp, left);
          if (left === 0 && owned.has(inp) && !keep.has(inp)) {
            disposeValue(values.get(inp));
            values.delete(inp);
            owned.delete(inp);
          }
        }
      }
      const result = new Map<string, tf.Tensor>();
      for (const name of fetch) {
        const v = values.get(name) ?? this.weights.get(name);
        if (!v) throw new EngineError('not-found', `The graph has no output "${name}".`);
        const t = tf.tidy(() => {
          const c = canonical(v);
          return v.kind === 'tensor' && c === v.t ? tf.clone(c) : c;
        });
        result.set(name, t);
      }
      return result;
    } finally {
      for (const name of owned) disposeValue(values.get(name));
    }
  }

  /** One node's outputs, owned by the caller (If and Loop run their subgraphs). */
  private exec(node: OpNode, args: Array<Value | undefined>): Value[] {
    if (node.op === 'If' || node.op === 'Loop') return this.control(node, args);
    try {
      return tf.tidy(() => {
        // tidy keeps the tensors found inside the returned Value objects.
        const r = (OPS[node.op] as NonNullable<typeof OPS[string]>)(this.ctx, node, args);
        // An op may hand back an input's own tensor; give the output its own handle.
        return r.map((v) => (v.kind === 'tensor' && args.some((a) => a?.kind === 'tensor' && a.t === v.t) ? tensor(tf.clone(v.t), v.nhwc) : v)) as unknown as tf.TensorContainer;
      }) as unknown as Value[];
    } catch (err) {
      if (err instanceof EngineError) throw err;
      throw new EngineError('internal', `The tfjs runtime failed at ${node.op} node "${node.name}": ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** If and Loop (ONNX semantics; a Loop's scan outputs are stacked on a new first axis). */
  private control(node: OpNode, args: Array<Value | undefined>): Value[] {
    const from = node.implicitFrom ?? node.inputs.length;
    const env = new Map<string, Value>();
    node.inputs.slice(from).forEach((name, k) => { const v = args[from + k]; if (v) env.set(name, v); });
    const subs = node.subgraphs ?? {};
    if (node.op === 'If') {
      const cond = hostData(args[0] as Value)[0];
      const branch = subs[cond ? 'then_branch' : 'else_branch'];
      if (!branch) throw new EngineError('bad-model', `If node "${node.name}" has no ${cond ? 'then' : 'else'} branch.`);
      return this.runSubgraph(branch, [], env);
    }
    const body = subs.body;
    if (!body) throw new EngineError('bad-model', `Loop node "${node.name}" has no body.`);
    const trips = args[0] ? hostData(args[0])[0] as number : Infinity;
    let cond = args[1] ? Boolean(hostData(args[1])[0]) : true;
    const initial = args.slice(2, from) as Value[];
    let carried = initial;
    const scans: Value[][] = [];
    try {
      for (let i = 0; i < trips && cond; i++) {
        const outs = this.runSubgraph(body, [host([i], [], 'int'), host([cond ? 1 : 0], [], 'bool'), ...carried], env);
        cond = Boolean(hostData(outs[0] as Value)[0]);
        const next = outs.slice(1, 1 + initial.length);
        if (carried !== initial) carried.forEach((v) => disposeValue(v));
        carried = next;
        outs.slice(1 + initial.length).forEach((v, k) => (scans[k] ??= []).push(v));
      }
      const stacked = scans.map((parts) => tensor(tf.tidy(() => tf.stack(parts.map((v) => canonical(v))))));
      const out = carried === initial ? initial.map((v) => (v.kind === 'tensor' ? tensor(tf.clone(v.t), v.nhwc) : v)) : carried;
      return [...out, ...stacked];
    } finally {
      scans.flat().forEach((v) => disposeValue(v));
    }
  }

  /** Runs a subgraph on `inputs` (not owned) with outer values `env`; returns its outputs, owned by the caller. */
  private runSubgraph(sub: Subgraph, inputs: Value[], env: Map<string, Value>): Value[] {
    const local = new Map<string, Value>();
    const owned = new Set<string>();
    sub.inputs.forEach((name, k) => { const v = inputs[k]; if (v) local.set(name, v); });
    const uses = new Map<string, number>();
    for (const n of sub.nodes) for (const i of n.inputs) if (i) uses.set(i, (uses.get(i) ?? 0) + 1);
    const keep = new Set(sub.outputs);
    const lookup = (name: string): Value | undefined => local.get(name) ?? env.get(name) ?? this.weights.get(name);
    try {
      for (const node of sub.nodes) {
        const args = node.inputs.map((name) => (name ? lookup(name) : undefined));
        const missing = node.inputs.findIndex((name, k) => name && !args[k]);
        if (missing >= 0) throw new EngineError('bad-request', `No value for "${node.inputs[missing]}", an input of node "${node.name}".`);
        const outs = node.op === 'Constant' ? [constantValue(node)] : this.exec(node, args);
        node.outputs.forEach((name, k) => { const v = outs[k]; if (name && v) { local.set(name, v); owned.add(name); } });
        for (const inp of node.inputs) {
          if (!inp) continue;
          const left = (uses.get(inp) ?? 1) - 1;
          uses.set(inp, left);
          if (left === 0 && owned.has(inp) && !keep.has(inp)) { disposeValue(local.get(inp)); local.delete(inp); owned.delete(inp); }
        }
      }
      return sub.outputs.map((name) => {
        const v = lookup(name);
        if (!v) throw new EngineError('bad-model', `A subgraph has no value for its output "${name}".`);
        if (owned.has(name)) { owned.delete(name); return v; }
        return v.kind === 'tensor' ? tensor(tf.clone(v.t), v.nhwc) : v;
      });
    } finally {
      for (const name of owned) disposeValue(local.get(name));
    }
  }

  dispose(): void {
    for (const v of this.weights.values()) disposeValue(v);
    for (const f of this.filters.values()) f.filter.dispose();
    for (const t of this.gemmWeights.values()) t.dispose();
    this.weights.clear();
    this.filters.clear();
    this.gemmWeights.clear();
  }

  /** Node indices needed for `fetch`, in graph order. */
  private plan(fetch: string[], feeds: Map<string, Feed>): number[] {
    const needed = new Set<number>();
    const stack = [...fetch];
    const seen = new Set<string>();
    while (stack.length) {
      const name = stack.pop() as string;
      if (seen.has(name) || feeds.has(name)) continue;
      seen.add(name);
      const i = this.producer.get(name);
      if (i === undefined) continue;
      if (needed.has(i)) continue;
      needed.add(i);
      for (const inp of (this.nodes[i] as OpNode).inputs) if (inp) stack.push(inp);
    }
    return [...needed].sort((a, b) => a - b);
  }

  private prepareWeights(differentiable: boolean): void {
    for (const node of this.nodes) {
      const w = node.inputs[1];
      if (!w) continue;
      const v = this.weights.get(w);
      if (v?.kind !== 'tensor') continue;
      if (node.op === 'Conv' && v.t.rank === 4 && !this.filters.has(w)) {
        this.filters.set(w, tf.tidy(() => {
          const p = prepareFilter(v.t, typeof node.attrs.group === 'number' ? node.attrs.group : 1, explicitDilation(node, differentiable));
          return { filter: tf.keep(p.filter), depthwise: p.depthwise };
        }));
      }
      if (node.op === 'Gemm' && node.attrs.transB === 1 && !this.gemmWeights.has(w)) {
        this.gemmWeights.set(w, tf.transpose(v.t as tf.Tensor2D));
      }
    }
  }

  /** Conv/Gemm -> Relu, where the Relu is the only consumer and the pre-activation is no output. */
  private fuseRelus(outputs: Set<string>): void {
    const consumers = new Map<string, OpNode[]>();
    for (const n of this.nodes) for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
    for (const n of this.nodes) {
      if (n.op !== 'Conv' && n.op !== 'Gemm') continue;
      if (n.op === 'Gemm' && (n.attrs.transA === 1 || (typeof n.attrs.alpha === 'number' && n.attrs.alpha !== 1))) continue;
      const out = n.outputs[0] as string;
      const users = consumers.get(out) ?? [];
      if (users.length !== 1 || outputs.has(out)) continue;
      const relu = users[0] as OpNode;
      if (relu.op !== 'Relu') continue;
      n.fusedRelu = true;
      relu.op = 'Identity';
      this.fusedPre.add(out);
    }
  }
}

/** A node of a fused Conv/Gemm -> Relu pair whose pre-ReLU value is in `pre`, as it runs unfused. */
function unfused(node: OpNode, pre: Set<string>): OpNode {
  if (node.fusedRelu && pre.has(node.outputs[0] as string)) return { ...node, fusedRelu: false };
  if (node.op === 'Identity' && pre.has(node.inputs[0] as string)) return { ...node, op: 'Relu' };
  return node;
}

function feedValue(feed: Feed): Value {
  if ('bool' in feed) return host([feed.bool ? 1 : 0], [], 'bool');
  if ('ints' in feed) return host(feed.ints, [feed.ints.length], 'int');
  if ('tensor' in feed) return tensor(feed.tensor);
  if (feed.layout === 'nhwc') {
    const [n, c, h, w] = feed.dims as [number, number, number, number];
    return tensor(tf.tensor4d(feed.data, [n, h, w, c]), true);
  }
  return tensor(tf.tensor(feed.data, feed.dims));
}

const CONTROL_OPS = new Set(['If', 'Loop']);

/** A node of a graph or subgraph; an unknown op is refused here, at load. */
function toOpNode(n: OnnxTypes.INodeProto): OpNode {
  const attrs: Record<string, Attr> = {};
  const subgraphs: Record<string, Subgraph> = {};
  const T = onnx.AttributeProto.AttributeType;
  for (const a of n.attribute ?? []) {
    const name = a.name as string;
    switch (a.type) {
      case T.INT: attrs[name] = toInt(a.i); break;
      case T.INTS: attrs[name] = (a.ints ?? []).map(toInt); break;
      case T.FLOAT: attrs[name] = a.f ?? 0; break;
      case T.FLOATS: attrs[name] = [...(a.floats ?? [])]; break;
      case T.STRING: attrs[name] = new TextDecoder().decode(a.s ?? new Uint8Array()); break;
      // Host values (no tfjs tensor to dispose): Constant turns a float one into a weight.
      case T.TENSOR: attrs[name] = a.t ? toHost(fromTensorProto(a.t)) as never : undefined; break;
      case T.GRAPH: if (a.g) subgraphs[name] = toSubgraph(a.g); break;
      default: break;
    }
  }
  const node: OpNode = {
    op: n.opType as string,
    name: n.name || `${n.opType}:${(n.output ?? [])[0] ?? ''}`,
    inputs: [...(n.input ?? [])],
    outputs: [...(n.output ?? [])],
    attrs,
  };
  if (node.op !== 'Constant' && !CONTROL_OPS.has(node.op) && !Object.hasOwn(OPS, node.op)) {
    throw new EngineError('unsupported-op', `The tfjs runtime has no "${node.op}" operator (node "${node.name}").`,
      'Run this model with the ort runtime (--runtime ort).');
  }
  if (CONTROL_OPS.has(node.op)) {
    // The outer values the subgraphs read become extra inputs: the planner then runs their
    // producers first and keeps them alive until the If / Loop has run.
    node.subgraphs = subgraphs;
    node.implicitFrom = node.inputs.length;
    const outer = new Set(Object.values(subgraphs).flatMap((g) => g.outer));
    node.inputs.push(...outer);
  }
  return node;
}

function toSubgraph(g: OnnxTypes.IGraphProto): Subgraph {
  if ((g.initializer ?? []).length) throw new EngineError('unsupported-op', `Subgraph "${g.name}" has its own initializers, which the tfjs runtime does not read.`);
  const nodes = (g.node ?? []).map(toOpNode);
  const inputs = (g.input ?? []).map((v) => v.name as string);
  const defined = new Set([...inputs, ...nodes.flatMap((n) => n.outputs)]);
  const outputs = (g.output ?? []).map((v) => v.name as string);
  const outer = new Set<string>();
  for (const name of [...nodes.flatMap((n) => n.inputs), ...outputs]) if (name && !defined.has(name)) outer.add(name);
  return { inputs, outputs, nodes, outer: [...outer] };
}

function constantValue(node: OpNode): Value {
  const v = node.attrs.value as unknown as Value | undefined;
  if (v?.kind === 'host' && v.type === 'float') return tensor(tf.tensor(v.data, v.dims, 'float32'));
  if (v) return v;
  if (typeof node.attrs.value_float === 'number') return tensor(tf.scalar(node.attrs.value_float));
  if (typeof node.attrs.value_int === 'number') return host([node.attrs.value_int], [], 'int');
  if (Array.isArray(node.attrs.value_ints)) return host(node.attrs.value_ints, [node.attrs.value_ints.length], 'int');
  if (Array.isArray(node.attrs.value_floats)) return tensor(tf.tensor1d(node.attrs.value_floats));
  throw new EngineError('unsupported-op', `Constant node "${node.name}" has a value kind the tfjs runtime does not read.`);
}

/** A value as host numbers (a tensor is read back and disposed). */
function toHost(v: Value): Value {
  if (v.kind === 'host') return v;
  const h = host(Array.from(v.t.dataSync()), [...v.t.shape], 'float');
  v.t.dispose();
  return h;
}

/** An initializer as a tensor (float) or a host value (ints, bools). */
export function fromTensorProto(t: OnnxTypes.ITensorProto): Value {
  const dims = (t.dims ?? []).map(toInt);
  const count = dims.reduce((a, b) => a * b, 1);
  const data = t.dataType === DataType.DOUBLE ? null : tensorNumbers(t);
  if (!data) throw new EngineError('unsupported-op', `Initializer "${t.name}" has ONNX data type ${t.dataType}, which the tfjs runtime does not read.`);
  if (t.dataType === DataType.FLOAT) {
    if (data.length !== count) throw new EngineError('bad-model', `Initializer "${t.name}" has ${data.length} values for shape [${dims.join(', ')}].`);
    return tensor(tf.tensor(data as Float32Array, dims, 'float32'));
  }
  return host(Array.from(data), dims, t.dataType === DataType.BOOL ? 'bool' : 'int');
}
