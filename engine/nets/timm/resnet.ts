// timm's ResNet family from a checkpoint in timm's key layout: ResNet/ResNeXt with the 'd'
// and 't' modifications (deep or tiered 3-conv stem, average-pool downsampling), the
// attention timm places after the last BN of each block (`se`: SE, ECA, CBAM, GC), selective
// kernel blocks (skresnet) and split-attention blocks (resnest).
// Papers: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016,
//   https://arxiv.org/abs/1512.03385; He et al., "Bag of Tricks for Image Classification with
//   Convolutional Neural Networks", CVPR 2019, https://arxiv.org/abs/1812.01187 (the 'd' stem
//   and downsampling); Xie et al., "Aggregated Residual Transformations" (ResNeXt), CVPR 2017,
//   https://arxiv.org/abs/1611.05431; the attention papers in engine/modules/.
// Reference code (names and semantics followed): timm timm/models/resnet.py (ResNet,
//   BasicBlock, Bottleneck, downsample_conv, downsample_avg), timm/models/sknet.py
//   (SelectiveKernelBasic), timm/models/resnest.py (ResNestBottleneck, avd: a 3x3 average
//   pool after the split attention takes the stride).
//   - stem: conv1 7x7 s2 p3, or conv1.{0,3,6} 3x3 (s2, 1, 1) with BN conv1.{1,4} + ReLU
//     between; then bn1, ReLU, maxpool 3x3 s2 p1 (or maxpool.{0,1} conv + BN, s2).
//   - layer1..4 at strides 1, 2, 2, 2; the stride sits on the 3x3 conv.
//   - downsample: conv (+BN) with the stride, or AvgPool2d(2, stride, ceil_mode,
//     count_include_pad=False) then 1x1 conv (+BN) ('d').
//   - head: global average pool, fc.
// Widths, groups, kernel sizes and block counts come from the weights.

import { EngineError } from '../../errors';
import { GraphBuilder } from '../../graph/builder';
import { INPUT } from '../../graph/names';
import { DataType } from '../../graph/onnx';
import { convBn, type Feature } from '../../modules/convBn';
import { emitCbam } from '../../modules/cbam';
import { emitEca } from '../../modules/eca';
import { emitGlobalContext } from '../../modules/globalContext';
import { type Emit, sub, WeightReader } from '../../modules/layers';
import { emitSe } from '../../modules/se';
import { emitSelectiveKernel } from '../../modules/selectiveKernel';
import { emitSplitAttention } from '../../modules/splitAttention';
import type { StateDict } from '../../checkpoints/types';
import { classifier, countBlocks, headWeight, markStage, residual } from './layers';
import { FAMILY_LOGITS, type FamilyGraph } from './types';

type BlockKind = 'basic' | 'bottleneck' | 'sk' | 'resnest';
const BLOCK_NAMES: Record<BlockKind, string> = {
  basic: 'basic', bottleneck: 'bottleneck', sk: 'selective-kernel basic', resnest: 'split-attention bottleneck',
};

/** Whether the keys are a timm-layout ResNet this file builds (and not the plain ResNet engine/nets/resnet.ts builds). */
export function isTimmResNet(dict: StateDict): boolean {
  if (!dict.has('fc.weight') || !dict.has('layer1.0.bn1.weight') && !dict.has('layer1.0.conv1.paths.0.conv.weight')) return false;
  return dict.has('conv1.weight') || dict.has('conv1.0.weight');
}

/**
 * Whether the keys have parts only timm's ResNet builds (a deep stem, average-pool
 * downsampling, ECA/GC/SK/split attention, grouped 3x3s): without a name, only then is a
 * ResNet-shaped checkpoint read as timm's rather than by nets/resnet.ts, whose own errors name
 * what is wrong with a torchvision/CBAM ResNet.
 */
export function hasTimmOnlyParts(dict: StateDict): boolean {
  if (dict.has('conv1.0.weight')) return true;
  for (const k of dict.keys()) {
    if (/^layer\d\.\d+\.(downsample\.2\.weight|se\.conv\.weight|se\.conv_attn\.weight|se\.mlp_(add|scale)\.fc1\.weight|conv1\.paths\.0\.conv\.weight|conv2\.fc1\.weight)$/.test(k)) return true;
    const grouped = /^(layer\d\.\d+)\.conv2\.weight$/.exec(k);
    if (grouped && dict.has(`${grouped[1]}.conv3.weight`) && (dict.get(k)?.shape[1] as number) < (dict.get(`${grouped[1]}.conv1.weight`)?.shape[0] as number)) return true;
  }
  return false;
}

function blockKind(w: WeightReader): BlockKind {
  if (w.has('conv1.paths.0.conv.weight')) return 'sk';
  if (w.has('conv2.fc1.weight') && w.has('conv2.conv.weight')) return 'resnest';
  if (w.has('conv3.weight')) return 'bottleneck';
  return 'basic';
}

/** The attention module at `se` in a block, by its keys. */
function attentionKind(w: WeightReader): 'SE' | 'ECA' | 'CBAM' | 'GC' | null {
  if (w.has('se.fc1.weight')) return 'SE';
  if (w.has('se.conv.weight')) return 'ECA';
  if (w.has('se.channel.fc1.weight')) return 'CBAM';
  if (w.has('se.conv_attn.weight') || w.has('se.mlp_add.fc1.weight') || w.has('se.mlp_scale.fc1.weight')) return 'GC';
  return null;
}

export function emitTimmResNet(dict: StateDict, name: string): FamilyGraph {
  const g = new GraphBuilder(name);
  const w = new WeightReader(dict);
  const at = (scope: string): Emit => ({ g, w, scope });
  let x: Feature = { y: g.input({ name: INPUT, elemType: DataType.FLOAT, shape: ['batch', 3, 'height', 'width'] }), c: 3 };

  const deep = w.has('conv1.0.weight');
  if (deep) {
    x = convBn(at('/conv1'), 'conv1.0', x, { stride: 2, bn: 'conv1.1', act: 'relu' });
    x = convBn(at('/conv1'), 'conv1.3', x, { bn: 'conv1.4', act: 'relu' });
    x = convBn(at('/conv1'), 'conv1.6', x, { bn: 'bn1', act: 'relu' });
  } else {
    x = convBn(at(''), 'conv1', x, { stride: 2, bn: 'bn1', act: 'relu' });
  }
  if (w.has('maxpool.0.weight')) x = convBn(at('/maxpool'), 'maxpool.0', x, { stride: 2, bn: 'maxpool.1', act: 'relu' });
  else x = { ...x, y: g.node('MaxPool', [x.y], '/maxpool/MaxPool', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }) };

  const counts = countBlocks(dict.keys(), /^layer(\d)\.(\d+)\./);
  const kinds = new Set<BlockKind>();
  const attention = new Set<string>();
  let groups = 1;
  let avgDown = false;
  for (let stage = 1; stage <= 4; stage++) {
    const n = counts.get(stage) ?? 0;
    if (!n) throw new EngineError('shape-mismatch', `The checkpoint has no blocks in layer${stage}; a timm ResNet has four stages.`);
    for (let i = 0; i < n; i++) {
      const path = `layer${stage}.${i}`;
      const e: Emit = { g, w: w.sub(path), scope: `/layer${stage}/${path}` };
      const stride = i === 0 && stage > 1 ? 2 : 1;
      const kind = blockKind(e.w);
      kinds.add(kind);
      const shortcut = downsample(e, x, stride);
      if (e.w.has('downsample.1.weight') && e.w.get('downsample.1.weight').shape.length === 4) avgDown = true;
      let y: Feature;
      if (kind === 'sk') {
        const sk = emitSelectiveKernel(sub(e, 'conv1', 'conv1'), x, { stride });
        y = convBn(sub(e, 'conv2', 'conv2'), 'conv', { y: sk.out, c: sk.channels }, { bn: 'bn' });
      } else if (kind === 'resnest') {
        y = convBn(e, 'conv1', x, { bn: 'bn1', act: 'relu' });
        const splat = emitSplitAttention(sub(e, 'conv2', 'conv2'), y, { stride: 1 });
        // avd: the stride moves to a 3x3 average pool after the split attention (timm's default for resnest).
        y = { y: splat.out, c: splat.channels };
        if (stride > 1) y = { ...y, y: g.node('AveragePool', [y.y], `${e.scope}/avd_last/AveragePool`, { kernel_shape: [3, 3], strides: [stride, stride], pads: [1, 1, 1, 1], count_include_pad: 1 }) };
        y = convBn(e, 'conv3', y, { bn: 'bn3' });
      } else if (kind === 'bottleneck') {
        y = convBn(e, 'conv1', x, { bn: 'bn1', act: 'relu' });
        const c2 = convBn(e, 'conv2', y, { stride, bn: 'bn2', act: 'relu' });
        groups = Math.max(groups, y.c / (e.w.get('conv2.weight').shape[1] as number));
        y = convBn(e, 'conv3', c2, { bn: 'bn3' });
      } else {
        y = convBn(e, 'conv1', x, { stride, bn: 'bn1', act: 'relu' });
        y = convBn(e, 'conv2', y, { bn: 'bn2' });
      }
      const att = attentionKind(e.w);
      if (att) {
        attention.add(att);
        const a = sub(e, 'se', 'se');
        const c = y.c;
        const out = att === 'SE' ? emitSe(a, y.y, { layout: 'timm', channels: c })
          : att === 'ECA' ? emitEca(a, y.y, { channels: c })
            : att === 'CBAM' ? emitCbam(a, y.y, { layout: 'timm', channels: c })
              : emitGlobalContext(a, y.y, { channels: c });
        y = { y: out.out, c };
      }
      if (shortcut.c !== y.c) {
        throw new EngineError('shape-mismatch', `${path}: its shortcut has ${shortcut.c} channels and its residual ${y.c}.`, 'The checkpoint does not fit a timm ResNet; check --arch.');
      }
      x = { y: residual(e, y.y, shortcut.y), c: y.c };
    }
    x = markStage(g, x, stage);
  }
  const logits = classifier(at(''), 'fc', x);
  g.output(logits, FAMILY_LOGITS);
  const blocks = [1, 2, 3, 4].map((s) => counts.get(s)).join('-');
  const parts = [
    deep ? `${w.get('conv1.0.weight').shape[0] === w.get('conv1.3.weight').shape[0] ? 'deep' : 'tiered'} stem` : '7x7 stem',
    ...(avgDown ? ['average-pool downsampling'] : []),
    ...(groups > 1 ? [`${groups} groups`] : []),
  ];
  return {
    model: g.build(),
    family: 'resnet',
    description: `timm ResNet (${parts.join(', ')}), ${blocks} ${[...kinds].map((k) => BLOCK_NAMES[k]).join(' + ')} blocks${attention.size ? `, ${[...attention].join(' + ')} attention` : ''}`,
    stages: ['layer1', 'layer2', 'layer3', 'layer4'],
    fcWeight: headWeight(w, 'fc'),
    unusedKeys: w.unused(),
    assumptions: kinds.has('resnest') ? ['split-attention blocks: the stride is taken by an average pool after the attention (avd, as every timm ResNeSt)'] : [],
  };
}

function downsample(e: Emit, x: Feature, stride: number): Feature {
  const w = e.w;
  if (w.has('downsample.0.weight')) return convBn(sub(e, null, 'downsample'), 'downsample.0', x, { stride, bn: 'downsample.1' });
  if (w.has('downsample.1.weight')) {
    const d = sub(e, null, 'downsample');
    const pooled = stride > 1
      ? e.g.node('AveragePool', [x.y], `${d.scope}/downsample.0/AveragePool`, { kernel_shape: [2, 2], strides: [stride, stride], pads: [0, 0, 0, 0], ceil_mode: 1, count_include_pad: 0 })
      : x.y;
    return convBn(d, 'downsample.1', { y: pooled, c: x.c }, { bn: 'downsample.2' });
  }
  return x;
}
