// channelMap(): one channel of the features that entered an attention module, for a kept
// run (Session.channelMap).
//
// Design: module inputs are aux outputs of the attention graph, fetched only when asked
// for. A request re-runs the kept run's input (same bypass set) fetching just that module's
// input, and keeps the whole [C, H, W] block of the most recent request, so stepping
// through the channels of one module costs one forward pass, then a copy per channel.
// Reading every module input back after every run would cost every run that copy (22 MB
// for a full-width ResNet-50 CBAM at 224) for a request the user makes once in a while.

import { EngineError } from './errors';
import type { OutputTensor } from './runtimes/types';

export interface ChannelMapResult {
  /** [H, W]: the module's map grid (the same grid as its `activation` tap). */
  shape: [number, number];
  data: Float32Array;
}

/** The module input features last fetched, by run and module. */
export interface FetchedInput {
  runId: string;
  module: string;
  features: OutputTensor;
}

/** Channel `channel` of module input features [1, C, H, W] as [H, W]. */
export function readChannel(features: OutputTensor, channel: number): ChannelMapResult {
  const [n, c, h, w] = features.dims as [number, number, number, number];
  if (features.dims.length !== 4 || n !== 1) throw new EngineError('internal', `Module input has shape [${features.dims.join(', ')}], expected [1, C, H, W].`);
  if (channel < 0 || channel >= c) throw new EngineError('not-found', `There is no channel ${channel} of ${c}.`);
  const size = h * w;
  return { shape: [h, w], data: features.data.slice(channel * size, (channel + 1) * size) };
}
