// Convolutions as timm's ImageNet families and their attention modules use them, emitted from a state dict in timm's key
// layout. Kernel sizes, widths and groups are read off the weights (groups = input channels /
// the weight's second dimension); strides, dilations and activations are what the weights
// cannot say, so the family emitters pass them. Padding is timm's get_padding:
// ((stride - 1) + dilation * (kernel - 1)) // 2, symmetric (timm's PyTorch-native models,
// not the `tf_` ones with TensorFlow's "same" padding).

import { EngineError } from '../errors';
import { conv, type Emit } from './layers';

export type Act = 'relu' | 'silu' | 'hard_swish' | 'none';

/** A value and its channel count (groups are derived from it). */
export interface Feature {
  y: string;
  c: number;
}

export function activate(e: Emit, x: string, act: Act, part = 'act'): string {
  const scope = `${e.scope}/${part}`;
  switch (act) {
    case 'relu':
      return e.g.node('Relu', [x], `${scope}/Relu`);
    case 'silu':
      // x * sigmoid(x): opset 17 has no SiLU. engine/import does not list it as a gate.
      return e.g.node('Mul', [x, e.g.node('Sigmoid', [x], `${scope}/Sigmoid`)], `${scope}/Mul`);
    case 'hard_swish':
      return e.g.node('HardSwish', [x], `${scope}/HardSwish`);
    case 'none':
      return x;
  }
}

/** timm's get_padding. */
export function samePad(kernel: number, stride: number, dilation: number): number {
  return Math.floor(((stride - 1) + dilation * (kernel - 1)) / 2);
}

export interface ConvBnOptions {
  stride?: number;
  dilation?: number;
  /** Explicit padding (defaults to get_padding). */
  pad?: number;
  /** BatchNorm key (relative to e.w), folded in; null for none. */
  bn?: string | null;
  act?: Act;
  bias?: boolean;
}

/** Conv `<name>.weight` (+ folded BN, + activation) on a feature, groups from the weight's shape. */
export function convBn(e: Emit, name: string, x: Feature, opts: ConvBnOptions = {}): Feature {
  const rec = e.w.get(`${name}.weight`);
  if (rec.shape.length !== 4) throw new EngineError('shape-mismatch', `"${e.w.key(name)}.weight" has shape [${rec.shape.join(', ')}], expected a 2-D convolution's 4 dimensions.`);
  const [out, perGroup, k] = rec.shape as [number, number, number, number];
  const groups = x.c / perGroup;
  if (!Number.isInteger(groups) || groups < 1 || out % groups !== 0) {
    throw new EngineError('shape-mismatch', `"${e.w.key(name)}.weight" takes ${perGroup} channels per group, which does not divide the ${x.c} channels it receives.`,
      'The checkpoint does not fit the detected architecture; check --arch.');
  }
  const stride = opts.stride ?? 1;
  const dilation = opts.dilation ?? 1;
  const y = conv(e, name, x.y, {
    stride, dilation, groups, pad: opts.pad ?? samePad(k, stride, dilation),
    bias: opts.bias ?? e.w.has(`${name}.bias`), ...(opts.bn ? { bn: opts.bn } : {}),
  }).y;
  return { y: activate({ ...e, scope: `${e.scope}/${name}` }, y, opts.act ?? 'none'), c: out };
}
