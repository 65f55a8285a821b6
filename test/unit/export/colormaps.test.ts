import { describe, expect, it } from 'vitest';
import { COLORMAP_NAMES, colormapLut, DEFAULT_COLORMAP, lutIndex } from '../../../engine/colormaps';

/** CIE L* of an sRGB triplet (0..255), D65. */
function lightness(r: number, g: number, b: number): number {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const y = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  return y > 216 / 24389 ? 116 * Math.cbrt(y) - 16 : (24389 / 27) * y;
}

function entry(lut: Uint8Array, i: number): [number, number, number] {
  return [lut[i * 3]!, lut[i * 3 + 1]!, lut[i * 3 + 2]!];
}

// Anchors from matplotlib's published tables (_cm_listed.py, CC0) at 0, 128, 255.
const ANCHORS: Record<string, [number, [number, number, number]][]> = {
  viridis: [[0, [0.267004, 0.004874, 0.329415]], [128, [0.127568, 0.566949, 0.550556]], [255, [0.993248, 0.906157, 0.143936]]],
  magma: [[0, [0.001462, 0.000466, 0.013866]], [128, [0.716387, 0.214982, 0.47529]], [255, [0.987053, 0.991438, 0.749504]]],
  inferno: [[0, [0.001462, 0.000466, 0.013866]], [128, [0.735683, 0.215906, 0.330245]], [255, [0.988362, 0.998364, 0.644924]]],
  // Turbo's published table: first, middle and last entries.
  turbo: [[0, [0.18995, 0.07176, 0.23217]], [128, [0.64362, 0.98999, 0.23356]], [255, [0.4796, 0.01583, 0.01055]]],
  jet: [[0, [0, 0, 0.5]], [255, [0.5, 0, 0]]],
  gray: [[0, [0, 0, 0]], [255, [1, 1, 1]]],
};

describe('colormaps', () => {
  it('lists the six maps with viridis as default', () => {
    expect([...COLORMAP_NAMES]).toEqual(['viridis', 'turbo', 'inferno', 'magma', 'jet', 'gray']);
    expect(DEFAULT_COLORMAP).toBe('viridis');
  });

  it.each(COLORMAP_NAMES)('%s is a 256x3 table matching its reference anchors', (name) => {
    const lut = colormapLut(name);
    expect(lut).toBeInstanceOf(Uint8Array);
    expect(lut.length).toBe(768);
    for (const [i, rgb] of ANCHORS[name]!) {
      const got = entry(lut, i);
      const tolerance = 0.5;
      for (let c = 0; c < 3; c++) expect(Math.abs(got[c]! - rgb[c]! * 255)).toBeLessThanOrEqual(tolerance);
    }
  });

  // 8-bit rounding leaves viridis with a few flat or -0.03 L* steps (matplotlib's own
  // uint8 table does too), so: never down by more than 0.1, and strictly up over 4 steps.
  it.each(['viridis', 'inferno', 'magma', 'gray'])('%s has monotonic lightness', (name) => {
    const lut = colormapLut(name);
    const l = Array.from({ length: 256 }, (_, i) => lightness(...entry(lut, i)));
    for (let i = 1; i < 256; i++) expect(l[i]!).toBeGreaterThan(l[i - 1]! - 0.1);
    for (let i = 4; i < 256; i++) expect(l[i]!).toBeGreaterThan(l[i - 4]!);
    expect(l[255]! - l[0]!).toBeGreaterThan(60);
  });

  it('returns a copy, so callers cannot corrupt the shared table', () => {
    const a = colormapLut('viridis');
    a.fill(0);
    expect(colormapLut('viridis')[0]).toBe(68);
  });

  it('rejects unknown names with the list of valid ones', () => {
    expect(() => colormapLut('rainbow')).toThrow(/viridis, turbo/);
  });

  it('maps values to indices with clamping and NaN to 0', () => {
    expect(lutIndex(NaN)).toBe(0);
    expect(lutIndex(-1)).toBe(0);
    expect(lutIndex(2)).toBe(255);
    expect(lutIndex(0.5)).toBe(128);
  });
});
