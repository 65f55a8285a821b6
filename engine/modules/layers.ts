// The plain layers the attention modules and networks are built from, loaded from a
// PyTorch state dict. TensorFlow.js computes in NHWC, PyTorch stores NCHW, so weights are
// converted once here, at load time, and never again per run:
//   Conv2d [out, in, kh, kw] -> filter [kh, kw, in, out];  Linear [out, in] -> [in, out].
// Inference-mode BatchNorm that follows a conv or a linear layer is folded into its weights
// and bias (computed in float64, rounded once to float32): the result differs from
// PyTorch's conv-then-BN by float32 rounding only, well inside the 1e-4 the fixtures check.

import * as tf from '@tensorflow/tfjs-core';
import type { StateDict, TensorRecord } from '../checkpoints/types';
import { EngineError } from '../errors';

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

export type Activation = 'linear' | 'relu';

export interface ConvOptions {
  stride?: number;
  /** Symmetric zero padding, as PyTorch's `padding=` (never tfjs 'same', which is asymmetric for stride 2). */
  pad?: number;
  dilation?: number;
  /** Whether the conv has its own bias (`<name>.bias`). */
  bias?: boolean;
  /** Key of a BatchNorm2d applied right after, folded into this conv. */
  bn?: string;
  /** Expected [out, in, kh, kw]; -1 for any. */
  shape?: number[];
}

export class Conv2d {
  constructor(
    readonly filter: tf.Tensor4D,
    readonly bias: tf.Tensor1D | null,
    readonly stride: number,
    readonly pad: number,
    readonly dilation: number,
  ) {}

  get outChannels(): number {
    return this.filter.shape[3];
  }

  get inChannels(): number {
    return this.filter.shape[2];
  }

  apply(x: tf.Tensor4D, activation: Activation = 'linear'): tf.Tensor4D {
    let pad = this.pad;
    if (pad > 0 && !numericPaddingSupported()) {
      x = zeroPad(x, pad);
      pad = 0;
    }
    return tf.fused.conv2d({
      x,
      filter: this.filter,
      strides: this.stride,
      pad,
      dataFormat: 'NHWC',
      dilations: this.dilation,
      bias: this.bias ?? undefined,
      activation,
    });
  }

  dispose(): void {
    this.filter.dispose();
    this.bias?.dispose();
  }
}

/**
 * tfjs-node (the `tensorflow` backend) maps pooling onto TensorFlow ops that only know
 * 'valid' and 'same', so explicit symmetric padding is done as a separate zero pad there.
 * The wasm and cpu backends take PyTorch-style numeric padding directly.
 */
export function numericPaddingSupported(): boolean {
  return tf.getBackend() !== 'tensorflow';
}

export function zeroPad(x: tf.Tensor4D, pad: number): tf.Tensor4D {
  return tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]);
}

/**
 * PyTorch MaxPool2d(kernel, stride, padding) on non-negative input (it follows a ReLU):
 * there, zero padding is the same as PyTorch's -inf padding.
 */
export function maxPoolAfterRelu(x: tf.Tensor4D, kernel: number, stride: number, pad: number): tf.Tensor4D {
  if (pad > 0 && !numericPaddingSupported()) return tf.maxPool(zeroPad(x, pad), kernel, stride, 'valid');
  return tf.maxPool(x, kernel, stride, pad);
}

/**
 * The layer's bias (zeros without one) with an inference-mode BatchNorm that follows it
 * folded in: y = (Wx + b) * scale + shift, so the weights get `scale` and the bias becomes
 * b * scale + shift. Float64 so the fold adds no rounding of its own.
 */
function biasAndBnFold(
  w: WeightReader, name: string, out: number, opts: { bias?: boolean; bn?: string },
): { bias: Float64Array; scale: Float64Array | null } {
  const bias = new Float64Array(out);
  if (opts.bias) {
    const b = w.get(`${name}.bias`, [out]).data;
    for (let o = 0; o < out; o++) bias[o] = b[o] as number;
  }
  if (!opts.bn) return { bias, scale: null };
  const aff = bnAffine(w, opts.bn, out);
  for (let o = 0; o < out; o++) bias[o] = (bias[o] as number) * (aff.scale[o] as number) + (aff.shift[o] as number);
  return { bias, scale: aff.scale };
}

export function loadConv(w: WeightReader, name: string, opts: ConvOptions = {}): Conv2d {
  const rec = w.get(`${name}.weight`, opts.shape ?? [-1, -1, -1, -1]);
  const [out, inC, kh, kw] = rec.shape as [number, number, number, number];
  const { bias, scale } = biasAndBnFold(w, name, out, opts);
  // [out, in, kh, kw] -> [kh, kw, in, out]
  const src = rec.data;
  const filter = new Float32Array(src.length);
  for (let o = 0; o < out; o++) {
    const s = scale ? (scale[o] as number) : 1;
    for (let i = 0; i < inC; i++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          const v = src[((o * inC + i) * kh + y) * kw + x] as number;
          filter[((y * kw + x) * inC + i) * out + o] = scale ? v * s : v;
        }
      }
    }
  }
  const hasBias = opts.bias || opts.bn;
  return new Conv2d(
    tf.tensor4d(filter, [kh, kw, inC, out]),
    hasBias ? tf.tensor1d(Float32Array.from(bias)) : null,
    opts.stride ?? 1,
    opts.pad ?? 0,
    opts.dilation ?? 1,
  );
}

export class Linear {
  constructor(readonly weight: tf.Tensor2D, readonly bias: tf.Tensor1D | null) {}

  get outFeatures(): number {
    return this.weight.shape[1];
  }

  /** x: [n, in] -> [n, out]. */
  apply(x: tf.Tensor2D, activation: Activation = 'linear'): tf.Tensor2D {
    return tf.fused.matMul({ a: x, b: this.weight, bias: this.bias ?? undefined, activation }) as tf.Tensor2D;
  }

  dispose(): void {
    this.weight.dispose();
    this.bias?.dispose();
  }
}

export interface LinearOptions {
  bias?: boolean;
  /** Key of a BatchNorm1d applied right after, folded in. */
  bn?: string;
  /** Expected [out, in]; -1 for any. */
  shape?: number[];
  /**
   * The weight is a 1x1 conv [out, in, 1, 1] applied to a pooled [1, 1, 1, C] vector
   * (timm SE/CBAM, GC): on one position a 1x1 conv is exactly a linear layer.
   */
  pointwise?: boolean;
}

export function loadLinear(w: WeightReader, name: string, opts: LinearOptions = {}): Linear {
  const expected = opts.shape ?? [-1, -1];
  const rec = w.get(`${name}.weight`, opts.pointwise ? [...expected, 1, 1] : expected);
  const [out, inF] = rec.shape as [number, number];
  const { bias, scale } = biasAndBnFold(w, name, out, opts);
  // [out, in] -> [in, out] so that x [n, in] @ W gives [n, out].
  const weight = new Float32Array(out * inF);
  for (let o = 0; o < out; o++) {
    const s = scale ? (scale[o] as number) : 1;
    for (let i = 0; i < inF; i++) {
      const v = rec.data[o * inF + i] as number;
      weight[i * out + o] = scale ? v * s : v;
    }
  }
  return new Linear(
    tf.tensor2d(weight, [inF, out]),
    opts.bias || opts.bn ? tf.tensor1d(Float32Array.from(bias)) : null,
  );
}

/** LayerNorm over the last axis (GC's LayerNorm([P, 1, 1]) on a [1, 1, 1, P] NHWC tensor). */
export class LayerNorm {
  constructor(readonly weight: tf.Tensor1D, readonly bias: tf.Tensor1D, readonly eps: number) {}

  apply<T extends tf.Tensor>(x: T): T {
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, this.eps)));
    return tf.add(tf.mul(normed, this.weight), this.bias) as T;
  }

  dispose(): void {
    this.weight.dispose();
    this.bias.dispose();
  }
}

export function loadLayerNorm(w: WeightReader, name: string, features: number, eps = BN_EPS): LayerNorm {
  // PyTorch's normalized_shape may carry trailing 1s ([P, 1, 1]); the values are P floats.
  const weight = w.get(`${name}.weight`);
  const bias = w.get(`${name}.bias`);
  for (const rec of [weight, bias]) {
    if (rec.data.length !== features) {
      throw new EngineError('shape-mismatch',
        `"${w.key(name)}" has ${rec.data.length} values, expected ${features}.`);
    }
  }
  return new LayerNorm(tf.tensor1d(weight.data), tf.tensor1d(bias.data), eps);
}

// Global pools as full-size pooling windows: reducing over axes 1 and 2 of an NHWC tensor
// makes the wasm backend transpose the whole activation first; a pooling window does not.

/** Global average pool over H and W: [1, H, W, C] -> [1, C]. */
export function globalAvg(x: tf.Tensor4D): tf.Tensor2D {
  const [, h, w, c] = x.shape;
  return tf.reshape(tf.avgPool(x, [h, w], 1, 'valid'), [1, c]);
}

/** Global max pool over H and W: [1, H, W, C] -> [1, C]. */
export function globalMax(x: tf.Tensor4D): tf.Tensor2D {
  const [, h, w, c] = x.shape;
  return tf.reshape(tf.maxPool(x, [h, w], 1, 'valid'), [1, c]);
}

/** Channel mean as a [H, W] map: the `activation` tap. */
export function channelMeanMap(x: tf.Tensor4D): tf.Tensor2D {
  const [, h, w] = x.shape;
  return tf.reshape(tf.mean(x, 3), [h, w]);
}

/** `activation` tap of a gated module: mean over channels of gate_c * x_c. */
export function gatedActivation(x: tf.Tensor4D, gate: tf.Tensor1D | tf.Tensor2D): tf.Tensor2D {
  return channelMeanMap(tf.mul(x, tf.reshape(gate, [1, 1, 1, -1])));
}

/** Disposes every layer in a list, skipping nulls. */
export function disposeAll(layers: Array<{ dispose(): void } | null | undefined>): void {
  for (const l of layers) l?.dispose();
}
