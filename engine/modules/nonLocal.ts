// Non-local block.
// Paper: Wang, Girshick, Gupta, He, "Non-local Neural Networks", CVPR 2018,
//   https://arxiv.org/abs/1711.07971
// Reference code (semantics and key names followed): AlexHex7/Non-local_pytorch,
//   lib/non_local_{embedded_gaussian,gaussian,dot_product,concatenation}.py (_NonLocalBlockND):
//   inter = C/2; g, theta, phi are 1x1 convs with bias; with sub_sample, g and phi are
//   Sequential(conv, MaxPool2d(2)) (keys `g.0.*`, `phi.0.*`); W = Sequential(conv inter->C,
//   BatchNorm2d(C)) (`W.0.*`, `W.1.*`) or a bare conv (`W.*`) without bn_layer.
//   f[i, j] over queries i (H*W) and keys j (H'*W'):
//     embedded: softmax_j(theta_i . phi_j)
//     gaussian: softmax_j(x_i . x'_j), no theta/phi convs, x' = maxpool(x) when sub-sampling
//     dot:      (theta_i . phi_j) / N'
//     concat:   ReLU(w . [theta_i, phi_j]) / N'   (concat_project: 1x1 conv 2*inter->1, no bias)
//   y = f g;  z = W(y) + x.
// Positions are flattened as PyTorch's view(b, c, -1): row-major H then W, so affinity rows
// and columns match PyTorch's index for index.
// Taps: attention = mean over queries of the affinity, on the key grid [N, H', W'];
//   activation = channel mean of x. The affinity [N, HW, H'W'] is an aux output.

import type { NonLocalMode } from '../nets/spec';
import type { ModuleGraph } from './base';
import { floatScalarTensor } from '../graph/builder';
import { channelMean, conv, type Emit, mapShape } from './layers';

export interface NonLocalConfig {
  channels: number;
  mode: NonLocalMode;
  subSample: boolean;
  /** W is conv + BatchNorm2d (the reference default), or a bare conv. */
  bn: boolean;
}

export function emitNonLocal(e: Emit, x: string, cfg: NonLocalConfig): ModuleGraph {
  const c = cfg.channels;
  const g = e.g;
  const s = e.scope;
  const seq = (name: string): string => (cfg.subSample ? `${name}.0` : name);
  const pool = (t: string, part: string): string =>
    (cfg.subSample ? g.node('MaxPool', [t], `${s}/${part}/MaxPool`, { kernel_shape: [2, 2], strides: [2, 2] }) : t);
  /** [N, K, H, W] -> [N, K, HW]. */
  const flat = (t: string, k: number, part: string): string => g.node('Reshape', [t, g.ints([0, k, -1])], `${s}/${part}/Reshape`);
  /** [N, K, HW] -> [N, HW, K]. */
  const rows = (t: string, part: string): string => g.node('Transpose', [t], `${s}/${part}/Transpose`, { perm: [0, 2, 1] });

  const gFull = conv(e, seq('g'), x, { bias: true, shape: [-1, c, 1, 1] });
  const inter = gFull.out;
  const gx = pool(gFull.y, 'g');
  let affinity: string;
  if (cfg.mode === 'gaussian') {
    const q = rows(flat(x, c, 'theta'), 'theta');
    const k = flat(pool(x, 'phi'), c, 'phi');
    affinity = g.node('Softmax', [g.node('MatMul', [q, k], `${s}/MatMul`)], `${s}/Softmax`, { axis: -1 });
  } else {
    const theta = rows(flat(conv(e, 'theta', x, { bias: true, shape: [inter, c, 1, 1] }).y, inter, 'theta'), 'theta'); // [N, HW, i]
    const phi = flat(pool(conv(e, seq('phi'), x, { bias: true, shape: [inter, c, 1, 1] }).y, 'phi'), inter, 'phi'); // [N, i, H'W']
    if (cfg.mode === 'embedded') {
      affinity = g.node('Softmax', [g.node('MatMul', [theta, phi], `${s}/MatMul`)], `${s}/Softmax`, { axis: -1 });
    } else {
      let f: string;
      if (cfg.mode === 'dot') {
        f = g.node('MatMul', [theta, phi], `${s}/MatMul`);
      } else {
        // ReLU(w_theta . theta_i + w_phi . phi_j): the 1x1 projection of the concatenation
        // splits into a query term and a key term, so the N x N' x 2*inter tensor the
        // reference builds is never needed.
        const proj = e.w.get('concat_project.0.weight', [1, 2 * inter, 1, 1]).data;
        const wTheta = g.floats(`${e.w.key('concat_project.0.weight')}.theta`, Float32Array.from(proj.subarray(0, inter)), [inter, 1]);
        const wPhi = g.floats(`${e.w.key('concat_project.0.weight')}.phi`, Float32Array.from(proj.subarray(inter, 2 * inter)), [1, inter]);
        const a = g.node('MatMul', [theta, wTheta], `${s}/concat_project/MatMul`); // [N, HW, 1]
        const b = g.node('MatMul', [wPhi, phi], `${s}/concat_project/MatMul`); // [N, 1, H'W']
        f = g.node('Relu', [g.node('Add', [a, b], `${s}/concat_project/Add`)], `${s}/concat_project/Relu`);
      }
      // Divided by N', the number of key positions, known only at run time.
      const keys = g.node('Cast', [g.node('Gather', [g.node('Shape', [f], `${s}/Shape`), g.ints([2])], `${s}/Gather`, { axis: 0 })], `${s}/Cast`, { to: 1 });
      affinity = g.node('Div', [f, keys], `${s}/Div`);
    }
  }
  const y = g.node('MatMul', [affinity, rows(flat(gx, inter, 'g'), 'g')], `${s}/y/MatMul`); // [N, HW, i]
  const yMap = g.node('Reshape', [rows(y, 'y'), g.node('Shape', [gFull.y], `${s}/y/Shape`)], `${s}/y/Reshape`); // [N, i, H, W]
  const wy = cfg.bn
    ? conv(e, 'W.0', yMap, { bias: true, bn: 'W.1', shape: [c, inter, 1, 1] })
    : conv(e, 'W', yMap, { bias: true, shape: [c, inter, 1, 1] });
  const out = g.node('Add', [wy.y, x], `${s}/Add`);
  // Mean over queries as a [1, 1, Q] row of ones times the affinity: ONNX Runtime reduces a
  // middle axis with strided reads (2 s for the 16384 x 16384 affinity at 1024 px); a GEMV
  // reads it once in order (10x faster on a 4096 x 4096 one).
  const queries = g.node('Gather', [g.node('Shape', [affinity], `${s}/attention/Shape`), g.ints([1])], `${s}/attention/Gather`, { axis: 0 });
  const onesShape = g.node('Concat', [g.ints([1, 1]), queries], `${s}/attention/Concat`, { axis: 0 });
  const ones = g.node('ConstantOfShape', [onesShape], `${s}/attention/ConstantOfShape`, { value: { tensor: floatScalarTensor(1) } });
  const sum = g.node('MatMul', [ones, affinity], `${s}/attention/MatMul`); // [N, 1, H'W']
  const summary = g.node('Div', [sum, g.node('Cast', [queries], `${s}/attention/Cast`, { to: 1 })], `${s}/attention/Div`);
  return {
    out,
    taps: [
      { tap: 'attention', value: g.node('Reshape', [summary, mapShape({ ...e, scope: `${s}/attention` }, gx)], `${s}/attention/Reshape`) },
      { tap: 'activation', value: channelMean(e, x) },
    ],
    affinity,
  };
}
