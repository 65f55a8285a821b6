// Pure heatmap maths shared by the overlay, the grid thumbnails, the hover readout and
// the tests. Every mapping goes through the engine's ImageTransform (engine/types.ts) so
// an overlay sits on the pixels its map describes, whatever the resize mode.
import type { ImageTransform } from '../../engine/protocol';

export interface MapData {
  /** [h, w] */
  shape: number[];
  data: Float32Array;
}

export type Interpolation = 'bilinear' | 'nearest';
export type Normalisation = 'raw' | 'minmax' | 'stage';

export interface Range { min: number; max: number }

export function mapDims(map: MapData): { h: number; w: number } {
  const h = map.shape[0] ?? 1;
  const w = map.shape[1] ?? Math.max(1, Math.floor(map.data.length / h));
  return { h, w };
}

export function dataRange(data: Float32Array): Range {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (Number.isFinite(v)) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  if (min === Infinity) return { min: 0, max: 1 };
  return { min, max };
}

export function unionRange(ranges: Range[]): Range {
  if (ranges.length === 0) return { min: 0, max: 1 };
  return {
    min: Math.min(...ranges.map((r) => r.min)),
    max: Math.max(...ranges.map((r) => r.max)),
  };
}

/** Index of the largest finite value and its (row, col). */
export function argmax(map: MapData): { index: number; row: number; col: number; value: number } {
  const { w } = mapDims(map);
  let best = 0;
  let value = -Infinity;
  for (let i = 0; i < map.data.length; i++) {
    const v = map.data[i]!;
    if (v > value) { value = v; best = i; }
  }
  return { index: best, row: Math.floor(best / w), col: best % w, value };
}

/**
 * Original image point -> continuous cell coordinates of an [h, w] map, where cell
 * (i, j) has its centre at (j, i). `inside` is false where the point falls outside the
 * network input (center-crop), which has no map.
 */
export function origToCell(t: ImageTransform, h: number, w: number, x: number, y: number): { cx: number; cy: number; inside: boolean } {
  const ix = x * t.scaleX + t.offsetX;
  const iy = y * t.scaleY + t.offsetY;
  const inside = ix >= 0 && iy >= 0 && ix < t.inputWidth && iy < t.inputHeight;
  return { cx: (ix * w) / t.inputWidth - 0.5, cy: (iy * h) / t.inputHeight - 0.5, inside };
}

/** Centre of cell (row, col) of an [h, w] map, in original image pixels. */
export function cellToOrig(t: ImageTransform, h: number, w: number, row: number, col: number): { x: number; y: number } {
  const ix = ((col + 0.5) * t.inputWidth) / w;
  const iy = ((row + 0.5) * t.inputHeight) / h;
  return { x: (ix - t.offsetX) / t.scaleX, y: (iy - t.offsetY) / t.scaleY };
}

/** Cell (row, col) of an [h, w] map as a rectangle in original image pixels (its extent, clipped to the image). */
export function cellRect(t: ImageTransform, h: number, w: number, row: number, col: number): { x: number; y: number; width: number; height: number } {
  const x = (ix: number) => Math.min(t.origWidth, Math.max(0, (ix - t.offsetX) / t.scaleX));
  const y = (iy: number) => Math.min(t.origHeight, Math.max(0, (iy - t.offsetY) / t.scaleY));
  const x0 = x((col * t.inputWidth) / w);
  const y0 = y((row * t.inputHeight) / h);
  return { x: x0, y: y0, width: x(((col + 1) * t.inputWidth) / w) - x0, height: y(((row + 1) * t.inputHeight) / h) - y0 };
}

/** Value at continuous cell coordinates, edges clamped (as align_corners=False upsampling). */
export function sampleAt(map: MapData, cx: number, cy: number, interp: Interpolation): number {
  const { h, w } = mapDims(map);
  const d = map.data;
  if (interp === 'nearest') {
    const j = Math.min(w - 1, Math.max(0, Math.floor(cx + 0.5)));
    const i = Math.min(h - 1, Math.max(0, Math.floor(cy + 0.5)));
    return d[i * w + j]!;
  }
  const x = Math.min(w - 1, Math.max(0, cx));
  const y = Math.min(h - 1, Math.max(0, cy));
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const x1 = Math.min(w - 1, x0 + 1);
  const y1 = Math.min(h - 1, y0 + 1);
  const fx = x - x0;
  const fy = y - y0;
  const top = d[y0 * w + x0]! * (1 - fx) + d[y0 * w + x1]! * fx;
  const bottom = d[y1 * w + x0]! * (1 - fx) + d[y1 * w + x1]! * fx;
  return top * (1 - fy) + bottom * fy;
}

/** Size of the overlay raster for an image: the image's own size, capped on its long side. */
export function rasterSize(origW: number, origH: number, cap = 768): { width: number; height: number } {
  const s = Math.min(1, cap / Math.max(origW, origH));
  return { width: Math.max(1, Math.round(origW * s)), height: Math.max(1, Math.round(origH * s)) };
}

/**
 * A map painted one pixel per cell ([h, w] -> h x w RGBA), min-max by `range`: for small
 * multiples and matrices, where there is no image to align with.
 */
export function paintCells(map: MapData, range: Range, lut: ArrayLike<number>): { pixels: Uint8ClampedArray; w: number; h: number } {
  const { h, w } = mapDims(map);
  const own: ImageTransform = { origWidth: w, origHeight: h, inputWidth: w, inputHeight: h, scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0, resize: 'stretch' };
  return { pixels: paintHeatmap(map, own, w, h, range, lut, 'nearest'), w, h };
}

/** paintCells into a canvas (sized to the map; CSS scales it up). */
export function drawCells(canvas: HTMLCanvasElement, map: MapData, range: Range, lut: ArrayLike<number>): void {
  const { pixels, w, h } = paintCells(map, range, lut);
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const image = ctx.createImageData(w, h);
  image.data.set(pixels);
  ctx.putImageData(image, 0, 0);
}

/**
 * Paints `map` as RGBA over a raster of `width` x `height` that covers the original
 * image exactly. Pixels outside the network input stay transparent.
 * `lut` is 256 x RGB (the engine's colormap).
 */
export function paintHeatmap(
  map: MapData,
  t: ImageTransform,
  width: number,
  height: number,
  range: Range,
  lut: ArrayLike<number>,
  interp: Interpolation,
  out: Uint8ClampedArray = new Uint8ClampedArray(width * height * 4),
): Uint8ClampedArray {
  const { h, w } = mapDims(map);
  const span = range.max - range.min;
  const inv = span > 1e-12 ? 255 / span : 0;
  const sx = t.origWidth / width;
  const sy = t.origHeight / height;
  for (let py = 0; py < height; py++) {
    const oy = (py + 0.5) * sy;
    for (let px = 0; px < width; px++) {
      const ox = (px + 0.5) * sx;
      const c = origToCell(t, h, w, ox, oy);
      const o = (py * width + px) * 4;
      if (!c.inside) { out[o + 3] = 0; continue; }
      const v = sampleAt(map, c.cx, c.cy, interp);
      let k = Math.round((v - range.min) * inv);
      if (!(k >= 0)) k = 0; else if (k > 255) k = 255;
      out[o] = lut[k * 3]!;
      out[o + 1] = lut[k * 3 + 1]!;
      out[o + 2] = lut[k * 3 + 2]!;
      out[o + 3] = 255;
    }
  }
  return out;
}
