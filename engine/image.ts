// Image decoding and preprocessing with sharp (DESIGN.md "Image alignment").
// decodeImage: any format sharp reads (JPEG, PNG, WebP, TIFF, GIF first frame, AVIF/HEIF
// where the sharp build has it) -> 8-bit sRGB RGB, EXIF orientation applied, so that the
// "original image" every transform refers to is what a viewer shows.
// preprocess: bring that image to inputSize x inputSize (stretch | pad | center-crop),
// normalise with mean/std into NHWC float32, and record the exact ImageTransform.
//
// Choices, and why:
// - Alpha is flattened onto white: transparent regions of icons, cut-outs and diagrams are
//   meant to be seen on a page, and white is how every viewer shows them.
// - 16-bit and grayscale inputs are converted to 8-bit sRGB: ImageNet-trained weights
//   expect 8-bit RGB statistics.
// - Letterbox padding is written in the normalised domain as exact zeros, i.e. the
//   dataset mean colour, so padding adds no signal of its own.
// - Resampling uses sharp's default (Lanczos-3 with antialiasing when shrinking); an input
//   already at the target size is copied without any resampling.

import sharp, { type Metadata, type Sharp } from 'sharp';
import { readFile } from 'node:fs/promises';
import { EngineError } from './errors';
import type { ImageTransform, ResizeMode } from './types';

/** Refuse larger images: decoding 100 MP already needs ~300 MB of RGB. */
export const MAX_PIXELS = 100_000_000;

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

export interface DecodedImage {
  name: string;
  /** Source format as sharp names it (jpeg, png, webp, tiff, gif, heif...). */
  format: string;
  /** After EXIF orientation. */
  width: number;
  height: number;
  /** Row-major RGB, 8-bit sRGB, 3 bytes per pixel. */
  rgb: Uint8Array;
}

export interface PreprocessOptions {
  inputSize: number;
  resize: ResizeMode;
  mean: [number, number, number];
  std: [number, number, number];
  /** sharp's resampling kernel (default lanczos3); timm's models were evaluated with bicubic ('cubic') or bilinear ('linear'). */
  kernel?: 'linear' | 'cubic' | 'lanczos3';
}

export interface Preprocessed {
  /** NHWC [1, inputSize, inputSize, 3], normalised. */
  input: Float32Array;
  transform: ImageTransform;
}

/** Formats this sharp build can decode (for the engine's hello capabilities). */
export function imageFormats(): string[] {
  return Object.entries(sharp.format)
    .filter(([id, f]) => f.input.buffer && id !== 'raw' && id !== 'svg')
    .map(([id]) => id);
}

export async function decodeImage(source: Uint8Array | string, name?: string): Promise<DecodedImage> {
  const { bytes, label, meta } = await openImage(source, name);
  try {
    const { data, info } = await orientedRgb(bytes)
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return {
      name: label,
      format: meta.format ?? 'unknown',
      width: info.width,
      height: info.height,
      rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
  } catch (err) {
    throw new EngineError('bad-image', `"${label}" could not be decoded (${shortReason(err)}).`);
  }
}

/** The decode both paths share: first frame, EXIF orientation applied, alpha flattened on white, sRGB, 3 channels. */
function orientedRgb(bytes: Uint8Array): Sharp {
  return sharp(bytes, { limitInputPixels: MAX_PIXELS, pages: 1 })
    .rotate()
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .toColourspace('srgb')
    .removeAlpha();
}

/** Reads the bytes and the header: bad-image / io errors and the pixel limit, before any decoding. */
async function openImage(source: Uint8Array | string, name?: string): Promise<{ bytes: Uint8Array; label: string; meta: Metadata }> {
  let bytes: Uint8Array;
  const label = name ?? (typeof source === 'string' ? source : 'image');
  if (typeof source === 'string') {
    try {
      bytes = await readFile(source);
    } catch (err) {
      throw new EngineError('io', `Cannot read the image "${source}": ${(err as Error).message}`);
    }
  } else {
    bytes = source;
  }
  if (bytes.length === 0) throw new EngineError('bad-image', `"${label}" is empty (0 bytes).`);
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    const reason = shortReason(err);
    // A known format cut short (a partial download or copy) is not an unsupported format.
    if (/premature end|truncated|unexpected end/i.test(reason)) {
      throw new EngineError('bad-image', `"${label}" is truncated: the file ends before the image does (${reason}).`,
        'Copy or download the image again.');
    }
    throw new EngineError('bad-image', `"${label}" is not an image sharp can decode (${reason}).`,
      `Supported formats: ${imageFormats().join(', ')}.`);
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w * h > MAX_PIXELS) {
    throw new EngineError('bad-image',
      `"${label}" is ${w} x ${h} pixels (${(w * h / 1e6).toFixed(0)} MP), above the ${MAX_PIXELS / 1e6} MP limit.`,
      'Downscale the image first; attention maps are computed at a few hundred pixels anyway.');
  }
  return { bytes, label, meta };
}

/** An image's size as shown (EXIF orientation applied), without its pixels. */
export interface ImageHeader {
  name: string;
  format: string;
  width: number;
  height: number;
}

/**
 * decodeImage + preprocess in one sharp pipeline, for runs that need only the network
 * input: the image is decoded straight to its scaled size (JPEG/WebP shrink-on-load), and
 * no full-size RGB copy is made (36 MB for 12 MP). Same transform as
 * preprocess(decodeImage(...)); the pixels differ only by resampling rounding.
 * Measured on a 12 MP JPEG -> 224: 65 + 10 ms (decode, then resize) vs 36 ms.
 */
export async function decodeToInput(source: Uint8Array | string, name: string | undefined, opts: PreprocessOptions): Promise<{ image: ImageHeader; pre: Preprocessed }> {
  checkInputSize(opts.inputSize);
  const { bytes, label, meta } = await openImage(source, name);
  // Size after EXIF orientation: orientations 5-8 swap width and height.
  const swap = (meta.orientation ?? 1) >= 5;
  const width = (swap ? meta.height : meta.width) ?? 0;
  const height = (swap ? meta.width : meta.height) ?? 0;
  const p = place(width, height, opts.inputSize, opts.resize);
  let scaled: Uint8Array;
  try {
    const { data, info } = await orientedRgb(bytes)
      // fastShrinkOnLoad off: libvips then shrinks on load only by factors that keep the
      // sampling grid exact, so the map stays aligned with the image.
      .resize(p.scaledWidth, p.scaledHeight, { fit: 'fill', fastShrinkOnLoad: false, kernel: opts.kernel ?? 'lanczos3' })
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== p.scaledWidth || info.height !== p.scaledHeight) {
      throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}`);
    }
    scaled = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (err) {
    throw new EngineError('bad-image', `"${label}" could not be decoded (${shortReason(err)}).`);
  }
  return {
    image: { name: label, format: meta.format ?? 'unknown', width, height },
    pre: { input: normalise(scaled, p, opts), transform: transformOf(width, height, p, opts) },
  };
}

/** Where the original image lands in the input, before any rounding of pixel grids. */
interface Placement {
  /** Size the whole original is resampled to. */
  scaledWidth: number;
  scaledHeight: number;
  /** Position of the scaled image's top-left corner on the input canvas. */
  left: number;
  top: number;
}

function place(width: number, height: number, size: number, mode: ResizeMode): Placement {
  switch (mode) {
    case 'stretch':
      return { scaledWidth: size, scaledHeight: size, left: 0, top: 0 };
    case 'pad': {
      const scale = size / Math.max(width, height);
      const sw = Math.max(1, Math.min(size, Math.round(width * scale)));
      const sh = Math.max(1, Math.min(size, Math.round(height * scale)));
      return { scaledWidth: sw, scaledHeight: sh, left: Math.floor((size - sw) / 2), top: Math.floor((size - sh) / 2) };
    }
    case 'center-crop': {
      const scale = size / Math.min(width, height);
      const sw = Math.max(size, Math.round(width * scale));
      const sh = Math.max(size, Math.round(height * scale));
      // `|| 0` keeps an uncropped axis at +0 rather than -0.
      return { scaledWidth: sw, scaledHeight: sh, left: -Math.floor((sw - size) / 2) || 0, top: -Math.floor((sh - size) / 2) || 0 };
    }
  }
}

export async function preprocess(img: DecodedImage, opts: PreprocessOptions): Promise<Preprocessed> {
  checkInputSize(opts.inputSize);
  const p = place(img.width, img.height, opts.inputSize, opts.resize);
  let scaled = img.rgb;
  if (p.scaledWidth !== img.width || p.scaledHeight !== img.height) {
    const buf = await sharp(img.rgb, { raw: { width: img.width, height: img.height, channels: 3 } })
      .resize(p.scaledWidth, p.scaledHeight, { fit: 'fill', kernel: opts.kernel ?? 'lanczos3' })
      .raw()
      .toBuffer();
    scaled = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  return { input: normalise(scaled, p, opts), transform: transformOf(img.width, img.height, p, opts) };
}

function checkInputSize(size: number): void {
  if (!Number.isInteger(size) || size < 8 || size > 4096) {
    throw new EngineError('bad-request', `Input size ${size} is out of range (8 to 4096).`);
  }
}

/** The scaled RGB placed on the size x size canvas, normalised, NHWC. */
function normalise(scaled: Uint8Array, p: Placement, opts: PreprocessOptions): Float32Array {
  const size = opts.inputSize;
  const input = new Float32Array(size * size * 3); // zeros = the mean colour after normalisation
  const scale = [0, 1, 2].map((c) => 1 / (255 * (opts.std[c] as number)));
  const shift = [0, 1, 2].map((c) => -(opts.mean[c] as number) / (opts.std[c] as number));
  // Copy the part of the scaled image that falls on the canvas.
  const x0 = Math.max(0, p.left);
  const y0 = Math.max(0, p.top);
  const x1 = Math.min(size, p.left + p.scaledWidth);
  const y1 = Math.min(size, p.top + p.scaledHeight);
  for (let y = y0; y < y1; y++) {
    const srcRow = (y - p.top) * p.scaledWidth;
    for (let x = x0; x < x1; x++) {
      const s = (srcRow + (x - p.left)) * 3;
      const d = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) input[d + c] = (scaled[s + c] as number) * (scale[c] as number) + (shift[c] as number);
    }
  }
  return input;
}

function transformOf(width: number, height: number, p: Placement, opts: PreprocessOptions): ImageTransform {
  return {
    origWidth: width,
    origHeight: height,
    inputWidth: opts.inputSize,
    inputHeight: opts.inputSize,
    scaleX: p.scaledWidth / width,
    scaleY: p.scaledHeight / height,
    offsetX: p.left,
    offsetY: p.top,
    resize: opts.resize,
  };
}

/** Original image point -> the tap cell (row, col) that covers it, or null when it falls outside the input. */
export function pointToCell(t: ImageTransform, point: { x: number; y: number }, grid: [number, number]): { row: number; col: number } | null {
  const ix = point.x * t.scaleX + t.offsetX;
  const iy = point.y * t.scaleY + t.offsetY;
  if (ix < 0 || iy < 0 || ix >= t.inputWidth || iy >= t.inputHeight) return null;
  const [h, w] = grid;
  return { row: Math.min(h - 1, Math.floor((iy / t.inputHeight) * h)), col: Math.min(w - 1, Math.floor((ix / t.inputWidth) * w)) };
}

function shortReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return (msg.split('\n')[0] ?? msg).slice(0, 160);
}
