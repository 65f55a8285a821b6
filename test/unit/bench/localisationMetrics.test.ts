// The localisation bench scores maps in original-image pixels; these cases pin the
// cell-to-pixel mapping for stretch, letterbox and crop, so a wrong offset cannot pass
// as a bad model.
import { describe, expect, it } from 'vitest';
import { cellCentre, massInBox, peakPoint } from '../../../bench/localisationMetrics';
import type { ImageTransform } from '../../../engine/types';

const stretch: ImageTransform = {
  origWidth: 256, origHeight: 256, inputWidth: 128, inputHeight: 128,
  scaleX: 0.5, scaleY: 0.5, offsetX: 0, offsetY: 0, resize: 'stretch',
};

describe('localisation geometry', () => {
  it('maps a cell centre back through a stretch', () => {
    expect(cellCentre(stretch, 4, 4, 0, 0)).toEqual({ x: 32, y: 32 });
    expect(cellCentre(stretch, 8, 8, 7, 3)).toEqual({ x: 112, y: 240 });
  });

  it('undoes a letterbox offset', () => {
    // 256x128 image padded into 128x128: scale 0.5, 32 px band on top.
    const pad: ImageTransform = { ...stretch, origHeight: 128, offsetY: 32, resize: 'pad' };
    expect(cellCentre(pad, 4, 4, 1, 0)).toEqual({ x: 32, y: 32 });
  });

  it('finds the first maximum in row-major order', () => {
    const map = [0, 1, 0, 0, 0, 0, 0, 1, 0];
    expect(peakPoint(stretch, map, 3, 3)).toEqual(cellCentre(stretch, 3, 3, 0, 1));
  });

  it('weights attention mass by the box overlap of each cell', () => {
    const row = new Float32Array([1, 1, 1, 1]); // 2x2 keys of 128 px each
    expect(massInBox(stretch, row, 2, 2, [0, 0, 128, 128])).toBeCloseTo(0.25);
    expect(massInBox(stretch, row, 2, 2, [64, 64, 192, 192])).toBeCloseTo(0.25);
    expect(massInBox(stretch, new Float32Array([4, 0, 0, 0]), 2, 2, [0, 0, 64, 128])).toBeCloseTo(0.5);
  });
});
