// Summary statistics of a channel gate vector (CBAM / SE / BAM channel attention).
export interface ChannelStats {
  count: number;
  below: number;
  mean: number;
  min: number;
  max: number;
  /** Shannon entropy of the normalised weights, in bits, and as a fraction of log2(C). */
  entropy: number;
  entropyRatio: number;
}

export function channelStats(weights: ArrayLike<number>, threshold = 0.5): ChannelStats {
  const n = weights.length;
  let below = 0, sum = 0, min = Infinity, max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = weights[i]!;
    if (v < threshold) below++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  let entropy = 0;
  if (sum > 0) {
    for (let i = 0; i < n; i++) {
      const p = Math.max(0, weights[i]!) / sum;
      if (p > 0) entropy -= p * Math.log2(p);
    }
  }
  const maxEntropy = n > 1 ? Math.log2(n) : 1;
  return {
    count: n, below, mean: n ? sum / n : 0,
    min: n ? min : 0, max: n ? max : 0,
    entropy, entropyRatio: entropy / maxEntropy,
  };
}

/** Channel indices sorted by descending weight. */
export function sortedChannels(weights: ArrayLike<number>): number[] {
  return Array.from({ length: weights.length }, (_, i) => i).sort((a, b) => weights[b]! - weights[a]!);
}

/** The `k` strongest off-diagonal entries of a square [n, n] matrix, strongest first: (row, col, value). */
export function strongestPairs(matrix: ArrayLike<number>, n: number, k = 5): Array<{ row: number; col: number; value: number }> {
  const top: Array<{ row: number; col: number; value: number }> = [];
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (r === c) continue;
      const value = matrix[r * n + c] as number;
      if (top.length < k || value > (top[top.length - 1] as { value: number }).value) {
        top.push({ row: r, col: c, value });
        top.sort((a, b) => b.value - a.value);
        if (top.length > k) top.pop();
      }
    }
  }
  return top;
}
