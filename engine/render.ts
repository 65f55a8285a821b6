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
 * Calls `emit(index, value)` for every pixel of an outW x outH grid covering the whole
 * original image (pixel (x, y) stands for the original region of size origW/outW x
 * origH/outH there), with the map's value rounded to float32, or NaN where the original
 * has no map (outside the input canvas).
 */
function sampleMap(
  data: Float32Array, mapH: number, mapW: number, transform: ImageTransform,
  outW: number, outH: number, interpolation: Interpolation, emit: (i: number, v: number) => void,
): void {
  if (data.length !== mapH * mapW) throw new RangeError(`map data has ${data.length} values, shape says ${mapH}x${mapW}`);
  const t = transform;
  const px = axisPlan(outW, t.origWidth, t.scaleX, t.offsetX, t.inputWidth, mapW, interpolation);
  const py = axisPlan(outH, t.origHeight, t.scaleY, t.offsetY, t.inputHeight, mapH, interpolation);
  for (let y = 0; y < outH; y++) {
    const row = y * outW;
    if (!py.valid[y]) { for (let x = 0; x < outW; x++) emit(row + x, NaN); continue; }
    const r0 = py.i0[y]! * mapW;
    const r1 = py.i1[y]! * mapW;
    const fy = py.f[y]!;
    for (let x = 0; x < outW; x++) {
      if (!px.valid[x]) { emit(row + x, NaN); continue; }
      const c0 = px.i0[x]!;
      const c1 = px.i1[x]!;
      const fx = px.f[x]!;
      const top = data[r0 + c0]! + (data[r0 + c1]! - data[r0 + c0]!) * fx;
      const bottom = data[r1 + c0]! + (data[r1 + c1]! - data[r1 + c0]!) * fx;
      emit(row + x, Math.fround(top + (bottom - top) * fy));
    }
  }
}

/** A map [mapH, mapW] resampled to outW x outH pixels of the original image; NaN where it has no map. */
export function resampleMap(
  data: Float32Array, mapH: number, mapW: number, transform: ImageTransform,
  outW: number, outH: number, interpolation: Interpolation,
): Float32Array {
  const out = new Float32Array(outW * outH);
  sampleMap(data, mapH, mapW, transform, outW, outH, interpolation, (i, v) => { out[i] = v; });
  return out;
}

/**
 * Colour-table index (0..255) per pixel, -1 where there is no map: exactly
 * colourIndex(resampleMap(...)), fused into one loop because export runs it on every
 * pixel of every map. Not routed through sampleMap on purpose: a second callback there
 * makes its call site polymorphic, and at 4000x3000 resampleMap went from 84 to 160-180 ms
 * (resampleMap + a separate index pass: 120 ms; this loop: 93 ms).
 */
export function resampleIndices(
  data: Float32Array, mapH: number, mapW: number, transform: ImageTransform,
  outW: number, outH: number, interpolation: Interpolation, range: ValueRange,
): Int16Array {
  if (data.length !== mapH * mapW) throw new RangeError(`map data has ${data.length} values, shape says ${mapH}x${mapW}`);
  const t = transform;
  const px = axisPlan(outW, t.origWidth, t.scaleX, t.offsetX, t.inputWidth, mapW, interpolation);
  const py = axisPlan(outH, t.origHeight, t.scaleY, t.offsetY, t.inputHeight, mapH, interpolation);
  const span = range.hi - range.lo;
  const lo = span > 0 ? range.lo : 0;
  const scale = span > 0 ? 255 / span : 255;
  const out = new Int16Array(outW * outH).fill(-1);
  for (let y = 0; y < outH; y++) {
    if (!py.valid[y]) continue;
    const row = y * outW;
    const r0 = py.i0[y]! * mapW;
    const r1 = py.i1[y]! * mapW;
    const fy = py.f[y]!;
    for (let x = 0; x < outW; x++) {
      if (!px.valid[x]) continue;
      const c0 = px.i0[x]!;
      const c1 = px.i1[x]!;
      const fx = px.f[x]!;
      const top = data[r0 + c0]! + (data[r0 + c1]! - data[r0 + c0]!) * fx;
      const bottom = data[r1 + c0]! + (data[r1 + c1]! - data[r1 + c0]!) * fx;
      const v = Math.fround(top + (bottom - top) * fy);
      // colourIndexer(range)(v), inlined.
      const k = (v - lo) * scale;
      out[row + x] = Number.isNaN(v) ? -1 : !(k > 0) ? 0 : k >= 255 ? 255 : (k + 0.5) | 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------- colour

/**
 * The LUT index of a value: (v - lo) / (hi - lo) scaled to 0..255, rounded half up,
 * clamped; NaN gives -1 (no map). A flat range (hi <= lo) colours the raw value in [0, 1].
 */
export function colourIndexer(range: ValueRange): (v: number) => number {
  const span = range.hi - range.lo;
  const lo = span > 0 ? range.lo : 0;
  const scale = span > 0 ? 255 / span : 255;
  return (v) => {
    if (Number.isNaN(v)) return -1;
    const x = (v - lo) * scale;
    if (!(x > 0)) return 0;
    if (x >= 255) return 255;
    return (x + 0.5) | 0;
  };
}

export function colourIndex(v: number, range: ValueRange): number {
  return colourIndexer(range)(v);
}

/** The LUT as one RGBA word per entry (byte order follows the platform, as typed-array views do). */
function lutWords(colormap: ColormapName): Uint32Array {
  const lut = colormapLut(colormap);
  const words = new Uint32Array(256);
  const bytes = new Uint8Array(words.buffer);
  for (let k = 0; k < 256; k++) bytes.set([lut[k * 3]!, lut[k * 3 + 1]!, lut[k * 3 + 2]!, 255], k * 4);
  return words;
}

/** RGBA pixels from colour indices: opaque colour, transparent black where the index is -1. */
export function colourIndices(indices: Int16Array, colormap: ColormapName): Uint8Array {
  const words = lutWords(colormap);
  const out = new Uint8Array(indices.length * 4);
  const view = new Uint32Array(out.buffer);
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i]!;
    if (k >= 0) view[i] = words[k]!;
  }
  return out;
}

/** RGBA pixels of a resampled map: opaque colour where there is a value, transparent black where NaN. */
export function colourise(values: Float32Array, range: ValueRange, colormap: ColormapName): Uint8Array {
  const indices = new Int16Array(values.length);
  const index = colourIndexer(range);
  for (let i = 0; i < values.length; i++) indices[i] = index(values[i]!);
  return colourIndices(indices, colormap);
}

/** Heatmap (RGBA) over an RGB image: out = image * (1 - a) + heat * a where the heatmap is opaque; integer maths. */
export function blend(image: Uint8Array, heat: Uint8Array, opacity: number): Uint8Array {
  if (heat.length / 4 !== image.length / 3) throw new RangeError('overlay: image and heatmap sizes differ');
  const a = alpha8(opacity);
  const out = new Uint8Array(image.length);
  for (let p = 0, q = 0; p < image.length; p += 3, q += 4) {
    if (heat[q + 3] === 0) {
      out[p] = image[p]!; out[p + 1] = image[p + 1]!; out[p + 2] = image[p + 2]!;
      continue;
    }
    for (let c = 0; c < 3; c++) out[p + c] = div255(image[p + c]! * (255 - a) + heat[q + c]! * a + 127);
  }
  return out;
}

/** floor(x / 255) for 0 <= x < 65536 (checked exhaustively by the tests), without a division. */
export const div255 = (x: number): number => (x * 32897) >>> 23;

const alpha8 = (opacity: number): number => Math.round(Math.min(1, Math.max(0, opacity)) * 255);

/** blend(image, colourIndices(indices), opacity) with the products tabulated: same bytes, a fraction of the work. */
export function blendIndices(image: Uint8Array, indices: Int16Array, colormap: ColormapName, opacity: number): Uint8Array {
  if (indices.length * 3 !== image.length) throw new RangeError('overlay: image and map sizes differ');
  const a = alpha8(opacity);
  const lut = colormapLut(colormap);
  const heatPart = new Uint32Array(256 * 3);
  for (let j = 0; j < heatPart.length; j++) heatPart[j] = lut[j]! * a + 127;
  const imagePart = new Uint32Array(256);
  for (let v = 0; v < 256; v++) imagePart[v] = v * (255 - a);
  const out = new Uint8Array(image.length);
  for (let i = 0, p = 0; i < indices.length; i++, p += 3) {
    const k = indices[i]!;
    if (k < 0) {
      out[p] = image[p]!; out[p + 1] = image[p + 1]!; out[p + 2] = image[p + 2]!;
      continue;
    }
    const h = k * 3;
    out[p] = div255(imagePart[image[p]!]! + heatPart[h]!);
    out[p + 1] = div255(imagePart[image[p + 1]!]! + heatPart[h + 1]!);
    out[p + 2] = div255(imagePart[image[p + 2]!]! + heatPart[h + 2]!);
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

/** Colour indices of a spatial tap at the original image size (shared by its heatmap and overlay). */
export function tapIndices(tap: Tap, transform: ImageTransform, range: ValueRange, settings: RenderSettings): Int16Array {
  const [h, w] = spatialShape(tap);
  return resampleIndices(tap.data, h, w, transform, transform.origWidth, transform.origHeight, settings.interpolation, range);
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
