// The plain layers the attention modules and networks are built from, emitted as ONNX
// nodes from a PyTorch state dict. ONNX is NCHW like PyTorch, so weights keep their layout;
// inference-mode BatchNorm after a conv or a linear layer is folded into its weights and
// bias (in float64, rounded once to float32): the result differs from PyTorch's
// conv-then-BN by float32 rounding only, well inside the 1e-4 the fixtures check.

import type { StateDict, TensorRecord } from '../checkpoints/types';
import { EngineError } from '../errors';
import type { GraphBuilder } from '../graph/builder';

/** PyTorch's BatchNorm default. */
export const BN_EPS = 1e-5;

/**
 * Read access to a state dict under a key prefix, with shape checks that name the key,
 * and bookkeeping of which keys were used (the rest become load warnings).
 */
export class WeightReader {
  constructor(
    private readonly dict: StateDict,
    private readonly prefix = '',
    private readonly used: Set<string> = new Set(),
  ) {}

  sub(name: string): WeightReader {
    return new WeightReader(this.dict, this.key(name), this.used);
  }

  key(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  has(name: string): boolean {
    return this.dict.has(this.key(name));
  }

  /** A tensor by name; `shape` entries of -1 accept any size. */
  get(name: string, shape?: number[]): TensorRecord {
    const key = this.key(name);
    const rec = this.dict.get(key);
    if (!rec) throw new EngineError('shape-mismatch', `The checkpoint has no "${key}", which this network needs.`,
      'Check that the architecture (--arch) matches the checkpoint.');
    if (shape && (shape.length !== rec.shape.length || shape.some((s, i) => s !== -1 && s !== rec.shape[i]))) {
      throw new EngineError('shape-mismatch',
        `"${key}" has shape [${rec.shape.join(', ')}], expected [${shape.map((s) => (s === -1 ? '*' : s)).join(', ')}].`,
        'The checkpoint does not fit the detected architecture; check --arch and the reduction ratio.');
    }
    this.used.add(key);
    return rec;
  }

  /** Keys never read, except BatchNorm step counters, which inference does not need. */
  unused(): string[] {
    return [...this.dict.keys()].filter((k) => !this.used.has(k) && !k.endsWith('num_batches_tracked'));
  }
}

/** What every emitter gets: the graph, the weights under its module path, and its node scope. */
export interface Emit {
  g: GraphBuilder;
  w: WeightReader;
  /** Node-name prefix, `/`-separated like torch.onnx.export's scopes (`layer1.0.cbam`). */
  scope: string;
}

/** The same emitter context one level down (weights `w.sub(key)`, scope `scope/part`). */
export function sub(e: Emit, key: string | null, part: string): Emit {
  return { g: e.g, w: key === null ? e.w : e.w.sub(key), scope: `${e.scope}/${part}` };
}

/** Per-channel affine of inference BatchNorm: y = x * scale + shift, in float64. */
function bnAffine(w: WeightReader, bn: string, channels: number): { scale: Float64Array; shift: Float64Array } {
  const b = w.sub(bn);
  const gamma = b.get('weight', [channels]).data;
  const beta = b.get('bias', [channels]).data;
  const mean = b.get('running_mean', [channels]).data;
  const variance = b.get('running_var', [channels]).data;
  const scale = new Float64Array(channels);
  const shift = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const s = (gamma[c] as number) / Math.sqrt((variance[c] as number) + BN_EPS);
    scale[c] = s;
    shift[c] = (beta[c] as number) - (mean[c] as number) * s;
  }
  return { scale, shift };
}

/**
 * The layer's weights scaled per output row and its bias (zeros without one) with an
 * inference-mode BatchNorm that follows it folded in: y = (Wx + b) * scale + shift.
 */
function foldBn(w: WeightReader, name: string, rec: TensorRecord, opts: { bias?: boolean; bn?: string }): { weight: Float32Array; bias: Float32Array | null } {
  const out = rec.shape[0] as number;
  const perRow = rec.data.length / out;
  const bias = new Float64Array(out);
  if (opts.bias) {
    const b = w.get(`${name}.bias`, [out]).data;
    for (let o = 0; o < out; o++) bias[o] = b[o] as number;
  }
  if (!opts.bn) return { weight: Float32Array.from(rec.data), bias: opts.bias ? Float32Array.from(bias) : null };
  const { scale, shift } = bnAffine(w, opts.bn, out);
  const weight = new Float32Array(rec.data.length);
  for (let o = 0; o < out; o++) {
    const s = scale[o] as number;
    for (let i = 0; i < perRow; i++) weight[o * perRow + i] = (rec.data[o * perRow + i] as number) * s;
    bias[o] = (bias[o] as number) * s + (shift[o] as number);
  }
  return { weight, bias: Float32Array.from(bias) };
}

/** Inference BatchNorm2d `<bn>` on its own (not after a conv to fold into): x * scale + shift per channel. */
export function batchNorm(e: Emit, bn: string, x: string, channels: number): string {
  const { scale, shift } = bnAffine(e.w, bn, channels);
  const key = e.w.key(bn);
  const scaled = e.g.node('Mul', [x, e.g.floats(`${key}.scale`, Float32Array.from(scale), [channels, 1, 1])], `${e.scope}/${bn}/Mul`);
  return e.g.node('Add', [scaled, e.g.floats(`${key}.shift`, Float32Array.from(shift), [channels, 1, 1])], `${e.scope}/${bn}/Add`);
}

export interface ConvOptions {
  stride?: number;
  /** Symmetric zero padding, as PyTorch's `padding=`. */
  pad?: number;
  dilation?: number;
  groups?: number;
  /** Whether the conv has its own bias (`<name>.bias`). */
  bias?: boolean;
  /** Key of a BatchNorm2d applied right after, folded into this conv. */
  bn?: string;
  /** Expected [out, in, kh, kw]; -1 for any. */
  shape?: number[];
  /** A ReLU right after (emitted as its own node; runtimes fuse it). */
  relu?: boolean;
}

export interface Emitted {
  y: string;
  /** Output channels / features. */
  out: number;
}

/** Per graph: the initializers of each conv already emitted (weights key, BN, bias). */
const sharedConvs = new WeakMap<GraphBuilder, Map<string, string[]>>();

/** Conv2d (+ folded BatchNorm2d, + ReLU) `<name>.weight` on x [N, C, H, W]. */
export function conv(e: Emit, name: string, x: string, opts: ConvOptions = {}): Emitted {
  const rec = e.w.get(`${name}.weight`, opts.shape ?? [-1, -1, -1, -1]);
  const [out, , kh, kw] = rec.shape as [number, number, number, number];
  const scope = `${e.scope}/${name}`;
  // The same conv applied again (CCNet's passes share their weights) reads the same initializers.
  const key = `${e.w.key(name)}|${opts.bn ?? ''}|${opts.bias ? 1 : 0}`;
  let graphConvs = sharedConvs.get(e.g);
  if (!graphConvs) sharedConvs.set(e.g, (graphConvs = new Map()));
  let params = graphConvs.get(key);
  if (!params) {
    const { weight, bias } = foldBn(e.w, name, rec, opts);
    params = [e.g.floats(`${e.w.key(name)}.weight`, weight, rec.shape), ...(bias ? [e.g.floats(`${e.w.key(name)}.bias`, bias, [out])] : [])];
    graphConvs.set(key, params);
  }
  const inputs = [x, ...params];
  const p = opts.pad ?? 0;
  const d = opts.dilation ?? 1;
  const s = opts.stride ?? 1;
  let y = e.g.node('Conv', inputs, `${scope}/Conv`, {
    kernel_shape: [kh, kw], pads: [p, p, p, p], strides: [s, s], dilations: [d, d], group: opts.groups ?? 1,
  });
  if (opts.relu) y = e.g.node('Relu', [y], `${scope}/Relu`);
  return { y, out };
}

export interface LinearOptions {
  bias?: boolean;
  /** Key of a BatchNorm1d applied right after, folded in. */
  bn?: string;
  /** Expected [out, in]; -1 for any. */
  shape?: number[];
  /**
   * The weight is a 1x1 conv [out, in, 1, 1] applied to a pooled vector (timm SE/CBAM):
   * on one position a 1x1 conv is exactly a linear layer.
   */
  pointwise?: boolean;
  relu?: boolean;
}

/** Linear `<name>.weight` on x [N, in] as Gemm (y = x W^T + b) -> [N, out]. */
export function linear(e: Emit, name: string, x: string, opts: LinearOptions = {}): Emitted {
  const expected = opts.shape ?? [-1, -1];
  const rec = e.w.get(`${name}.weight`, opts.pointwise ? [...expected, 1, 1] : expected);
  const [out, inF] = rec.shape as [number, number];
  const { weight, bias } = foldBn(e.w, name, rec, opts);
  const scope = `${e.scope}/${name}`;
  const inputs = [x, e.g.floats(`${e.w.key(name)}.weight`, weight, [out, inF])];
  if (bias) inputs.push(e.g.floats(`${e.w.key(name)}.bias`, bias, [out]));
  let y = e.g.node('Gemm', inputs, `${scope}/Gemm`, { transB: 1 });
  if (opts.relu) y = e.g.node('Relu', [y], `${scope}/Relu`);
  return { y, out };
}

/** LayerNorm over the channels of [N, P, 1, 1] (GC's LayerNorm([P, 1, 1])). */
export function layerNorm(e: Emit, name: string, x: string, features: number, eps = BN_EPS): string {
  // PyTorch's normalized_shape may carry trailing 1s ([P, 1, 1]); the values are P floats.
  const recs = ['weight', 'bias'].map((k) => e.w.get(`${name}.${k}`));
  for (const rec of recs) {
    if (rec.data.length !== features) {
      throw new EngineError('shape-mismatch', `"${e.w.key(name)}" has ${rec.data.length} values, expected ${features}.`);
    }
  }
  const [weight, bias] = recs.map((rec, i) => e.g.floats(`${e.w.key(name)}.${i ? 'bias' : 'weight'}`, Float32Array.from(rec.data), [features, 1, 1])) as [string, string];
  return e.g.node('LayerNormalization', [x, weight, bias], `${e.scope}/${name}/LayerNormalization`, { axis: 1, epsilon: { float: eps } });
}

/** Global average pool over H and W: [N, C, H, W] -> [N, C]. */
export function globalAvg(e: Emit, x: string): string {
  return e.g.node('Flatten', [e.g.node('GlobalAveragePool', [x], `${e.scope}/GlobalAveragePool`)], `${e.scope}/Flatten`);
}

/** Global max pool over H and W: [N, C, H, W] -> [N, C]. */
export function globalMax(e: Emit, x: string): string {
  return e.g.node('Flatten', [e.g.node('GlobalMaxPool', [x], `${e.scope}/GlobalMaxPool`)], `${e.scope}/Flatten`);
}

/** A per-channel gate [N, C] as [N, C, 1, 1], to broadcast over H and W. */
export function asChannels(e: Emit, gate: string): string {
  return e.g.node('Unsqueeze', [gate, e.g.ints([2, 3])], `${e.scope}/Unsqueeze`);
}

/** Mean over channels: [N, C, H, W] -> [N, H, W] (the `activation` tap). */
export function channelMean(e: Emit, x: string): string {
  return e.g.node('ReduceMean', [x], `${e.scope}/activation/ReduceMean`, { axes: [1], keepdims: 0 });
}

/** [N, 1, H, W] -> [N, H, W]. */
export function dropChannel(e: Emit, x: string): string {
  return e.g.node('Squeeze', [x, e.g.ints([1])], `${e.scope}/Squeeze`);
}

/** Spatial dims of x as an int64 [N, H, W] shape value (for reshaping flat maps back). */
export function mapShape(e: Emit, x: string): string {
  const shape = e.g.node('Shape', [x], `${e.scope}/Shape`);
  return e.g.node('Gather', [shape, e.g.ints([0, 2, 3])], `${e.scope}/Gather`, { axis: 0 });
}
