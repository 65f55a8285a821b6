// Small editing helpers over a decoded ONNX graph (someone else's): who produces and who
// consumes each value, constants, and appending nodes and int64 constants under unique names.

import { DataType, onnx, type OnnxTypes, toInt } from '../graph/onnx';

type Node = OnnxTypes.INodeProto;

export class GraphIndex {
  readonly producer = new Map<string, Node>();
  readonly consumers = new Map<string, Node[]>();
  readonly constants = new Set<string>();
  readonly index = new Map<Node, number>();
  readonly inputs: Set<string>;

  constructor(readonly graph: OnnxTypes.IGraphProto) {
    const nodes = graph.node ?? [];
    nodes.forEach((n, i) => {
      this.index.set(n, i);
      for (const o of n.output ?? []) if (o) this.producer.set(o, n);
      for (const v of n.input ?? []) {
        if (!v) continue;
        let list = this.consumers.get(v);
        if (!list) this.consumers.set(v, (list = []));
        list.push(n);
      }
      if (n.opType === 'Constant') for (const o of n.output ?? []) this.constants.add(o);
    });
    for (const t of graph.initializer ?? []) if (t.name) this.constants.add(t.name);
    this.inputs = new Set((graph.input ?? []).map((v) => v.name as string).filter((n) => !this.constants.has(n)));
  }

  /** Whether a value is computed from constants only (initializers, Constant nodes, shapes of nothing). */
  isConstant(v: string, depth = 0): boolean {
    if (this.constants.has(v)) return true;
    const p = this.producer.get(v);
    if (!p || depth > 8) return false;
    return (p.input ?? []).filter(Boolean).every((i) => this.isConstant(i, depth + 1));
  }

  /** A constant's float value when it is a one-element tensor (initializer or Constant node), else null. */
  scalarValue(v: string): number | null {
    let t: OnnxTypes.ITensorProto | undefined = (this.graph.initializer ?? []).find((i) => i.name === v);
    if (!t) {
      const p = this.producer.get(v);
      if (p?.opType === 'Constant') t = p.attribute?.find((a) => a.name === 'value')?.t ?? undefined;
      else if (p?.opType === 'Cast' || p?.opType === 'Identity') return p.input?.[0] ? this.scalarValue(p.input[0]) : null;
    }
    if (!t) return null;
    const count = (t.dims ?? []).reduce<number>((a, d) => a * toInt(d as number), 1);
    if (count !== 1) return null;
    if (t.floatData?.length) return t.floatData[0] as number;
    if (t.int64Data?.length) return toInt(t.int64Data[0] as number);
    if (t.int32Data?.length) return t.int32Data[0] as number;
    const raw = t.rawData;
    if (raw && raw.length) {
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      if (t.dataType === DataType.FLOAT) return view.getFloat32(0, true);
      if (t.dataType === 11) return view.getFloat64(0, true);
      if (t.dataType === DataType.INT64) return Number(view.getBigInt64(0, true));
      if (t.dataType === DataType.INT32) return view.getInt32(0, true);
    }
    return null;
  }

  attrInt(n: Node, name: string, fallback: number): number {
    const a = n.attribute?.find((x) => x.name === name);
    return a?.i !== undefined && a.i !== null ? toInt(a.i as number) : fallback;
  }

  attrInts(n: Node, name: string): number[] | null {
    const a = n.attribute?.find((x) => x.name === name);
    return a?.ints?.length ? a.ints.map((v) => toInt(v as number)) : null;
  }
}

/** Appends nodes to a graph being rewritten, with names under `attnscope/`. */
export class GraphWriter {
  private counter = 0;
  readonly added: Node[] = [];
  readonly initializers: OnnxTypes.ITensorProto[] = [];

  constructor(readonly opset: number) {}

  name(hint: string): string {
    return `attnscope/${hint}/${this.counter++}`;
  }

  node(op: string, inputs: string[], attrs: Record<string, number | number[]> = {}, output?: string): string {
    const out = output ?? this.name(op);
    const attribute: OnnxTypes.IAttributeProto[] = Object.entries(attrs).map(([name, v]) => Array.isArray(v)
      ? { name, type: onnx.AttributeProto.AttributeType.INTS, ints: v }
      : { name, type: onnx.AttributeProto.AttributeType.INT, i: v });
    this.added.push({ opType: op, input: inputs, output: [out], name: out, attribute });
    return out;
  }

  ints(values: number[]): string {
    const name = this.name('const');
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dataType: DataType.INT64, dims: [values.length], rawData: new Uint8Array(data.buffer) });
    return name;
  }

  float(value: number): string {
    const name = this.name('const');
    this.initializers.push({ name, dataType: DataType.FLOAT, dims: [], rawData: new Uint8Array(Float32Array.of(value).buffer) });
    return name;
  }

  /** ReduceMean over `axes` (attribute before opset 18, input from 18). */
  mean(x: string, axes: number[], keepdims: 0 | 1): string {
    return this.opset >= 18 ? this.node('ReduceMean', [x, this.ints(axes)], { keepdims }) : this.node('ReduceMean', [x], { axes, keepdims });
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
