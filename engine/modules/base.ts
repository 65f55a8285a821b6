// The shape every attention module shares (timm-style: one constructor shape, one factory).
// A module is loaded once from the state dict; `forward` runs inside the caller's tf.tidy
// and returns the output plus the taps as tensors, so that the network decides when to
// read them back and stream them.

import type * as tf from '@tensorflow/tfjs-core';
import type { ModuleKind, TapName } from '../types';

export interface TapTensor {
  tap: TapName;
  /** [C] for `channel`, [H, W] for the others. */
  value: tf.Tensor;
}

export interface ModuleOutput {
  out: tf.Tensor4D;
  /** In the order produced: channel, spatial, attention, activation. */
  taps: TapTensor[];
  /** Non-local only: the full affinity [queries H*W, keys H'*W'], row-major H then W as PyTorch. */
  affinity?: tf.Tensor2D;
  /** Non-local only: the query grid [H, W] and the key grid [H', W'] of `affinity`. */
  grids?: { query: [number, number]; key: [number, number] };
}

export interface ForwardOptions {
  /**
   * Ablation (DESIGN.md "Bypass"): gates become 1, additive blocks contribute zero, so the
   * output is the input itself. A bypassed module still computes and reports its taps from
   * the input it received (what it would have looked at), so the UI can keep showing its
   * overlay while the rest of the network runs without it; the PyTorch reference
   * (tools/torchref) defines bypass the same way and the fixtures check it.
   */
  bypass: boolean;
}

export interface AttentionModule {
  readonly kind: ModuleKind;
  /** Taps the module emits (bypassed or not), in order. */
  readonly taps: readonly TapName[];
  /** Channels at the module's input. */
  readonly channels: number;
  forward(x: tf.Tensor4D, opts: ForwardOptions): ModuleOutput;
  dispose(): void;
}
