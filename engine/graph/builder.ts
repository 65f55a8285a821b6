// Builds an attention graph (DESIGN.md "One graph, two runtimes") as an ONNX ModelProto in
// memory. Emitters (engine/modules/*, engine/nets/*) call `node()` with ONNX operator names
// and attributes; value names are made unique here, so each emitter can name its nodes after
// its module path (`layer1.0.cbam/ChannelGate/Sigmoid`), as torch.onnx.export scopes them.

import { DataType, IR_VERSION, onnx, OPSET } from './onnx';
import type { OnnxTypes } from './onnx';

export type AttrValue = number | number[] | string | { floats: number[] } | { float: number } | { tensor: OnnxTypes.ITensorProto }
  | { graph: OnnxTypes.IGraphProto };

export interface ValueInfo {
  name: string;
  elemType: number;
  /** Numbers are fixed sizes, strings symbolic ones (`height`); omitted for outputs of unknown shape. */
  shape?: Array<number | string>;
}

export class GraphBuilder {
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly inputs: ValueInfo[] = [];
  /** Outputs, in order (what each is for is in its name: graph/names.ts). */
  private readonly outputs: Array<{ name: string; elemType: number }> = [];
  /** Value name -> the node that produces it. */
  private readonly producers = new Map<string, OnnxTypes.INodeProto>();
  /** Old value name -> the output name it was renamed to. */
  private readonly renamed = new Map<string, string>();
  // Shared with the subgraphs (If branches, Loop bodies): ONNX value names are unique across
  // a model's scopes, and every constant lives in the top graph, which subgraphs can read.
  private readonly initializers: OnnxTypes.ITensorProto[];
  private readonly used: Set<string>;
  private readonly constCache: Map<string, string>;
  private readonly nodeNames: Set<string>;

  constructor(readonly name: string, parent?: GraphBuilder) {
    this.initializers = parent?.initializers ?? [];
    this.used = parent?.used ?? new Set();
    this.constCache = parent?.constCache ?? new Map();
    this.nodeNames = parent?.nodeNames ?? new Set();
  }

  /**
   * A subgraph (an If branch, a Loop body) whose nodes `body` emits on a child builder; the
   * child reads this graph's values by name, as ONNX subgraphs read their outer scope.
   * `body` returns the subgraph's outputs in order.
   */
  subgraph(name: string, inputs: ValueInfo[], body: (sg: GraphBuilder, inputs: string[]) => Array<{ value: string; elemType?: number }>): OnnxTypes.IGraphProto {
    const sg = new GraphBuilder(name, this);
    const names = inputs.map((i) => {
      const n = sg.unique(i.name);
      sg.inputs.push({ ...i, name: n });
      return n;
    });
    body(sg, names).forEach((o, k) => sg.output(o.value, sg.fresh(`${name}/out${k}`), o.elemType));
    return { name, node: sg.nodes, input: sg.inputs.map(valueInfo), output: sg.outputs.map(valueInfo) };
  }

  /** A name starting with `hint` that no value has yet (not reserved). */
  private fresh(hint: string): string {
    let name = hint;
    for (let i = 1; this.used.has(name); i++) name = `${hint}_${i}`;
    return name;
  }

  /** A unique value name starting with `hint`. */
  unique(hint: string): string {
    let name = hint;
    for (let i = 1; this.used.has(name); i++) name = `${hint}_${i}`;
    this.used.add(name);
    return name;
  }

  /** A graph input; `defaultValue` makes it optional (an initializer of the same name). */
  input(info: ValueInfo, defaultValue?: OnnxTypes.ITensorProto): string {
    if (this.used.has(info.name)) throw new Error(`graph: duplicate input ${info.name}`);
    this.used.add(info.name);
    this.inputs.push(info);
    if (defaultValue) this.initializers.push({ ...defaultValue, name: info.name });
    return info.name;
  }

  /** A float32 initializer (weights, folded BatchNorm, constants). */
  floats(hint: string, data: Float32Array | number[], dims: number[]): string {
    const name = this.unique(hint);
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    this.initializers.push({ name, dataType: DataType.FLOAT, dims, rawData: new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength) });
    return name;
  }

  /** An int64 initializer (shapes, axes, indices), shared between users of the same values. */
  ints(values: number[]): string {
    const key = values.join(',');
    const known = this.constCache.get(key);
    if (known) return known;
    const name = this.unique(`const_i64_${values.length}`);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dataType: DataType.INT64, dims: [values.length], rawData: new Uint8Array(data.buffer) });
    this.constCache.set(key, name);
    return name;
  }

  /** A float scalar constant, shared. */
  scalar(value: number): string {
    const key = `f:${value}`;
    const known = this.constCache.get(key);
    if (known) return known;
    const name = this.floats(`const_${value}`, [value], []);
    this.constCache.set(key, name);
    return name;
  }

  /**
   * One node. `name` is the node's scoped name (`<module>/<part>/<Op>`); its single output
   * takes that name too unless `outputs` says otherwise. Returns the first output's name.
   */
  node(opType: string, inputs: string[], name: string, attrs: Record<string, AttrValue> = {}, outputs?: string[]): string {
    const outs = outputs ?? [this.unique(name)];
    for (const o of outputs ?? []) this.used.add(o);
    const node: OnnxTypes.INodeProto = {
      opType,
      name: this.uniqueNodeName(name),
      input: inputs.map((i) => this.renamed.get(i) ?? i),
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    };
    this.nodes.push(node);
    for (const o of outs) this.producers.set(o, node);
    return outs[0] as string;
  }

  /**
   * Marks a value as a named graph output called exactly `name`. A value a node produced is
   * renamed in place (its producer and consumers, and later uses of the old name), so an
   * output costs no copy: ONNX Runtime copies the input of an Identity node every run (the
   * non-local affinity is 1 GB at 1024 px). A graph input, or a value that is already an
   * output, gets an Identity.
   */
  output(value: string, name: string, elemType: number = DataType.FLOAT): string {
    const current = this.renamed.get(value) ?? value;
    const producer = this.producers.get(current);
    const isOutput = (n: string): boolean => this.outputs.some((o) => o.name === n);
    if (current === name && !isOutput(name)) {
      // already called so
    } else if (producer && !isOutput(current) && !this.used.has(name)) {
      this.used.add(name);
      producer.output = (producer.output ?? []).map((o) => (o === current ? name : o));
      for (const n of this.nodes) n.input = (n.input ?? []).map((i) => (i === current ? name : i));
      this.producers.delete(current);
      this.producers.set(name, producer);
      this.renamed.set(value, name);
      if (current !== value) this.renamed.set(current, name);
    } else {
      this.node('Identity', [current], `${name}/Identity`, {}, [name]);
    }
    this.outputs.push({ name, elemType });
    return name;
  }

  build(): OnnxTypes.ModelProto {
    return onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'attnscope',
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
      },
    });
  }

  private uniqueNodeName(hint: string): string {
    let name = hint;
    for (let i = 1; this.nodeNames.has(name); i++) name = `${hint}_${i}`;
    this.nodeNames.add(name);
    return name;
  }
}

function valueInfo(v: ValueInfo): OnnxTypes.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: v.elemType,
        ...(v.shape ? { shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } : {}),
      },
    },
  };
}

const AttrType = onnx.AttributeProto.AttributeType;

export function attribute(name: string, v: AttrValue): OnnxTypes.IAttributeProto {
  if (typeof v === 'number') return { name, type: AttrType.INT, i: v };
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttrType.INTS, ints: v };
  if ('floats' in v) return { name, type: AttrType.FLOATS, floats: v.floats };
  if ('tensor' in v) return { name, type: AttrType.TENSOR, t: v.tensor };
  if ('graph' in v) return { name, type: AttrType.GRAPH, g: v.graph };
  return { name, type: AttrType.FLOAT, f: v.float };
}

/** The encoded model (what ONNX Runtime loads, and what `attnscope graph` writes). */
export function encodeModel(model: OnnxTypes.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

export function decodeModel(bytes: Uint8Array): OnnxTypes.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

/** A one-element float tensor (ConstantOfShape's `value`). */
export function floatScalarTensor(value: number): OnnxTypes.ITensorProto {
  return { dataType: DataType.FLOAT, dims: [1], rawData: new Uint8Array(Float32Array.of(value).buffer) };
}
