// Tiled runs (issue: big inputs): an image larger than the model's input is cut into tiles
// of `size` x `size` pixels at its own resolution, `overlap` pixels shared by neighbours;
// each tile runs alone, and its maps are put back where the tile came from and blended.
//
// Alignment. A map of stride s (one cell per s x s pixels) lines up across tiles only when
// every tile starts on a multiple of s; the network's coarsest map sets the step (its
// "alignment": 32 for an ImageNet ResNet, 16 for output stride 16, twice a stage's stride
// for a sub-sampled non-local key grid). Tile size and overlap must be multiples of it;
// the image is padded on the right and bottom (with the mean colour, which normalises to
// 0, as the pad resize does) to whole tiles, so every tile has the same size and every
// overlap is the same width. The stitched result is then one map per tap over the padded
// image, whose transform (scale 1, offset 0) maps it onto the image like any other run.
//
// Blending: in an overlap of k cells, the left (top) tile's weight falls linearly from
// 1 - 0.5/k to 0.5/k and the right (bottom) one's rises to match; the two always sum to 1,
// so a map that agrees across tiles is unchanged, and seams fade over the overlap. Cells
// outside overlaps come from one tile alone, exactly as that tile's own run computed them.
// Channel vectors and logits, which have no position, are the mean over tiles.

import { EngineError } from './errors';
import type { DecodedImage } from './image';
import { stageSizes } from './nets/resnet';
import type { NetSpec } from './nets/spec';
import type { Tap } from './types';

export interface TileOptions {
  /** Tile side in image pixels (also the network input size of each tile run). */
  size: number;
  /** Pixels shared by neighbouring tiles. */
  overlap: number;
}

export interface TilePlan {
  size: number;
  overlap: number;
  /** Pixels from one tile's origin to the next: size - overlap. */
  step: number;
  /** Tile origins along x and y, in image pixels. */
  xs: number[];
  ys: number[];
  /** The image padded to whole tiles. */
  paddedWidth: number;
  paddedHeight: number;
}

/** The coarsest map cell of the network, in pixels: tile sizes and overlaps are multiples of it. */
export function tileAlignment(spec: NetSpec): number {
  const probe = 4096;
  const sizes = stageSizes(spec, probe);
  let cell = probe / (sizes[3] as number);
  for (const ins of spec.inserts) {
    if (ins.kind === 'nonlocal' && ins.subSample) cell = Math.max(cell, 2 * probe / (sizes[ins.after - 1] as number));
  }
  return Math.round(cell);
}

/**
 * The overlap a tile size gets by default: about a quarter of it, a multiple of the alignment.
 * Maps near a tile's edge see the zero padding (the CBAM spatial gate of the built-in model
 * lights up along it); with the cross-fade, a cell in the overlap is weighted towards the tile
 * it is farther inside, so the overlap must span several cells of the coarsest map: with an
 * eighth (64 px of a 512 px tile, 4 cells of 16 px) the tile edges still showed as lines.
 */
export function defaultOverlap(size: number, align: number): number {
  return Math.floor(size / 4 / align) * align;
}

/** Checks the options against the network's alignment and plans the tiles over a width x height image. */
export function planTiles(width: number, height: number, opts: TileOptions, align: number): TilePlan {
  const { size, overlap } = opts;
  const near = (v: number): string => {
    const lo = Math.max(align, Math.floor(v / align) * align);
    return lo === v ? `${v}` : `${lo} or ${lo + align}`;
  };
  if (!Number.isInteger(size) || size < align || size > 4096 || size % align !== 0) {
    throw new EngineError('bad-request', `A tile size of ${size} px does not fit this network: tiles must be a multiple of ${align} px (its coarsest map cell), up to 4096.`,
      `Use --tile ${near(Math.min(Math.max(size, align), 4096))}.`);
  }
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= size || overlap % align !== 0) {
    throw new EngineError('bad-request', `An overlap of ${overlap} px does not fit: it must be a multiple of ${align} px and less than the tile size (${size} px).`,
      `Use --overlap ${overlap >= size ? size - align : overlap < align ? 0 : near(overlap)}.`);
  }
  const step = size - overlap;
  const origins = (extent: number): number[] => {
    const n = extent <= size ? 1 : Math.ceil((extent - size) / step) + 1;
    return Array.from({ length: n }, (_, i) => i * step);
  };
  const xs = origins(width);
  const ys = origins(height);
  return { size, overlap, step, xs, ys, paddedWidth: (xs.at(-1) as number) + size, paddedHeight: (ys.at(-1) as number) + size };
}

/** The tile at (x0, y0) of a decoded image, normalised, NHWC [size, size, 3]; outside the image: 0 (the mean colour). */
export function tileInput(img: DecodedImage, x0: number, y0: number, size: number, mean: readonly number[], std: readonly number[]): Float32Array {
  const out = new Float32Array(size * size * 3);
  const scale = [0, 1, 2].map((c) => 1 / (255 * (std[c] as number)));
  const shift = [0, 1, 2].map((c) => -(mean[c] as number) / (std[c] as number));
  const w = Math.min(size, img.width - x0);
  const h = Math.min(size, img.height - y0);
  for (let y = 0; y < h; y++) {
    const src = ((y0 + y) * img.width + x0) * 3;
    const dst = y * size * 3;
    for (let i = 0; i < w * 3; i++) out[dst + i] = (img.rgb[src + i] as number) * (scale[i % 3] as number) + (shift[i % 3] as number);
  }
  return out;
}

/** Accumulates tile taps into stitched ones (weighted maps, mean vectors). */
export class TileStitcher {
  private readonly maps = new Map<string, { tap: Tap; weight: Float32Array }>();
  private readonly vectors = new Map<string, Tap>();
  private logits: Float32Array | null = null;
  private tiles = 0;

  constructor(private readonly plan: TilePlan) {}

  /** Adds tile (ix, iy)'s taps and logits. */
  add(ix: number, iy: number, taps: Tap[], logits: Float32Array): void {
    const { plan } = this;
    this.tiles++;
    if (!this.logits) this.logits = new Float32Array(logits.length);
    const sum = this.logits;
    for (let i = 0; i < logits.length; i++) sum[i] = (sum[i] as number) + (logits[i] as number);
    for (const t of taps) {
      const key = `${t.module}\u0000${t.tap}`;
      if (t.shape.length !== 2) {
        const acc = this.vectors.get(key) ?? { ...t, data: new Float32Array(t.data.length) };
        for (let i = 0; i < t.data.length; i++) acc.data[i] = (acc.data[i] as number) + (t.data[i] as number);
        this.vectors.set(key, acc);
        continue;
      }
      const [h, w] = t.shape as [number, number];
      const cell = plan.size / w;
      if (!Number.isInteger(cell) || plan.size / h !== cell) {
        throw new EngineError('internal', `Tile map ${t.module}.${t.tap} is ${h} x ${w} cells for a ${plan.size} px tile: not a whole number of pixels a cell.`);
      }
      const gw = plan.paddedWidth / cell;
      const gh = plan.paddedHeight / cell;
      let acc = this.maps.get(key);
      if (!acc) {
        acc = { tap: { ...t, shape: [gh, gw], data: new Float32Array(gw * gh) }, weight: new Float32Array(gw * gh) };
        this.maps.set(key, acc);
      }
      const ov = plan.overlap / cell;
      const wx = ramp(w, ov, ix > 0, ix < plan.xs.length - 1);
      const wy = ramp(h, ov, iy > 0, iy < plan.ys.length - 1);
      const ox = (plan.xs[ix] as number) / cell;
      const oy = (plan.ys[iy] as number) / cell;
      for (let y = 0; y < h; y++) {
        const row = (oy + y) * gw + ox;
        for (let x = 0; x < w; x++) {
          const k = (wy[y] as number) * (wx[x] as number);
          acc.tap.data[row + x] = (acc.tap.data[row + x] as number) + k * (t.data[y * w + x] as number);
          acc.weight[row + x] = (acc.weight[row + x] as number) + k;
        }
      }
    }
  }

  /** The stitched taps, in the order they were first added, and the mean logits. */
  result(order: Array<{ module: string; tap: string }>): { taps: Tap[]; logits: Float32Array } {
    const taps = order.map(({ module, tap }) => {
      const key = `${module}\u0000${tap}`;
      const m = this.maps.get(key);
      if (m) {
        const data = m.tap.data.map((v, i) => v / (m.weight[i] as number));
        return { ...m.tap, data };
      }
      const v = this.vectors.get(key) as Tap;
      return { ...v, data: v.data.map((x) => x / this.tiles) };
    });
    const logits = (this.logits ?? new Float32Array()).map((x) => x / this.tiles);
    return { taps, logits };
  }
}

/** Per-cell weights along one axis of a tile of n cells with ov-cell overlaps on the sides that have a neighbour. */
function ramp(n: number, ov: number, before: boolean, after: boolean): Float32Array {
  const w = new Float32Array(n).fill(1);
  if (ov === 0) return w;
  for (let c = 0; c < ov; c++) {
    if (before) w[c] = Math.min(w[c] as number, (c + 0.5) / ov);
    if (after) w[n - 1 - c] = Math.min(w[n - 1 - c] as number, (c + 0.5) / ov);
  }
  return w;
}
