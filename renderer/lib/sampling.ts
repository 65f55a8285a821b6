// A spatial transformer's sampling grid ([H, W, 2], (x, y) in [-1, 1] of the network input,
// align_corners = False: -1 is the input's left / top edge) mapped onto the user's photo, and
// its affine theta described in words. Pure: the grid overlay and the transform panel use it.
import type { ImageTransform } from '../../engine/protocol';
import type { MapData } from './heatmap';

export interface GridPoint { x: number; y: number }

/** A normalised grid point -> original image pixels (through the run's resize / pad / crop). */
export function gridToOrig(t: ImageTransform, gx: number, gy: number): GridPoint {
  const ix = ((gx + 1) / 2) * t.inputWidth;
  const iy = ((gy + 1) / 2) * t.inputHeight;
  return { x: (ix - t.offsetX) / t.scaleX, y: (iy - t.offsetY) / t.scaleY };
}

/** Where output cell (row, col) of an [H, W, 2] grid samples, in original image pixels. */
export function gridPoint(grid: MapData, t: ImageTransform, row: number, col: number): GridPoint {
  const w = grid.shape[1] as number;
  const i = (row * w + col) * 2;
  return gridToOrig(t, grid.data[i] as number, grid.data[i + 1] as number);
}

/**
 * Polylines of the grid's rows and columns (every `step` cells, the first and last always),
 * in original image pixels, and its outline: where the output map's border samples.
 */
export function gridLines(grid: MapData, t: ImageTransform, maxLines = 9): { lines: GridPoint[][]; outline: GridPoint[] } {
  const [h, w] = grid.shape as [number, number];
  const pick = (n: number): number[] => {
    const step = Math.max(1, Math.ceil((n - 1) / (maxLines - 1)));
    const out: number[] = [];
    for (let k = 0; k < n; k += step) out.push(k);
    if (out[out.length - 1] !== n - 1) out.push(n - 1);
    return out;
  };
  const lines: GridPoint[][] = [];
  for (const r of pick(h)) lines.push(Array.from({ length: w }, (_, c) => gridPoint(grid, t, r, c)));
  for (const c of pick(w)) lines.push(Array.from({ length: h }, (_, r) => gridPoint(grid, t, r, c)));
  const outline = [
    ...Array.from({ length: w }, (_, c) => gridPoint(grid, t, 0, c)),
    ...Array.from({ length: h }, (_, r) => gridPoint(grid, t, r, w - 1)),
    ...Array.from({ length: w }, (_, c) => gridPoint(grid, t, h - 1, w - 1 - c)),
    ...Array.from({ length: h }, (_, r) => gridPoint(grid, t, h - 1 - r, 0)),
  ];
  return { lines, outline };
}

/** theta [2, 3] in words: the share of the input it samples, its rotation, scale per axis and shift. */
export function describeAffine(theta: ArrayLike<number>): { area: number; rotation: number; scaleX: number; scaleY: number; shiftX: number; shiftY: number; flipped: boolean } {
  const [a, b, tx, c, d, ty] = Array.from(theta) as [number, number, number, number, number, number];
  const det = a * d - b * c;
  return {
    // The output covers [-1, 1]^2; it samples a parallelogram |det| times the input's area.
    area: Math.abs(det),
    rotation: (Math.atan2(c, a) * 180) / Math.PI,
    scaleX: Math.hypot(a, c),
    scaleY: det / (Math.hypot(a, c) || 1),
    // Shift of the sampled region's centre, as a fraction of the input's width and height.
    shiftX: tx / 2,
    shiftY: ty / 2,
    flipped: det < 0,
  };
}

/**
 * The photo resampled on the grid (bilinear in the grid, nearest in the photo): what the
 * transformer crops and warps the image to, `width` x `height` RGBA. Pixels the grid sends
 * outside the photo are transparent (the network reads zeros there).
 */
export function warpPhoto(photo: { data: Uint8ClampedArray; width: number; height: number }, grid: MapData, t: ImageTransform, width: number, height: number): Uint8ClampedArray {
  const [h, w] = grid.shape as [number, number];
  const out = new Uint8ClampedArray(width * height * 4);
  const g = grid.data;
  const at = (r: number, c: number, k: number): number => g[(r * w + c) * 2 + k] as number;
  for (let v = 0; v < height; v++) {
    // Continuous grid coordinates of this output pixel's centre (align_corners = False).
    const cy = Math.min(h - 1, Math.max(0, ((v + 0.5) / height) * h - 0.5));
    const r0 = Math.floor(cy);
    const r1 = Math.min(h - 1, r0 + 1);
    const fy = cy - r0;
    for (let u = 0; u < width; u++) {
      const cx = Math.min(w - 1, Math.max(0, ((u + 0.5) / width) * w - 0.5));
      const c0 = Math.floor(cx);
      const c1 = Math.min(w - 1, c0 + 1);
      const fx = cx - c0;
      const lerp = (k: number): number => (at(r0, c0, k) * (1 - fx) + at(r0, c1, k) * fx) * (1 - fy) + (at(r1, c0, k) * (1 - fx) + at(r1, c1, k) * fx) * fy;
      const p = gridToOrig(t, lerp(0), lerp(1));
      const px = Math.floor(p.x);
      const py = Math.floor(p.y);
      if (px < 0 || py < 0 || px >= photo.width || py >= photo.height) continue;
      const src = (py * photo.width + px) * 4;
      const dst = (v * width + u) * 4;
      out[dst] = photo.data[src] as number;
      out[dst + 1] = photo.data[src + 1] as number;
      out[dst + 2] = photo.data[src + 2] as number;
      out[dst + 3] = 255;
    }
  }
  return out;
}
