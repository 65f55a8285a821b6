// Expectation-maximization attention (EMANet's EMAU): a few bases, refined by EM iterations on
// the image's own features, re-express every position.
// Paper: Xia Li, Zhisheng Zhong, Jianlong Wu, Yibo Yang, Zhouchen Lin, Hong Liu,
//   "Expectation-Maximization Attention Networks for Semantic Segmentation", ICCV 2019,
//   https://arxiv.org/abs/1907.13426
// Reference code (semantics, key names, epsilons followed): XiaLiPKU/EMANet network.py (EMAU), at
//   inference: x = conv1(x) (1x1, bias) as [C, N]; from the stored bases mu [C, K] (a buffer,
//   columns l2-normalised), `stages` times: z = softmax over K of x^T mu; z_ = z / (1e-6 + sum over
//   positions of z); mu = x z_; mu = mu / (1e-6 + ||mu|| over C); then y = relu(mu z^T);
//   out = relu(BN(conv2(y)) + input).
// Taps: maps = the last iteration's responsibilities, one [H, W] map per base [N, K, H, W];
//   activation = the channel mean of the input.

import type { ModuleGraph } from './base';
import { channelMean, conv, type Emit, sub } from './layers';
import { withChannels } from './positions';

export interface EmAttentionConfig {
  channels: number;
  stages: number;
}

const EPS = 1e-6;

export function emitEmAttention(e: Emit, x: string, cfg: EmAttentionConfig): ModuleGraph {
  const c = cfg.channels;
  const g = e.g;
  const mu0 = e.w.get('mu', [1, c, -1]);
  const k = mu0.shape[2] as number;
  const feats = g.node('Reshape', [conv(e, 'conv1', x, { bias: true, shape: [c, c, 1, 1] }).y, g.ints([0, c, -1])], `${e.scope}/Reshape`); // [N, C, HW]
  const featsT = g.node('Transpose', [feats], `${e.scope}/Transpose`, { perm: [0, 2, 1] }); // [N, HW, C]
  const l2 = (t: string): string => g.node('Div', [t, g.node('Add', [g.node('Sqrt', [g.node('ReduceSum', [g.node('Mul', [t, t], `${e.scope}/em/Mul`), g.ints([1])], `${e.scope}/em/ReduceSum`, { keepdims: 1 })], `${e.scope}/em/Sqrt`), g.scalar(EPS)], `${e.scope}/em/Add`)], `${e.scope}/em/Div`);
  let mu = g.floats(`${e.w.key('mu')}`, Float32Array.from(mu0.data), [1, c, k]); // broadcast over the batch
  let z = '';
  for (let s = 0; s < cfg.stages; s++) {
    z = g.node('Softmax', [g.node('MatMul', [featsT, mu], `${e.scope}/em/MatMul`)], `${e.scope}/em/Softmax`, { axis: 2 }); // [N, HW, K]
    const zNorm = g.node('Div', [z, g.node('Add', [g.node('ReduceSum', [z, g.ints([1])], `${e.scope}/em/ReduceSum`, { keepdims: 1 }), g.scalar(EPS)], `${e.scope}/em/Add`)], `${e.scope}/em/Div`);
    mu = l2(g.node('MatMul', [feats, zNorm], `${e.scope}/em/MatMul`)); // [N, C, K]
  }
  const zT = g.node('Transpose', [z], `${e.scope}/Transpose`, { perm: [0, 2, 1] }); // [N, K, HW]
  const shape = g.node('Shape', [x], `${e.scope}/Shape`);
  const y = g.node('Relu', [g.node('Reshape', [g.node('MatMul', [mu, zT], `${e.scope}/MatMul`), shape], `${e.scope}/Reshape`)], `${e.scope}/Relu`);
  const fused = conv(sub(e, 'conv2', 'conv2'), '0', y, { bn: '1', shape: [c, c, 1, 1] }).y;
  const out = g.node('Relu', [g.node('Add', [fused, x], `${e.scope}/Add`)], `${e.scope}/Relu`);
  return {
    out,
    taps: [
      { tap: 'maps', value: g.node('Reshape', [zT, withChannels(e, x, [k])], `${e.scope}/maps/Reshape`) },
      { tap: 'activation', value: channelMean(e, x) },
    ],
  };
}
