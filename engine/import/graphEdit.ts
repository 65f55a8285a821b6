// Small editing helpers over a decoded ONNX graph (someone else's): who produces and who
// consumes each value, constants, a topological order, and appending nodes and int64
// constants under unique names.

import { attribute, type AttrValue } from '../graph/builder';
import { DataType, type OnnxTypes, tensorNumbers, toInt } from '../graph/onnx';

type Node = OnnxTypes.INodeProto;

export class GraphIndex {
  readonly producer = new Map<string, Node>();
  readonly consumers = new Map<string, Node[]>();
  readonly constants = new Set<string>();
  readonly inputs: Set<string>;
  private readonly initializers = new Map<string, OnnxTypes.ITensorProto>();

  constructor(readonly graph: OnnxTypes.IGraphProto) {
    for (const n of graph.node ?? []) {
      for (const o of n.output ?? []) if (o) this.producer.set(o, n);
      for (const v of n.input ?? []) {
        if (!v) continue;
        let list = this.consumers.get(v);
        if (!list) this.consumers.set(v, (list = []));
        list.push(n);
      }
      if (n.opType === 'Constant') for (const o of n.output ?? []) this.constants.add(o);
    }
    for (const t of graph.initializer ?? []) {
      if (!t.name) continue;
      this.constants.add(t.name);
      this.initializers.set(t.name, t);
    }
    this.inputs = new Set((graph.input ?? []).map((v) => v.name as string).filter((n) => !this.constants.has(n)));
  }

  /** Whether a value is computed from constants only (initializers, Constant nodes), looking 8 ops up. */
  isConstant(v: string, depth = 0): boolean {
    if (this.constants.has(v)) return true;
    const p = this.producer.get(v);
    if (!p || depth > 8) return false;
    return (p.input ?? []).filter(Boolean).every((i) => this.isConstant(i, depth + 1));
  }

  /** A constant's value when it is a one-element tensor (initializer or Constant node, through Cast / Identity), else null. */
  scalarValue(v: string): number | null {
    let t = this.initializers.get(v);
    if (!t) {
      const p = this.producer.get(v);
      if (p?.opType === 'Constant') t = p.attribute?.find((a) => a.name === 'value')?.t ?? undefined;
      else if (p?.opType === 'Cast' || p?.opType === 'Identity') return p.input?.[0] ? this.scalarValue(p.input[0]) : null;
    }
    const values = t ? tensorNumbers(t) : null;
    return values?.length === 1 ? (values[0] as number) : null;
  }

  /** An initializer's values, else null. */
  numbers(v: string): number[] | null {
    const t = this.initializers.get(v);
    return t ? Array.from(tensorNumbers(t) ?? []) : null;
  }

  attrInt(n: Node, name: string, fallback: number): number {
    const a = n.attribute?.find((x) => x.name === name);
    return a?.i !== undefined && a.i !== null ? toInt(a.i as number) : fallback;
  }
}

/**
 * The nodes in an order where each comes after the producers of its inputs, as close to the
 * given order as that allows (depth-first, so an already sorted graph keeps its order).
 * Throws `onCycle(node)` with a node on a cycle when there is no such order.
 */
export function topoOrder<T extends Node>(nodes: T[], onCycle: (node: T) => Error): T[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => { for (const o of n.output ?? []) if (o) producer.set(o, i); });
  const state = new Uint8Array(nodes.length); // 0 new, 1 on the stack, 2 placed
  const out: T[] = [];
  for (let start = 0; start < nodes.length; start++) {
    if (state[start]) continue;
    const stack: Array<[number, number]> = [[start, 0]];
    state[start] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1] as [number, number];
      const inputs = nodes[top[0]]?.input ?? [];
      if (top[1] >= inputs.length) {
        state[top[0]] = 2;
        out.push(nodes[top[0]] as T);
        stack.pop();
        continue;
      }
      const p = producer.get(inputs[top[1]++] as string);
      if (p === undefined || state[p] === 2) continue;
      if (state[p] === 1) throw onCycle(nodes[p] as T);
      state[p] = 1;
      stack.push([p, 0]);
    }
  }
  return out;
}

/** Appends nodes to a graph being rewritten, with names under `attnscope/`. */
export class GraphWriter {
  private counter = 0;
  private readonly constCache = new Map<string, string>();
  readonly added: Node[] = [];
  readonly initializers: OnnxTypes.ITensorProto[] = [];

  constructor(readonly opset: number) {}

  name(hint: string): string {
    return `attnscope/${hint}/${this.counter++}`;
  }

  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, output?: string): string {
    const out = output ?? this.name(op);
    this.added.push({ opType: op, input: inputs, output: [out], name: out, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
    return out;
  }

  /** A node with the attributes of another graph's node as they are. */
  raw(op: string, inputs: string[], attributes: OnnxTypes.IAttributeProto[]): string {
    const out = this.name(op);
    this.added.push({ opType: op, input: inputs, output: [out], name: out, attribute: attributes });
    return out;
  }

  /** An int64 constant (shapes, axes, indices), shared between users of the same values. */
  ints(values: number[]): string {
    const key = values.join(',');
    let name = this.constCache.get(key);
    if (!name) {
      name = this.name('const');
      this.initializers.push({ name, dataType: DataType.INT64, dims: [values.length], rawData: new Uint8Array(BigInt64Array.from(values, BigInt).buffer) });
      this.constCache.set(key, name);
    }
    return name;
  }

  /** A float32 constant (an initializer under a fresh name). */
  constant(values: Float32Array, dims: number[]): string {
    const name = this.name('const');
    this.initializers.push({ name, dataType: DataType.FLOAT, dims, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) });
    return name;
  }

  /** ReduceMean over `axes` (attribute before opset 18, input from 18). */
  mean(x: string, axes: number[], keepdims: 0 | 1): string {
    return this.opset >= 18 ? this.node('ReduceMean', [x, this.ints(axes)], { keepdims }) : this.node('ReduceMean', [x], { axes, keepdims });
  }

  /** ReduceSum over `axes` (attribute before opset 13, input from 13). */
  sum(x: string, axes: number[], keepdims: 0 | 1): string {
    return this.opset >= 13 ? this.node('ReduceSum', [x, this.ints(axes)], { keepdims }) : this.node('ReduceSum', [x], { axes, keepdims });
  }

  /** 0, 1, ... n - 1 as float32, for an int64 [1] value n (positions, rows, columns). */
  indices(n: string): string {
    const scalar = (v: string): string => this.node('Squeeze', [v, this.ints([0])]);
    return this.node('Cast', [this.node('Range', [scalar(this.ints([0])), scalar(n), scalar(this.ints([1]))])], { to: DataType.FLOAT });
  }

  /** H * W of a map [N, C, H, W], as int64 [1]: how many positions it has. */
  positionCount(map: string): string {
    return this.node('Mul', [this.shapeSlice(map, 2, 3), this.shapeSlice(map, 3, 4)]);
  }

  /** 1 where a float position id equals each of `every` (indices(n)), else 0: [...ids, n], one one-hot row per id. */
  oneHot(ids: string, every: string): string {
    return this.node('Cast', [this.node('Equal', [this.node('Unsqueeze', [ids, this.ints([-1])]), every])], { to: DataType.FLOAT });
  }

  /** Shape(x)[start:end] as int64. */
  shapeSlice(x: string, start: number, end: number): string {
    return this.node('Slice', [this.node('Shape', [x]), this.ints([start]), this.ints([end]), this.ints([0])]);
  }

  /** x reshaped to [N (x's first dim), ...the dims of `tail`]. */
  reshapeBatchTail(x: string, batchOf: string, tail: string): string {
    return this.node('Reshape', [x, this.node('Concat', [this.shapeSlice(batchOf, 0, 1), tail], { axis: 0 })]);
  }
}
