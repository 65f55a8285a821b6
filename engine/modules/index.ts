// One factory for every attention mechanism, keyed by short name like timm's
// create_attn: `createAttention('cbam', weights, config)`.

import type { AttentionModule } from './base';
import { Bam, type BamConfig } from './bam';
import { Cbam, type CbamConfig } from './cbam';
import { GlobalContext, type GcConfig } from './gc';
import { NonLocal, type NonLocalConfig } from './nonLocal';
import { SqueezeExcite, type SeConfig } from './se';
import type { WeightReader } from './layers';

export interface AttentionConfigs {
  cbam: CbamConfig;
  se: SeConfig;
  bam: BamConfig;
  nl: NonLocalConfig;
  gc: GcConfig;
}

export type AttentionName = keyof AttentionConfigs;

const factories: { [K in AttentionName]: (w: WeightReader, cfg: AttentionConfigs[K]) => AttentionModule } = {
  cbam: (w, cfg) => new Cbam(w, cfg),
  se: (w, cfg) => new SqueezeExcite(w, cfg),
  bam: (w, cfg) => new Bam(w, cfg),
  nl: (w, cfg) => new NonLocal(w, cfg),
  gc: (w, cfg) => new GlobalContext(w, cfg),
};

/** Builds an attention module from the weights under `w` (its module path) and its config. */
export function createAttention<K extends AttentionName>(name: K, w: WeightReader, cfg: AttentionConfigs[K]): AttentionModule {
  return factories[name](w, cfg);
}

export type { AttentionModule, ForwardOptions, ModuleOutput, TapTensor } from './base';
