// One factory for every attention mechanism, keyed by short name like timm's
// create_attn: `emitAttention('cbam', e, x, config)`, plus the wiring every module gets
// in the graph: its bypass switch, its taps and its aux outputs (DESIGN.md vocabulary).

import { affinityOutput, affinityStepOutput, bypassInput, moduleInputOutput, tapOutput } from '../graph/names';
import { DataType } from '../graph/onnx';
import type { ModuleKind, TapName } from '../types';
import type { ModuleGraph } from './base';
import { type BamConfig, emitBam } from './bam';
import { type CbamConfig, emitCbam } from './cbam';
import { emitGc, type GcConfig } from './gc';
import type { Emit } from './layers';
import { emitNonLocal, type NonLocalConfig } from './nonLocal';
import { emitSe, type SeConfig } from './se';
import { type ChannelAttentionConfig, emitChannelAttention } from './channelAttention';
import { emitSelfAttention, type SelfAttentionConfig } from './selfAttention';
import { type CrissCrossConfig, emitCrissCross } from './crissCross';
import { emitPolarized, type PolarizedConfig } from './polarized';
import { type DoubleAttentionConfig, emitDoubleAttention } from './doubleAttention';
import { type EmAttentionConfig, emitEmAttention } from './emAttention';
import { emitInterlaced, type InterlacedConfig } from './interlaced';
import { emitLightNonLocal, type LightNonLocalConfig } from './lightNonLocal';
import { emitFusionNonLocal, type FusionNonLocalConfig } from './fusionNonLocal';
import { emitPairwiseSelfAttention, type PairwiseSelfAttentionConfig } from './pairwiseSelfAttention';
import { emitRegionNonLocal, type RegionNonLocalConfig } from './regionNonLocal';
import { emitSparseNonLocal, type SparseNonLocalConfig } from './sparseNonLocal';
import { emitSpatialTransformer, type SpatialTransformerConfig } from './spatialTransformer';
import { emitSpatialGate, type SpatialGateConfig } from './spatialGate';
import { emitPyramidNonLocal, type PyramidNonLocalConfig } from './pyramidNonLocal';

export interface AttentionConfigs {
  cbam: CbamConfig;
  se: SeConfig;
  bam: BamConfig;
  nl: NonLocalConfig;
  gc: GcConfig;
  sa: SelfAttentionConfig;
  pam: SelfAttentionConfig;
  cam: ChannelAttentionConfig;
  cca: CrissCrossConfig;
  psa: PolarizedConfig;
  ema: EmAttentionConfig;
  a2: DoubleAttentionConfig;
  isa: InterlacedConfig;
  lnl: LightNonLocalConfig;
  sse: SpatialGateConfig;
  apnb: PyramidNonLocalConfig;
  stn: SpatialTransformerConfig;
  afnb: FusionNonLocalConfig;
  rnl: RegionNonLocalConfig;
  nlsa: SparseNonLocalConfig;
  san: PairwiseSelfAttentionConfig;
}

export type AttentionName = keyof AttentionConfigs;

interface Mechanism<K extends AttentionName> {
  kind: ModuleKind;
  taps: TapName[];
  emit(e: Emit, x: string, cfg: AttentionConfigs[K]): ModuleGraph;
}

const MECHANISMS: { [K in AttentionName]: Mechanism<K> } = {
  cbam: { kind: 'cbam', taps: ['channel', 'spatial', 'activation'], emit: emitCbam },
  se: { kind: 'se', taps: ['channel', 'activation'], emit: emitSe },
  bam: { kind: 'bam', taps: ['channel', 'spatial', 'activation'], emit: emitBam },
  nl: { kind: 'nonlocal', taps: ['attention', 'activation'], emit: emitNonLocal },
  gc: { kind: 'gc', taps: ['spatial', 'activation'], emit: emitGc },
  sa: { kind: 'selfattn', taps: ['attention', 'activation'], emit: emitSelfAttention },
  pam: { kind: 'pam', taps: ['attention', 'activation'], emit: emitSelfAttention },
  cam: { kind: 'chanattn', taps: ['channel', 'matrix', 'activation'], emit: emitChannelAttention },
  cca: { kind: 'crisscross', taps: ['attention', 'activation'], emit: emitCrissCross },
  psa: { kind: 'psa', taps: ['channel', 'spatial', 'activation'], emit: emitPolarized },
  ema: { kind: 'ema', taps: ['maps', 'activation'], emit: emitEmAttention },
  a2: { kind: 'a2', taps: ['maps', 'weights', 'activation'], emit: emitDoubleAttention },
  isa: { kind: 'isa', taps: ['attention', 'activation'], emit: emitInterlaced },
  lnl: { kind: 'lightnl', taps: ['attention', 'activation'], emit: emitLightNonLocal },
  sse: { kind: 'sse', taps: ['spatial', 'activation'], emit: emitSpatialGate },
  apnb: { kind: 'apnb', taps: ['attention', 'activation'], emit: emitPyramidNonLocal },
  afnb: { kind: 'afnb', taps: ['attention', 'activation'], emit: emitFusionNonLocal },
  rnl: { kind: 'rnl', taps: ['attention', 'activation'], emit: emitRegionNonLocal },
  nlsa: { kind: 'nlsa', taps: ['attention', 'maps', 'activation'], emit: emitSparseNonLocal },
  san: { kind: 'san', taps: ['attention', 'activation'], emit: emitPairwiseSelfAttention },
  stn: { kind: 'stn', taps: ['affine', 'grid', 'warped', 'activation'], emit: emitSpatialTransformer },
};

/** An attention module placed in the graph. */
export interface PlacedModule {
  name: string;
  kind: ModuleKind;
  taps: TapName[];
  channels: number;
  /** Whether it has a non-local affinity output (query()). */
  affinity: boolean;
  /** A multi-pass affinity: what the affinity is, and the labels of its earlier steps (outputs `<module>.affinity<k>`). */
  affinitySteps?: { label: string; steps: string[] };
}

/**
 * Emits module `name` on x, wires its taps, input and affinity to named outputs and its
 * bypass input (a bool scalar, default false) around it, and returns the value the network
 * continues with. Bypass is `Where(bypass, x, out)`: the module still computes and reports
 * its taps from the input it received, and passes that input on unchanged (gates act as 1,
 * additive blocks contribute zero), as tools/torchref defines it.
 */
export function emitAttention<K extends AttentionName>(
  mechanism: K, e: Emit, x: string, cfg: AttentionConfigs[K] & { channels: number }, name: string,
): { out: string; module: PlacedModule } {
  const m = MECHANISMS[mechanism];
  const graph = m.emit(e, x, cfg);
  const g = e.g;
  for (const t of graph.taps) g.output(t.value, tapOutput(name, t.tap));
  g.output(x, moduleInputOutput(name));
  if (graph.affinity) g.output(graph.affinity, affinityOutput(name));
  (graph.affinitySteps ?? []).forEach((s, i) => g.output(s.value, affinityStepOutput(name, i + 1)));
  const bypass = g.input({ name: bypassInput(name), elemType: DataType.BOOL, shape: [] });
  const out = g.node('Where', [bypass, x, graph.out], `${e.scope}/bypass/Where`);
  return {
    out,
    module: {
      name, kind: m.kind, taps: graph.taps.map((t) => t.tap), channels: cfg.channels, affinity: graph.affinity !== undefined,
      ...(graph.affinitySteps?.length ? { affinitySteps: { label: graph.affinityLabel ?? 'affinity', steps: graph.affinitySteps.map((s) => s.label) } } : {}),
    },
  };
}

export type { ModuleGraph } from './base';
