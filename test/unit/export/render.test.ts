import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { colormapLut } from '../../../engine/colormaps';
import { crc32, insertTextChunks, readPngInfo } from '../../../engine/pngText';
import {
  blend, channelCsv, colourise, colourIndex, encodePng, resampleMap, tapRanges,
} from '../../../engine/render';
import { gridTaps, renderGrid } from '../../../engine/renderGrid';
import type { ImageTransform, ModuleInfo, Tap } from '../../../engine/types';

const stretch = (ow: number, oh: number, size: number): ImageTransform => ({
  origWidth: ow, origHeight: oh, inputWidth: size, inputHeight: size,
  scaleX: size / ow, scaleY: size / oh, offsetX: 0, offsetY: 0, resize: 'stretch',
});

/** The doc comment of ImageTransform, written out literally: the map cell under a pixel centre. */
function cellUnder(t: ImageTransform, x: number, y: number, h: number, w: number): [number, number] | null {
  const ix = (x + 0.5) * t.scaleX + t.offsetX;
  const iy = (y + 0.5) * t.scaleY + t.offsetY;
  if (ix < 0 || iy < 0 || ix >= t.inputWidth || iy >= t.inputHeight) return null;
  return [Math.min(h - 1, Math.floor((iy * h) / t.inputHeight)), Math.min(w - 1, Math.floor((ix * w) / t.inputWidth))];
}

function ramp(h: number, w: number): Float32Array {
  return Float32Array.from({ length: h * w }, (_, i) => i);
}

describe('resampleMap', () => {
  const cases: Array<[string, ImageTransform]> = [
    ['stretch', stretch(50, 30, 32)],
    ['pad (letterbox)', { origWidth: 60, origHeight: 30, inputWidth: 32, inputHeight: 32, scaleX: 32 / 60, scaleY: 16 / 30, offsetX: 0, offsetY: 8, resize: 'pad' }],
    ['center-crop', { origWidth: 60, origHeight: 30, inputWidth: 32, inputHeight: 32, scaleX: 64 / 60, scaleY: 32 / 30, offsetX: -16, offsetY: 0, resize: 'center-crop' }],
  ];

  it.each(cases)('nearest picks the cell under each pixel centre (%s)', (_name, t) => {
    const [h, w] = [4, 8];
    const data = ramp(h, w);
    const out = resampleMap(data, h, w, t, t.origWidth, t.origHeight, 'nearest');
    for (let y = 0; y < t.origHeight; y++) {
      for (let x = 0; x < t.origWidth; x++) {
        const cell = cellUnder(t, x, y, h, w);
        const v = out[y * t.origWidth + x]!;
        if (cell === null) expect(v).toBeNaN();
        else expect(v).toBe(data[cell[0] * w + cell[1]]!);
      }
    }
  });

  it('center-crop leaves the cropped-off sides without a map', () => {
    const t = cases[2]![1];
    const out = resampleMap(ramp(4, 4), 4, 4, t, 60, 30, 'bilinear');
    // Input x = orig x * 64/60 - 16: columns whose centre lands below 0 or at/after 32 are off the canvas.
    for (let x = 0; x < 60; x++) {
      const ix = (x + 0.5) * (64 / 60) - 16;
      expect(Number.isNaN(out[x]!)).toBe(ix < 0 || ix >= 32);
    }
  });

  it('bilinear equals the cell value exactly at cell centres and interpolates between', () => {
    // 4x4 map on a 32x32 input, original 32x32: cell centres at pixels 3.5+8k, i.e. between pixels 3 and 4.
    // Use an original of 64x64 (scale 0.5): pixel centre (x+0.5)*0.5 = 4 -> x = 7.5, still between; use 4x4 on 8x8.
    const t = stretch(8, 8, 8);
    const data = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    const out = resampleMap(data, 4, 4, t, 8, 8, 'bilinear');
    // Pixel x has input centre x + 0.5; map coordinate u = (x + 0.5) / 2 - 0.5 = x/2 - 0.25.
    expect(out[0]).toBeCloseTo(0, 6); // clamped at the edge
    expect(out[1 * 8 + 1]).toBeCloseTo(0.25 * 1 + 0.25 * 4, 6); // u = v = 0.25
    expect(out[7 * 8 + 7]).toBeCloseTo(15, 6);
  });

  it('a peak lands where it is in the original image (pad, bright object at a known spot)', () => {
    // Original 100x50 letterboxed into 64x64: scale 0.64, offsetY = 16. An 8x8 map peaks at cell (3, 5).
    const t: ImageTransform = { origWidth: 100, origHeight: 50, inputWidth: 64, inputHeight: 64, scaleX: 0.64, scaleY: 0.64, offsetX: 0, offsetY: 16, resize: 'pad' };
    const data = new Float32Array(64);
    data[3 * 8 + 5] = 1;
    const out = resampleMap(data, 8, 8, t, 100, 50, 'bilinear');
    let best = 0;
    for (let i = 1; i < out.length; i++) if (out[i]! > out[best]!) best = i;
    // Cell centre in input: (5.5 * 8, 3.5 * 8) = (44, 28) -> original ((44 - 0) / 0.64, (28 - 16) / 0.64) = (68.75, 18.75).
    expect(Math.abs((best % 100) + 0.5 - 68.75)).toBeLessThanOrEqual(1);
    expect(Math.abs(Math.floor(best / 100) + 0.5 - 18.75)).toBeLessThanOrEqual(1);
  });
});

describe('colour and normalisation', () => {
  it('maps NaN to transparent and values through the LUT', () => {
    const rgba = colourise(Float32Array.from([NaN, 0, 1, 2]), { lo: 0, hi: 1 }, 'gray');
    expect([...rgba]).toEqual([0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255]);
    expect(colourIndex(0.5, { lo: 0, hi: 1 })).toBe(128);
    const lut = colormapLut('viridis');
    expect([...colourise(Float32Array.from([0]), { lo: 0, hi: 1 }, 'viridis').subarray(0, 3)]).toEqual([...lut.subarray(0, 3)]);
  });

  it('computes raw, per-map and per-stage ranges', () => {
    const taps: Tap[] = [
      { module: 'a', tap: 'spatial', shape: [1, 2], data: Float32Array.from([0.2, 0.4]) },
      { module: 'b', tap: 'spatial', shape: [1, 2], data: Float32Array.from([0.1, 0.9]) },
      { module: 'c', tap: 'spatial', shape: [1, 2], data: Float32Array.from([0.5, 0.5]) },
      { module: 'a', tap: 'channel', shape: [2], data: Float32Array.from([3, 4]) },
    ];
    const info = (name: string, stage: string): ModuleInfo => ({ name, kind: 'cbam', stage, taps: ['spatial'], channels: 2, mapSize: [1, 2] });
    const modules = [info('a', 's1'), info('b', 's1'), info('c', 's2')];
    expect(tapRanges(taps, modules, 'raw').get('a/spatial')).toEqual({ lo: 0, hi: 1 });
    const mm = tapRanges(taps, modules, 'minmax');
    expect(mm.get('a/spatial')!.lo).toBeCloseTo(0.2);
    expect(mm.get('a/spatial')!.hi).toBeCloseTo(0.4);
    expect(mm.get('c/spatial')).toEqual({ lo: 0, hi: 1 }); // flat map falls back to [0, 1]
    expect(mm.has('a/channel')).toBe(false);
    const st = tapRanges(taps, modules, 'stage');
    expect(st.get('a/spatial')).toEqual(st.get('b/spatial'));
    expect(st.get('a/spatial')!.hi).toBeCloseTo(0.9);
  });

  it('blends with integer maths and leaves map-less pixels alone', () => {
    const image = Uint8Array.from([100, 100, 100, 10, 20, 30]);
    const heat = Uint8Array.from([200, 0, 255, 255, 0, 0, 0, 0]);
    expect([...blend(image, heat, 0.5)]).toEqual([150, 50, 178, 10, 20, 30]);
  });
});

describe('PNG encoding and metadata', () => {
  it('computes the standard CRC-32', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('writes tEXt for ASCII and iTXt for other text, read back intact, dimensions kept, deterministic', async () => {
    const px = colourise(resampleMap(ramp(2, 2), 2, 2, stretch(7, 5, 4), 7, 5, 'bilinear'), { lo: 0, hi: 3 }, 'turbo');
    const text: Array<[string, string]> = [['Software', 'AttnScope 0.1.0'], ['AttnScope:module', 'layer1.0.cbam'], ['AttnScope:source', 'café ☕.jpg']];
    const a = await encodePng(px, 7, 5, 4, text);
    const b = await encodePng(px, 7, 5, 4, text);
    expect(a.equals(b)).toBe(true);
    const info = readPngInfo(a);
    expect([info.width, info.height]).toEqual([7, 5]);
    expect(info.text).toEqual(text);
    expect(info.chunks.slice(0, 4)).toEqual(['IHDR', 'tEXt', 'tEXt', 'iTXt']);
    const meta = await sharp(a).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([7, 5, 4]);
    const { data } = await sharp(a).raw().toBuffer({ resolveWithObject: true });
    expect(Buffer.compare(data, Buffer.from(px))).toBe(0);
  });

  it('refuses bad keywords and non-PNG input', () => {
    expect(() => insertTextChunks(Buffer.from('nope'), [])).toThrow(/not a PNG/);
  });
});

describe('raw outputs', () => {
  it('writes channel CSV with index and float32-exact weights', () => {
    const csv = channelCsv(Float32Array.from([0.1, 1, 1e-8])).toString();
    expect(csv).toBe('index,weight\n0,0.100000001\n1,1\n2,9.99999994e-9\n');
  });
});

describe('grid', () => {
  it('prefers spatial, then attention, then activation per module, in forward order', () => {
    const t = (module: string, tap: Tap['tap']): Tap => ({ module, tap, shape: [1, 1], data: new Float32Array(1) });
    const taps = [t('a', 'channel'), t('a', 'activation'), t('a', 'spatial'), t('nl', 'attention'), t('se', 'channel'), t('se', 'activation')];
    expect(gridTaps(taps).map((x) => `${x.module}/${x.tap}`)).toEqual(['a/spatial', 'nl/attention', 'se/activation']);
  });

  it('renders a labelled contact sheet deterministically', async () => {
    const image = { width: 40, height: 30, rgb: new Uint8Array(40 * 30 * 3).fill(90) };
    const cells = ['layer1.0.cbam', 'layer2.0.cbam', 'layer3.0.cbam'].map((module, k) => ({
      tap: { module, tap: 'spatial' as const, shape: [4, 4], data: Float32Array.from({ length: 16 }, (_, i) => (i * (k + 1)) % 7) },
      range: { lo: 0, hi: 6 },
    }));
    const input = {
      image, imageName: 'x.jpg', transform: stretch(40, 30, 32), cells, header: 'model · viridis',
      settings: { colormap: 'viridis' as const, opacity: 0.6, normalise: 'raw' as const, interpolation: 'bilinear' as const },
    };
    const a = await renderGrid(input, [['Software', 'AttnScope']]);
    const b = await renderGrid(input, [['Software', 'AttnScope']]);
    expect(a.equals(b)).toBe(true);
    const info = readPngInfo(a);
    expect(info.width).toBeGreaterThan(2 * 160);
    expect(info.text).toEqual([['Software', 'AttnScope']]);
  });
});

describe('index path (what export uses) matches the float path', () => {
  it('resampleIndices, colourIndices and blendIndices equal colourise(resampleMap) and blend', async () => {
    const { blendIndices, colourIndices, resampleIndices } = await import('../../../engine/render');
    const t: ImageTransform = { origWidth: 37, origHeight: 23, inputWidth: 32, inputHeight: 32, scaleX: 64 / 37, scaleY: 64 / 37, offsetX: -16, offsetY: -4, resize: 'center-crop' };
    const data = Float32Array.from({ length: 35 }, (_, i) => Math.sin(i * 1.7) * 3);
    const range = { lo: -2, hi: 2.5 };
    for (const interp of ['bilinear', 'nearest'] as const) {
      const idx = resampleIndices(data, 5, 7, t, 37, 23, interp, range);
      const heat = colourise(resampleMap(data, 5, 7, t, 37, 23, interp), range, 'magma');
      expect(Buffer.from(colourIndices(idx, 'magma')).equals(Buffer.from(heat))).toBe(true);
      const image = Uint8Array.from({ length: 37 * 23 * 3 }, (_, i) => (i * 37) % 256);
      for (const opacity of [0, 0.3, 1]) {
        expect(Buffer.from(blendIndices(image, idx, 'magma', opacity)).equals(Buffer.from(blend(image, heat, opacity)))).toBe(true);
      }
      expect(idx.includes(-1)).toBe(true);
    }
  });

  it('divides by 255 with a shift, exactly, over the whole range blending uses', async () => {
    const { div255 } = await import('../../../engine/render');
    for (let x = 0; x < 65536; x++) if (div255(x) !== Math.floor(x / 255)) expect.fail(`div255(${x})`);
  });
});
