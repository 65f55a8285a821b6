// channelMap(): one channel of the features that entered an attention module, for a kept
// run (Session.channelMap). What the run keeps for it, and how a channel is read.

import * as tf from '@tensorflow/tfjs-core';
import { EngineError } from './errors';
import type { ResNet } from './nets/resnet';
import type { ImageTransform } from './types';

export interface ChannelMapResult {
  /** [H, W]: the module's map grid (the same grid as its `activation` tap). */
  shape: [number, number];
  data: Float32Array;
}

/**
 * channelMap() design: the module inputs of the LAST run stay on the backend as tensors
 * (clones of the forward's own tensors, so no copy) and are disposed when the next run
 * finishes or the session is closed; a channel map is then one slice and a small readback.
 * The older kept runs keep only their network input (counted in the KEPT_AFFINITY_BYTES
 * budget) and recompute the forward pass on demand.
 * Measured (wasm, 2 shared cores, built-in emoji-cbam-nl at 128 px, 9 modules): 256 KiB kept
 * per session; channelMap on the last run 0.03 ms median, on an older run 17 ms (a run is 24 ms).
 * Computed for a full-width ResNet-50 CBAM at 224 px: 22 MB kept, 0.6 MB input per older run.
 * Reading every module input back to the CPU after each run would cost every run that copy
 * for a request the user makes once in a while; keeping tensors for every kept run would
 * multiply the memory by KEPT_RUNS.
 */
export interface LastInputs {
  runId: string;
  features: Map<string, tf.Tensor4D>;
}

/** What recomputing needs of a kept run. */
export interface RecomputableRun {
  input: Float32Array;
  transform: Pick<ImageTransform, 'inputWidth' | 'inputHeight'>;
  bypass: string[];
}

/** Channel `channel` of module input features [1, H, W, C] as [H, W]; the features stay the caller's. */
export async function readChannel(features: tf.Tensor4D, channel: number): Promise<ChannelMapResult> {
  const [, h, w] = features.shape;
  const map = tf.tidy(() => tf.reshape(tf.slice(features, [0, 0, 0, channel], [1, h, w, 1]), [h, w]));
  try {
    return { shape: [h, w], data: (await map.data()) as Float32Array };
  } finally {
    map.dispose();
  }
}

/** Forward pass of a kept run's input again (same bypass set), keeping only `module`'s input (owned by the caller). */
export async function recomputeModuleInput(net: ResNet, run: RecomputableRun, module: string): Promise<tf.Tensor4D> {
  let found: tf.Tensor4D | null = null;
  const input = tf.tensor4d(run.input, [1, run.transform.inputHeight, run.transform.inputWidth, 3]);
  try {
    await net.forward(input, {
      bypass: new Set(run.bypass),
      wantInput: (m) => m === module,
      onModuleInput: (m, t) => {
        if (m === module && !found) found = t;
        else t.dispose();
      },
    });
  } catch (err) {
    (found as tf.Tensor4D | null)?.dispose();
    throw err;
  } finally {
    input.dispose();
  }
  if (!found) throw new EngineError('internal', `The forward pass did not reach "${module}".`);
  return found;
}

export function disposeFeatures(features: Map<string, tf.Tensor4D>): void {
  for (const t of features.values()) t.dispose();
  features.clear();
}
