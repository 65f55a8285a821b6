// Geometry of the localisation bench, kept free of tfjs and files so it reads (and tests)
// on its own. Definitions match tools/evaluate_torch.py, the PyTorch side of the same
// evaluation, so the two can be compared figure for figure.

import type { ImageTransform } from '../engine/types';

/** x0, y0, x1, y1 in original image pixels. */
export type Box = [number, number, number, number];

/** Original-image point of the centre of tap cell (row, col) on an [h, w] map. */
export function cellCentre(t: ImageTransform, h: number, w: number, row: number, col: number): { x: number; y: number } {
  const ix = ((col + 0.5) * t.inputWidth) / w;
  const iy = ((row + 0.5) * t.inputHeight) / h;
  return { x: (ix - t.offsetX) / t.scaleX, y: (iy - t.offsetY) / t.scaleY };
}

/**
 * The map's peak in original image coordinates. Bilinear upsampling of a map peaks on a
 * cell centre, so the raw map's argmax is the upsampled heatmap's peak too. Ties keep
 * the first cell in row-major order, as torch.argmax does.
 */
export function peakPoint(t: ImageTransform, data: Float32Array | number[], h: number, w: number): { x: number; y: number } {
  let best = 0;
  for (let k = 1; k < h * w; k++) if ((data[k] as number) > (data[best] as number)) best = k;
  return cellCentre(t, h, w, Math.floor(best / w), best % w);
}

/** Zhang et al. (ECCV 2016) count a peak within 15 px of the object as a hit. */
export const TOLERANCE_PX = 15;

export function inside(p: { x: number; y: number }, box: Box, tol = 0): boolean {
  return p.x >= box[0] - tol && p.x <= box[2] + tol && p.y >= box[1] - tol && p.y <= box[3] + tol;
}

/** Expected hit rate of a uniformly random point: the (grown, clipped) box's share of the image. */
export function boxShareGrown(box: Box, width: number, height: number, tol: number): number {
  const w = Math.min(width, box[2] + tol) - Math.max(0, box[0] - tol);
  const h = Math.min(height, box[3] + tol) - Math.max(0, box[1] - tol);
  return (w * h) / (width * height);
}

export function boxShare(box: Box, width: number, height: number): number {
  return ((box[2] - box[0]) * (box[3] - box[1])) / (width * height);
}

/**
 * Share of an attention row's mass that falls inside the box: each key cell counts with
 * the fraction of its area (in original pixels) that the box covers.
 */
export function massInBox(t: ImageTransform, row: Float32Array | number[], h: number, w: number, box: Box): number {
  const cw = t.inputWidth / w / t.scaleX;
  const ch = t.inputHeight / h / t.scaleY;
  let total = 0;
  let inBox = 0;
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const v = row[i * w + j] as number;
      total += v;
      const x0 = (j * t.inputWidth) / w / t.scaleX - t.offsetX / t.scaleX;
      const y0 = (i * t.inputHeight) / h / t.scaleY - t.offsetY / t.scaleY;
      const ox = Math.max(0, Math.min(x0 + cw, box[2]) - Math.max(x0, box[0]));
      const oy = Math.max(0, Math.min(y0 + ch, box[3]) - Math.max(y0, box[1]));
      inBox += (v * ox * oy) / (cw * ch);
    }
  }
  return total > 0 ? inBox / total : 0;
}

export function argmax(xs: Float32Array | number[]): number {
  let best = 0;
  for (let k = 1; k < xs.length; k++) if ((xs[k] as number) > (xs[best] as number)) best = k;
  return best;
}
