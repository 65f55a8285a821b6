// Attention rollout (Abnar & Zuidema, "Quantifying Attention Flow in Transformers", ACL
// 2020), a derived map of an imported transformer: per layer, the mean over heads plus the
// identity (the residual path), 0.5 each, rows renormalised; the layers multiplied from the
// first up; the CLS token's row over the patch tokens is where the class token's
// information came from.

/** `layers`: each layer's attention [heads, T, T] in forward order. Returns the CLS row over tokens prefix..T-1. */
export function attentionRollout(layers: Float32Array[], heads: number, tokens: number, prefix: number): Float32Array {
  const t = tokens;
  let r = new Float64Array(t * t);
  for (let i = 0; i < t; i++) r[i * t + i] = 1;
  const a = new Float64Array(t * t);
  for (const layer of layers) {
    a.fill(0);
    for (let h = 0; h < heads; h++) {
      const base = h * t * t;
      for (let i = 0; i < t * t; i++) (a[i] as number) += (layer[base + i] as number) / heads;
    }
    for (let i = 0; i < t; i++) {
      let sum = 0;
      for (let j = 0; j < t; j++) {
        const v = 0.5 * (a[i * t + j] as number) + (i === j ? 0.5 : 0);
        a[i * t + j] = v;
        sum += v;
      }
      for (let j = 0; j < t; j++) (a[i * t + j] as number) /= sum;
    }
    const next = new Float64Array(t * t);
    for (let i = 0; i < t; i++) {
      for (let k = 0; k < t; k++) {
        const aik = a[i * t + k] as number;
        if (aik === 0) continue;
        for (let j = 0; j < t; j++) (next[i * t + j] as number) += aik * (r[k * t + j] as number);
      }
    }
    r = next;
  }
  return Float32Array.from(r.subarray(prefix, t));
}
