// Polarized self-attention (PSA), parallel and sequential.
// Paper: Huajun Liu, Fuqiang Liu, Xinyi Fan, Dong Huang, "Polarized Self-Attention: Towards
//   High-quality Pixel-wise Regression", 2021, https://arxiv.org/abs/2107.00782
// Reference code (semantics and key names followed; where it and the paper's equations differ,
//   the code, whose checkpoints exist): DeLightCMU/PSA semantic-segmentation/network/PSA.py
//   (PSA_p, PSA_s). inter = C / 2, 1x1 convs without bias unless said:
//   channel gate (their spatial_pool) = sigmoid(conv_up(v softmax_HW(q)^T)) with
//     v = conv_v_right(x) [inter, HW], q = conv_q_right(x) [1, HW]; conv_up is one conv
//     inter -> C (parallel) or conv (bias) inter -> inter/4, LayerNorm, ReLU, conv (bias) -> C
//     (sequential: keys conv_up.0, .1, .3);
//   spatial gate (their channel_pool), g = global mean of conv_q_left(x) [1, inter],
//     theta = conv_v_left(x) [inter, HW]: parallel sigmoid(softmax_HW(g theta)), sequential
//     sigmoid(g softmax_HW(theta));
//   parallel out = x * gate_c + x * gate_s; sequential y = x * gate_c(x), out = y * gate_s(y).
// Taps: channel = gate_c [N, C]; spatial = gate_s [N, H, W] (sequential: of y); activation =
//   mean_c(gate_c * x_c) of the input.

import type { ModuleGraph } from './base';
import { asChannels, channelMean, conv, type Emit, layerNorm, mapShape, sub } from './layers';
import { withChannels } from './positions';

export type PsaVariant = 'parallel' | 'sequential';

export interface PolarizedConfig {
  channels: number;
  variant: PsaVariant;
}

export function emitPolarized(e: Emit, x: string, cfg: PolarizedConfig): ModuleGraph {
  const c = cfg.channels;
  const inter = Math.floor(c / 2);
  const g = e.g;
  const flat = (t: string, ch: number): string => g.node('Reshape', [t, g.ints([0, ch, -1])], `${e.scope}/Reshape`);

  const channelGate = (v: string): string => {
    const values = flat(conv(e, 'conv_v_right', v, { shape: [inter, c, 1, 1] }).y, inter); // [N, inter, HW]
    const query = g.node('Softmax', [flat(conv(e, 'conv_q_right', v, { shape: [1, c, 1, 1] }).y, 1)], `${e.scope}/Softmax`, { axis: 2 });
    const context = g.node('Unsqueeze', [g.node('MatMul', [values, g.node('Transpose', [query], `${e.scope}/Transpose`, { perm: [0, 2, 1] })], `${e.scope}/MatMul`), g.ints([3])], `${e.scope}/Unsqueeze`);
    let z: string;
    if (cfg.variant === 'parallel') z = conv(e, 'conv_up', context, { shape: [c, inter, 1, 1] }).y;
    else {
      const up = sub(e, 'conv_up', 'conv_up');
      const h = conv(up, '0', context, { bias: true, shape: [-1, inter, 1, 1] });
      const act = g.node('Relu', [layerNorm(up, '1', h.y, h.out)], `${up.scope}/Relu`);
      z = conv(up, '3', act, { bias: true, shape: [c, h.out, 1, 1] }).y;
    }
    return g.node('Sigmoid', [z], `${e.scope}/channel/Sigmoid`); // [N, C, 1, 1]
  };
  const spatialGate = (v: string): string => {
    const q = conv(e, 'conv_q_left', v, { shape: [inter, c, 1, 1] }).y;
    const pooled = g.node('Reshape', [g.node('GlobalAveragePool', [q], `${e.scope}/GlobalAveragePool`), g.ints([0, 1, inter])], `${e.scope}/Reshape`); // [N, 1, inter]
    const theta = flat(conv(e, 'conv_v_left', v, { shape: [inter, c, 1, 1] }).y, inter); // [N, inter, HW]
    const context = cfg.variant === 'parallel'
      ? g.node('Softmax', [g.node('MatMul', [pooled, theta], `${e.scope}/MatMul`)], `${e.scope}/Softmax`, { axis: 2 })
      : g.node('MatMul', [pooled, g.node('Softmax', [theta], `${e.scope}/Softmax`, { axis: 2 })], `${e.scope}/MatMul`);
    return g.node('Sigmoid', [g.node('Reshape', [context, withChannels(e, v, [1])], `${e.scope}/Reshape`)], `${e.scope}/spatial/Sigmoid`); // [N, 1, H, W]
  };

  const gateC = channelGate(x);
  let out: string;
  let gateS: string;
  if (cfg.variant === 'parallel') {
    gateS = spatialGate(x);
    out = g.node('Add', [g.node('Mul', [x, gateC], `${e.scope}/channel/Mul`), g.node('Mul', [x, gateS], `${e.scope}/spatial/Mul`)], `${e.scope}/Add`);
  } else {
    const y = g.node('Mul', [x, gateC], `${e.scope}/channel/Mul`);
    gateS = spatialGate(y);
    out = g.node('Mul', [y, gateS], `${e.scope}/spatial/Mul`);
  }
  const channel = g.node('Flatten', [gateC], `${e.scope}/channel/Flatten`);
  return {
    out,
    taps: [
      { tap: 'channel', value: channel },
      { tap: 'spatial', value: g.node('Reshape', [gateS, mapShape(e, x)], `${e.scope}/spatial/Reshape`) },
      { tap: 'activation', value: channelMean(e, g.node('Mul', [x, asChannels(e, channel)], `${e.scope}/activation/Mul`)) },
    ],
  };
}
