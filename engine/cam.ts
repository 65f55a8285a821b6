// Class evidence: class-activation maps of a stage's activations A [C, h, w] for class c,
// each as its paper defines it. The maths is here, on plain arrays (float64 accumulation);
// Session.cam() gathers A, the gradients G = d y_c / d A (tfjs runtime: autodiff through
// the same graph) and, for Score-CAM, the scores of masked inputs.
//
//   CAM        Zhou et al., "Learning Deep Features for Discriminative Localization", CVPR
//              2016: sum_k w^c_k A_k, w^c the classifier's weights (last stage only: global
//              average pooling then fc). Not rectified.
//   Grad-CAM   Selvaraju et al., ICCV 2017 (arXiv:1610.02391): ReLU(sum_k a_k A_k),
//              a_k = mean_ij G_kij.
//   Grad-CAM++ Chattopadhay et al., WACV 2018 (arXiv:1710.11063), closed form for an
//              exponential score: alpha_kij = G^2 / (2 G^2 + sum_ab A_kab G^3) (0 where G = 0),
//              w_k = sum_ij alpha_kij ReLU(G_kij); ReLU(sum_k w_k A_k). With the raw score's
//              gradient, as pytorch-grad-cam computes it.
//   Score-CAM  Wang et al., CVPR-W 2020 (arXiv:1910.01279): each channel upsampled to the
//              input (bilinear, half-pixel centres), min-max normalised to [0, 1], multiplies
//              the input; s_k = y_c of that masked input; w = softmax_k(s); ReLU(sum_k w_k A_k).
//              (A constant channel gives a zero mask.)
//   Eigen-CAM  Muhammad and Yeasin, IJCNN 2020 (arXiv:2008.00299): A as [hw, C] rows, centred
//              per channel, projected on its first right singular vector. The SVD's sign is
//              arbitrary; it is chosen so the map correlates positively with the channel mean
//              of A. Not rectified.
//   Layer-CAM  Jiang et al., IEEE TIP 2021: ReLU(sum_k ReLU(G_k) * A_k), per position.
//   DCN        Almahairi, Ballas, Cooijmans, Zheng, Larochelle, Courville, "Dynamic Capacity
//              Networks", ICML 2016 (arXiv:1511.07838): the saliency that picks where the
//              network spends its expensive layers: per position the L2 norm over channels of
//              d H / d A, H = the entropy of the prediction (softmax of the logits; no class),
//              and the k most salient positions are the regions it would attend to
//              (`regions`, top-k cells: DCN_REGIONS of them).

export const CAM_METHODS = ['cam', 'gradcam', 'gradcam++', 'scorecam', 'eigencam', 'layercam', 'dcn'] as const;
export type CamMethod = typeof CAM_METHODS[number];

/** Methods that need d y_c / d A (they run on the tfjs runtime's autodiff). */
export const GRADIENT_METHODS: ReadonlySet<CamMethod> = new Set(['gradcam', 'gradcam++', 'layercam', 'dcn']);

/** Methods whose map does not depend on the class (DCN's saliency: the entropy of the whole prediction). */
export const CLASS_FREE_METHODS: ReadonlySet<CamMethod> = new Set(['dcn', 'eigencam']);

/** How many regions DCN's saliency selects (at most: a smaller grid gives a quarter of its cells). */
export const DCN_REGIONS = 8;

export const CAM_LABELS: Record<CamMethod, string> = {
  cam: 'CAM', gradcam: 'Grad-CAM', 'gradcam++': 'Grad-CAM++', scorecam: 'Score-CAM', eigencam: 'Eigen-CAM', layercam: 'Layer-CAM', dcn: 'DCN saliency',
};

/** One class-evidence map, as Session.cam returns it and the `camResult` reply carries it. */
export interface CamMap {
  method: CamMethod;
  /** `layer1`..`layer4`. */
  layer: string;
  classIndex: number;
  /** [h, w]: the stage's grid, under the run's transform like every tap. */
  shape: [number, number];
  data: Float32Array;
  /** DCN: the selected regions, the most salient cells first (row, col on the map's grid). */
  regions?: Array<{ row: number; col: number; value: number }>;
  /** Forward passes it took (Score-CAM: one per channel). */
  passes: number;
  ms: number;
}

export function isCamMethod(v: unknown): v is CamMethod {
  return typeof v === 'string' && (CAM_METHODS as readonly string[]).includes(v);
}

/** sum_k w_k A_k over positions, optionally rectified. A is [C, hw] row-major. */
export function weightedSum(a: Float32Array, w: ArrayLike<number>, c: number, hw: number, relu: boolean): Float32Array {
  const out = new Float64Array(hw);
  for (let k = 0; k < c; k++) {
    const wk = w[k] as number;
    if (wk === 0) continue;
    const row = k * hw;
    for (let p = 0; p < hw; p++) out[p] = (out[p] as number) + wk * (a[row + p] as number);
  }
  return Float32Array.from(out, (v) => (relu && v < 0 ? 0 : v));
}

export function gradCam(a: Float32Array, g: Float32Array, c: number, hw: number): Float32Array {
  const w = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    let s = 0;
    for (let p = 0; p < hw; p++) s += g[k * hw + p] as number;
    w[k] = s / hw;
  }
  return weightedSum(a, w, c, hw, true);
}

export function gradCamPlusPlus(a: Float32Array, g: Float32Array, c: number, hw: number): Float32Array {
  const w = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    let sumA = 0;
    for (let p = 0; p < hw; p++) sumA += a[k * hw + p] as number;
    let wk = 0;
    for (let p = 0; p < hw; p++) {
      const gv = g[k * hw + p] as number;
      if (gv === 0) continue;
      const g2 = gv * gv;
      const alpha = g2 / (2 * g2 + sumA * g2 * gv + 1e-7);
      if (gv > 0) wk += alpha * gv;
    }
    w[k] = wk;
  }
  return weightedSum(a, w, c, hw, true);
}

export function layerCam(a: Float32Array, g: Float32Array, c: number, hw: number): Float32Array {
  const out = new Float64Array(hw);
  for (let k = 0; k < c; k++) {
    for (let p = 0; p < hw; p++) {
      const gv = g[k * hw + p] as number;
      if (gv > 0) out[p] = (out[p] as number) + gv * (a[k * hw + p] as number);
    }
  }
  return Float32Array.from(out, (v) => (v < 0 ? 0 : v));
}

/** DCN saliency: per position the L2 norm over channels of the gradient G [C, hw]. */
export function gradientNorm(g: Float32Array, c: number, hw: number): Float32Array {
  const out = new Float64Array(hw);
  for (let k = 0; k < c; k++) for (let p = 0; p < hw; p++) out[p] = (out[p] as number) + (g[k * hw + p] as number) ** 2;
  return Float32Array.from(out, Math.sqrt);
}

/** The k largest cells of an [h, w] map, largest first (ties: the earlier cell). */
export function topRegions(map: Float32Array, w: number, k: number): Array<{ row: number; col: number; value: number }> {
  const order = Array.from(map.keys()).sort((a, b) => (map[b] as number) - (map[a] as number) || a - b);
  return order.slice(0, k).map((i) => ({ row: Math.floor(i / w), col: i % w, value: map[i] as number }));
}

/** Softmax of the masked inputs' scores: Score-CAM's channel weights. */
export function scoreWeights(scores: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) max = Math.max(max, scores[i] as number);
  const e = Float64Array.from({ length: scores.length }, (_, i) => Math.exp((scores[i] as number) - max));
  const sum = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / sum);
}

/**
 * Eigen-CAM: the projection of the centred [hw, C] activations on their first principal axis
 * (the top eigenvector of the C x C covariance, by power iteration in float64), signed to
 * correlate positively with the channel mean of A.
 */
export function eigenCam(a: Float32Array, c: number, hw: number): Float32Array {
  const mean = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    let s = 0;
    for (let p = 0; p < hw; p++) s += a[k * hw + p] as number;
    mean[k] = s / hw;
  }
  // Centred rows M [hw, C], kept as columns per channel.
  const m = new Float64Array(c * hw);
  for (let k = 0; k < c; k++) for (let p = 0; p < hw; p++) m[k * hw + p] = (a[k * hw + p] as number) - (mean[k] as number);
  // v <- M^T M v, from a start that is not orthogonal to the top axis in practice.
  let v = Float64Array.from({ length: c }, (_, k) => 1 + ((k * 7919) % 13) / 13);
  const mv = new Float64Array(hw);
  let prev = 0;
  for (let it = 0; it < 500; it++) {
    mv.fill(0);
    for (let k = 0; k < c; k++) {
      const vk = v[k] as number;
      for (let p = 0; p < hw; p++) mv[p] = (mv[p] as number) + (m[k * hw + p] as number) * vk;
    }
    const next = new Float64Array(c);
    let norm = 0;
    for (let k = 0; k < c; k++) {
      let s = 0;
      for (let p = 0; p < hw; p++) s += (m[k * hw + p] as number) * (mv[p] as number);
      next[k] = s;
      norm += s * s;
    }
    norm = Math.sqrt(norm);
    if (norm === 0) return new Float32Array(hw);
    for (let k = 0; k < c; k++) next[k] = (next[k] as number) / norm;
    v = next;
    if (Math.abs(norm - prev) <= 1e-13 * norm) break;
    prev = norm;
  }
  const proj = new Float64Array(hw);
  for (let k = 0; k < c; k++) for (let p = 0; p < hw; p++) proj[p] = (proj[p] as number) + (m[k * hw + p] as number) * (v[k] as number);
  let corr = 0;
  for (let p = 0; p < hw; p++) {
    let cm = 0;
    for (let k = 0; k < c; k++) cm += a[k * hw + p] as number;
    corr += (proj[p] as number) * cm;
  }
  return Float32Array.from(proj, (x) => (corr < 0 ? -x : x));
}
