// renderer/lib/sampling.ts: a spatial transformer's grid on the user's photo.
import { describe, expect, it } from 'vitest';
import type { ImageTransform } from '../../../engine/protocol';
import { describeAffine, gridLines, gridToOrig, warpPhoto } from '../../../renderer/lib/sampling';

const stretch = (w: number, h: number, iw: number, ih: number): ImageTransform => ({
  origWidth: w, origHeight: h, inputWidth: iw, inputHeight: ih, scaleX: iw / w, scaleY: ih / h, offsetX: 0, offsetY: 0, resize: 'stretch',
});

/** affine_grid(theta) for an h x w output, align_corners = False. */
function affineGrid(theta: number[], h: number, w: number): { shape: number[]; data: Float32Array } {
  const data = new Float32Array(h * w * 2);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const x = (2 * j + 1) / w - 1;
      const y = (2 * i + 1) / h - 1;
      data[(i * w + j) * 2] = theta[0]! * x + theta[1]! * y + theta[2]!;
      data[(i * w + j) * 2 + 1] = theta[3]! * x + theta[4]! * y + theta[5]!;
    }
  }
  return { shape: [h, w, 2], data };
}

describe('spatial transformer grids', () => {
  it('maps normalised points through the run transform: -1 and 1 are the input edges', () => {
    const t = stretch(400, 200, 32, 32);
    expect(gridToOrig(t, -1, -1)).toEqual({ x: 0, y: 0 });
    expect(gridToOrig(t, 1, 1)).toEqual({ x: 400, y: 200 });
    expect(gridToOrig(t, 0, 0)).toEqual({ x: 200, y: 100 });
    // Pad mode: the image sits inside the input with an offset.
    const padded: ImageTransform = { ...t, scaleX: 0.08, scaleY: 0.08, offsetX: 0, offsetY: 8 };
    expect(gridToOrig(padded, -1, -1)).toEqual({ x: 0, y: -100 });
  });

  it('describes theta: area sampled, rotation, scale, shift and mirroring', () => {
    const a = (30 * Math.PI) / 180;
    const d = describeAffine([0.5 * Math.cos(a), -0.5 * Math.sin(a), 0.2, 0.5 * Math.sin(a), 0.5 * Math.cos(a), -0.1]);
    expect(d.area).toBeCloseTo(0.25, 6);
    expect(d.rotation).toBeCloseTo(30, 6);
    expect(d.scaleX).toBeCloseTo(0.5, 6);
    expect(d.scaleY).toBeCloseTo(0.5, 6);
    expect([d.shiftX, d.shiftY]).toEqual([0.1, -0.05]);
    expect(d.flipped).toBe(false);
    expect(describeAffine([-1, 0, 0, 0, 1, 0]).flipped).toBe(true);
  });

  it('draws every few rows and columns, the border always, and an outline around the whole grid', () => {
    const g = affineGrid([1, 0, 0, 0, 1, 0], 32, 20);
    const { lines, outline } = gridLines(g, stretch(20, 32, 20, 32));
    expect(outline).toHaveLength(2 * (32 + 20));
    expect(lines.length).toBeLessThanOrEqual(2 * 10);
    // The identity grid's first row samples the first pixel row's centres.
    const [first, last] = [lines[0]![0]!, lines[0]!.at(-1)!];
    expect([first.x, first.y, last.x, last.y].map((v) => Number(v.toFixed(5)))).toEqual([0.5, 0.5, 19.5, 0.5]);
  });

  it('warps the photo: the identity grid gives the photo back; a zoom crops its centre; outside is transparent', () => {
    const w = 8;
    const h = 8;
    const photo = { width: w, height: h, data: new Uint8ClampedArray(w * h * 4) };
    for (let i = 0; i < w * h; i++) photo.data.set([i, 255 - i, (i * 7) % 256, 255], i * 4);
    const t = stretch(w, h, w, h);
    expect(Array.from(warpPhoto(photo, affineGrid([1, 0, 0, 0, 1, 0], h, w), t, w, h))).toEqual(Array.from(photo.data));
    const zoom = warpPhoto(photo, affineGrid([0.5, 0, 0, 0, 0.5, 0], h, w), t, w, h);
    // Output pixel (0, 0) samples photo pixel (2, 2): x_n = -0.875 * 0.5 -> 2.25.
    expect(zoom[0]).toBe(2 * w + 2);
    const shifted = warpPhoto(photo, affineGrid([1, 0, 1, 0, 1, 0], h, w), t, w, h);
    expect(shifted[(0 * w + 7) * 4 + 3]).toBe(0); // right half reads past the photo
    expect(shifted[3]).toBe(255);
  });
});
