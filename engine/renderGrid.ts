// The contact sheet (`grid` export kind): the image, then one overlay per module, each
// labelled with the module name and its value range, a header with the settings, and a
// colour bar. Thumbnails are resampled straight from the taps through the run's
// ImageTransform (render.ts), so they align exactly like the full-size exports. Text is
// drawn by librsvg (through sharp) in DejaVu Sans when the system has it.

import sharp from 'sharp';
import { colormapLut } from './colormaps';
import {
  blendIndices, encodePng, formatFloat, type RenderSettings, resampleIndices, type RgbImage, spatialShape, type ValueRange,
} from './render';
import { type ImageTransform, NON_IMAGE_TAPS, type Tap } from './types';

/** Longest side of each thumbnail, pixels. */
const THUMB = 256;
const PAD = 10;
const LABEL_H = 36;
const HEADER_H = 26;
const BAR_H = 14;
const BAR_LABEL_H = 22;
const BACKGROUND = 255;
const FONT = "'DejaVu Sans', 'Liberation Sans', sans-serif";

export interface GridCell { tap: Tap; range: ValueRange }

export interface GridInput {
  image: RgbImage;
  /** Shown in the first cell's label. */
  imageName: string;
  transform: ImageTransform;
  cells: GridCell[];
  settings: RenderSettings;
  /** One header line: model and settings. */
  header: string;
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Shortens a label to about `max` characters, keeping its end (module names differ at the end). */
function fit(s: string, max: number): string {
  return s.length <= max ? s : `…${s.slice(s.length - max + 1)}`;
}

/** Prefers `spatial`, then `attention`, then `activation`: one map per module for the grid. */
export function gridTaps(taps: readonly Tap[]): Tap[] {
  const order = ['spatial', 'attention', 'activation'];
  const best = new Map<string, Tap>();
  for (const t of taps) {
    if (t.tap === 'channel' || t.shape.length !== 2 || NON_IMAGE_TAPS.includes(t.tap)) continue;
    const cur = best.get(t.module);
    if (!cur || order.indexOf(t.tap) < order.indexOf(cur.tap)) best.set(t.module, t);
  }
  // Keep forward order (the order taps arrived in).
  return taps.filter((t) => best.get(t.module) === t);
}

/** PNG bytes of the contact sheet (RGB), with `text` chunks. */
export async function renderGrid(input: GridInput, text: ReadonlyArray<readonly [string, string]>): Promise<Buffer> {
  const { image, transform, settings } = input;
  const scale = THUMB / Math.max(image.width, image.height);
  const tw = Math.max(1, Math.round(image.width * scale));
  const th = Math.max(1, Math.round(image.height * scale));
  const n = input.cells.length + 1;
  const cols = Math.max(1, Math.ceil(Math.sqrt(n)));
  const rows = Math.ceil(n / cols);
  const cellW = Math.max(tw, 160);
  const width = PAD + cols * (cellW + PAD);
  const gridTop = HEADER_H + PAD;
  const barTop = gridTop + rows * (th + LABEL_H + PAD);
  const height = barTop + BAR_H + BAR_LABEL_H + PAD;

  const canvas = new Uint8Array(width * height * 3).fill(BACKGROUND);
  const paste = (rgb: Uint8Array, w: number, h: number, left: number, top: number) => {
    for (let y = 0; y < h; y++) {
      canvas.set(rgb.subarray(y * w * 3, (y + 1) * w * 3), ((top + y) * width + left) * 3);
    }
  };

  const thumb = await sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(tw, th, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  const thumbRgb = new Uint8Array(thumb.buffer, thumb.byteOffset, thumb.byteLength);

  const svg: string[] = [];
  const label = (i: number, name: string, detail: string) => {
    const left = PAD + (i % cols) * (cellW + PAD);
    const top = gridTop + Math.floor(i / cols) * (th + LABEL_H + PAD) + th;
    const chars = Math.floor(cellW / 7.2);
    svg.push(`<text x="${left}" y="${top + 15}" font-size="12" fill="#111">${xml(fit(name, chars))}</text>`);
    if (detail) svg.push(`<text x="${left}" y="${top + 30}" font-size="10.5" fill="#555">${xml(fit(detail, chars + 4))}</text>`);
  };
  const place = (i: number): [number, number] => [
    PAD + (i % cols) * (cellW + PAD) + Math.floor((cellW - tw) / 2),
    gridTop + Math.floor(i / cols) * (th + LABEL_H + PAD),
  ];

  paste(thumbRgb, tw, th, ...place(0));
  label(0, input.imageName, `${image.width} × ${image.height}`);

  input.cells.forEach((cell, k) => {
    const [h, w] = spatialShape(cell.tap);
    const indices = resampleIndices(cell.tap.data, h, w, transform, tw, th, settings.interpolation, cell.range);
    paste(blendIndices(thumbRgb, indices, settings.colormap, settings.opacity), tw, th, ...place(k + 1));
    const name = cell.tap.tap === 'spatial' ? cell.tap.module : `${cell.tap.module} (${cell.tap.tap})`;
    label(k + 1, name, `range ${formatRange(cell.range)}`);
  });

  // Colour bar across the sheet, labelled with its ends.
  const barLeft = PAD;
  const barW = width - 2 * PAD;
  const lut = colormapLut(settings.colormap);
  const bar = new Uint8Array(barW * BAR_H * 3);
  for (let x = 0; x < barW; x++) {
    const k = barW > 1 ? Math.round((x * 255) / (barW - 1)) : 0;
    for (let y = 0; y < BAR_H; y++) bar.set(lut.subarray(k * 3, k * 3 + 3), (y * barW + x) * 3);
  }
  paste(bar, barW, BAR_H, barLeft, barTop);
  const ranges = input.cells.map((c) => formatRange(c.range));
  const shared = ranges.length > 0 && ranges.every((r) => r === ranges[0]) ? input.cells[0]!.range : null;
  const lo = shared ? formatFloat(shared.lo) : 'min';
  const hi = shared ? formatFloat(shared.hi) : 'max';
  const what = { raw: 'raw values, clamped to [0, 1]', minmax: 'each map scaled to its own min..max', stage: 'maps of a stage share one range' }[settings.normalise];
  const ty = barTop + BAR_H + 15;
  svg.push(`<text x="${barLeft}" y="${ty}" font-size="12" fill="#111">${xml(lo)}</text>`);
  svg.push(`<text x="${barLeft + barW / 2}" y="${ty}" font-size="11" fill="#555" text-anchor="middle">${xml(`${settings.colormap}: ${what}`)}</text>`);
  svg.push(`<text x="${barLeft + barW}" y="${ty}" font-size="12" fill="#111" text-anchor="end">${xml(hi)}</text>`);
  svg.push(`<text x="${PAD}" y="${HEADER_H - 6}" font-size="13" fill="#111">${xml(fit(input.header, Math.floor(width / 7.5)))}</text>`);

  const overlay = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${FONT}">${svg.join('')}</svg>`,
  );
  const composed = await sharp(canvas, { raw: { width, height, channels: 3 } })
    .composite([{ input: overlay, left: 0, top: 0 }])
    .removeAlpha()
    .raw()
    .toBuffer();
  return encodePng(new Uint8Array(composed.buffer, composed.byteOffset, composed.byteLength), width, height, 3, text, 'photo');
}

function formatRange(r: ValueRange): string {
  return `${formatFloat(Number(r.lo.toPrecision(4)))} … ${formatFloat(Number(r.hi.toPrecision(4)))}`;
}
