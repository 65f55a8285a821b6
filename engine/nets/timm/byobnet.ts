// timm's "bring your own blocks" ResNets from a checkpoint in timm's key layout: gcresnet50t
// (global context after each bottleneck's 3x3), botnet26t (bottleneck self-attention with
// relative positions) and halonet26t (halo attention).
// Papers: as engine/modules/globalContext.ts, bottleneckAttention.ts, haloAttention.ts; the
//   trunk is a ResNet with a tiered 3-conv stem (He et al. 2016; Bag of Tricks 2019).
// Reference code (names and semantics followed): timm timm/models/byobnet.py (ByobNet, Stem,
//   BottleneckBlock, SelfAttnBlock, create_shortcut) and byoanet.py (the model configs):
//   - stem.conv1..conv3: 3x3 ConvNormAct, the first at stride 2; then a 3x3 s2 max pool, or,
//     without one, stride 2 on conv3 (gcresnet50t).
//   - stages.<i>.<j>: stride 2 on each stage's first block from stage 1 on.
//     bottle: conv1_1x1 -> conv2_kxk (stride) -> attn (GC) -> conv3_1x1 (no act);
//     self_attn: conv1_1x1 -> self_attn (stride) -> post_attn (BN + ReLU) -> conv3_1x1.
//     + shortcut (1x1 ConvNorm with the stride when the shape changes), ReLU.
//   - head: global average pool, head.fc.
// What the weights do not say comes from timm's configs: the stem pool (by architecture name,
// else a max pool), halo attention's block size (8).

import { EngineError } from '../../errors';
import { GraphBuilder } from '../../graph/builder';
import { INPUT } from '../../graph/names';
import { DataType } from '../../graph/onnx';
import { emitBottleneckAttention } from '../../modules/bottleneckAttention';
import { convBn, type Feature } from '../../modules/convBn';
import { emitGlobalContext } from '../../modules/globalContext';
import { emitHaloAttention } from '../../modules/haloAttention';
import { batchNorm, type Emit, sub, WeightReader } from '../../modules/layers';
import type { StateDict } from '../../checkpoints/types';
import { classifier, countBlocks, headWeight, markStage, residual } from './layers';
import { FAMILY_LOGITS, type FamilyGraph } from './types';

/** Architectures whose stem ends in conv3 at stride 2 instead of a max pool. */
const NO_STEM_POOL = /^gc(resnet|resnext)\d+t$/;
const HALO_BLOCK = 8;

export function isByobNet(dict: StateDict): boolean {
  return dict.has('stem.conv1.conv.weight') && dict.has('stages.0.0.conv1_1x1.conv.weight') && dict.has('head.fc.weight');
}

export function emitByobNet(dict: StateDict, name: string, arch: string | null, inputSize: number | null): FamilyGraph {
  const g = new GraphBuilder(name);
  const w = new WeightReader(dict);
  const root: Emit = { g, w, scope: '' };
  const assumptions: string[] = [];
  const counts = countBlocks(dict.keys(), /^stages\.(\d+)\.(\d+)\./);
  const stages = counts.size;
  // The grid size is needed before the pass for self-attention (relative tables, windows).
  const selfAttnAt = [...dict.keys()].find((k) => /^stages\.\d+\.\d+\.self_attn\.pos_embed\.height_rel$/.test(k));
  const bot = selfAttnAt !== undefined && dict.has(selfAttnAt.replace('pos_embed.height_rel', 'qkv.weight'));
  const halo = selfAttnAt !== undefined && !bot;
  const pool = arch ? !NO_STEM_POOL.test(arch) : true;
  if (!arch) assumptions.push('a max pool at the end of the stem (timm\'s botnet/halonet; gcresnet*t have none): --arch names the model');
  let fixed: number | undefined;
  if (bot) {
    // BoT's first self-attention block: its table rows give its grid; the stride before it gives the input size.
    const [, s, b] = /^stages\.(\d+)\.(\d+)\./.exec(selfAttnAt as string) as RegExpExecArray;
    const rows = ((dict.get(selfAttnAt as string)?.shape[0] as number) + 1) / 2;
    fixed = rows * strideBefore(Number(s), Number(b));
  } else if (halo) {
    fixed = inputSize ?? 256;
    if (inputSize === null) assumptions.push(`halo attention built for ${fixed} px inputs (the graph's windows are laid out for one size; --input-size sets another)`);
  }

  let x: Feature = { y: g.input({ name: INPUT, elemType: DataType.FLOAT, shape: ['batch', 3, fixed ?? 'height', fixed ?? 'width'] }), c: 3 };
  const stem = sub(root, 'stem', 'stem');
  x = convBn(sub(stem, 'conv1', 'conv1'), 'conv', x, { stride: 2, bn: 'bn', act: 'relu' });
  x = convBn(sub(stem, 'conv2', 'conv2'), 'conv', x, { bn: 'bn', act: 'relu' });
  x = convBn(sub(stem, 'conv3', 'conv3'), 'conv', x, { stride: pool ? 1 : 2, bn: 'bn', act: 'relu' });
  if (pool) x = { ...x, y: g.node('MaxPool', [x.y], '/stem/pool/MaxPool', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }) };

  let size = fixed === undefined ? null : fixed / 4;
  const kinds = new Set<string>();
  for (let s = 0; s < stages; s++) {
    for (let b = 0; b < (counts.get(s) ?? 0); b++) {
      const path = `stages.${s}.${b}`;
      const e: Emit = { g, w: w.sub(path), scope: `/stages/stages.${s}/${path}` };
      const stride = b === 0 && s > 0 ? 2 : 1;
      const shortcut = e.w.has('shortcut.conv.weight') ? convBn(sub(e, 'shortcut', 'shortcut'), 'conv', x, { stride, bn: 'bn' }) : x;
      let y = convBn(sub(e, 'conv1_1x1', 'conv1_1x1'), 'conv', x, { bn: 'bn', act: 'relu' });
      if (e.w.has('self_attn.pos_embed.height_rel')) {
        if (size === null) throw new EngineError('internal', 'self-attention without a known grid size');
        const a = sub(e, 'self_attn', 'self_attn');
        const att = bot
          ? emitBottleneckAttention(a, y.y, { channels: y.c, stride, height: size, width: size })
          : emitHaloAttention(a, y.y, { channels: y.c, stride, height: size, width: size, blockSize: HALO_BLOCK });
        kinds.add(bot ? 'bottleneck self-attention' : 'halo attention');
        // post_attn: timm's BatchNormAct2d (BN, ReLU).
        y = { y: g.node('Relu', [batchNorm(e, 'post_attn', att.out, att.channels)], `${e.scope}/post_attn/Relu`), c: att.channels };
      } else {
        y = convBn(sub(e, 'conv2_kxk', 'conv2_kxk'), 'conv', y, { stride, bn: 'bn', act: 'relu' });
        if (e.w.has('attn.conv_attn.weight') || e.w.has('attn.mlp_add.fc1.weight') || e.w.has('attn.mlp_scale.fc1.weight')) {
          kinds.add('global context');
          y = { ...y, y: emitGlobalContext(sub(e, 'attn', 'attn'), y.y, { channels: y.c }).out };
        }
      }
      y = convBn(sub(e, 'conv3_1x1', 'conv3_1x1'), 'conv', y, { bn: 'bn' });
      if (shortcut.c !== y.c) throw new EngineError('shape-mismatch', `${path}: its shortcut has ${shortcut.c} channels and its residual ${y.c}.`);
      x = { y: residual(e, y.y, shortcut.y), c: y.c };
      if (size !== null && stride === 2) size /= 2;
    }
    if (s < stages - 1 && s < 3) x = markStage(g, x, s + 1);
  }
  if (w.has('final_conv.conv.weight')) x = convBn(sub(root, 'final_conv', 'final_conv'), 'conv', x, { bn: 'bn', act: 'relu' });
  x = markStage(g, x, 4);
  g.output(classifier(sub(root, 'head', 'head'), 'fc', x), FAMILY_LOGITS);
  return {
    model: g.build(),
    family: 'byobnet',
    description: `timm ByobNet${arch ? ` (${arch})` : ''}, ${[...counts.values()].join('-')} blocks${kinds.size ? `, ${[...kinds].join(' + ')}` : ''}${fixed ? `, ${fixed} px input` : ''}`,
    stages: ['stages.0', 'stages.1', 'stages.2', w.has('final_conv.conv.weight') ? 'final_conv' : `stages.${stages - 1}`],
    fcWeight: headWeight(w, 'head.fc'),
    unusedKeys: w.unused(),
    assumptions,
    ...(fixed !== undefined ? { fixedInputSize: fixed } : {}),
  };
}

/** The stride of the map block `b` of stage `s` receives (stem 4, then 2 per stage from stage 1). */
function strideBefore(s: number, b: number): number {
  return 4 * 2 ** Math.max(0, s - 1) * (s > 0 && b > 0 ? 2 : 1);
}
