// ResNet with attention slots, emitted as an attention graph from a NetSpec and a PyTorch
// state dict.
// Paper: He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016,
//   https://arxiv.org/abs/1512.03385
// Reference code (names and semantics followed): torchvision models/resnet.py and
//   Jongchan/attention-module MODEL/model_resnet.py (CBAM/BAM placement):
//   - ImageNet stem: conv1 7x7 s2 p3, bn1, ReLU, maxpool 3x3 s2 p1. CIFAR stem: conv1 3x3
//     s1 p1, bn1, ReLU, no maxpool.
//   - layer{1..4}: stride 1, 2, 2, 2 (spec.strides may set a stage to 1); Bottleneck puts the
//     stride on its 3x3 conv2 (torchvision).
//   - In-block attention (CBAM / SE / GC) after the last BN, before the residual add:
//     out = relu(attention(bn_last(...)) + identity).
//   - Inserted blocks (`bam1`, `nl3`, `gc4`) after stage k, in spec order.
//   - Head: global average pool, fc.
// Graph: input [N, 3, H, W] (any H, W), outputs `logits`, the taps, and aux outputs
// (`features`, module inputs, affinities); one bypass input per module.

import type { StateDict } from '../checkpoints/types';
import { EngineError } from '../errors';
import { GraphBuilder } from '../graph/builder';
import { affinityRowsOutput, FEATURES, INPUT, LOGITS, queryRowsInput, stageOutput } from '../graph/names';
import { DataType, type OnnxTypes } from '../graph/onnx';
import { emitAttention, type PlacedModule } from '../modules';
import { conv, type Emit, globalAvg, linear, WeightReader } from '../modules/layers';
import { emitNonLocalRows } from '../modules/nonLocal';
import type { ModuleInfo } from '../types';
import { type BlockAttention, type InsertedBlock, type NetSpec, stageStride } from './spec';

/** An attention module in the graph, with the stage it belongs to (`layer3`). */
export interface GraphModule extends PlacedModule {
  stage: string;
  /**
   * Non-local blocks: a graph of their own from the block's input (`input`, [N, C, H, W]) and
   * query indices (`<module>.query_rows`) to those affinity rows (`<module>.affinity_rows`),
   * for clicked queries at sizes whose affinity is not kept (modules/nonLocal.ts).
   */
  rowsModel?: OnnxTypes.ModelProto;
}

/** One model as an attention graph (DESIGN.md "One graph, two runtimes"). */
export interface AttentionGraph {
  model: OnnxTypes.ModelProto;
  /** Attention modules in forward order. */
  modules: GraphModule[];
  /** State dict keys the network did not use. */
  unusedKeys: string[];
  /** The classifier's weight [classes, channels] (CAM: class weights of the last stage's channels). */
  fcWeight: Float32Array;
}

export interface GraphOptions {
  /** Non-local affinities up to this many bytes are computed whole and output; larger ones in blocks of rows (modules/nonLocal.ts). */
  keepAffinityBytes?: number;
  /** The largest block of affinity rows the chunked path computes at once. */
  chunkBytes?: number;
}

/** Output channels of a block per `planes`. */
export const EXPANSION = { basic: 1, bottleneck: 4 } as const;

/** Emits the network; throws EngineError('shape-mismatch') naming the first key that does not fit. */
export function emitResNet(spec: NetSpec, dict: StateDict, name = 'resnet', opts: GraphOptions = {}): AttentionGraph {
  const g = new GraphBuilder(name);
  const w = new WeightReader(dict);
  const root: Emit = { g, w, scope: '' };
  const modules: GraphModule[] = [];
  let x = g.input({ name: INPUT, elemType: DataType.FLOAT, shape: ['batch', 3, 'height', 'width'] });

  const imagenet = spec.stem === 'imagenet';
  const stem: Emit = { g, w, scope: '/conv1' };
  x = conv(stem, 'conv1', x, imagenet
    ? { stride: 2, pad: 3, bn: 'bn1', shape: [spec.baseWidth, 3, 7, 7], relu: true }
    : { stride: 1, pad: 1, bn: 'bn1', shape: [spec.baseWidth, 3, 3, 3], relu: true }).y;
  if (imagenet) x = g.node('MaxPool', [x], '/maxpool/MaxPool', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });

  const expansion = EXPANSION[spec.block];
  let inplanes = spec.baseWidth;
  // Each stage's output after its own inserts (ANN's AFNB reads a lower stage's).
  const stageMaps: Array<{ value: string; channels: number }> = [];
  for (let stage = 1; stage <= 4; stage++) {
    const planes = spec.baseWidth * 2 ** (stage - 1);
    const count = spec.layers[stage - 1] as number;
    for (let i = 0; i < count; i++) {
      const path = `layer${stage}.${i}`;
      const stride = i === 0 ? stageStride(spec, stage) : 1;
      const block = emitBlock({ g, w: w.sub(path), scope: `/layer${stage}/${path}` }, x, path, spec, inplanes, planes, stride);
      x = block.out;
      if (block.module) modules.push({ ...block.module, stage: `layer${stage}` });
      inplanes = planes * expansion;
    }
    for (const ins of spec.inserts.filter((b) => b.after === stage)) {
      const placed = emitInserted({ g, w: w.sub(ins.name), scope: `/${ins.name}` }, x, ins, inplanes, opts, stageMaps);
      x = placed.out;
      modules.push({
        ...placed.module, stage: `layer${stage}`,
        ...(ins.kind === 'nonlocal' ? { rowsModel: emitRowsModel(w.sub(ins.name), ins, inplanes) } : {}),
      });
    }
    // Stage outputs (class-activation methods at any stage); layer4's is `features`, below.
    if (stage < 4) x = g.output(x, stageOutput(stage));
    stageMaps.push({ value: x, channels: inplanes });
  }
  // The head reads the `features` output itself, so feeding `features` cuts the graph there
  // (class-activation methods differentiate the head with respect to it).
  const features = g.output(x, FEATURES);
  const head: Emit = { g, w, scope: '/fc' };
  g.output(linear(head, 'fc', globalAvg(root, features), { bias: true, shape: [spec.numClasses, inplanes] }).y, LOGITS);
  return { model: g.build(), modules, unusedKeys: w.unused(), fcWeight: Float32Array.from(w.get('fc.weight').data) };
}

function emitBlock(e: Emit, x: string, name: string, spec: NetSpec, inplanes: number, planes: number, stride: number): { out: string; module: PlacedModule | null } {
  const out = planes * EXPANSION[spec.block];
  let y: string;
  if (spec.block === 'basic') {
    y = conv(e, 'conv1', x, { stride, pad: 1, bn: 'bn1', shape: [planes, inplanes, 3, 3], relu: true }).y;
    y = conv(e, 'conv2', y, { pad: 1, bn: 'bn2', shape: [planes, planes, 3, 3] }).y;
  } else {
    y = conv(e, 'conv1', x, { bn: 'bn1', shape: [planes, inplanes, 1, 1], relu: true }).y;
    y = conv(e, 'conv2', y, { stride, pad: 1, bn: 'bn2', shape: [planes, planes, 3, 3], relu: true }).y;
    y = conv(e, 'conv3', y, { bn: 'bn3', shape: [out, planes, 1, 1] }).y;
  }
  const needsDownsample = stride !== 1 || inplanes !== out;
  if (needsDownsample !== e.w.has('downsample.0.weight')) {
    throw new EngineError('shape-mismatch', needsDownsample
      ? `The checkpoint has no "${e.w.key('downsample.0.weight')}", which this block needs (stride ${stride}, ${inplanes} -> ${out} channels).`
      : `The checkpoint has "${e.w.key('downsample.0.weight')}", which this block (${inplanes} -> ${out} channels) does not use.`,
    'Check that the architecture (depth, block type) matches the checkpoint.');
  }
  let module: PlacedModule | null = null;
  const att = spec.attention;
  if (att.kind !== 'none') {
    const placed = emitBlockAttention({ g: e.g, w: e.w.sub(att.attr), scope: `${e.scope}/${att.attr}` }, y, att, out, `${name}.${att.attr}`);
    y = placed.out;
    module = placed.module;
  }
  const identity = needsDownsample ? conv(e, 'downsample.0', x, { stride, bn: 'downsample.1', shape: [out, inplanes, 1, 1] }).y : x;
  return { out: e.g.node('Relu', [e.g.node('Add', [y, identity], `${e.scope}/Add`)], `${e.scope}/Relu`), module };
}

function emitBlockAttention(e: Emit, x: string, att: Exclude<BlockAttention, { kind: 'none' }>, channels: number, name: string) {
  switch (att.kind) {
    case 'cbam':
      return emitAttention('cbam', e, x, { layout: att.layout, channels, ...(att.order ? { order: att.order } : {}), ...(att.pool ? { pool: att.pool } : {}) }, name);
    case 'se':
      return emitAttention('se', e, x, { layout: att.layout, channels }, name);
    case 'gc':
      return emitAttention('gc', e, x, { channels }, name);
    case 'psa':
      return emitAttention('psa', e, x, { channels, variant: att.variant }, name);
    case 'spatial':
      return emitAttention('sse', e, x, { channels }, name);
  }
}

function emitRowsModel(w: WeightReader, ins: Extract<InsertedBlock, { kind: 'nonlocal' }>, channels: number): OnnxTypes.ModelProto {
  const g = new GraphBuilder(`${ins.name}.rows`);
  const x = g.input({ name: INPUT, elemType: DataType.FLOAT, shape: ['batch', channels, 'height', 'width'] });
  const index = g.input({ name: queryRowsInput(ins.name), elemType: DataType.INT64, shape: ['rows'] });
  const rows = emitNonLocalRows({ g, w, scope: `/${ins.name}` }, x, { channels, mode: ins.mode, subSample: ins.subSample, bn: ins.bn }, index);
  g.output(rows, affinityRowsOutput(ins.name));
  return g.build();
}

function emitInserted(e: Emit, x: string, ins: InsertedBlock, channels: number, opts: GraphOptions, stageMaps: Array<{ value: string; channels: number }>) {
  switch (ins.kind) {
    case 'bam':
      return emitAttention('bam', e, x, { channels, dilation: ins.dilation }, ins.name);
    case 'nonlocal':
      return emitAttention('nl', e, x, {
        channels, mode: ins.mode, subSample: ins.subSample, bn: ins.bn,
        ...(opts.keepAffinityBytes !== undefined ? { keepBytes: opts.keepAffinityBytes } : {}),
        ...(opts.chunkBytes !== undefined ? { chunkBytes: opts.chunkBytes } : {}),
      }, ins.name);
    case 'gc':
      return emitAttention('gc', e, x, { channels }, ins.name);
    case 'selfattn':
      return emitAttention('sa', e, x, { channels }, ins.name);
    case 'pam':
      return emitAttention('pam', e, x, { channels }, ins.name);
    case 'cam':
      return emitAttention('cam', e, x, { channels }, ins.name);
    case 'cca':
      return emitAttention('cca', e, x, { channels, recurrence: ins.recurrence }, ins.name);
    case 'ema':
      return emitAttention('ema', e, x, { channels, stages: ins.stages }, ins.name);
    case 'a2':
      return emitAttention('a2', e, x, { channels }, ins.name);
    case 'isa':
      return emitAttention('isa', e, x, { channels, down: ins.downFactor }, ins.name);
    case 'apnb':
      return emitAttention('apnb', e, x, { channels, sizes: ins.sizes }, ins.name);
    case 'afnb': {
      const low = stageMaps[ins.low - 1];
      if (!low || ins.low >= ins.after) throw new EngineError('unknown-arch', `${ins.name} fuses layer${ins.low} into layer${ins.after}: the low stage must come before it.`);
      return emitAttention('afnb', e, x, { channels, low: low.value, lowChannels: low.channels, sizes: ins.sizes }, ins.name);
    }
    case 'rnl':
      return emitAttention('rnl', e, x, { channels, subSample: ins.subSample }, ins.name);
    case 'nlsa':
      return emitAttention('nlsa', e, x, { channels, chunk: ins.chunk, resScale: ins.resScale }, ins.name);
    case 'san':
      return emitAttention('san', e, x, { channels, kernel: ins.kernel }, ins.name);
    case 'stn':
      return emitAttention('stn', e, x, { channels }, ins.name);
    case 'lightnl':
      return emitAttention('lnl', e, x, { channels, ratio: ins.ratio, stride: ins.stride }, ins.name);
  }
}

/** Module descriptions at a given square input size (forward order). */
export function describeModules(spec: NetSpec, modules: GraphModule[], inputSize: number): ModuleInfo[] {
  const sizes = stageSizes(spec, inputSize);
  return modules.map((m) => {
    const size = sizes[Number(m.stage.replace('layer', '')) - 1] as number;
    return { name: m.name, kind: m.kind, stage: m.stage, taps: [...m.taps], channels: m.channels, mapSize: [size, size] };
  });
}

/** Spatial size after each stage for a square input (PyTorch's floor arithmetic). */
export function stageSizes(spec: NetSpec, inputSize: number): number[] {
  const down = (s: number, k: number, stride: number, pad: number): number => Math.floor((s + 2 * pad - k) / stride) + 1;
  let s = spec.stem === 'imagenet' ? down(down(inputSize, 7, 2, 3), 3, 2, 1) : inputSize;
  const sizes: number[] = [];
  for (let stage = 1; stage <= 4; stage++) {
    const stride = stageStride(spec, stage);
    if (stride !== 1) s = down(s, 3, stride, 1);
    sizes.push(s);
  }
  return sizes;
}
