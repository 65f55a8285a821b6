// How far two maps of one image agree (an attention map and a class-evidence map, issue:
// Grad-CAM side by side): both are brought to the finer grid of the two (bilinear, half-pixel
// centres: both cover the same network input), then
//   pearson   linear correlation of the values;
//   spearman  correlation of their ranks (ties share the mean rank);
//   iou       intersection over union of each map's top 20% cells;
//   pointing  whether each map's peak cell lies in the other's top 20% (the pointing game
//             with the other map standing in for the box).
// Pure functions: the renderer's compare view and the engine's localisation bench use them.

export interface Grid { shape: readonly number[]; data: ArrayLike<number> }

export interface Agreement {
  pearson: number;
  spearman: number;
  /** IoU of the top `fraction` cells of each map. */
  iou: number;
  /** Peak of `a` inside the top cells of `b`, and the other way round. */
  aPeakInB: boolean;
  bPeakInA: boolean;
  /** The grid both were compared on. */
  shape: [number, number];
}

/**
 * Bilinear resize of an [h, w] map to [H, W] with half-pixel centres and edge clamping
 * (PyTorch's interpolate(mode='bilinear', align_corners=False)).
 */
export function resizeBilinear(map: ArrayLike<number>, h: number, w: number, H: number, W: number): Float32Array {
  const out = new Float32Array(H * W);
  const axis = (n: number, N: number) => Array.from({ length: N }, (_, i) => {
    const src = Math.max(0, (i + 0.5) * (n / N) - 0.5);
    const i0 = Math.min(Math.floor(src), n - 1);
    const i1 = Math.min(i0 + 1, n - 1);
    return { i0, i1, t: src - i0 };
  });
  const ys = axis(h, H);
  const xs = axis(w, W);
  for (let y = 0; y < H; y++) {
    const { i0: y0, i1: y1, t: ty } = ys[y] as { i0: number; i1: number; t: number };
    for (let x = 0; x < W; x++) {
      const { i0: x0, i1: x1, t: tx } = xs[x] as { i0: number; i1: number; t: number };
      const top = (map[y0 * w + x0] as number) * (1 - tx) + (map[y0 * w + x1] as number) * tx;
      const bottom = (map[y1 * w + x0] as number) * (1 - tx) + (map[y1 * w + x1] as number) * tx;
      out[y * W + x] = top * (1 - ty) + bottom * ty;
    }
  }
  return out;
}

/** Both maps on the finer of their two grids. */
export function commonGrid(a: Grid, b: Grid): { a: Float32Array; b: Float32Array; shape: [number, number] } {
  const [ha, wa] = a.shape as [number, number];
  const [hb, wb] = b.shape as [number, number];
  const shape: [number, number] = ha * wa >= hb * wb ? [ha, wa] : [hb, wb];
  const to = (g: Grid): Float32Array => (g.shape[0] === shape[0] && g.shape[1] === shape[1]
    ? Float32Array.from(g.data) : resizeBilinear(g.data, g.shape[0] as number, g.shape[1] as number, shape[0], shape[1]));
  return { a: to(a), b: to(b), shape };
}

export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i] as number; mb += b[i] as number; }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = (a[i] as number) - ma;
    const db = (b[i] as number) - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

/** Ranks 1..n, ties sharing their mean rank. */
export function ranks(v: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: v.length }, (_, i) => i).sort((i, j) => (v[i] as number) - (v[j] as number));
  const r = new Float64Array(v.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && v[order[j + 1] as number] === v[order[i] as number]) j++;
    const mean = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[order[k] as number] = mean;
    i = j + 1;
  }
  return r;
}

export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return pearson(ranks(a), ranks(b));
}

/** Indices of the top `fraction` of cells (at least one), highest first. */
export function topCells(v: ArrayLike<number>, fraction: number): Set<number> {
  const n = Math.max(1, Math.round(v.length * fraction));
  const order = Array.from({ length: v.length }, (_, i) => i).sort((i, j) => (v[j] as number) - (v[i] as number));
  return new Set(order.slice(0, n));
}

function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if ((v[i] as number) > (v[best] as number)) best = i;
  return best;
}

export function agreement(a: Grid, b: Grid, fraction = 0.2): Agreement {
  const g = commonGrid(a, b);
  const ta = topCells(g.a, fraction);
  const tb = topCells(g.b, fraction);
  let inter = 0;
  for (const i of ta) if (tb.has(i)) inter++;
  return {
    pearson: pearson(g.a, g.b),
    spearman: spearman(g.a, g.b),
    iou: inter / (ta.size + tb.size - inter),
    aPeakInB: tb.has(argmax(g.a)),
    bPeakInA: ta.has(argmax(g.b)),
    shape: g.shape,
  };
}

/** A map min-max normalised to [0, 1] (a constant map: zeros). */
export function minMax(map: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of map) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const span = hi - lo;
  return span > 0 ? map.map((v) => (v - lo) / span) : new Float32Array(map.length);
}

/** min-max(a) - min-max(b) on the common grid: the difference view, in [-1, 1]. */
export function difference(a: Grid, b: Grid): { shape: [number, number]; data: Float32Array } {
  const g = commonGrid(a, b);
  const na = minMax(g.a);
  const nb = minMax(g.b);
  return { shape: g.shape, data: na.map((x, i) => x - (nb[i] as number)) };
}
