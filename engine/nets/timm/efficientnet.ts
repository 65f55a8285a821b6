// timm's EfficientNet and MobileNetV3 from a checkpoint in timm's key layout.
// Papers: Tan, Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
//   ICML 2019, https://arxiv.org/abs/1905.11946; Howard et al., "Searching for MobileNetV3",
//   ICCV 2019, https://arxiv.org/abs/1905.02244; SE as engine/modules/se.ts.
// Reference code (names and semantics followed): timm timm/models/efficientnet.py,
//   mobilenetv3.py, _efficientnet_blocks.py, _efficientnet_builder.py:
//   - conv_stem 3x3 s2 -> bn1 -> act; blocks.<stage>.<i>; EfficientNet: conv_head 1x1 -> bn2
//     -> act -> global pool -> classifier; MobileNetV3: global pool -> conv_head (1x1, bias) ->
//     act -> classifier.
//   - ds (DepthwiseSeparableConv): conv_dw -> bn1 -> act -> se -> conv_pw -> bn2;
//     ir (InvertedResidual): conv_pw -> bn1 -> act -> conv_dw -> bn2 -> act -> se -> conv_pwl -> bn3;
//     cn (ConvBnAct): conv -> bn1 -> act. A block adds its input when stride 1 and in == out.
//   - padding get_padding (these are timm's PyTorch-native models, not the tf_ ones).
// Widths, kernels, expansions and block counts come from the weights. Strides and activations
// per stage do not: they are the architecture definitions' (efficientnet_b*: SiLU, strides
// 1 2 2 2 1 2 1; mobilenetv3_large_*: ReLU in stages 0-2 then hard-swish, same strides,
// SE with a ReLU and a hard-sigmoid gate).

import { EngineError } from '../../errors';
import { GraphBuilder } from '../../graph/builder';
import { INPUT } from '../../graph/names';
import { DataType } from '../../graph/onnx';
import { type Act, convBn, type Feature } from '../../modules/convBn';
import { type Emit, sub, WeightReader } from '../../modules/layers';
import { emitSe } from '../../modules/se';
import type { StateDict } from '../../checkpoints/types';
import { classifier, countBlocks, headWeight, linearHead, markStage } from './layers';
import { FAMILY_LOGITS, type FamilyGraph } from './types';

interface Variant {
  kind: 'efficientnet' | 'mobilenetv3';
  strides: number[];
  acts: Act[];
  stemAct: Act;
  headAct: Act;
  seAct: Act | 'block';
  seGate: 'sigmoid' | 'hard_sigmoid';
}

const EFFICIENTNET: Variant = {
  kind: 'efficientnet', strides: [1, 2, 2, 2, 1, 2, 1], acts: new Array(7).fill('silu'), stemAct: 'silu', headAct: 'silu', seAct: 'block', seGate: 'sigmoid',
};
const MOBILENETV3_LARGE: Variant = {
  kind: 'mobilenetv3', strides: [1, 2, 2, 2, 1, 2, 1], acts: ['relu', 'relu', 'relu', 'hard_swish', 'hard_swish', 'hard_swish', 'hard_swish'],
  stemAct: 'hard_swish', headAct: 'hard_swish', seAct: 'relu', seGate: 'hard_sigmoid',
};

/** Block stages after which the map is at output stride 4, 8 and 16. */
const STAGE_ENDS = [1, 2, 4];

export function isEfficientNet(dict: StateDict): boolean {
  return dict.has('conv_stem.weight') && dict.has('blocks.0.0.bn1.weight') && dict.has('classifier.weight');
}

function variantOf(dict: StateDict, arch: string | null): { variant: Variant; assumed: string | null } {
  if (arch) {
    if (/^efficientnet_b\d/.test(arch)) return { variant: EFFICIENTNET, assumed: null };
    if (/^mobilenetv3_large_/.test(arch)) return { variant: MOBILENETV3_LARGE, assumed: null };
    throw new EngineError('unknown-arch', `"${arch}": of timm's EfficientNet family AttnScope builds efficientnet_b0-b8 and mobilenetv3_large_*.`);
  }
  // Only MobileNetV3's "efficient head" has no BN after conv_head.
  return dict.has('bn2.weight')
    ? { variant: EFFICIENTNET, assumed: 'EfficientNet (SiLU, strides 1 2 2 2 1 2 1): the weights do not name it; --arch sets another' }
    : { variant: MOBILENETV3_LARGE, assumed: 'MobileNetV3-Large (ReLU then hard-swish, strides 1 2 2 2 1 2 1): the weights do not name it; --arch sets another' };
}

export function emitEfficientNet(dict: StateDict, name: string, arch: string | null): FamilyGraph {
  const { variant: v, assumed } = variantOf(dict, arch);
  const g = new GraphBuilder(name);
  const w = new WeightReader(dict);
  const root: Emit = { g, w, scope: '' };
  let x: Feature = { y: g.input({ name: INPUT, elemType: DataType.FLOAT, shape: ['batch', 3, 'height', 'width'] }), c: 3 };
  x = convBn({ ...root, scope: '/conv_stem' }, 'conv_stem', x, { stride: 2, bn: 'bn1', act: v.stemAct });

  const counts = countBlocks(dict.keys(), /^blocks\.(\d+)\.(\d+)\./);
  if (counts.size !== v.strides.length) {
    throw new EngineError('shape-mismatch', `The checkpoint has ${counts.size} block stages; ${v.kind === 'efficientnet' ? 'EfficientNet' : 'MobileNetV3-Large'} has ${v.strides.length}.`, 'Check --arch.');
  }
  let se = 0;
  for (let stage = 0; stage < v.strides.length; stage++) {
    const act = v.acts[stage] as Act;
    for (let i = 0; i < (counts.get(stage) ?? 0); i++) {
      const path = `blocks.${stage}.${i}`;
      const e: Emit = { g, w: w.sub(path), scope: `/blocks/blocks.${stage}/${path}` };
      const stride = i === 0 ? v.strides[stage] as number : 1;
      const input = x;
      const squeeze = (f: Feature): Feature => {
        if (!e.w.has('se.conv_reduce.weight')) return f;
        se++;
        return { ...f, y: emitSe(sub(e, 'se', 'se'), f.y, { layout: 'efficientnet', channels: f.c, act: v.seAct === 'block' ? act : v.seAct, gate: v.seGate }).out };
      };
      if (e.w.has('conv_pwl.weight')) {
        x = convBn(e, 'conv_pw', x, { bn: 'bn1', act });
        x = convBn(e, 'conv_dw', x, { stride, bn: 'bn2', act });
        x = convBn(e, 'conv_pwl', squeeze(x), { bn: 'bn3' });
      } else if (e.w.has('conv_dw.weight')) {
        x = convBn(e, 'conv_dw', x, { stride, bn: 'bn1', act });
        x = convBn(e, 'conv_pw', squeeze(x), { bn: 'bn2' });
      } else {
        x = convBn(e, 'conv', x, { stride, bn: 'bn1', act });
      }
      if (stride === 1 && input.c === x.c) x = { ...x, y: g.node('Add', [x.y, input.y], `${e.scope}/Add`) };
    }
    // Class evidence at output strides 4, 8 and 16 (timm's feature_info), then the features the head reads.
    const k = STAGE_ENDS.indexOf(stage);
    if (k >= 0) x = markStage(g, x, k + 1);
  }
  let logits: string;
  if (v.kind === 'efficientnet') {
    x = markStage(g, convBn({ ...root, scope: '/conv_head' }, 'conv_head', x, { bn: 'bn2', act: v.headAct }), 4);
    logits = classifier(root, 'classifier', x);
  } else {
    x = markStage(g, x, 4);
    const pooled = g.node('GlobalAveragePool', [x.y], '/global_pool/GlobalAveragePool');
    const head = convBn({ ...root, scope: '/conv_head' }, 'conv_head', { y: pooled, c: x.c }, { act: v.headAct });
    logits = linearHead(root, 'classifier', g.node('Flatten', [head.y], '/flatten/Flatten'), head.c);
  }
  g.output(logits, FAMILY_LOGITS);
  const blocks = [...counts.keys()].sort((a, b) => a - b).map((s) => counts.get(s)).join('-');
  return {
    model: g.build(),
    family: v.kind,
    description: `timm ${v.kind === 'efficientnet' ? 'EfficientNet' : 'MobileNetV3-Large'}${arch ? ` (${arch})` : ''}, ${blocks} blocks, ${se} SE gates (${v.seGate === 'sigmoid' ? 'sigmoid' : 'hard-sigmoid'})`,
    stages: ['blocks.1', 'blocks.2', 'blocks.4', v.kind === 'efficientnet' ? 'conv_head' : 'blocks.6'],
    // MobileNetV3's head convolves after the pooling: no class weights per feature channel.
    fcWeight: v.kind === 'efficientnet' ? headWeight(w, 'classifier') : null,
    unusedKeys: w.unused(),
    assumptions: assumed ? [assumed] : [],
  };
}

