// Graph-side arithmetic on a feature map's own size, for what a module builds per run rather
// than per model: masks over positions (CCNet's cross, ISANet's groups), pooling matrices
// (ANN's pyramid bins) and reshapes that keep N, H, W and replace the channels. Every value is
// computed from Shape(x), so the graph runs at any input size.

import type { Emit } from './layers';

/** H and W of x [N, C, H, W] as int64 [1] values, and its whole shape. */
export function mapSize(e: Emit, x: string): { shape: string; h: string; w: string } {
  const shape = e.g.node('Shape', [x], `${e.scope}/Shape`);
  const [h, w] = [2, 3].map((i) => e.g.node('Gather', [shape, e.g.ints([i])], `${e.scope}/Gather`, { axis: 0 })) as [string, string];
  return { shape, h, w };
}

/** 0, 1, ... n - 1 (int64) for an int64 [1] value n. */
export function rangeTo(e: Emit, n: string): string {
  const scalar = (v: string): string => e.g.node('Squeeze', [v, e.g.ints([0])], `${e.scope}/Squeeze`);
  return e.g.node('Range', [scalar(e.g.ints([0])), scalar(n), scalar(e.g.ints([1]))], `${e.scope}/Range`);
}

/** Each position's row and column (int64 [H W], positions row-major) of an h x w grid. */
export function positionGrid(e: Emit, h: string, w: string): { rows: string; cols: string } {
  const g = e.g;
  const size = g.node('Concat', [h, w], `${e.scope}/Concat`, { axis: 0 });
  const spread = (v: string, axis: number): string => g.node('Reshape', [g.node('Expand', [g.node('Unsqueeze', [v, g.ints([axis])], `${e.scope}/Unsqueeze`), size], `${e.scope}/Expand`), g.ints([-1])], `${e.scope}/Reshape`);
  return { rows: spread(rangeTo(e, h), 1), cols: spread(rangeTo(e, w), 0) };
}

/** [P, P] float: 1 where positions i and j have the same value of v [P], else 0. */
export function samePairs(e: Emit, v: string): string {
  const g = e.g;
  const pairs = g.node('Equal', [g.node('Unsqueeze', [v, g.ints([1])], `${e.scope}/Unsqueeze`), g.node('Unsqueeze', [v, g.ints([0])], `${e.scope}/Unsqueeze`)], `${e.scope}/Equal`);
  return g.node('Cast', [pairs], `${e.scope}/Cast`, { to: 1 });
}

/** The shape of x [N, C, H, W] with its channel dimension replaced by `dims` ([N, ...dims, H, W]). */
export function withChannels(e: Emit, x: string, dims: number[]): string {
  const g = e.g;
  const shape = g.node('Shape', [x], `${e.scope}/Shape`);
  const slice = (from: number, to: number): string => g.node('Slice', [shape, g.ints([from]), g.ints([to])], `${e.scope}/Slice`);
  return g.node('Concat', [slice(0, 1), g.ints(dims), slice(2, 4)], `${e.scope}/Concat`, { axis: 0 });
}

/** What a masked pair adds to its score before a softmax: exp(-1e9) is 0 in float32. */
export const MASKED = 1e9;

/** 0 where `allowed` (a 0/1 float value) is 1, -MASKED where it is 0: added to scores before a softmax. */
export function maskBias(e: Emit, allowed: string): string {
  return e.g.node('Mul', [e.g.node('Sub', [allowed, e.g.scalar(1)], `${e.scope}/mask/Sub`), e.g.scalar(MASKED)], `${e.scope}/mask/Mul`);
}
