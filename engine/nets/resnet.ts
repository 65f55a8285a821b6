// ResNet with attention slots, assembled from a NetSpec and a PyTorch state dict.
// Paper: He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016,
//   https://arxiv.org/abs/1512.03385
// Reference code (names and semantics followed): torchvision models/resnet.py and
//   Jongchan/attention-module MODEL/model_resnet.py (CBAM/BAM placement):
//   - ImageNet stem: conv1 7x7 s2 p3, bn1, ReLU, maxpool 3x3 s2 p1. CIFAR stem: conv1 3x3
//     s1 p1, bn1, ReLU, no maxpool.
//   - layer{1..4}: stride 1, 2, 2, 2 (spec.strides may set a stage to 1); Bottleneck puts the stride on its 3x3 conv2 (torchvision).
//   - In-block attention (CBAM / SE / GC) after the last BN, before the residual add:
//     out = relu(attention(bn_last(...)) + identity).
//   - Inserted blocks (`bam1`, `nl3`, `gc4`) after stage k, in spec order.
//   - Head: global average pool, fc.
// All weights are converted once at load (NCHW -> NHWC, BatchNorm folded into its conv);
// a forward pass only creates per-run tensors, each disposed before forward() returns.

import * as tf from '@tensorflow/tfjs-core';
import type { StateDict } from '../checkpoints/types';
import { EngineError } from '../errors';
import { type AttentionModule, createAttention, type ModuleOutput } from '../modules';
import { type Conv2d, disposeAll, globalAvg, type Linear, loadConv, loadLinear, maxPoolAfterRelu, WeightReader } from '../modules/layers';
import type { ModuleInfo, Tap } from '../types';
import { type BlockAttention, type InsertedBlock, type NetSpec, stageStride } from './spec';

export interface AttentionSlot {
  name: string;
  stage: string;
  module: AttentionModule;
}

export interface AffinityRecord {
  module: string;
  /** Row-major [queries, keys]. */
  data: Float32Array;
  query: [number, number];
  key: [number, number];
}

export interface ForwardHooks {
  bypass?: ReadonlySet<string>;
  /** Called with each tap as soon as it is read back, in forward order. */
  onTap?: (tap: Tap) => void | Promise<void>;
  /** When given, non-local affinities are read back and handed over (for query()). */
  onAffinity?: (record: AffinityRecord) => void;
  /**
   * The last stage's output [1, h, w, C] before pooling, for class-activation methods
   * (Grad-CAM in bench/localisation.ts). Borrowed: valid only during the call, not to be disposed.
   */
  onFeatures?: (features: tf.Tensor4D) => void;
  /**
   * When given, each attention module's input features [1, H, W, C] (what it received,
   * bypassed or not) are handed over as soon as the module has run, for channelMap().
   * Owned: a clone the receiver must dispose. `wantInput` limits which modules pay for it.
   */
  onModuleInput?: (module: string, input: tf.Tensor4D) => void;
  wantInput?: (module: string) => boolean;
  signal?: AbortSignal;
}

export interface ForwardResult {
  logits: Float32Array;
  taps: Tap[];
  forwardMs: number;
  readbackMs: number;
}

interface StepResult {
  out: tf.Tensor4D;
  slot?: AttentionSlot;
  output?: ModuleOutput;
  /** The attention module's input (borrowed, inside the step's tidy). */
  input?: tf.Tensor4D;
}

interface Step {
  run(x: tf.Tensor4D, bypass: ReadonlySet<string>): StepResult;
  dispose(): void;
}

const EXPANSION = { basic: 1, bottleneck: 4 } as const;

class Stem implements Step {
  constructor(private readonly conv: Conv2d, private readonly maxPool: boolean) {}

  run(x: tf.Tensor4D): StepResult {
    const y = this.conv.apply(x, 'relu');
    return { out: this.maxPool ? maxPoolAfterRelu(y, 3, 2, 1) : y };
  }

  dispose(): void {
    this.conv.dispose();
  }
}

class ResidualBlock implements Step {
  constructor(
    private readonly convs: Conv2d[],
    private readonly downsample: Conv2d | null,
    readonly slot: AttentionSlot | null,
  ) {}

  run(x: tf.Tensor4D, bypass: ReadonlySet<string>): StepResult {
    let y = x;
    this.convs.forEach((conv, i) => {
      y = conv.apply(y, i < this.convs.length - 1 ? 'relu' : 'linear');
    });
    let output: ModuleOutput | undefined;
    const input = y;
    if (this.slot) {
      output = this.slot.module.forward(y, { bypass: bypass.has(this.slot.name) });
      y = output.out;
    }
    const identity = this.downsample ? this.downsample.apply(x) : x;
    const out = tf.relu(tf.add(y, identity)) as tf.Tensor4D;
    return this.slot && output ? { out, slot: this.slot, output, input } : { out };
  }

  dispose(): void {
    disposeAll([...this.convs, this.downsample, this.slot?.module]);
  }
}

class InsertedStep implements Step {
  constructor(readonly slot: AttentionSlot) {}

  run(x: tf.Tensor4D, bypass: ReadonlySet<string>): StepResult {
    const output = this.slot.module.forward(x, { bypass: bypass.has(this.slot.name) });
    return { out: output.out, slot: this.slot, output, input: x };
  }

  dispose(): void {
    this.slot.module.dispose();
  }
}

export class ResNet {
  private constructor(
    readonly spec: NetSpec,
    private readonly steps: Step[],
    private readonly fc: Linear,
    /** Attention modules in forward order. */
    readonly slots: AttentionSlot[],
    /** State dict keys the network did not use. */
    readonly unusedKeys: string[],
  ) {}

  /** Builds the network; throws EngineError('shape-mismatch') naming the first key that does not fit. */
  static load(spec: NetSpec, dict: StateDict): ResNet {
    const w = new WeightReader(dict);
    const built: Array<Step | Linear> = [];
    try {
      const steps: Step[] = [];
      const slots: AttentionSlot[] = [];
      const add = (s: Step): void => {
        steps.push(s);
        built.push(s);
        if ((s instanceof ResidualBlock || s instanceof InsertedStep) && s.slot) slots.push(s.slot);
      };
      const imagenet = spec.stem === 'imagenet';
      add(new Stem(loadConv(w, 'conv1', imagenet
        ? { stride: 2, pad: 3, bn: 'bn1', shape: [spec.baseWidth, 3, 7, 7] }
        : { stride: 1, pad: 1, bn: 'bn1', shape: [spec.baseWidth, 3, 3, 3] }), imagenet));

      const expansion = EXPANSION[spec.block];
      let inplanes = spec.baseWidth;
      for (let stage = 1; stage <= 4; stage++) {
        const planes = spec.baseWidth * 2 ** (stage - 1);
        const count = spec.layers[stage - 1] as number;
        for (let i = 0; i < count; i++) {
          const stride = i === 0 ? stageStride(spec, stage) : 1;
          add(loadBlock(w.sub(`layer${stage}.${i}`), `layer${stage}.${i}`, spec, inplanes, planes, stride));
          inplanes = planes * expansion;
        }
        for (const ins of spec.inserts.filter((b) => b.after === stage)) {
          add(new InsertedStep({ name: ins.name, stage: `layer${stage}`, module: loadInserted(w, ins, inplanes) }));
        }
      }
      const fc = loadLinear(w, 'fc', { bias: true, shape: [spec.numClasses, inplanes] });
      built.push(fc);
      return new ResNet(spec, steps, fc, slots, w.unused());
    } catch (err) {
      for (const b of built) b.dispose();
      throw err;
    }
  }

  /** Module descriptions at a given square input size (forward order). */
  describe(inputSize: number): ModuleInfo[] {
    const sizes = stageSizes(this.spec, inputSize);
    return this.slots.map((s) => {
      const stage = Number(s.stage.replace('layer', ''));
      const size = sizes[stage - 1] as number;
      return {
        name: s.name,
        kind: s.module.kind,
        stage: s.stage,
        taps: [...s.module.taps],
        channels: s.module.channels,
        mapSize: [size, size],
      };
    });
  }

  /**
   * Inference forward pass of one NHWC image [1, H, W, 3]. Taps are read back and passed to
   * `onTap` module by module; between modules the signal is checked, and an abort disposes
   * this run's tensors and throws EngineError('cancelled'). The input stays the caller's.
   */
  async forward(input: tf.Tensor4D, hooks: ForwardHooks = {}): Promise<ForwardResult> {
    const bypass = hooks.bypass ?? new Set<string>();
    const taps: Tap[] = [];
    let readbackMs = 0;
    const start = performance.now();
    let x = input;
    const release = (t: tf.Tensor4D): void => {
      if (t !== input) t.dispose();
    };
    try {
      for (const step of this.steps) {
        throwIfAborted(hooks.signal);
        let result: StepResult = { out: x };
        const captured: tf.Tensor4D[] = [];
        const kept = tf.tidy(() => {
          result = step.run(x, bypass);
          const o = result.output;
          // A clone shares the data (no copy) but is its own handle: the receiver can
          // dispose it whatever becomes of the step's input or output.
          if (hooks.onModuleInput && result.slot && result.input && (hooks.wantInput?.(result.slot.name) ?? true)) {
            captured.push(tf.clone(result.input));
          }
          return [result.out, ...(o ? o.taps.map((t) => t.value) : []), ...(o?.affinity ? [o.affinity] : []), ...captured];
        });
        if (result.out !== x) release(x);
        x = result.out;
        const { slot, output } = result;
        if (!slot || !output) continue;
        if (captured[0]) hooks.onModuleInput?.(slot.name, captured[0]);
        const pending = kept.slice(1, kept.length - captured.length);
        try {
          const t0 = performance.now();
          const read: Tap[] = [];
          for (const t of output.taps) {
            read.push({ module: slot.name, tap: t.tap, shape: [...t.value.shape], data: (await t.value.data()) as Float32Array });
          }
          if (output.affinity && output.grids && hooks.onAffinity) {
            const data = (await output.affinity.data()) as Float32Array;
            hooks.onAffinity({ module: slot.name, data, query: output.grids.query, key: output.grids.key });
          }
          readbackMs += performance.now() - t0;
          for (const tap of read) {
            taps.push(tap);
            await hooks.onTap?.(tap);
          }
        } finally {
          for (const t of pending) t.dispose();
        }
      }
      throwIfAborted(hooks.signal);
      hooks.onFeatures?.(x);
      const logitsT = tf.tidy(() => this.fc.apply(globalAvg(x)));
      release(x);
      x = input;
      const t0 = performance.now();
      const logits = (await logitsT.data()) as Float32Array;
      logitsT.dispose();
      readbackMs += performance.now() - t0;
      return { logits, taps, forwardMs: performance.now() - start - readbackMs, readbackMs };
    } finally {
      release(x);
    }
  }

  dispose(): void {
    disposeAll([...this.steps, this.fc]);
  }
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new EngineError('cancelled', 'The run was cancelled.');
}

function loadBlock(w: WeightReader, name: string, spec: NetSpec, inplanes: number, planes: number, stride: number): ResidualBlock {
  const convs: Conv2d[] = [];
  let downsample: Conv2d | null = null;
  const out = planes * EXPANSION[spec.block];
  try {
    if (spec.block === 'basic') {
      convs.push(loadConv(w, 'conv1', { stride, pad: 1, bn: 'bn1', shape: [planes, inplanes, 3, 3] }));
      convs.push(loadConv(w, 'conv2', { pad: 1, bn: 'bn2', shape: [planes, planes, 3, 3] }));
    } else {
      convs.push(loadConv(w, 'conv1', { bn: 'bn1', shape: [planes, inplanes, 1, 1] }));
      convs.push(loadConv(w, 'conv2', { stride, pad: 1, bn: 'bn2', shape: [planes, planes, 3, 3] }));
      convs.push(loadConv(w, 'conv3', { bn: 'bn3', shape: [out, planes, 1, 1] }));
    }
    const needsDownsample = stride !== 1 || inplanes !== out;
    if (needsDownsample !== w.has('downsample.0.weight')) {
      throw new EngineError('shape-mismatch', needsDownsample
        ? `The checkpoint has no "${w.key('downsample.0.weight')}", which this block needs (stride ${stride}, ${inplanes} -> ${out} channels).`
        : `The checkpoint has "${w.key('downsample.0.weight')}", which this block (${inplanes} -> ${out} channels) does not use.`,
      'Check that the architecture (depth, block type) matches the checkpoint.');
    }
    if (needsDownsample) downsample = loadConv(w, 'downsample.0', { stride, bn: 'downsample.1', shape: [out, inplanes, 1, 1] });
    const att = spec.attention;
    const slot = att.kind === 'none'
      ? null
      : { name: `${name}.${att.attr}`, stage: name.split('.')[0] as string, module: loadBlockAttention(w, att, out) };
    return new ResidualBlock(convs, downsample, slot);
  } catch (err) {
    disposeAll([...convs, downsample]);
    throw err;
  }
}

function loadBlockAttention(w: WeightReader, att: Exclude<BlockAttention, { kind: 'none' }>, channels: number): AttentionModule {
  switch (att.kind) {
    case 'cbam':
      return createAttention('cbam', w.sub(att.attr), { layout: att.layout, channels });
    case 'se':
      return createAttention('se', w.sub(att.attr), { layout: att.layout, channels });
    case 'gc':
      return createAttention('gc', w.sub(att.attr), { channels });
  }
}

function loadInserted(w: WeightReader, ins: InsertedBlock, channels: number): AttentionModule {
  const sub = w.sub(ins.name);
  switch (ins.kind) {
    case 'bam':
      return createAttention('bam', sub, { channels, dilation: ins.dilation });
    case 'nonlocal':
      return createAttention('nl', sub, { channels, mode: ins.mode, subSample: ins.subSample, bn: ins.bn });
    case 'gc':
      return createAttention('gc', sub, { channels });
  }
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
