// timm's RegNetY from a checkpoint in timm's key layout.
// Paper: Radosavovic, Kosaraju, Girshick, He, Dollar, "Designing Network Design Spaces",
//   CVPR 2020, https://arxiv.org/abs/2003.13678 (RegNetY: RegNetX blocks with SE).
// Reference code (names and semantics followed): timm timm/models/regnet.py (RegNet,
//   Bottleneck, create_shortcut) and facebookresearch/pycls:
//   - stem.conv 3x3 s2 + stem.bn + ReLU; stages s1..s4, blocks b1..bN, stride 2 on each
//     stage's first block (on the grouped 3x3 conv2 and on the shortcut).
//   - block: conv1 1x1 -> conv2 3x3 (groups of group_size channels) -> se (timm SEModule on
//     the bottleneck width, hidden = round(in_chs * se_ratio), ReLU, sigmoid) -> conv3 1x1
//     (no activation); + shortcut (downsample.conv 1x1 + downsample.bn when the shape
//     changes, else identity); ReLU. Each conv is ConvNormAct (`<name>.conv`, `<name>.bn`).
//   - head: global average pool, head.fc (regnety has no final_conv).

import { EngineError } from '../../errors';
import { GraphBuilder } from '../../graph/builder';
import { INPUT } from '../../graph/names';
import { DataType } from '../../graph/onnx';
import { convBn, type Feature } from '../../modules/convBn';
import { type Emit, sub, WeightReader } from '../../modules/layers';
import { emitSe } from '../../modules/se';
import type { StateDict } from '../../checkpoints/types';
import { classifier, countBlocks, headWeight, markStage, residual } from './layers';
import { FAMILY_LOGITS, type FamilyGraph } from './types';

export function isRegNet(dict: StateDict): boolean {
  return dict.has('stem.conv.weight') && dict.has('s1.b1.conv1.conv.weight') && dict.has('head.fc.weight');
}

export function emitRegNet(dict: StateDict, name: string): FamilyGraph {
  const g = new GraphBuilder(name);
  const w = new WeightReader(dict);
  const root: Emit = { g, w, scope: '' };
  let x: Feature = { y: g.input({ name: INPUT, elemType: DataType.FLOAT, shape: ['batch', 3, 'height', 'width'] }), c: 3 };
  x = convBn(sub(root, 'stem', 'stem'), 'conv', x, { stride: 2, bn: 'bn', act: 'relu' });
  // Blocks are numbered from 1 (b1, b2 ...): the count is the highest number.
  const counts = new Map([...countBlocks(dict.keys(), /^s(\d)\.b(\d+)\./)].map(([s, n]) => [s, n - 1]));
  let se = 0;
  for (let stage = 1; stage <= 4; stage++) {
    const n = counts.get(stage) ?? 0;
    if (!n) throw new EngineError('shape-mismatch', `The checkpoint has no blocks in stage s${stage}; a RegNet has four stages.`);
    for (let b = 1; b <= n; b++) {
      const path = `s${stage}.b${b}`;
      const e: Emit = { g, w: w.sub(path), scope: `/s${stage}/${path}` };
      const stride = b === 1 ? 2 : 1;
      const shortcut = e.w.has('downsample.conv.weight') ? convBn(sub(e, 'downsample', 'downsample'), 'conv', x, { stride, bn: 'bn' }) : x;
      let y = convBn(sub(e, 'conv1', 'conv1'), 'conv', x, { bn: 'bn', act: 'relu' });
      y = convBn(sub(e, 'conv2', 'conv2'), 'conv', y, { stride, bn: 'bn', act: 'relu' });
      if (e.w.has('se.fc1.weight')) {
        se++;
        y = { ...y, y: emitSe(sub(e, 'se', 'se'), y.y, { layout: 'timm', channels: y.c }).out };
      }
      y = convBn(sub(e, 'conv3', 'conv3'), 'conv', y, { bn: 'bn' });
      if (shortcut.c !== y.c) throw new EngineError('shape-mismatch', `${path}: its shortcut has ${shortcut.c} channels and its residual ${y.c}.`);
      x = { y: residual(e, y.y, shortcut.y), c: y.c };
    }
    x = markStage(g, x, stage);
  }
  g.output(classifier(sub(root, 'head', 'head'), 'fc', x), FAMILY_LOGITS);
  return {
    model: g.build(),
    family: 'regnet',
    description: `timm RegNet${se ? 'Y' : 'X'}, ${[1, 2, 3, 4].map((s) => counts.get(s)).join('-')} blocks, ${se} SE gates`,
    stages: ['s1', 's2', 's3', 's4'],
    fcWeight: headWeight(w, 'head.fc'),
    unusedKeys: w.unused(),
    assumptions: [],
  };
}
