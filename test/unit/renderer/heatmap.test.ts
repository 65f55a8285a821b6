import { describe, expect, it } from 'vitest';
import type { ImageTransform } from '../../../engine/protocol';
import { GRAY, cssGradient, sortColormaps } from '../../../renderer/lib/colormap';
import { argmax, cellToOrig, origToCell, paintCells, paintHeatmap, rasterSize, sampleAt, type MapData } from '../../../renderer/lib/heatmap';
import { displayRange } from '../../../renderer/lib/range';
import { channelStats, sortedChannels, strongestPairs } from '../../../renderer/lib/stats';

/** How the engine maps an image onto a square input, per resize mode (engine/types.ts). */
function transformFor(w: number, h: number, size: number, resize: ImageTransform['resize']): ImageTransform {
  if (resize === 'stretch') return { origWidth: w, origHeight: h, inputWidth: size, inputHeight: size, scaleX: size / w, scaleY: size / h, offsetX: 0, offsetY: 0, resize };
  const s = resize === 'pad' ? size / Math.max(w, h) : size / Math.min(w, h);
  return { origWidth: w, origHeight: h, inputWidth: size, inputHeight: size, scaleX: s, scaleY: s, offsetX: (size - w * s) / 2, offsetY: (size - h * s) / 2, resize };
}

/** A map that peaks at one cell. */
function peakMap(h: number, w: number, row: number, col: number): MapData {
  const data = new Float32Array(h * w).fill(0.1);
  data[row * w + col] = 1;
  return { shape: [h, w], data };
}

/** Brightest pixel of a gray raster, in original image coordinates (pixel centre). */
function rasterPeak(px: Uint8ClampedArray, width: number, height: number, t: ImageTransform) {
  let best = -1, bx = 0, by = 0;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const o = (y * width + x) * 4;
    if (px[o + 3] === 255 && px[o]! > best) { best = px[o]!; bx = x; by = y; }
  }
  return { x: ((bx + 0.5) * t.origWidth) / width, y: ((by + 0.5) * t.origHeight) / height };
}

describe('heatmap alignment through the ImageTransform', () => {
  for (const resize of ['stretch', 'pad', 'center-crop'] as const) {
    it(`${resize}: the painted peak sits on the original pixels of the map's peak cell`, () => {
      const t = transformFor(300, 180, 128, resize);
      const map = peakMap(8, 8, 5, 2);
      const { width, height } = rasterSize(t.origWidth, t.origHeight);
      for (const interp of ['bilinear', 'nearest'] as const) {
        const px = paintHeatmap(map, t, width, height, { min: 0, max: 1 }, GRAY.lut, interp);
        const peak = rasterPeak(px, width, height, t);
        const want = cellToOrig(t, 8, 8, 5, 2);
        // Within one map cell (in original pixels) of the cell centre: nearest fills the whole cell.
        const cellW = 128 / 8 / t.scaleX;
        const cellH = 128 / 8 / t.scaleY;
        expect(Math.abs(peak.x - want.x)).toBeLessThanOrEqual(interp === 'nearest' ? cellW / 2 + 1 : 1.5);
        expect(Math.abs(peak.y - want.y)).toBeLessThanOrEqual(interp === 'nearest' ? cellH / 2 + 1 : 1.5);
      }
    });
  }

  it('center-crop leaves the parts outside the input transparent; pad covers the whole image', () => {
    const crop = transformFor(300, 150, 64, 'center-crop');
    const px = paintHeatmap(peakMap(4, 4, 0, 0), crop, 300, 150, { min: 0, max: 1 }, GRAY.lut, 'bilinear');
    expect(px[3]).toBe(0); // left edge: cropped away
    expect(px[(75 * 300 + 150) * 4 + 3]).toBe(255); // centre
    const pad = transformFor(300, 150, 64, 'pad');
    const pp = paintHeatmap(peakMap(4, 4, 0, 0), pad, 300, 150, { min: 0, max: 1 }, GRAY.lut, 'bilinear');
    expect(pp.every((v, i) => i % 4 !== 3 || v === 255)).toBe(true);
  });

  it('origToCell and cellToOrig are inverse, and bilinear sampling hits cell values at their centres', () => {
    const t = transformFor(640, 480, 128, 'pad');
    const p = cellToOrig(t, 16, 16, 9, 4);
    const c = origToCell(t, 16, 16, p.x, p.y);
    expect(c.cx).toBeCloseTo(4, 9);
    expect(c.cy).toBeCloseTo(9, 9);
    const map = peakMap(16, 16, 9, 4);
    expect(sampleAt(map, c.cx, c.cy, 'bilinear')).toBeCloseTo(1, 6);
    expect(sampleAt(map, c.cx + 0.5, c.cy, 'bilinear')).toBeCloseTo(0.55, 6);
    expect(sampleAt(map, c.cx + 0.49, c.cy, 'nearest')).toBe(1);
    expect(argmax(map)).toMatchObject({ row: 9, col: 4, value: 1 });
  });

  it('caps the raster on its long side and keeps the aspect ratio', () => {
    expect(rasterSize(4000, 3000)).toEqual({ width: 768, height: 576 });
    expect(rasterSize(100, 50)).toEqual({ width: 100, height: 50 });
  });
});

describe('normalisation ranges (as engine/render.ts)', () => {
  const modules = [
    { name: 'a', kind: 'cbam' as const, stage: 's', taps: ['spatial' as const], channels: 4, mapSize: [2, 2] as [number, number] },
    { name: 'b', kind: 'cbam' as const, stage: 's', taps: ['spatial' as const], channels: 4, mapSize: [2, 2] as [number, number] },
  ];
  const a = { shape: [2, 2], data: Float32Array.from([0.2, 0.3, 0.4, 0.5]) };
  const b = { shape: [2, 2], data: Float32Array.from([0.1, 0.3, 0.4, 0.9]) };
  const taps = { a: { spatial: a }, b: { spatial: b } };
  it('raw is [0, 1], min-max is the map, stage is the union over the stage', () => {
    expect(displayRange('raw', 'spatial', a, { modules, taps })).toEqual({ min: 0, max: 1 });
    const mm = displayRange('minmax', 'spatial', a, { modules, taps });
    expect(mm.min).toBeCloseTo(0.2); expect(mm.max).toBeCloseTo(0.5);
    const st = displayRange('stage', 'spatial', a, { modules, taps });
    expect(st.min).toBeCloseTo(0.1); expect(st.max).toBeCloseTo(0.9);
  });
  it('a flat map (a bypassed gate) is shown on [0, 1]', () => {
    expect(displayRange('minmax', 'spatial', { shape: [2, 2], data: new Float32Array(4).fill(1) }, null)).toEqual({ min: 0, max: 1 });
  });
});

describe('channel statistics', () => {
  it('counts channels below 0.5 and measures the entropy of the weights', () => {
    const s = channelStats([0.1, 0.4, 0.6, 0.9]);
    expect(s.below).toBe(2);
    expect(s.mean).toBeCloseTo(0.5);
    expect(channelStats([0.5, 0.5, 0.5, 0.5]).entropy).toBeCloseTo(2);
    expect(channelStats([0.5, 0.5, 0.5, 0.5]).entropyRatio).toBeCloseTo(1);
    expect(channelStats([1, 0, 0, 0]).entropy).toBe(0);
    expect(sortedChannels([0.1, 0.9, 0.5])).toEqual([1, 2, 0]);
  });
});

describe('colormaps', () => {
  it('orders the engine colormaps with the perceptually uniform ones first and always offers gray', () => {
    const lut = new Array(768).fill(0);
    expect(sortColormaps([{ name: 'jet', lut }, { name: 'turbo', lut }, { name: 'viridis', lut }]).map((m) => m.name)).toEqual(['viridis', 'turbo', 'jet', 'gray']);
    expect(cssGradient(GRAY, 'to right', 2)).toBe('linear-gradient(to right, rgb(0, 0, 0) 0.0%, rgb(128, 128, 128) 50.0%, rgb(255, 255, 255) 100.0%)');
  });
});

describe('strongestPairs (the channel-affinity matrix view)', () => {
  it('lists the strongest off-diagonal entries, strongest first, never the diagonal', () => {
    // 3 x 3: the diagonal holds the largest values and must not be listed.
    const m = Float32Array.from([9, 0.1, 0.7, 0.3, 9, 0.2, 0.5, 0.6, 9]);
    expect(strongestPairs(m, 3, 3)).toEqual([
      { row: 0, col: 2, value: expect.closeTo(0.7, 6) },
      { row: 2, col: 1, value: expect.closeTo(0.6, 6) },
      { row: 2, col: 0, value: expect.closeTo(0.5, 6) },
    ]);
    expect(strongestPairs(m, 3, 10)).toHaveLength(6);
  });
});

describe('paintCells (matrices and component grids)', () => {
  it('paints one pixel per cell, row-major, min-max over the range', () => {
    const lut = Array.from({ length: 256 * 3 }, (_, i) => Math.floor(i / 3));
    const { pixels, w, h } = paintCells({ shape: [2, 3], data: Float32Array.from([0, 1, 2, 3, 4, 5]) }, { min: 0, max: 5 }, lut);
    expect([w, h]).toEqual([3, 2]);
    expect(Array.from({ length: 6 }, (_, i) => pixels[i * 4])).toEqual([0, 51, 102, 153, 204, 255]);
    expect(Array.from({ length: 6 }, (_, i) => pixels[i * 4 + 3])).toEqual(new Array(6).fill(255));
  });
});
