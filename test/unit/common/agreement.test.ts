// common/agreement.ts: the compare view's figures, on maps whose answers are known.
import { describe, expect, test } from 'vitest';
import { agreement, commonGrid, difference, pearson, ranks, spearman, topCells } from '../../../common/agreement';

describe('agreement of two maps', () => {
  test('correlations: identical, reversed, monotone but not linear', () => {
    const a = [1, 2, 3, 4, 5];
    expect(pearson(a, a)).toBeCloseTo(1, 12);
    expect(pearson(a, [5, 4, 3, 2, 1])).toBeCloseTo(-1, 12);
    const cubed = a.map((v) => v ** 3);
    expect(pearson(a, cubed)).toBeLessThan(0.99);
    expect(spearman(a, cubed)).toBeCloseTo(1, 12);
    expect(pearson(a, [2, 2, 2, 2, 2])).toBe(0); // a constant map correlates with nothing
  });

  test('ties share their mean rank', () => {
    expect(Array.from(ranks([10, 20, 20, 5]))).toEqual([2, 3.5, 3.5, 1]);
  });

  test('top 20% cells, IoU and the pointing game on one grid', () => {
    // 5 x 2 maps: top 20% = 2 cells.
    const a = { shape: [5, 2], data: [9, 8, 0, 0, 0, 0, 0, 0, 0, 1] };
    const b = { shape: [5, 2], data: [0, 7, 6, 0, 0, 0, 0, 0, 0, 0] };
    expect([...topCells(a.data, 0.2)].sort()).toEqual([0, 1]);
    const r = agreement(a, b);
    expect(r.iou).toBeCloseTo(1 / 3, 12); // {0,1} vs {1,2}
    expect(r.aPeakInB).toBe(false); // a's peak (cell 0) is not in b's top cells
    expect(r.bPeakInA).toBe(true); // b's peak (cell 1) is in a's
    expect(r.shape).toEqual([5, 2]);
  });

  test('maps of different grids are compared on the finer one', () => {
    const coarse = { shape: [1, 2], data: [0, 1] };
    const fine = { shape: [1, 4], data: [0, 0.25, 0.75, 1] };
    const g = commonGrid(coarse, fine);
    expect(g.shape).toEqual([1, 4]);
    expect(Array.from(g.a)).toEqual([0, 0.25, 0.75, 1]); // half-pixel centres, clamped edges
    expect(agreement(coarse, fine).pearson).toBeCloseTo(1, 6);
    // The difference of min-max normalised maps: zero where they agree.
    expect(Array.from(difference(coarse, fine).data).every((v) => Math.abs(v) < 1e-6)).toBe(true);
  });
});
