// The shape every attention module shares (timm-style: one constructor shape, one factory).
// A module emits its nodes once into the attention graph from the state dict under its
// module path and says which values are its taps; the network wires the taps to graph
// outputs and the bypass switch around it (modules/index.ts), so both runtimes run the
// same nodes.

import type { TapName } from '../types';

export interface ModuleGraph {
  /** The module's output [N, C, H, W] (before the bypass switch). */
  out: string;
  /** Tap values with the batch dimension first ([N, C] or [N, H, W]), in this order: channel, spatial, attention, activation. */
  taps: Array<{ tap: TapName; value: string }>;
  /** Non-local only: the affinity [N, queries H*W, keys H'*W'], rows and columns row-major H then W, as PyTorch. */
  affinity?: string;
  /**
   * Earlier steps of a multi-pass attention whose `affinity` is the reach after all passes
   * (CCNet: pass 1 alone), each [N, queries, keys] like the affinity; `label` names what the
   * step is, and `affinityLabel` what the affinity itself is. Graph outputs `<module>.affinity<k>`.
   */
  affinitySteps?: Array<{ label: string; value: string }>;
  affinityLabel?: string;
}
