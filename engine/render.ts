// Every exported pixel comes from here (DESIGN.md "Image alignment"): the GUI's export
// request and `attnscope export` call the same functions, so the same image, model and
// settings give byte-identical files.
//
// A tap [h, w] is resampled onto a target pixel grid through the run's ImageTransform
// (engine/types.ts): target pixel centre -> original image coordinates -> input
// coordinates -> map coordinates, with tap cell (i, j) centred at input
// ((j + 0.5) * inputWidth / w, (i + 0.5) * inputHeight / h). Bilinear sampling clamps
// at the map's edges; pixels whose centre falls outside the input canvas (center-crop)
// have no map value: transparent in heatmaps, the untouched image in overlays.
// All arithmetic is plain float64 / integer JS, so results do not depend on the host.

import sharp from 'sharp';
import { colormapLut, type ColormapName } from './colormaps';
import { insertTextChunks } from './pngText';
import type { ImageTransform, ModuleInfo, Tap, TapName } from './types';

export type Normalisation = 'raw' | 'minmax' | 'stage';
export type Interpolation = 'bilinear' | 'nearest';
export const NORMALISATIONS: readonly Normalisation[] = ['raw', 'minmax', 'stage'];
export const INTERPOLATIONS: readonly Interpolation[] = ['bilinear', 'nearest'];

export interface RenderSettings {
  colormap: ColormapName;
  /** Heatmap weight in overlays, 0..1. */
  opacity: number;
  normalise: Normalisation;
  interpolation: Interpolation;
}

export const DEFAULT_RENDER_SETTINGS: RenderSettings = {
  colormap: 'viridis', opacity: 0.5, normalise: 'minmax', interpolation: 'bilinear',
};

/** The value mapped to the first colour (lo) and the last (hi). */
export interface ValueRange { lo: number; hi: number }

/** An oriented (EXIF applied) RGB image at its original size (engine/image.ts DecodedImage fits). */
export interface RgbImage { width: number; height: number; rgb: Uint8Array }

// ---------------------------------------------------------------- normalisation

/** Min and max of the finite values; {0, 1} when there are none. */
export function finiteRange(data: ArrayLike<number>): ValueRange {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi && Number.isFinite(lo) && Number.isFinite(hi) ? { lo, hi } : { lo: 0, hi: 1 };
}

/**
 * The value range each spatial tap is coloured with:
 * - raw: [0, 1] (sigmoid gates and softmax masks as they are; values outside clamp),
 * - minmax: each map's own min..max,
 * - stage: min..max over all maps of the same tap name in the same stage (ModuleInfo.stage),
 *   so maps within a stage compare directly.
 * A flat map (hi - lo below 1e-12) falls back to [0, 1] so that a bypassed gate (all 1)
 * still looks like what it is. Keys are `${module}/${tap}`.
 */
export function tapRanges(taps: readonly Tap[], modules: readonly ModuleInfo[], mode: Normalisation): Map<string, ValueRange> {
  const out = new Map<string, ValueRange>();
  const spatial = taps.filter((t) => t.tap !== 'channel');
  if (mode === 'raw') {
    for (const t of spatial) out.set(tapKey(t), { lo: 0, hi: 1 });
    return out;
  }
  const groupOf = (t: Tap) => (mode === 'stage' ? `${modules.find((m) => m.name === t.module)?.stage ?? t.module}/${t.tap}` : tapKey(t));
  const groups = new Map<string, ValueRange>();
  for (const t of spatial) {
    const r = finiteRange(t.data);
    const g = groups.get(groupOf(t));
    groups.set(groupOf(t), g ? { lo: Math.min(g.lo, r.lo), hi: Math.max(g.hi, r.hi) } : r);
  }
  for (const t of spatial) {
    const r = groups.get(groupOf(t))!;
    out.set(tapKey(t), r.hi - r.lo < 1e-12 ? { lo: 0, hi: 1 } : r);
  }
  return out;
}

export const tapKey = (t: { module: string; tap: TapName }): string => `${t.module}/${t.tap}`;

// ---------------------------------------------------------------- resampling

/** Per-axis sampling of a map for one target grid: source indices, weight, validity. */
interface AxisPlan { i0: Int32Array; i1: Int32Array; f: Float64Array; valid: Uint8Array }

function axisPlan(
  outSize: number, origSize: number, scale: number, offset: number, inputSize: number, mapSize: number, interpolation: Interpolation,
): AxisPlan {
  const plan: AxisPlan = { i0: new Int32Array(outSize), i1: new Int32Array(outSize), f: new Float64Array(outSize), valid: new Uint8Array(outSize) };
  for (let x = 0; x < outSize; x++) {
    const orig = ((x + 0.5) * origSize) / outSize;
    const input = orig * scale + offset;
    if (!(input >= 0 && input < inputSize)) continue;
    plan.valid[x] = 1;
    const cell = (input * mapSize) / inputSize; // cell j spans [j, j + 1), centre j + 0.5
    if (interpolation === 'nearest') {
      const j = Math.min(mapSize - 1, Math.floor(cell));
      plan.i0[x] = j;
      plan.i1[x] = j;
    } else {
      const u = Math.min(mapSize - 1, Math.max(0, cell - 0.5));
      const j = Math.min(mapSize - 1, Math.floor(u));
      plan.i0[x] = j;
      plan.i1[x] = Math.min(mapSize - 1, j + 1);
      plan.f[x] = u - j;
    }
  }
  return plan;
}

/**
 * Resamples a map [mapH, mapW] to outW x outH pixels covering the whole original image
 * (out pixel (x, y) is the original region of size origW/outW x origH/outH at that
 * place). NaN where the original has no map (outside the input canvas).
 */
export function resampleMap(
  data: Float32Array, mapH: number, mapW: number, transform: ImageTransform,
  outW: number, outH: number, interpolation: Interpolation,
): Float32Array {
  if (data.length !== mapH * mapW) throw new RangeError(`map data has ${data.length} values, shape says ${mapH}x${mapW}`);
  const t = transform;
  const px = axisPlan(outW, t.origWidth, t.scaleX, t.offsetX, t.inputWidth, mapW, interpolation);
  const py = axisPlan(outH, t.origHeight, t.scaleY, t.offsetY, t.inputHeight, mapH, interpolation);
  const out = new Float32Array(outW * outH);
  for (let y = 0; y < outH; y++) {
    const row = y * outW;
    if (!py.valid[y]) { out.fill(NaN, row, row + outW); continue; }
    const r0 = py.i0[y]! * mapW;
    const r1 = py.i1[y]! * mapW;
    const fy = py.f[y]!;
    for (let x = 0; x < outW; x++) {
      if (!px.valid[x]) { out[row + x] = NaN; continue; }
      const c0 = px.i0[x]!;
      const c1 = px.i1[x]!;
      const fx = px.f[x]!;
      const top = data[r0 + c0]! + (data[r0 + c1]! - data[r0 + c0]!) * fx;
      const bottom = data[r1 + c0]! + (data[r1 + c1]! - data[r1 + c0]!) * fx;
      out[row + x] = top + (bottom - top) * fy;
    }
  }
  return out;
}

// ---------------------------------------------------------------- colour

/** LUT index of a value under a range; NaN gives -1 (no map). Flat ranges clamp to [0, 1]. */
export function colourIndex(v: number, range: ValueRange): number {
  if (Number.isNaN(v)) return -1;
  const span = range.hi - range.lo;
  const t = span > 0 ? (v - range.lo) / span : v;
  if (!(t > 0)) return 0;
  if (t >= 1) return 255;
  return Math.round(t * 255);
}

/** RGBA pixels of a resampled map: opaque colour where there is a value, transparent black where NaN. */
export function colourise(values: Float32Array, range: ValueRange, colormap: ColormapName): Uint8Array {
  const lut = colormapLut(colormap);
  // One RGBA word per LUT entry, written through a Uint32 view (byte order follows the platform).
  const words = new Uint32Array(256);
  const bytes = new Uint8Array(words.buffer);
  for (let k = 0; k < 256; k++) bytes.set([lut[k * 3]!, lut[k * 3 + 1]!, lut[k * 3 + 2]!, 255], k * 4);
  const out = new Uint8Array(values.length * 4);
  const view = new Uint32Array(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const k = colourIndex(values[i]!, range);
    if (k >= 0) view[i] = words[k]!;
  }
  return out;
}

/** Heatmap (RGBA) over an RGB image: out = image * (1 - a) + heat * a where the heatmap is opaque; integer maths. */
export function blend(image: Uint8Array, heat: Uint8Array, opacity: number): Uint8Array {
  if (heat.length / 4 !== image.length / 3) throw new RangeError('overlay: image and heatmap sizes differ');
  const a = Math.round(Math.min(1, Math.max(0, opacity)) * 255);
  const out = new Uint8Array(image.length);
  for (let p = 0, q = 0; p < image.length; p += 3, q += 4) {
    if (heat[q + 3] === 0) {
      out[p] = image[p]!; out[p + 1] = image[p + 1]!; out[p + 2] = image[p + 2]!;
      continue;
    }
    for (let c = 0; c < 3; c++) out[p + c] = ((image[p + c]! * (255 - a) + heat[q + c]! * a + 127) / 255) | 0;
  }
  return out;
}

// ---------------------------------------------------------------- encoding

/**
 * PNG bytes of raw pixels with the given text chunks. Fixed encoder settings: same pixels,
 * same bytes. Measured on 2560x1600: a heatmap (smooth, flat areas) is smallest and
 * fastest at deflate 6 without filtering (~35 ms, 0.2 MB); photo content (overlays, grids)
 * needs adaptive filtering, which is 5x cheaper at deflate 3 than at 6 for ~5% more bytes.
 */
export async function encodePng(
  pixels: Uint8Array, width: number, height: number, channels: 3 | 4, text: ReadonlyArray<readonly [string, string]>,
  content: 'flat' | 'photo' = 'flat',
): Promise<Buffer> {
  const png = await sharp(pixels, { raw: { width, height, channels } })
    .png(content === 'flat'
      ? { compressionLevel: 6, adaptiveFiltering: false, palette: false }
      : { compressionLevel: 3, adaptiveFiltering: true, palette: false })
    .toBuffer();
  return insertTextChunks(png, text);
}

/** Spatial tap data at the original image size, coloured. */
export function heatmapPixels(tap: Tap, transform: ImageTransform, range: ValueRange, settings: RenderSettings): Uint8Array {
  const [h, w] = spatialShape(tap);
  const values = resampleMap(tap.data, h, w, transform, transform.origWidth, transform.origHeight, settings.interpolation);
  return colourise(values, range, settings.colormap);
}

export function spatialShape(tap: Tap): [number, number] {
  if (tap.shape.length !== 2) throw new RangeError(`${tap.module} ${tap.tap}: expected a [H, W] map, got [${tap.shape.join(', ')}]`);
  return [tap.shape[0]!, tap.shape[1]!];
}

// ---------------------------------------------------------------- raw data (.npy: engine/npy.ts)

/** `index,weight` CSV of a channel tap; weights with 9 significant digits (float32 round-trips). */
export function channelCsv(data: Float32Array): Buffer {
  const lines = ['index,weight'];
  for (let i = 0; i < data.length; i++) lines.push(`${i},${formatFloat(data[i]!)}`);
  return Buffer.from(lines.join('\n') + '\n', 'utf8');
}

export function formatFloat(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toPrecision(9))) : String(v);
}
